"""The dispatcher's board: the day's windows, a window's current plan, planning and re-planning,
moving a stop to another courier by hand, a delivery's photo, and the event log.

Dispatchers and operators only. Planning itself lives in ``dispatch.planning`` (imported when a
route needs it, so the board's reads work without the solver stack loaded).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from datetime import date, datetime
from types import ModuleType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from dispatch import lifecycle
from dispatch.api.deps import SessionDep, SettingsDep, StaffUser
from dispatch.api.errors import ConflictError, InvalidFieldError, NotFoundError
from dispatch.api.routes.setup import get_town
from dispatch.models import (
    Courier,
    CourierPosition,
    DeliveryPhoto,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    utc_now,
)
from dispatch.network import get_network
from dispatch.schemas_orders import DropOutBody
from dispatch.schemas_setup import (
    BoardWindow,
    EventView,
    PlanView,
    RouteView,
    StopMove,
    StopView,
    TripView,
    UnassignedView,
    WindowPublic,
)
from dispatch.town_map import ride_path

router = APIRouter(prefix="/board", tags=["board"])

#: Entities the event log knows besides those with a lifecycle.
EVENT_ENTITIES: tuple[str, ...] = (*lifecycle.ENTITIES, "plan")


def _planning() -> ModuleType:
    # Looked up at call time (not imported at module load): the solver stack is heavy, and
    # tests may stand in a module of their own.
    return importlib.import_module("dispatch.planning")


def _window(session: Session, window_id: int) -> DeliveryWindow:
    window = session.get(DeliveryWindow, window_id)
    if window is None or window.town_id != get_town(session).id:
        raise NotFoundError("window", window_id)
    return window


# ── windows ────────────────────────────────────────────────────────────────────────────────


def board_windows(session: Session, day: date) -> list[BoardWindow]:
    """The day's windows with their order, parcel and weight totals (cancellations left out)."""
    town = get_town(session)
    windows = session.exec(
        select(DeliveryWindow)
        .where(col(DeliveryWindow.town_id) == town.id, col(DeliveryWindow.day) == day)
        .order_by(col(DeliveryWindow.starts_at))
    ).all()
    ids = [w.id for w in windows]
    orders: dict[int, int] = {}
    totals: dict[int, tuple[int, int, int]] = {}
    planned: set[int] = set()
    if ids:
        order_rows = session.exec(
            select(Order.window_id, func.count(col(Order.id)))
            .where(col(Order.window_id).in_(ids), col(Order.status) != "cancelled")
            .group_by(col(Order.window_id))
        ).all()
        orders = {int(w): int(n) for w, n in order_rows if w is not None}
        parcel_rows = session.exec(
            select(
                Order.window_id,
                func.coalesce(func.sum(Parcel.count), 0),
                func.coalesce(func.sum(Parcel.weight_g), 0),
                func.coalesce(func.sum(Parcel.volume_ml), 0),
            )
            .join(Order, col(Parcel.order_id) == col(Order.id))
            .where(col(Order.window_id).in_(ids), col(Parcel.status) != "cancelled")
            .group_by(col(Order.window_id))
        ).all()
        totals = {int(w): (int(c), int(g), int(v)) for w, c, g, v in parcel_rows if w is not None}
        plan_rows = session.exec(
            select(Plan.window_id).where(col(Plan.window_id).in_(ids), col(Plan.current))
        ).all()
        planned = {int(w) for w in plan_rows}
    result = []
    for window in windows:
        assert window.id is not None
        count, weight, volume = totals.get(window.id, (0, 0, 0))
        base = WindowPublic.model_validate(window, from_attributes=True).model_dump()
        result.append(
            BoardWindow(
                **base,
                orders=orders.get(window.id, 0),
                parcels=count,
                weight_g=weight,
                volume_ml=volume,
                planned=window.id in planned,
            )
        )
    return result


@router.get("/windows")
def read_board_windows(
    session: SessionDep,
    user: StaffUser,
    day: Annotated[date | None, Query(description="The local day (default: today)")] = None,
) -> list[BoardWindow]:
    """The day's windows with cutoffs, status, order and parcel counts and weight."""
    if day is None:
        day = utc_now().astimezone(ZoneInfo(get_town(session).time_zone)).date()
    return board_windows(session, day)


