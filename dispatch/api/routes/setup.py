"""The operator's set-up: the town, hubs, the window schedule, the fleet, couriers and shifts,
shops and accounts.

Operators change these; dispatchers may read them. Everything belongs to the one town, so a
record of another town answers 404 like a missing one. Status changes (closing a window,
cancelling a shift) go through ``dispatch.lifecycle``; the ``active`` flags of couriers, shops
and accounts are switches, not lifecycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, status
from sqlmodel import Session, SQLModel, col, select

from dispatch import lifecycle
from dispatch.api.deps import OperatorUser, SessionDep, StaffUser
from dispatch.api.errors import ConflictError, InvalidFieldError, NotFoundError
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryWindow,
    Hub,
    PlanRoute,
    Shift,
    Shop,
    Town,
    User,
    utc_now,
)
from dispatch.schemas_setup import (
    AccountCreate,
    AccountPublic,
    BikeTypeCreate,
    BikeTypePublic,
    BikeTypeUpdate,
    CourierCreate,
    CourierPublic,
    CourierUpdate,
    HubCreate,
    HubPublic,
    HubUpdate,
    ScheduleResult,
    ShiftCreate,
    ShiftPublic,
    ShiftUpdate,
    ShopApiToken,
    ShopCreate,
    ShopPublic,
    ShopUpdate,
    TownPublic,
    TownUpdate,
    WindowCreate,
    WindowPublic,
    WindowSchedule,
    WindowUpdate,
    Zone,
    parse_hhmm,
    window_times_problem,
)
from dispatch.security import (
    create_shop_api_token,
    create_user,
    normalize_email,
    revoke_user_tokens,
)

router = APIRouter(tags=["setup"])

_T = TypeVar("_T", bound=SQLModel)


# ── helpers ────────────────────────────────────────────────────────────────────────────────


def get_town(session: Session) -> Town:
    """The one town; 404 until the operator has set it up."""
    town = session.exec(select(Town).order_by(col(Town.id))).first()
    if town is None:
        raise NotFoundError("town", "(not set up yet: PUT /api/town)")
    return town


def _town_id(session: Session) -> int:
    town_id = get_town(session).id
    assert town_id is not None
    return town_id


def _in_town(session: Session, model: type[_T], entity: str, obj_id: int) -> _T:
    """The record ``obj_id`` of the town, or 404."""
    obj = session.get(model, obj_id)
    if obj is None or getattr(obj, "town_id", None) != _town_id(session):
        raise NotFoundError(entity, obj_id)
    return obj


def _save(session: Session, obj: _T) -> _T:
    session.add(obj)
    session.commit()
    session.refresh(obj)
    return obj


def _patch(obj: SQLModel, body: SQLModel) -> None:
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None and name not in ("max_orders", "max_weight_g", "day_before_cutoff_at"):
            continue  # null means "leave it", except for limits that may be lifted
        setattr(obj, name, value)


def _public(model: type[_T], obj: SQLModel) -> _T:
    return model.model_validate(obj, from_attributes=True)


def _publics(model: type[_T], rows: Sequence[SQLModel]) -> list[_T]:
    return [_public(model, row) for row in rows]


# ── the town ───────────────────────────────────────────────────────────────────────────────


def town_public(town: Town) -> TownPublic:
    zone = Zone(coordinates=town.zone) if town.zone is not None else None
    assert town.id is not None
    return TownPublic(
        id=town.id,
        name=town.name,
        extract=town.extract,
        profile=town.profile,
        time_zone=town.time_zone,
        mode=town.mode,
        zone=zone,
    )


@router.get("/town")
def read_town(session: SessionDep, user: StaffUser) -> TownPublic:
    """The town's set-up."""
    return town_public(get_town(session))


@router.put("/town")
def put_town(body: TownUpdate, session: SessionDep, user: OperatorUser) -> TownPublic:
    """Set up the town, or change it (the whole set-up: omitted fields take their defaults)."""
    town = session.exec(select(Town).order_by(col(Town.id))).first() or Town(name=body.name)
    for name in ("name", "extract", "profile", "time_zone", "mode"):
        setattr(town, name, getattr(body, name))
    town.zone = body.zone.coordinates if body.zone is not None else None
    return town_public(_save(session, town))


