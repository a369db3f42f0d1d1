"""What the catalogue, order intake, tracking, shop and courier endpoints take and show.

``...Create`` / ``...Body`` models are request bodies, ``...Public`` models are answers: they
list their fields one by one, so a table's internal columns (token hashes, idempotency keys,
other customers' details) never reach the API by accident.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlmodel import SQLModel

#: The largest proof-of-delivery photo accepted, decoded.
MAX_PHOTO_BYTES = 2 * 1024 * 1024

# ── catalogue ──────────────────────────────────────────────────────────────────────────────


class ShopPublic(SQLModel):
    id: int
    name: str
    kind: str
    address: str
    opening_hours: str
    lat: float
    lon: float


class ProductPublic(SQLModel):
    id: int
    shop_id: int
    name: str
    price_cents: int
    in_stock: bool
    size_class: str
    weight_g: int
    volume_ml: int


class WindowPublic(SQLModel):
    id: int
    day: date
    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    day_before_cutoff_at: datetime | None
    status: str


# ── orders ─────────────────────────────────────────────────────────────────────────────────


class OrderItemCreate(SQLModel):
    product_id: int
    quantity: int = Field(ge=1, le=999)


class CustomerDetails(SQLModel):
    """Who an anonymous or e-shop order is for (a logged-in customer sends none)."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(default="", max_length=320)
    phone: str = Field(default="", max_length=50)