# ── plans ──────────────────────────────────────────────────────────────────────────────────


def current_plan(session: Session, window_id: int) -> Plan | None:
    query = (
        select(Plan)
        .where(col(Plan.window_id) == window_id, col(Plan.current))
        .order_by(col(Plan.created_at).desc(), col(Plan.id).desc())
    )
    return session.exec(query).first()


def plan_view(session: Session, plan: Plan) -> PlanView:
    """A plan as the board shows it: each courier's trips with their stops in order."""
    assert plan.id is not None
    window = session.get(DeliveryWindow, plan.window_id)
    routes = session.exec(
        select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id).order_by(col(PlanRoute.id))
    ).all()
    route_ids = [r.id for r in routes]
    trips = (
        session.exec(
            select(PlanTrip)
            .where(col(PlanTrip.route_id).in_(route_ids))
            .order_by(col(PlanTrip.number), col(PlanTrip.id))
        ).all()
        if route_ids
        else []
    )
    trip_ids = [t.id for t in trips]
    stops = (
        session.exec(
            select(Stop)
            .where(col(Stop.trip_id).in_(trip_ids))
            .order_by(col(Stop.sequence), col(Stop.id))
        ).all()
        if trip_ids
        else []
    )
    parcel_ids = {s.parcel_id for s in stops}
    order_of: dict[int, int] = {}
    if parcel_ids:
        rows = session.exec(
            select(Parcel.id, Parcel.order_id).where(col(Parcel.id).in_(parcel_ids))
        ).all()
        order_of = {int(p): int(o) for p, o in rows if p is not None}
    shift_ids = {r.shift_id for r in routes}
    couriers: dict[int, Courier] = {}
    if shift_ids:
        rows2 = session.exec(
            select(Shift.id, Courier)
            .join(Courier, col(Shift.courier_id) == col(Courier.id))
            .where(col(Shift.id).in_(shift_ids))
        ).all()
        couriers = {int(s): c for s, c in rows2 if s is not None}

    stops_of: dict[int, list[StopView]] = defaultdict(list)
    for stop in stops:
        data = stop.model_dump(include=set(StopView.model_fields) - {"order_id"})
        stops_of[stop.trip_id].append(StopView(**data, order_id=order_of.get(stop.parcel_id)))
    trips_of: dict[int, list[TripView]] = defaultdict(list)
    for trip in trips:
        assert trip.id is not None
        data = trip.model_dump(include={"id", "number", "departs_at", "returns_at"})
        trips_of[trip.route_id].append(TripView(**data, stops=stops_of.get(trip.id, [])))
    route_views = []
    for route in routes:
        assert route.id is not None
        courier = couriers.get(route.shift_id)
        route_views.append(
            RouteView(
                id=route.id,
                shift_id=route.shift_id,
                courier_id=courier.id if courier is not None else None,
                courier_name=courier.name if courier is not None else "",
                starts_at=route.starts_at,
                ends_at=route.ends_at,
                distance_m=route.distance_m,
                trips=trips_of.get(route.id, []),
            )
        )
    unassigned = [
        UnassignedView(parcel_id=item.get("parcel_id"), reason=str(item.get("reason", "")))
        for item in plan.unassigned
    ]
    return PlanView(
        id=plan.id,
        window_id=plan.window_id,
        window_status=window.status if window is not None else "",
        created_at=plan.created_at,
        cost=plan.cost,
        distance_m=plan.distance_m,
        duration_s=plan.duration_s,
        solver=plan.solver,
        solve_s=plan.solve_s,
        routes=route_views,
        unassigned=unassigned,
    )


@router.get("/windows/{window_id}/plan")
def read_plan(window_id: int, session: SessionDep, user: StaffUser) -> PlanView:
    """The window's current plan: routes per courier, trips and stops in order, unassigned."""
    _window(session, window_id)
    plan = current_plan(session, window_id)
    if plan is None:
        raise NotFoundError("plan of window", window_id)
    return plan_view(session, plan)