# ── hubs ───────────────────────────────────────────────────────────────────────────────────


@router.get("/hubs")
def list_hubs(session: SessionDep, user: StaffUser) -> list[HubPublic]:
    query = select(Hub).where(col(Hub.town_id) == _town_id(session)).order_by(col(Hub.id))
    return _publics(HubPublic, session.exec(query).all())


@router.post("/hubs", status_code=status.HTTP_201_CREATED)
def create_hub(body: HubCreate, session: SessionDep, user: OperatorUser) -> HubPublic:
    hub = Hub(town_id=_town_id(session), **body.model_dump())
    return _public(HubPublic, _save(session, hub))


@router.get("/hubs/{hub_id}")
def read_hub(hub_id: int, session: SessionDep, user: StaffUser) -> HubPublic:
    return _public(HubPublic, _in_town(session, Hub, "hub", hub_id))


@router.patch("/hubs/{hub_id}")
def update_hub(hub_id: int, body: HubUpdate, session: SessionDep, user: OperatorUser) -> HubPublic:
    hub = _in_town(session, Hub, "hub", hub_id)
    _patch(hub, body)
    if hub.closes <= hub.opens:
        raise InvalidFieldError("closes", f"must be after opens ({hub.opens})")
    return _public(HubPublic, _save(session, hub))


@router.delete("/hubs/{hub_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_hub(hub_id: int, session: SessionDep, user: OperatorUser) -> None:
    hub = _in_town(session, Hub, "hub", hub_id)
    if session.exec(select(Shift.id).where(col(Shift.hub_id) == hub_id)).first() is not None:
        raise ConflictError(f"hub {hub_id} has shifts: move or cancel them first")
    session.delete(hub)
    session.commit()


# ── delivery windows ───────────────────────────────────────────────────────────────────────


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, parse_hhmm(hhmm), tzinfo=zone).astimezone(UTC)


def schedule_windows(
    session: Session, town: Town, body: WindowSchedule, *, now: datetime | None = None
) -> ScheduleResult:
    """Create the schedule's windows that do not exist yet (by town and start); commits."""
    assert town.id is not None
    zone = ZoneInfo(town.time_zone)
    moment = now or utc_now()
    first = body.start_day or moment.astimezone(zone).date()
    existing_starts = set(
        session.exec(
            select(DeliveryWindow.starts_at).where(col(DeliveryWindow.town_id) == town.id)
        ).all()
    )
    created: list[DeliveryWindow] = []
    existing = past = 0
    for offset in range(body.days):
        day = first + timedelta(days=offset)
        if day.weekday() not in body.weekdays:
            continue
        for start, end in body.slots:
            starts_at = _local(day, start, zone)
            if starts_at in existing_starts:
                existing += 1
                continue
            if starts_at <= moment:
                past += 1
                continue
            cutoff_at = starts_at - timedelta(minutes=body.same_day_cutoff_minutes)
            day_before = None
            if body.day_before_cutoff is not None:
                day_before = _local(day - timedelta(days=1), body.day_before_cutoff, zone)
                if day_before > cutoff_at:
                    raise InvalidFieldError(
                        "day_before_cutoff",
                        f"must not be after the same-day cutoff of the {start} slot",
                    )
            window = DeliveryWindow(
                town_id=town.id,
                day=day,
                starts_at=starts_at,
                ends_at=_local(day, end, zone),
                cutoff_at=cutoff_at,
                day_before_cutoff_at=day_before,
                max_orders=body.max_orders,
                max_weight_g=body.max_weight_g,
            )
            session.add(window)
            created.append(window)
            existing_starts.add(starts_at)
    session.commit()
    for window in created:
        session.refresh(window)
    return ScheduleResult(created=_publics(WindowPublic, created), existing=existing, past=past)


@router.post("/windows/schedule", status_code=status.HTTP_201_CREATED)
def post_schedule(body: WindowSchedule, session: SessionDep, user: OperatorUser) -> ScheduleResult:
    """Roll a weekly slot pattern out over ``days`` days; repeating it creates nothing twice."""
    return schedule_windows(session, get_town(session), body)


