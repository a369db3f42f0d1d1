"""Request and response models of the operator's set-up and the dispatcher's board.

``Create`` and ``Update`` models say what a caller may send (``extra="forbid"``, so a typo is a
422 naming the field); ``Public`` models say what the API shows, and never carry password
hashes, token hashes or other internal fields.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from sqlmodel import SQLModel

from dispatch.security import MIN_PASSWORD_LENGTH, Role

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

Mode = Literal["hub", "direct"]
BikeProfile = Literal["cargo_bike", "e_cargo_bike"]


class _In(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


def check_hhmm(value: str) -> str:
    """A local time of day written "HH:MM" (24 h)."""
    if not _HHMM.match(value):
        raise ValueError(f"'{value}' must be a time of day as HH:MM")
    return value


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone such as Europe/Helsinki") from None
    return value


def check_ring(ring: Any, index: int) -> None:
    """One closed GeoJSON ring of [lon, lat] points, at least 4 of them."""
    where = f"ring {index}"
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError(f"{where} must be a closed ring of at least 4 [lon, lat] points")
    for n, point in enumerate(ring):
        ok = (
            isinstance(point, list)
            and len(point) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        )
        if not ok:
            raise ValueError(f"{where}, point {n} must be [lon, lat] numbers")
        lon, lat = point
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"{where}, point {n} [{lon}, {lat}] is not [lon, lat] on Earth")
    if ring[0] != ring[-1]:
        raise ValueError(f"{where} is not closed: its last point must repeat the first")


class Zone(_In):
    """A GeoJSON Polygon: an outer ring, then any holes."""

    type: Literal["Polygon"] = "Polygon"
    coordinates: list[Any]

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must hold at least one ring")
        for index, ring in enumerate(value):
            check_ring(ring, index)
        return value


# ── the town ───────────────────────────────────────────────────────────────────────────────


class TownUpdate(_In):
    name: str = Field(min_length=1, max_length=200)
    extract: str = Field(default="helsinki", min_length=1)
    profile: BikeProfile = "cargo_bike"
    time_zone: str = "Europe/Helsinki"
    mode: Mode = "hub"
    zone: Zone | None = None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)


class TownPublic(SQLModel):
    id: int
    name: str
    extract: str
    profile: str
    time_zone: str
    mode: str
    zone: Zone | None


# ── hubs ───────────────────────────────────────────────────────────────────────────────────


class HubCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    opens: str = "07:00"
    closes: str = "21:00"

    @field_validator("opens", "closes")
    @classmethod
    def _hours(cls, value: str) -> str:
        return check_hhmm(value)

    @field_validator("closes")
    @classmethod
    def _after_opens(cls, value: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if opens is not None and value <= opens:
            raise ValueError(f"must be after opens ({opens})")
        return value


class HubUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    opens: str | None = None
    closes: str | None = None

    @field_validator("opens", "closes")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        return None if value is None else check_hhmm(value)


class HubPublic(SQLModel):
    id: int
    name: str
    lat: float
    lon: float
    opens: str
    closes: str


# ── delivery windows ───────────────────────────────────────────────────────────────────────


class WindowSchedule(_In):
    """A weekly pattern of slots in the town's local time, rolled out for ``days`` days."""

    weekdays: list[int] = Field(min_length=1)  # 0 = Monday
    slots: list[list[str]] = Field(min_length=1)
    same_day_cutoff_minutes: int = Field(default=90, ge=0, le=24 * 60)
    day_before_cutoff: str | None = None
    max_orders: int | None = Field(default=None, ge=1)
    max_weight_g: int | None = Field(default=None, ge=1)
    days: int = Field(default=7, ge=1, le=92)
    #: The first local day to fill (default: today in the town's time zone).
    start_day: date | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        bad = [d for d in value if not 0 <= d <= 6]
        if bad:
            raise ValueError(f"{bad} are not weekdays: use 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[list[str]]) -> list[list[str]]:
        for index, slot in enumerate(value):
            if len(slot) != 2:
                raise ValueError(f"slot {index} must be [start, end] as HH:MM")
            start, end = (check_hhmm(v) for v in slot)
            if start >= end:
                raise ValueError(f"slot {index} ends at {end}, not after its start {start}")
        return value

    @field_validator("day_before_cutoff")
    @classmethod
    def _day_before(cls, value: str | None) -> str | None:
        return None if value is None else check_hhmm(value)


class WindowCreate(_In):
    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    day_before_cutoff_at: datetime | None = None
    max_orders: int | None = Field(default=None, ge=1)
    max_weight_g: int | None = Field(default=None, ge=1)

    @field_validator("starts_at", "ends_at", "cutoff_at", "day_before_cutoff_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone")
        return value


def window_times_problem(
    starts_at: datetime, ends_at: datetime, cutoff_at: datetime, day_before: datetime | None
) -> tuple[str, str] | None:
    """The field and what is wrong with a window's times, or None."""
    if ends_at <= starts_at:
        return "ends_at", "must be after starts_at"
    if cutoff_at > starts_at:
        return "cutoff_at", "must not be after starts_at"
    if day_before is not None and day_before > cutoff_at:
        return "day_before_cutoff_at", "must not be after cutoff_at"
    return None


class WindowUpdate(_In):
    ends_at: datetime | None = None
    cutoff_at: datetime | None = None
    day_before_cutoff_at: datetime | None = None
    max_orders: int | None = Field(default=None, ge=1)
    max_weight_g: int | None = Field(default=None, ge=1)

    @field_validator("ends_at", "cutoff_at", "day_before_cutoff_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone")
        return value


class WindowPublic(SQLModel):
    id: int
    day: date
    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime
    day_before_cutoff_at: datetime | None
    max_orders: int | None
    max_weight_g: int | None
    status: str


class ScheduleResult(SQLModel):
    created: list[WindowPublic]
    #: Windows the schedule asked for that were already there (left as they were).
    existing: int
    #: Slots skipped because they had already started.
    past: int


# ── fleet, couriers and shifts ─────────────────────────────────────────────────────────────


class BikeTypeCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    capacity_g: int = Field(ge=1)
    capacity_ml: int = Field(ge=1)
    capacity_parcels: int = Field(ge=1)
    profile: BikeProfile = "cargo_bike"
    cooled: bool = False
    trailer: bool = False
    count: int = Field(default=1, ge=0)


class BikeTypeUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capacity_g: int | None = Field(default=None, ge=1)
    capacity_ml: int | None = Field(default=None, ge=1)
    capacity_parcels: int | None = Field(default=None, ge=1)
    profile: BikeProfile | None = None
    cooled: bool | None = None
    trailer: bool | None = None
    count: int | None = Field(default=None, ge=0)


class BikeTypePublic(SQLModel):
    id: int
    name: str
    capacity_g: int
    capacity_ml: int
    capacity_parcels: int
    profile: str
    cooled: bool
    trailer: bool
    count: int


class CourierCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=50)
    bike_type_id: int


class CourierUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    bike_type_id: int | None = None
    active: bool | None = None


class CourierPublic(SQLModel):
    id: int
    name: str
    phone: str
    bike_type_id: int
    active: bool


class ShiftCreate(_In):
    courier_id: int
    hub_id: int
    starts_at: datetime
    ends_at: datetime

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone")
        return value


class ShiftUpdate(_In):
    hub_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone")
        return value


class ShiftPublic(SQLModel):
    id: int
    courier_id: int
    hub_id: int
    starts_at: datetime
    ends_at: datetime
    status: str


# ── shops and accounts ─────────────────────────────────────────────────────────────────────


class ShopCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    opening_hours: str = Field(default="", max_length=300)


class ShopUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    opening_hours: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class ShopPublic(SQLModel):
    id: int
    name: str
    kind: str
    address: str
    lat: float
    lon: float
    opening_hours: str
    active: bool
    #: Whether the shop has an API token (the token itself is only shown when created).
    has_api_token: bool


class ShopApiToken(SQLModel):
    shop_id: int
    #: Shown once: send it as ``X-Shop-Token``; velocal keeps only its hash.
    token: str


class AccountCreate(_In):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role
    name: str = Field(default="", max_length=200)
    shop_id: int | None = None
    courier_id: int | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value.strip()[1:-1]:
            raise ValueError("must be an email address")
        return value


class AccountPublic(SQLModel):
    id: int
    email: str
    name: str
    role: str
    shop_id: int | None
    courier_id: int | None
    customer_id: int | None
    active: bool


# ── the dispatcher's board ─────────────────────────────────────────────────────────────────


class BoardWindow(WindowPublic):
    orders: int
    parcels: int
    weight_g: int
    volume_ml: int
    planned: bool


class StopView(SQLModel):
    id: int
    sequence: int
    kind: str
    parcel_id: int
    order_id: int | None
    lat: float
    lon: float
    planned_arrival: datetime
    planned_departure: datetime
    load_g: int
    status: str
    done_at: datetime | None
    failure_reason: str


class TripView(SQLModel):
    id: int
    number: int
    departs_at: datetime
    returns_at: datetime
    stops: list[StopView]


class RouteView(SQLModel):
    id: int
    shift_id: int
    courier_id: int | None
    courier_name: str
    starts_at: datetime
    ends_at: datetime
    distance_m: int
    trips: list[TripView]


class UnassignedView(SQLModel):
    parcel_id: int | None
    reason: str


class PlanView(SQLModel):
    id: int
    window_id: int
    window_status: str
    created_at: datetime
    cost: int
    distance_m: int
    duration_s: int
    solver: str
    solve_s: float
    routes: list[RouteView]
    unassigned: list[UnassignedView]


class StopMove(_In):
    shift_id: int


class EventView(SQLModel):
    id: int
    at: datetime
    user_id: int | None
    entity: str
    entity_id: int
    action: str
    from_status: str
    to_status: str
    detail: dict[str, Any]