@router.post("/windows/{window_id}/plan")
def plan_now(
    window_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: StaffUser,
    force: bool = False,
) -> PlanView:
    """Plan the window now, or re-plan it (what is on a bike stays there).

    A window still open before its cutoff is refused (409) unless ``force=true``: planning
    closes it, so it takes no more orders.
    """
    window = _window(session, window_id)
    if window.status == "open":
        now = utc_now()
        if now < window.cutoff_at and not force:
            raise ConflictError(
                f"window {window_id} is open until its cutoff at "
                f"{window.cutoff_at.isoformat()}: plan it after the cutoff or with force=true"
            )
        detail: dict[str, Any] = {"reason": "planned by hand", "forced": now < window.cutoff_at}
        # Not committed: if planning fails it rolls back, and the window is open again.
        lifecycle.perform(
            session,
            window,
            "close",
            actor_role=user.role,
            actor_user_id=user.id,
            detail=detail,
        )
    planning = _planning()
    try:
        plan = planning.plan_window(
            session, window_id, time_limit_s=settings.plan_time_limit_s, actor_user_id=user.id
        )
    except planning.PlanningError as error:
        session.rollback()
        raise ConflictError(str(error)) from None
    session.commit()
    return plan_view(session, plan)


# ── moving a stop ──────────────────────────────────────────────────────────────────────────


@router.post("/stops/{stop_id}/move")
def move_stop(stop_id: int, body: StopMove, session: SessionDep, user: StaffUser) -> PlanView:
    """Move a stop (with its parcel's other stop) to another courier's shift, if it fits."""
    stop = session.get(Stop, stop_id)
    trip = session.get(PlanTrip, stop.trip_id) if stop is not None else None
    route = session.get(PlanRoute, trip.route_id) if trip is not None else None
    plan = session.get(Plan, route.plan_id) if route is not None else None
    if plan is None:
        raise NotFoundError("stop", stop_id)
    _window(session, plan.window_id)  # the town's, or 404 like a missing stop
    shift = session.get(Shift, body.shift_id)
    courier = session.get(Courier, shift.courier_id) if shift is not None else None
    if courier is None or courier.town_id != get_town(session).id:
        raise InvalidFieldError("shift_id", f"shift {body.shift_id} does not exist")
    planning = _planning()
    try:
        verdict = planning.check_move(session, stop_id, body.shift_id)
        if not verdict.ok:
            raise ConflictError(str(verdict.reason))
        new_plan = planning.move_stop(session, stop_id, body.shift_id, actor_user_id=user.id)
    except planning.PlanningError as error:
        session.rollback()
        raise ConflictError(str(error)) from None
    session.commit()
    return plan_view(session, new_plan)


# ── a courier dropping out ─────────────────────────────────────────────────────────────────


@router.post("/shifts/{shift_id}/drop-out")
def drop_courier_out(
    shift_id: int,
    body: DropOutBody,
    session: SessionDep,
    settings: SettingsDep,
    user: StaffUser,
) -> dict[str, Any]:
    """The courier of an on-duty shift drops out (``{"reason": ...}``); each of their windows
    is re-planned without them. Parcels already on their bike are listed in the new plan's
    ``unassigned`` with a hand-over reason. Dispatchers only, by the lifecycle (403 else)."""
    shift = session.get(Shift, shift_id)
    courier = session.get(Courier, shift.courier_id) if shift is not None else None
    if shift is None or courier is None or courier.town_id != get_town(session).id:
        raise NotFoundError("shift", shift_id)
    replanning = importlib.import_module("dispatch.replanning")
    answer: dict[str, Any] = replanning.drop_out_answer(
        session,
        shift,
        reason=body.reason,
        actor_role=user.role,
        actor_user_id=user.id,
        time_limit_s=settings.plan_time_limit_s,
    )
    return answer


# ── proof of delivery ──────────────────────────────────────────────────────────────────