@router.get("/windows")
def list_windows(
    session: SessionDep, user: StaffUser, day: date | None = None
) -> list[WindowPublic]:
    query = select(DeliveryWindow).where(col(DeliveryWindow.town_id) == _town_id(session))
    if day is not None:
        query = query.where(col(DeliveryWindow.day) == day)
    rows = session.exec(query.order_by(col(DeliveryWindow.starts_at))).all()
    return _publics(WindowPublic, rows)


def _check_times(window: DeliveryWindow) -> None:
    problem = window_times_problem(
        window.starts_at, window.ends_at, window.cutoff_at, window.day_before_cutoff_at
    )
    if problem is not None:
        raise InvalidFieldError(*problem)


@router.post("/windows", status_code=status.HTTP_201_CREATED)
def create_window(body: WindowCreate, session: SessionDep, user: OperatorUser) -> WindowPublic:
    """One window outside the schedule; its day is the start's local day in the town."""
    town = get_town(session)
    assert town.id is not None
    window = DeliveryWindow(
        town_id=town.id,
        day=body.starts_at.astimezone(ZoneInfo(town.time_zone)).date(),
        **body.model_dump(),
    )
    _check_times(window)
    clash = select(DeliveryWindow.id).where(
        col(DeliveryWindow.town_id) == town.id, col(DeliveryWindow.starts_at) == window.starts_at
    )
    taken = session.exec(clash).first()
    if taken is not None:
        starts = window.starts_at.astimezone(UTC).isoformat()
        raise ConflictError(f"window {taken} already starts at {starts}")
    return _public(WindowPublic, _save(session, window))


@router.get("/windows/{window_id}")
def read_window(window_id: int, session: SessionDep, user: StaffUser) -> WindowPublic:
    return _public(WindowPublic, _in_town(session, DeliveryWindow, "window", window_id))


@router.patch("/windows/{window_id}")
def update_window(
    window_id: int, body: WindowUpdate, session: SessionDep, user: OperatorUser
) -> WindowPublic:
    """Change a window's end, cutoffs or limits (its start is its identity)."""
    window = _in_town(session, DeliveryWindow, "window", window_id)
    if lifecycle.terminal("window", window.status):
        raise ConflictError(f"window {window_id} is {window.status}: it can no longer change")
    _patch(window, body)
    _check_times(window)
    return _public(WindowPublic, _save(session, window))


@router.post("/windows/{window_id}/close")
def close_window(window_id: int, session: SessionDep, user: OperatorUser) -> WindowPublic:
    """Stop taking orders now, before the cutoff."""
    window = _in_town(session, DeliveryWindow, "window", window_id)
    lifecycle.perform(session, window, "close", actor_role=user.role, actor_user_id=user.id)
    return _public(WindowPublic, _save(session, window))


# ── bike types ─────────────────────────────────────────────────────────────────────────────


@router.get("/bike-types")
def list_bike_types(session: SessionDep, user: StaffUser) -> list[BikeTypePublic]:
    query = select(BikeType).where(col(BikeType.town_id) == _town_id(session))
    return _publics(BikeTypePublic, session.exec(query.order_by(col(BikeType.id))).all())


@router.post("/bike-types", status_code=status.HTTP_201_CREATED)
def create_bike_type(
    body: BikeTypeCreate, session: SessionDep, user: OperatorUser
) -> BikeTypePublic:
    bike = BikeType(town_id=_town_id(session), **body.model_dump())
    return _public(BikeTypePublic, _save(session, bike))


@router.get("/bike-types/{bike_type_id}")
def read_bike_type(bike_type_id: int, session: SessionDep, user: StaffUser) -> BikeTypePublic:
    return _public(BikeTypePublic, _in_town(session, BikeType, "bike type", bike_type_id))


@router.patch("/bike-types/{bike_type_id}")
def update_bike_type(
    bike_type_id: int, body: BikeTypeUpdate, session: SessionDep, user: OperatorUser
) -> BikeTypePublic:
    bike = _in_town(session, BikeType, "bike type", bike_type_id)
    _patch(bike, body)
    return _public(BikeTypePublic, _save(session, bike))