class OrderCreate(SQLModel):
    """A checkout: items from one or several shops, delivered in a window or collected."""

    items: list[OrderItemCreate] = Field(min_length=1, max_length=200)
    fulfilment: Literal["delivery", "collect"] = "delivery"
    address: str = Field(default="", max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    window_id: int | None = None
    customer: CustomerDetails | None = None
    note: str = Field(default="", max_length=1000)


class OrderItemPublic(SQLModel):
    product_id: int
    shop_id: int
    quantity: int
    price_cents: int


class OrderParcelPublic(SQLModel):
    id: int
    shop_id: int
    status: str
    weight_g: int
    volume_ml: int
    count: int


class OrderPublic(SQLModel):
    """The order as its customer sees it right after checkout (with the tracking token)."""

    id: int
    status: str
    fulfilment: str
    window_id: int | None
    address: str
    total_cents: int
    tracking_token: str
    created_at: datetime
    items: list[OrderItemPublic]
    parcels: list[OrderParcelPublic]


# ── tracking ───────────────────────────────────────────────────────────────────────────────


class TrackingStep(SQLModel):
    at: datetime
    action: str
    status: str


class TrackingParcel(SQLModel):
    shop_name: str
    status: str


class TrackingWindow(SQLModel):
    starts_at: datetime
    ends_at: datetime


class TrackingPlanned(SQLModel):
    """When the courier is planned to arrive (earliest and latest of the delivery stops)."""

    arrival_from: datetime
    arrival_to: datetime
    courier_first_name: str


class TrackingCourier(SQLModel):
    """Where the courier is: only while this order's delivery is their next stop."""

    lat: float
    lon: float
    at: datetime


class TrackingPublic(SQLModel):
    status: str
    fulfilment: str
    placed_at: datetime
    window: TrackingWindow | None
    planned: TrackingPlanned | None
    timeline: list[TrackingStep]
    parcels: list[TrackingParcel]
    #: The delivery address's point (for the map), if the order is delivered.
    destination: list[float] | None = None
    courier: TrackingCourier | None = None
    #: When the courier is expected at the door (the live ETA of this order's delivery).
    eta: datetime | None = None
    #: The courier is close: the ETA is minutes away or the courier is near the door.
    courier_close: bool = False


# ── shop ───────────────────────────────────────────────────────────────────────────────────


class ParcelReadyBody(SQLModel):
    """What the shop packed: how many pieces, and their total weight and volume."""

    count: int = Field(ge=1, le=100)
    weight_g: int = Field(ge=1, le=1_000_000)
    volume_ml: int = Field(ge=1, le=10_000_000)


class ShopItemLine(SQLModel):
    product_id: int
    product_name: str
    quantity: int


class ShopParcelPublic(SQLModel):
    """One parcel to pack, with what the shop needs to know about its order."""

    id: int
    status: str
    label_code: str
    count: int
    weight_g: int
    volume_ml: int
    ready_at: datetime | None
    order_id: int
    window_id: int | None
    fulfilment: str
    customer_first_name: str
    items: list[ShopItemLine]


class LabelWindow(SQLModel):
    id: int
    starts_at: datetime
    ends_at: datetime


class LabelPublic(SQLModel):
    """What a parcel's label prints; the QR code encodes ``qr_payload`` (the label code)."""

    label_code: str
    qr_payload: str
    parcel_id: int
    order_id: int
    fulfilment: str
    customer_name: str
    address: str
    window: LabelWindow | None
    shop_name: str
    shop_address: str
    count: int


class PickupPublic(SQLModel):
    """When a window's parcels leave the shop: a courier's pickup stop, or the hub hand-over."""

    window_id: int
    kind: Literal["pickup", "hub_handover"]
    at: datetime
    planned: bool
    parcel_ids: list[int]


# ── courier ────────────────────────────────────────────────────────────────────────────────


class ShiftPublic(SQLModel):
    id: int
    hub_id: int
    starts_at: datetime
    ends_at: datetime
    status: str


class RouteParcel(SQLModel):
    id: int
    count: int
    weight_g: int
    volume_ml: int
    #: Only the last two characters: the courier confirms with the code on the label.
    label_hint: str
    #: The parcel's own status ("ready", "picked_up" once loaded at the hub, "delivered"...).
    status: str = ""


class RouteStop(SQLModel):
    id: int
    sequence: int
    kind: str
    status: str
    name: str
    address: str
    lat: float
    lon: float
    planned_arrival: datetime
    planned_departure: datetime
    parcel: RouteParcel


class RouteTrip(SQLModel):
    number: int
    departs_at: datetime
    returns_at: datetime
    stops: list[RouteStop]
    #: The ride from the hub through the stops and back, ``[[lat, lon], ...]``, for the map.
    path: list[list[float]] = []


class RouteHub(SQLModel):
    name: str
    lat: float
    lon: float


class RoutePublic(SQLModel):
    shift_id: int
    route_id: int
    #: Changes whenever the route is re-planned: the app announces a new plan id.
    plan_id: int
    shift_status: str
    hub: RouteHub
    starts_at: datetime
    ends_at: datetime
    distance_m: int
    trips: list[RouteTrip]


class StopPickupBody(SQLModel):
    label_code: str = Field(min_length=1, max_length=32)


class StopDeliverBody(SQLModel):
    recipient: str = Field(min_length=1, max_length=200)
    #: A photo of the hand-over, base64; at most 2 MB once decoded.
    photo: str | None = Field(default=None, max_length=4 * MAX_PHOTO_BYTES // 3 + 8)

    @field_validator("photo")
    @classmethod
    def _photo_is_base64_and_small(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not valid base64") from None
        if len(raw) > MAX_PHOTO_BYTES:
            raise ValueError(f"must be at most 2 MB decoded (got {len(raw)} bytes)")
        return value


class DropOutBody(SQLModel):
    """Why a courier cannot go on (shown on the board and in the plan's hand-over reasons)."""

    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _reason_is_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is required: say why the courier drops out")
        return value.strip()


class StopFailBody(SQLModel):
    reason: str = Field(min_length=1, max_length=500)


class FixIn(SQLModel):
    """One GPS reading as the phone took it (``navigator.geolocation``)."""

    seq: int = Field(ge=0, le=2**31 - 1)  # the column is a 32-bit integer everywhere
    lat: float
    lon: float
    accuracy_m: float
    at: datetime


class PositionBatch(SQLModel):
    """Fixes from one phone, numbered per ``device_id`` so a resent batch is stored once."""

    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    fixes: list[FixIn] = Field(min_length=1, max_length=500)


class RejectedFix(SQLModel):
    seq: int
    reason: str


class PositionResult(SQLModel):
    stored: int
    duplicates: int
    rejected: list[RejectedFix]


class StopPublic(SQLModel):
    id: int
    kind: str
    status: str
    parcel_id: int
    parcel_status: str
    done_at: datetime | None