@router.get(
    "/stops/{stop_id}/photo",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
            "description": "The photo's bytes, as the courier uploaded them",
        }
    },
)
def read_stop_photo(stop_id: int, session: SessionDep, user: StaffUser) -> Response:
    """The photo taken at a delivery stop (proof of delivery), with its sniffed type."""
    if session.get(Stop, stop_id) is None:
        raise NotFoundError("stop", stop_id)
    photo = session.exec(select(DeliveryPhoto).where(col(DeliveryPhoto.stop_id) == stop_id)).first()
    if photo is None:
        raise NotFoundError("photo of stop", stop_id)
    return Response(
        content=photo.data,
        media_type=photo.content_type,
        headers={
            # Personal data: not for shared caches; and the browser keeps to the stored type.
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{photo.sha256}"',
        },
    )


# ── the event log ──────────────────────────────────────────────────────────────────────────


@router.get("/events")
def read_events(
    session: SessionDep,
    user: StaffUser,
    entity: str | None = None,
    entity_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EventView]:
    """The event log, oldest first: one thing's timeline with ``entity`` and ``entity_id``,
    or the latest ``limit`` events of a kind, or of everything."""
    if entity is not None and entity not in EVENT_ENTITIES:
        raise InvalidFieldError(
            "query parameter entity", f"must be one of {', '.join(EVENT_ENTITIES)}"
        )
    if entity_id is not None and entity is None:
        raise InvalidFieldError("query parameter entity", "is required with entity_id")
    query = select(Event)
    if entity is not None:
        query = query.where(col(Event.entity) == entity)
    if entity_id is not None:
        query = query.where(col(Event.entity_id) == entity_id)
    newest = session.exec(
        query.order_by(col(Event.at).desc(), col(Event.id).desc()).limit(limit)
    ).all()
    return [EventView.model_validate(e, from_attributes=True) for e in reversed(newest)]


# ── map: ride paths and couriers' positions ───────────────────────────────────────────────


class TripPath(SQLModel):
    route_id: int
    trip_id: int
    #: From the hub through the trip's stops and back, ``[[lat, lon], ...]``.
    path: list[list[float]]


class CourierOnMap(SQLModel):
    courier_id: int
    courier_name: str
    shift_id: int
    lat: float
    lon: float
    accuracy_m: float
    at: datetime


@router.get("/windows/{window_id}/paths")
def read_plan_paths(window_id: int, session: SessionDep, user: StaffUser) -> list[TripPath]:
    """Every trip of the window's current plan as the line its courier rides (for the map)."""
    _window(session, window_id)
    plan = current_plan(session, window_id)
    if plan is None:
        return []
    network = get_network(get_town(session))
    rows = session.exec(
        select(PlanTrip, PlanRoute, Hub)
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Shift, col(Shift.id) == col(PlanRoute.shift_id))
        .join(Hub, col(Hub.id) == col(Shift.hub_id))
        .where(col(PlanRoute.plan_id) == plan.id)
        .order_by(col(PlanRoute.id), col(PlanTrip.number))
    ).all()
    out = []
    for trip, route, hub in rows:
        stops = session.exec(
            select(Stop.lat, Stop.lon)
            .where(col(Stop.trip_id) == trip.id)
            .order_by(col(Stop.sequence), col(Stop.id))
        ).all()
        points = [(hub.lat, hub.lon), *((lat, lon) for lat, lon in stops), (hub.lat, hub.lon)]
        out.append(
            TripPath(route_id=route.id or 0, trip_id=trip.id or 0, path=ride_path(network, points))
        )
    return out


@router.get("/positions")
def read_positions(session: SessionDep, user: StaffUser) -> list[CourierOnMap]:
    """Each courier's latest GPS fix (couriers who never sent one are left out)."""
    rows = session.exec(
        select(CourierPosition, Courier)
        .join(Courier, col(Courier.id) == col(CourierPosition.courier_id))
        .where(col(Courier.town_id) == get_town(session).id)
        .order_by(col(Courier.id))
    ).all()
    return [
        CourierOnMap(
            courier_id=courier.id or 0,
            courier_name=courier.name,
            shift_id=pos.shift_id,
            lat=pos.lat,
            lon=pos.lon,
            accuracy_m=pos.accuracy_m,
            at=pos.at,
        )
        for pos, courier in rows
    ]
