"""The service's tables: town, shops and catalogue, customers and orders, parcels, windows,
fleet, couriers and shifts, plans down to stops, accounts and tokens, and the event log.

Times are timezone-aware UTC datetimes in Python (``UTCDateTime`` stores them naively in UTC,
so SQLite and PostgreSQL agree); a town's ``time_zone`` is for display and for reading window
schedules. Money is in cents, weights in grams, volumes in millilitres. Statuses are plain
strings whose transitions live in ``dispatch.lifecycle``, never assigned in a route.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

#: Named constraints and indexes, so later migrations can alter them on SQLite too.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"{value!r} is not a datetime: velocal stores aware UTC times")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: velocal stores aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _created() -> Any:
    return Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


# ── the town ───────────────────────────────────────────────────────────────────────────────


class Town(SQLModel, table=True):
    """The one town a velocal runs (a table so set-up is data, not configuration)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    #: OSM extract path, or "helsinki" for the bundled demo town.
    extract: str = "helsinki"
    profile: str = "cargo_bike"
    time_zone: str = "Europe/Helsinki"
    #: "hub": parcels are brought to a hub and ride out from there; "direct": couriers collect
    #: at the shops on the way. Planning builds the solver problem accordingly.
    mode: str = "hub"
    #: GeoJSON Polygon coordinates ([[lon, lat], ...] rings) of the delivery zone.
    zone: list[list[list[float]]] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _created()


class Hub(SQLModel, table=True):
    """Where bikes start, reload and end; opening hours in the town's local time."""

    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    name: str
    lat: float
    lon: float
    opens: str = "07:00"
    closes: str = "21:00"


# ── accounts ───────────────────────────────────────────────────────────────────────────────


class User(SQLModel, table=True):
    """An account: operator, dispatcher, shop, courier or customer."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String, unique=True, index=True, nullable=False))
    name: str = ""
    password_hash: str
    role: str = Field(index=True)
    shop_id: int | None = Field(default=None, foreign_key="shop.id")
    courier_id: int | None = Field(default=None, foreign_key="courier.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    active: bool = True
    created_at: datetime = _created()


class AuthToken(SQLModel, table=True):
    """A session cookie or bearer token; only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(sa_column=Column(String, unique=True, index=True, nullable=False))
    kind: str = "session"  # "session" (cookie) or "bearer"
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ── shops ──────────────────────────────────────────────────────────────────────────────────