@router.delete("/bike-types/{bike_type_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_bike_type(bike_type_id: int, session: SessionDep, user: OperatorUser) -> None:
    bike = _in_town(session, BikeType, "bike type", bike_type_id)
    ridden = select(Courier.id).where(col(Courier.bike_type_id) == bike_type_id)
    if session.exec(ridden).first() is not None:
        raise ConflictError(f"bike type {bike_type_id} is ridden by couriers: change them first")
    session.delete(bike)
    session.commit()


# ── couriers ───────────────────────────────────────────────────────────────────────────────


def _bike_type_field(session: Session, bike_type_id: int) -> None:
    bike = session.get(BikeType, bike_type_id)
    if bike is None or bike.town_id != _town_id(session):
        raise InvalidFieldError("bike_type_id", f"bike type {bike_type_id} does not exist")


@router.get("/couriers")
def list_couriers(session: SessionDep, user: StaffUser) -> list[CourierPublic]:
    query = select(Courier).where(col(Courier.town_id) == _town_id(session))
    return _publics(CourierPublic, session.exec(query.order_by(col(Courier.id))).all())


@router.post("/couriers", status_code=status.HTTP_201_CREATED)
def create_courier(body: CourierCreate, session: SessionDep, user: OperatorUser) -> CourierPublic:
    _bike_type_field(session, body.bike_type_id)
    courier = Courier(town_id=_town_id(session), **body.model_dump())
    return _public(CourierPublic, _save(session, courier))


@router.get("/couriers/{courier_id}")
def read_courier(courier_id: int, session: SessionDep, user: StaffUser) -> CourierPublic:
    return _public(CourierPublic, _in_town(session, Courier, "courier", courier_id))


@router.patch("/couriers/{courier_id}")
def update_courier(
    courier_id: int, body: CourierUpdate, session: SessionDep, user: OperatorUser
) -> CourierPublic:
    courier = _in_town(session, Courier, "courier", courier_id)
    if body.bike_type_id is not None:
        _bike_type_field(session, body.bike_type_id)
    _patch(courier, body)
    return _public(CourierPublic, _save(session, courier))


@router.delete("/couriers/{courier_id}")
def deactivate_courier(courier_id: int, session: SessionDep, user: OperatorUser) -> CourierPublic:
    """Couriers are deactivated, not deleted: their shifts and stops stay in the history."""
    courier = _in_town(session, Courier, "courier", courier_id)
    courier.active = False
    return _public(CourierPublic, _save(session, courier))


# ── shifts ─────────────────────────────────────────────────────────────────────────────────

#: Shifts in these statuses no longer hold the courier's time.
_SHIFT_GONE = ("cancelled", "dropped_out")


def _shift_of_town(session: Session, shift_id: int) -> Shift:
    shift = session.get(Shift, shift_id)
    courier = session.get(Courier, shift.courier_id) if shift is not None else None
    if shift is None or courier is None or courier.town_id != _town_id(session):
        raise NotFoundError("shift", shift_id)
    return shift


def _check_shift(session: Session, shift: Shift, *, now: datetime | None = None) -> None:
    """A shift starts in the future, ends after it starts and overlaps none of the courier's."""
    moment = now or utc_now()
    if shift.starts_at <= moment:
        raise InvalidFieldError("starts_at", "must be in the future")
    if shift.ends_at <= shift.starts_at:
        raise InvalidFieldError("ends_at", "must be after starts_at")
    if shift.ends_at - shift.starts_at > timedelta(hours=16):
        raise InvalidFieldError("ends_at", "a shift lasts at most 16 hours")
    hub = session.get(Hub, shift.hub_id)
    if hub is None or hub.town_id != _town_id(session):
        raise InvalidFieldError("hub_id", f"hub {shift.hub_id} does not exist")
    query = select(Shift).where(
        col(Shift.courier_id) == shift.courier_id,
        col(Shift.status).not_in(_SHIFT_GONE),
        col(Shift.starts_at) < shift.ends_at,
        col(Shift.ends_at) > shift.starts_at,
    )
    if shift.id is not None:
        query = query.where(col(Shift.id) != shift.id)
    other = session.exec(query.order_by(col(Shift.starts_at))).first()
    if other is not None:
        raise ConflictError(
            f"overlaps shift {other.id} of courier {shift.courier_id} "
            f"({other.starts_at.isoformat()} to {other.ends_at.isoformat()})"
        )


@router.get("/shifts")
def list_shifts(
    session: SessionDep, user: StaffUser, courier_id: int | None = None, day: date | None = None
) -> list[ShiftPublic]:
    town = get_town(session)
    query = select(Shift).join(Courier).where(col(Courier.town_id) == town.id)
    if courier_id is not None:
        query = query.where(col(Shift.courier_id) == courier_id)
    rows = session.exec(query.order_by(col(Shift.starts_at), col(Shift.id))).all()
    if day is not None:
        zone = ZoneInfo(town.time_zone)
        rows = [s for s in rows if s.starts_at.astimezone(zone).date() == day]
    return _publics(ShiftPublic, rows)


@router.post("/shifts", status_code=status.HTTP_201_CREATED)
def create_shift(body: ShiftCreate, session: SessionDep, user: OperatorUser) -> ShiftPublic:
    courier = session.get(Courier, body.courier_id)
    if courier is None or courier.town_id != _town_id(session):
        raise InvalidFieldError("courier_id", f"courier {body.courier_id} does not exist")
    if not courier.active:
        raise InvalidFieldError("courier_id", f"courier {body.courier_id} is deactivated")
    shift = Shift(**body.model_dump())
    _check_shift(session, shift)
    return _public(ShiftPublic, _save(session, shift))


@router.get("/shifts/{shift_id}")
def read_shift(shift_id: int, session: SessionDep, user: StaffUser) -> ShiftPublic:
    return _public(ShiftPublic, _shift_of_town(session, shift_id))


@router.patch("/shifts/{shift_id}")
def update_shift(
    shift_id: int, body: ShiftUpdate, session: SessionDep, user: OperatorUser
) -> ShiftPublic:
    """Move or re-hub a shift that has not started and is not planned yet."""
    shift = _shift_of_town(session, shift_id)
    if shift.status != "scheduled":
        raise ConflictError(f"shift {shift_id} is {shift.status}: only scheduled shifts change")
    if session.exec(select(PlanRoute.id).where(col(PlanRoute.shift_id) == shift_id)).first():
        raise ConflictError(f"shift {shift_id} is in a plan: cancel it or re-plan instead")
    with session.no_autoflush:
        _patch(shift, body)
        try:
            _check_shift(session, shift)
        except BaseException:
            session.rollback()
            raise
    return _public(ShiftPublic, _save(session, shift))


@router.delete("/shifts/{shift_id}")
def cancel_shift(shift_id: int, session: SessionDep, user: OperatorUser) -> ShiftPublic:
    """Cancel a scheduled shift (kept, with its event, for the history)."""
    shift = _shift_of_town(session, shift_id)
    lifecycle.perform(session, shift, "cancel", actor_role=user.role, actor_user_id=user.id)
    return _public(ShiftPublic, _save(session, shift))


# ── shops ──────────────────────────────────────────────────────────────────────────────────


def shop_public(shop: Shop) -> ShopPublic:
    data: dict[str, Any] = shop.model_dump(exclude={"api_token_hash", "town_id"})
    return ShopPublic(**data, has_api_token=shop.api_token_hash is not None)


@router.get("/setup/shops")
def list_shops(session: SessionDep, user: StaffUser) -> list[ShopPublic]:
    """Every shop of the town, inactive ones included (customers browse their own list)."""
    query = select(Shop).where(col(Shop.town_id) == _town_id(session)).order_by(col(Shop.id))
    return [shop_public(shop) for shop in session.exec(query).all()]


@router.post("/shops", status_code=status.HTTP_201_CREATED)
def create_shop(body: ShopCreate, session: SessionDep, user: OperatorUser) -> ShopPublic:
    shop = Shop(town_id=_town_id(session), **body.model_dump())
    _check_reachable(session, shop)
    return shop_public(_save(session, shop))


def _check_reachable(session: Session, shop: Shop) -> None:
    """A shop the couriers cannot ride to is refused (422 on ``lat``) when it is set up."""
    import importlib

    planning = importlib.import_module("dispatch.planning")
    town = session.get(Town, shop.town_id)
    if town is None:
        return
    try:
        planning.locate(planning.get_network(town), shop.lat, shop.lon)
    except planning.UnreachableAddressError as exc:
        raise InvalidFieldError("lat", str(exc)) from None


@router.get("/setup/shops/{shop_id}")
def read_shop(shop_id: int, session: SessionDep, user: StaffUser) -> ShopPublic:
    return shop_public(_in_town(session, Shop, "shop", shop_id))


@router.patch("/shops/{shop_id}")
def update_shop(
    shop_id: int, body: ShopUpdate, session: SessionDep, user: OperatorUser
) -> ShopPublic:
    shop = _in_town(session, Shop, "shop", shop_id)
    _patch(shop, body)
    if body.lat is not None or body.lon is not None:
        _check_reachable(session, shop)
    return shop_public(_save(session, shop))


@router.delete("/shops/{shop_id}")
def deactivate_shop(shop_id: int, session: SessionDep, user: OperatorUser) -> ShopPublic:
    """Shops are deactivated, not deleted (orders keep them); their API token stops working."""
    shop = _in_town(session, Shop, "shop", shop_id)
    shop.active = False
    shop.api_token_hash = None
    return shop_public(_save(session, shop))


@router.post("/shops/{shop_id}/api-token", status_code=status.HTTP_201_CREATED)
def create_api_token(shop_id: int, session: SessionDep, user: OperatorUser) -> ShopApiToken:
    """A new API token for the shop's e-shop, shown this once; the old one stops working."""
    shop = _in_town(session, Shop, "shop", shop_id)
    return ShopApiToken(shop_id=shop_id, token=create_shop_api_token(session, shop))


# ── accounts ───────────────────────────────────────────────────────────────────────────────


@router.get("/accounts")
def list_accounts(
    session: SessionDep, user: StaffUser, role: str | None = None
) -> list[AccountPublic]:
    query = select(User)
    if role is not None:
        query = query.where(col(User.role) == role)
    return _publics(AccountPublic, session.exec(query.order_by(col(User.id))).all())


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def create_account(body: AccountCreate, session: SessionDep, user: OperatorUser) -> AccountPublic:
    """An account of any role; shop and courier accounts name the shop or courier they act for."""
    shop_id = courier_id = customer_id = None
    if body.role == "shop":
        if body.shop_id is None:
            raise InvalidFieldError("shop_id", "is required for a shop account")
        shop_id = _in_town_field(session, Shop, "shop_id", "shop", body.shop_id)
    elif body.shop_id is not None:
        raise InvalidFieldError("shop_id", f"only shop accounts have one, not {body.role}s")
    if body.role == "courier":
        if body.courier_id is None:
            raise InvalidFieldError("courier_id", "is required for a courier account")
        courier_id = _in_town_field(session, Courier, "courier_id", "courier", body.courier_id)
    elif body.courier_id is not None:
        raise InvalidFieldError("courier_id", f"only courier accounts have one, not {body.role}s")
    email = normalize_email(body.email)
    if session.exec(select(User.id).where(col(User.email) == email)).first() is not None:
        raise ConflictError(f"an account with email {email} already exists")
    if body.role == "customer":
        customer = _save(session, Customer(name=body.name, email=email))
        customer_id = customer.id
    account = create_user(
        session,
        email,
        body.password,
        body.role,
        name=body.name,
        shop_id=shop_id,
        courier_id=courier_id,
        customer_id=customer_id,
    )
    return _public(AccountPublic, account)


def _in_town_field(
    session: Session, model: type[Shop] | type[Courier], field: str, entity: str, obj_id: int
) -> int:
    obj = session.get(model, obj_id)
    if obj is None or getattr(obj, "town_id", None) != _town_id(session):
        raise InvalidFieldError(field, f"{entity} {obj_id} does not exist")
    return obj_id


@router.get("/accounts/{user_id}")
def read_account(user_id: int, session: SessionDep, user: StaffUser) -> AccountPublic:
    account = session.get(User, user_id)
    if account is None:
        raise NotFoundError("account", user_id)
    return _public(AccountPublic, account)


@router.post("/accounts/{user_id}/deactivate")
def deactivate_account(user_id: int, session: SessionDep, user: OperatorUser) -> AccountPublic:
    """Lock an account out and log it out everywhere; one cannot lock oneself out."""
    account = session.get(User, user_id)
    if account is None:
        raise NotFoundError("account", user_id)
    if account.id == user.id:
        raise ConflictError("you cannot deactivate your own account")
    account.active = False
    _save(session, account)
    revoke_user_tokens(session, user_id)
    session.refresh(account)
    return _public(AccountPublic, account)