class Shop(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    name: str
    kind: str = ""  # OSM shop=* value: bakery, books, ...
    address: str = ""
    lat: float
    lon: float
    opening_hours: str = ""  # OSM opening_hours syntax, as tagged
    #: SHA-256 of the shop's API token for its own e-shop (the token is shown once).
    api_token_hash: str | None = Field(
        default=None, sa_column=Column(String, unique=True, index=True, nullable=True)
    )
    active: bool = True


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", index=True)
    name: str
    price_cents: int
    in_stock: bool = True
    #: Size class (S, M, L, XL) sets the default parcel size; weight and volume per unit.
    size_class: str = "M"
    weight_g: int = 500
    volume_ml: int = 2000


# ── customers and orders ───────────────────────────────────────────────────────────────────


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str = ""
    phone: str = ""


class DeliveryWindow(SQLModel, table=True):
    """A delivery slot: orders are taken until its cutoffs, then it is planned."""

    __table_args__ = (UniqueConstraint("town_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    day: date
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    #: Same-day orders are taken until this time; orders placed before the delivery day until
    #: ``day_before_cutoff`` (None: no day-before limit).
    cutoff_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    day_before_cutoff_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    max_orders: int | None = None
    max_weight_g: int | None = None
    status: str = "open"  # open → closed → planned


class Order(SQLModel, table=True):
    #: The planner's query: a window's orders by status.
    __table_args__ = (Index("ix_order_window_status", "window_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    window_id: int | None = Field(default=None, foreign_key="deliverywindow.id", index=True)
    fulfilment: str = "delivery"  # "delivery" or "collect" (click & collect at the shop)
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    status: str = "placed"
    tracking_token: str = Field(sa_column=Column(String, unique=True, index=True, nullable=False))
    #: A retried request with the same key returns the first order instead of a second one.
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String, unique=True, index=True, nullable=True)
    )
    total_cents: int = 0
    note: str = ""
    created_at: datetime = _created()


class OrderItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    shop_id: int = Field(foreign_key="shop.id", index=True)
    quantity: int
    price_cents: int


class Parcel(SQLModel, table=True):
    """What one shop hands over for one order: the unit the planner routes."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    shop_id: int = Field(foreign_key="shop.id", index=True)
    weight_g: int
    volume_ml: int
    count: int = 1
    needs: str = ""  # comma-separated skills: "cooled", "trailer"
    ready_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    #: Short code printed on the label (and its QR code); the courier confirms pickup with it.
    label_code: str = Field(sa_column=Column(String, unique=True, index=True, nullable=False))
    status: str = "awaiting"


# ── fleet and couriers ─────────────────────────────────────────────────────────────────────


class BikeType(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    name: str
    capacity_g: int
    capacity_ml: int
    capacity_parcels: int
    profile: str = "cargo_bike"  # a routing speed profile
    cooled: bool = False
    trailer: bool = False
    count: int = 1


class Courier(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    town_id: int = Field(foreign_key="town.id", index=True)
    name: str
    phone: str = ""
    bike_type_id: int = Field(foreign_key="biketype.id")
    active: bool = True


class Shift(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    courier_id: int = Field(foreign_key="courier.id", index=True)
    hub_id: int = Field(foreign_key="hub.id")
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = "scheduled"


# ── plans ──────────────────────────────────────────────────────────────────────────────────


class Plan(SQLModel, table=True):
    """One planning run of a window; the newest ``current`` plan is the one couriers ride."""

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="deliverywindow.id", index=True)
    current: bool = True
    cost: int = 0
    distance_m: int = 0
    duration_s: int = 0
    solver: str = "velocal"
    solve_s: float = 0.0
    matrix_s: float = 0.0
    #: Orders the planner could not fit, with the solver's reason: [{"parcel_id", "reason"}].
    unassigned: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _created()


class PlanRoute(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    shift_id: int = Field(foreign_key="shift.id", index=True)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    distance_m: int = 0


class PlanTrip(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    route_id: int = Field(foreign_key="planroute.id", index=True)
    number: int
    departs_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    returns_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Stop(SQLModel, table=True):
    """A visit: a pickup at a shop or a delivery to a customer, with its planned times."""

    id: int | None = Field(default=None, primary_key=True)
    trip_id: int = Field(foreign_key="plantrip.id", index=True)
    sequence: int
    kind: str  # "pickup" or "delivery"
    parcel_id: int = Field(foreign_key="parcel.id", index=True)
    lat: float
    lon: float
    planned_arrival: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    planned_departure: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    load_g: int = 0
    status: str = "planned"
    recipient: str = ""
    failure_reason: str = ""
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class DeliveryPhoto(SQLModel, table=True):
    """Proof of delivery: the photo a courier took at a delivery stop, at most one per stop.

    ``content_type`` is sniffed from the image's first bytes (JPEG, PNG or WebP), never taken
    from the client; ``sha256`` and ``size_bytes`` are also in the stop's ``complete`` event.
    """

    id: int | None = Field(default=None, primary_key=True)
    stop_id: int = Field(foreign_key="stop.id", unique=True, index=True)
    content_type: str  # "image/jpeg", "image/png" or "image/webp"
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str
    size_bytes: int
    created_at: datetime = _created()
    uploaded_by: int = Field(foreign_key="user.id")


# ── the event log ──────────────────────────────────────────────────────────────────────────


class Event(SQLModel, table=True):
    """Who did what to which thing, and when: every state change writes one."""

    #: A thing's history in order: ``entity = ? AND entity_id = ? ORDER BY at``.
    __table_args__ = (Index("ix_event_entity_entity_id_at", "entity", "entity_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    user_id: int | None = Field(default=None, foreign_key="user.id")
    entity: str = Field(index=True)  # "order", "parcel", "stop", "shift", ...
    entity_id: int = Field(index=True)
    action: str
    from_status: str = ""
    to_status: str = ""
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# ── live positions ─────────────────────────────────────────────────────────────────────────


class Position(SQLModel, table=True):
    """One GPS fix a courier's phone reported on a shift.

    ``(courier_id, device_id, seq)`` is unique: a phone numbers its fixes, so a batch sent
    again after a lost answer is recognised and stored once (per courier, so one courier's
    device name cannot shadow another's fixes).
    """

    __table_args__ = (
        UniqueConstraint("courier_id", "device_id", "seq", name="uq_position_courier_device_seq"),
        Index("ix_position_courier_id_at", "courier_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    courier_id: int = Field(foreign_key="courier.id")
    shift_id: int = Field(foreign_key="shift.id", index=True)
    device_id: str
    seq: int
    lat: float
    lon: float
    accuracy_m: float
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CourierPosition(SQLModel, table=True):
    """Each courier's latest fix, kept apart so the board reads one row per courier."""

    courier_id: int = Field(foreign_key="courier.id", primary_key=True)
    shift_id: int = Field(foreign_key="shift.id")
    lat: float
    lon: float
    accuracy_m: float
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# ── webhooks for shops' systems ────────────────────────────────────────────────────────────


class WebhookSubscription(SQLModel, table=True):
    """A shop's URL that hears about its orders (``dispatch.webhooks``).

    ``secret`` signs every delivery, so it is stored as is; the API shows it once, on creation.
    Deleting a webhook clears ``active`` and keeps the row, so its delivery log stays readable.
    """

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", index=True)
    url: str
    secret: str
    #: Event types it is subscribed to ("order.accepted", ...).
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = _created()


class WebhookDelivery(SQLModel, table=True):
    """One event on its way to one subscription: the outbox row and its delivery log."""

    #: The sender's query: pending deliveries by due time.
    __table_args__ = (
        Index("ix_webhookdelivery_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhooksubscription.id", index=True)
    event_type: str
    #: The body as sent: {"id", "type", "created_at", "data"}.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "pending"  # pending → delivered | failed
    attempts: int = 0
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_status_code: int | None = None
    last_error: str = ""
    #: Every attempt: [{"at", "status_code", "error", "duration_ms"}].
    attempt_log: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _created()
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
