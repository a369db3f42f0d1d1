"""Planning a delivery window: the one module that joins the database, routing and the solver.

``plan_window`` reads a window's parcels, the couriers on shift and their bikes, builds the
solver's ``Problem`` (hub mode: depot deliveries from the hub; direct mode: a pickup at the
shop and a delivery at the door, ``Problem.pairs``), computes one travel matrix per bike
profile over hub + shops + doors, solves, and stores ``Plan → PlanRoute → PlanTrip → Stop``.

Decisions worth knowing:

- **Time**: the solver counts integer seconds from midnight UTC of the window's first moment
  (the earlier of the window's start and its couriers' first shift start). ``Clock`` is the
  one place that converts, both ways.
- **Idempotency**: planning again marks the previous current plan not current and cancels
  its still-open stops (``planned``/``arrived``) through ``dispatch.lifecycle`` as the
  system, with the new plan's id in the event. Nothing is deleted, so the history of what
  couriers were shown survives; "live" stops (not terminal) exist for one plan only.
- **Locking**: the whole run holds the window's row lock, so two planners (two workers, the
  scheduler and a dispatcher's button) serialise and leave exactly one current plan. On
  PostgreSQL that is ``SELECT ... FOR UPDATE``; on SQLite ``BEGIN IMMEDIATE`` (the database's
  write lock, waited for up to ``SQLITE_LOCK_WAIT_S``). The second planner then re-reads the
  window and replaces the first one's plan. ``plan_window`` and ``move_stop`` commit.
- **Room test**: ``window_has_room`` is an insertion test: the window's accepted orders and
  couriers as a solver problem, the new order inserted into their plan with no search (see
  its docstring); the base problem is cached per window and process.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from dispatch import lifecycle
from dispatch.config import get_settings
from dispatch.models import (
    BikeType,
    Courier,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Shop,
    Stop,
    Town,
    utc_now,
)
from dispatch.network import TownNetwork, get_network
from routing import DEFAULT_MAX_SNAP_M, snap_points, travel_matrix
from routing.errors import RoutingError
from solver import MAX_TIME, Client, Depot, Problem, Result, VehicleType, check, solve
from solver.schedule import build_result

#: Seconds at a customer's door (find the door, hand over, confirm) and at a shop's counter.
DELIVERY_SERVICE_S = 180
PICKUP_SERVICE_S = 120
#: Seconds to reload a bike at the hub between two trips.
RELOAD_S = 300
#: The solver's load dimensions, in this order: grams, millilitres, parcels.
DIMENSIONS = ("g", "ml", "parcels")
#: Parcels the planner routes: not yet on a bike, not finished or cancelled.
PLANNABLE_PARCELS = ("awaiting", "ready")
#: Windows ``plan_window`` plans (a running window is re-planned by live operations).
PLANNABLE_WINDOWS = ("closed", "planned")
#: Shifts whose couriers can take a route.
ACTIVE_SHIFTS = ("scheduled", "on_duty")
#: Stops a re-plan replaces (cancelled through the lifecycle).
OPEN_STOPS = ("planned", "arrived")
#: How long a second planner waits for SQLite's write lock before giving up.
SQLITE_LOCK_WAIT_S = 120.0
#: Snapping is done with no limit, then each point is judged against this one.
_SNAP_ANYWHERE_M = 1e9


class PlanningError(ValueError):
    """The window cannot be planned (unknown, wrong status, no hub); ``str()`` says why."""


class UnreachableAddressError(ValueError):
    """A point is too far from any street a cargo bike can ride."""


# ── geometry ───────────────────────────────────────────────────────────────────────────────


def locate(network: TownNetwork, lat: float, lon: float) -> tuple[float, float]:
    """Where a cargo bike stops for ``(lat, lon)``: the nearest rideable point, as (lat, lon).

    Raises ``UnreachableAddressError`` when that point is farther than the snapping limit, so
    an address is refused when the customer types it rather than when the window is planned.
    """
    try:
        snapped = snap_points(network.graph, [lon], [lat], max_distance_m=_SNAP_ANYWHERE_M)
    except RoutingError as error:  # not a valid coordinate at all
        raise UnreachableAddressError(str(error)) from error
    distance = float(snapped.distance_m[0])
    if distance > DEFAULT_MAX_SNAP_M:
        raise UnreachableAddressError(
            f"address is {distance:.0f} m from the nearest street a cargo bike can ride "
            f"(limit {DEFAULT_MAX_SNAP_M:.0f} m)"
        )
    return float(snapped.snapped_lat[0]), float(snapped.snapped_lon[0])


def _in_ring(ring: Sequence[Sequence[float]], lon: float, lat: float) -> bool:
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i][0], ring[i][1]
        x2, y2 = ring[(i + 1) % n][0], ring[(i + 1) % n][1]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def in_zone(town: Town, lat: float, lon: float) -> bool:
    """Whether the point is in the town's delivery zone (GeoJSON rings; holes excluded).

    True when no zone is set: a town without a zone delivers wherever a bike can ride.
    """
    if not town.zone:
        return True
    outer, *holes = town.zone
    return _in_ring(outer, lon, lat) and not any(_in_ring(h, lon, lat) for h in holes)


# ── time ───────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Clock:
    """The solver's clock: integer seconds since ``origin`` (a UTC midnight)."""

    origin: datetime

    def seconds(self, moment: datetime) -> int:
        """Seconds from the origin (never negative: the solver's clock starts at 0)."""
        return max(0, math.floor((moment - self.origin).total_seconds()))

    def moment(self, seconds: int) -> datetime:
        return self.origin + timedelta(seconds=int(seconds))

    def local(self, day_start: datetime, hhmm: str, zone: ZoneInfo) -> int:
        """Seconds of a local wall-clock time ("07:30") on the local day of ``day_start``."""
        hours, minutes = (int(part) for part in hhmm.split(":"))
        day = day_start.astimezone(zone).date()
        wall = datetime.combine(day, clock_time(hours, minutes), tzinfo=zone)
        return self.seconds(wall.astimezone(UTC))


def clock_for(window: DeliveryWindow, shifts: Sequence[Shift] = ()) -> Clock:
    """Midnight UTC of the window's earliest moment (its start or a shift's start)."""
    first = min([window.starts_at, *(s.starts_at for s in shifts)])
    midnight = datetime.combine(first.astimezone(UTC).date(), clock_time(0), tzinfo=UTC)
    return Clock(midnight)


# ── building the problem ───────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Visit:
    """What one solver client is in the database: a pickup or a delivery of one parcel."""

    parcel_id: int
    order_id: int
    kind: str  # "pickup" or "delivery"
    lat: float
    lon: float


@dataclass
class Build:
    """The solver problem of one window and how to read its answer back."""

    window: DeliveryWindow
    town: Town
    clock: Clock
    problem: Problem | None  # None when there is nothing to route or no courier
    visits: list[Visit]  # per client index
    shifts: list[Shift]  # per vehicle type index
    unassigned: list[dict[str, Any]]  # decided before the solver: no address, unreachable, ...
    parcel_client: dict[tuple[int, str], int] = field(default_factory=dict)
    courier_names: list[str] = field(default_factory=list)  # per vehicle type index
    hub_names: list[str] = field(default_factory=list)  # per depot index
    matrix_s: float = 0.0


@dataclass(frozen=True)
class PlanTimings:
    """Where a planning run's time went, in seconds (the benchmark's split)."""

    read_s: float
    matrix_s: float
    solve_s: float
    write_s: float

    @property
    def total_s(self) -> float:
        return self.read_s + self.matrix_s + self.solve_s + self.write_s


def _needs(parcel: Parcel) -> tuple[str, ...]:
    return tuple(sorted({n.strip() for n in parcel.needs.split(",") if n.strip()}))


def _skills(bike: BikeType) -> tuple[str, ...]:
    return tuple(name for name, has in (("cooled", bike.cooled), ("trailer", bike.trailer)) if has)


def _window_parcels(session: Session, window_id: int) -> list[tuple[Parcel, Order]]:
    query = (
        select(Parcel, Order)
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(
            col(Order.window_id) == window_id,
            col(Order.fulfilment) == "delivery",
            col(Parcel.status).in_(PLANNABLE_PARCELS),
        )
        .order_by(col(Parcel.id))
    )
    return [(p, o) for p, o in session.exec(query).all()]


def _window_shifts(
    session: Session, window: DeliveryWindow
) -> list[tuple[Shift, Courier, BikeType]]:
    query = (
        select(Shift, Courier, BikeType)
        .join(Courier, col(Courier.id) == col(Shift.courier_id))
        .join(BikeType, col(BikeType.id) == col(Courier.bike_type_id))
        .where(
            col(Courier.town_id) == window.town_id,
            col(Courier.active),
            col(Shift.status).in_(ACTIVE_SHIFTS),
            col(Shift.starts_at) < window.ends_at,
            col(Shift.ends_at) > window.starts_at,
        )
        .order_by(col(Shift.starts_at), col(Shift.id))
    )
    return [(s, c, b) for s, c, b in session.exec(query).all()]


def _unassigned(parcel: Parcel, reason: str) -> dict[str, Any]:
    return {"parcel_id": parcel.id, "order_id": parcel.order_id, "reason": reason}


def _depots_and_fleet(
    window: DeliveryWindow,
    town: Town,
    hubs: list[Hub],
    fleet: list[tuple[Shift, Courier, BikeType]],
    clock: Clock,
    index: dict[tuple[float, float], int],
    profiles: list[str],
) -> tuple[list[Depot], list[VehicleType]]:
    """The hubs as depots (their hours in the town's time zone) and one bike per shift."""
    zone = ZoneInfo(town.time_zone)
    depots = []
    for hub in hubs:
        opens = clock.local(window.starts_at, hub.opens, zone)
        closes = clock.local(window.starts_at, hub.closes, zone)
        if closes <= opens:  # hours across midnight or mistyped: do not let them block
            opens, closes = 0, MAX_TIME
        depots.append(
            Depot(location=index[hub.lat, hub.lon], name=hub.name, opens=opens, closes=closes)
        )
    hub_index = {hub.id: number for number, hub in enumerate(hubs)}
    types = [
        VehicleType(
            count=1,
            capacity=(bike.capacity_g, bike.capacity_ml, bike.capacity_parcels),
            start_depot=hub_index.get(shift.hub_id, 0),
            shift_start=clock.seconds(shift.starts_at),
            shift_end=clock.seconds(shift.ends_at),
            profile=profiles.index(bike.profile),
            max_trips=None,
            reload=RELOAD_S,
            name=f"{courier.name} (shift {shift.id})",
            skills=_skills(bike),
        )
        for shift, courier, bike in fleet
    ]
    return depots, types


def build_problem(session: Session, window: DeliveryWindow) -> Build:
    """The window's solver problem from the database (nothing is written)."""
    town = session.get(Town, window.town_id)
    if town is None:
        raise PlanningError(f"window {window.id}: town {window.town_id} does not exist")
    hubs = list(session.exec(select(Hub).where(col(Hub.town_id) == town.id).order_by(col(Hub.id))))
    if not hubs:
        raise PlanningError(f"town {town.name!r} has no hub: add one before planning")
    assert window.id is not None
    parcels = _window_parcels(session, window.id)
    fleet = _window_shifts(session, window)
    shifts = [shift for shift, _, _ in fleet]
    clock = clock_for(window, shifts)
    build = Build(window, town, clock, None, [], shifts, [])
    build.courier_names = [courier.name for _, courier, _ in fleet]
    build.hub_names = [hub.name for hub in hubs]
    if not parcels:
        return build
    if not fleet:
        build.unassigned = [
            _unassigned(p, "no courier is on shift in this window") for p, _ in parcels
        ]
        return build
    direct = town.mode == "direct"
    shops = {
        shop.id: shop
        for shop in session.exec(
            select(Shop).where(col(Shop.id).in_({p.shop_id for p, _ in parcels}))
        )
    }

    # Points: every hub, then (direct mode) the shops, then the doors; snapped once.
    points: list[tuple[float, float]] = [(h.lat, h.lon) for h in hubs]
    if direct:
        points += [
            (shop.lat, shop.lon) for _, shop in sorted(shops.items(), key=lambda kv: kv[0] or 0)
        ]
    points += [(o.lat, o.lon) for _, o in parcels if o.lat is not None and o.lon is not None]
    unique = list(dict.fromkeys(points))
    index = {point: i for i, point in enumerate(unique)}
    started = time.perf_counter()
    town_graph = get_network(town).graph
    lats = np.array([p[0] for p in unique])
    lons = np.array([p[1] for p in unique])
    far = snap_points(town_graph, lons, lats, max_distance_m=_SNAP_ANYWHERE_M).distance_m
    for number, hub in enumerate(hubs):
        if far[number] > DEFAULT_MAX_SNAP_M:
            raise PlanningError(
                f"hub {hub.name!r} is {far[number]:.0f} m from the nearest street a cargo bike "
                f"can ride (limit {DEFAULT_MAX_SNAP_M:.0f} m)"
            )
    profiles = sorted({bike.profile for _, _, bike in fleet})
    durations = np.empty((len(profiles), len(unique), len(unique)), dtype=np.int64)
    distances = np.empty_like(durations)
    for p, profile in enumerate(profiles):
        graph = get_network(town, profile=profile).graph
        snapped = snap_points(graph, lons, lats, max_distance_m=_SNAP_ANYWHERE_M)
        matrix = travel_matrix(graph, snapped)
        durations[p] = np.where(matrix.duration_s < 0, MAX_TIME, matrix.duration_s)
        distances[p] = np.where(matrix.distance_m < 0, MAX_TIME, matrix.distance_m)
    build.matrix_s = time.perf_counter() - started

    def too_far(point: tuple[float, float]) -> str | None:
        metres = far[index[point]]
        if metres <= DEFAULT_MAX_SNAP_M:
            return None
        return (
            f"is {metres:.0f} m from the nearest street a cargo bike can ride "
            f"(limit {DEFAULT_MAX_SNAP_M:.0f} m)"
        )

    start, end = clock.seconds(window.starts_at), clock.seconds(window.ends_at)
    clients: list[Client] = []
    pairs: list[tuple[int, int]] = []
    for parcel, order in parcels:
        assert parcel.id is not None
        assert order.id is not None
        if order.lat is None or order.lon is None:
            build.unassigned.append(_unassigned(parcel, "the order's address has no coordinates"))
            continue
        door = (order.lat, order.lon)
        if (problem_text := too_far(door)) is not None:
            build.unassigned.append(_unassigned(parcel, f"the delivery address {problem_text}"))
            continue
        demand = (parcel.weight_g, parcel.volume_ml, parcel.count)
        needs = _needs(parcel)
        release = clock.seconds(parcel.ready_at or late_ready_at(window, order))
        delivery = Client(
            location=index[door],
            demand=demand,
            service=DELIVERY_SERVICE_S,
            tw_early=start,
            tw_late=max(start, end),
            release=0 if direct else release,
            depot=0,
            name=f"parcel {parcel.id}",
            requires=needs,
        )
        if direct:
            shop = shops[parcel.shop_id]
            counter = (shop.lat, shop.lon)
            if (problem_text := too_far(counter)) is not None:
                build.unassigned.append(_unassigned(parcel, f"the shop {problem_text}"))
                continue
            pickup = Client(
                location=index[counter],
                demand=demand,
                service=PICKUP_SERVICE_S,
                tw_late=max(start, end),
                release=release,
                name=f"pickup {parcel.id}",
                requires=needs,
            )
            build.parcel_client[parcel.id, "pickup"] = len(clients)
            build.visits.append(Visit(parcel.id, order.id, "pickup", shop.lat, shop.lon))
            pairs.append((len(clients), len(clients) + 1))
            clients.append(pickup)
        build.parcel_client[parcel.id, "delivery"] = len(clients)
        build.visits.append(Visit(parcel.id, order.id, "delivery", order.lat, order.lon))
        clients.append(delivery)

    depots, types = _depots_and_fleet(window, town, hubs, fleet, clock, index, profiles)
    if clients:
        build.problem = Problem(
            depots=tuple(depots),
            clients=tuple(clients),
            vehicle_types=tuple(types),
            durations=durations,
            distances=distances,
            dimensions=DIMENSIONS,
            name=f"window {window.id}",
            pairs=tuple(pairs),
            max_duration_cost=get_settings().plan_balance_m_per_s,
        )
    return build


def late_ready_at(window: DeliveryWindow, order: Order) -> datetime:
    """When an order's parcel that the shop has not marked ready can be at the hub (or ready at
    the shop) at the earliest: the cutoff, or for a late order (placed after it), the
    preparation time after the order (``late_order_prep_min``)."""
    if not window.cutoff_at < order.created_at < window.ends_at:  # on time (or imported)
        return window.cutoff_at
    return order.created_at + timedelta(minutes=get_settings().late_order_prep_min)


_CLIENT = re.compile(r"\b(?:client|partner) (\d+)")
_TYPE = re.compile(r"\bvehicle type (\d+)")
_DEPOT = re.compile(r"\bdepot (\d+)")
_ROUTE = re.compile(r"^route \d+(?: trip \d+)?: ")


def humanise(build: Build, text: str) -> str:
    """A solver or checker message in the dispatcher's words: parcels, couriers and hubs
    instead of client, vehicle-type and depot indices."""

    def client(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number >= len(build.visits):
            return match.group(0)
        visit = build.visits[number]
        return f"parcel {visit.parcel_id}'s {visit.kind}"

    def vehicle(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return build.courier_names[number] if number < len(build.courier_names) else match.group(0)

    def depot(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return (
            f"hub {build.hub_names[number]!r}" if number < len(build.hub_names) else match.group(0)
        )

    text = _ROUTE.sub("", text)
    return _DEPOT.sub(depot, _TYPE.sub(vehicle, _CLIENT.sub(client, text)))


def _reasons(build: Build, result: Result | None) -> list[dict[str, Any]]:
    """Plan.unassigned: one entry per parcel, the reason that names the parcel's own trouble."""
    found: dict[int, dict[str, Any]] = {}
    for entry in build.unassigned:
        found[entry["parcel_id"]] = entry
    for item in result.unassigned if result is not None else ():
        visit = build.visits[item.client]
        previous = found.get(visit.parcel_id)
        if previous is None or "partner" in previous["reason"]:
            found[visit.parcel_id] = {
                "parcel_id": visit.parcel_id,
                "order_id": visit.order_id,
                "reason": humanise(build, item.reason),
            }
    return [found[k] for k in sorted(found)]


# ── locking ────────────────────────────────────────────────────────────────────────────────


def lock_window(session: Session, window_id: int) -> DeliveryWindow:
    """Take the window's lock for the rest of the transaction and re-read it fresh.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the row. SQLite: ``BEGIN IMMEDIATE`` (its only
    lock is the database's write lock); if the session has written already it holds that
    lock, and nothing more is needed.
    """
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw: Any = connection.connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute(f"PRAGMA busy_timeout = {int(SQLITE_LOCK_WAIT_S * 1000)}")
            try:
                raw.execute("BEGIN IMMEDIATE")
            finally:
                raw.execute("PRAGMA busy_timeout = 5000")
        session.expire_all()
        window = session.get(DeliveryWindow, window_id)
    else:
        session.expire_all()
        query = select(DeliveryWindow).where(col(DeliveryWindow.id) == window_id).with_for_update()
        window = session.exec(query).first()
    if window is None:
        raise PlanningError(f"window {window_id} does not exist")
    return window


# ── planning ───────────────────────────────────────────────────────────────────────────────


def _current_plans(session: Session, window_id: int) -> list[Plan]:
    query = select(Plan).where(col(Plan.window_id) == window_id, col(Plan.current))
    return list(session.exec(query.order_by(col(Plan.id))))


def _plan_stops(
    session: Session, plan_id: int, statuses: Sequence[str] | None = None
) -> list[Stop]:
    query = (
        select(Stop)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .where(col(PlanRoute.plan_id) == plan_id)
    )
    if statuses is not None:
        query = query.where(col(Stop.status).in_(statuses))
    return list(
        session.exec(query.order_by(col(PlanRoute.id), col(PlanTrip.number), col(Stop.sequence)))
    )


def _write_routes(session: Session, build: Build, result: Result, plan: Plan) -> None:
    """PlanRoute → PlanTrip → Stop rows for every route of ``result``."""
    clock = build.clock
    assert plan.id is not None
    for route in result.routes:
        shift = build.shifts[route.vehicle_type]
        assert shift.id is not None
        row = PlanRoute(
            plan_id=plan.id,
            shift_id=shift.id,
            starts_at=clock.moment(route.start),
            ends_at=clock.moment(route.end),
            distance_m=route.distance,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for number, trip in enumerate(route.trips, start=1):
            trip_row = PlanTrip(
                route_id=row.id,
                number=number,
                departs_at=clock.moment(trip.departure),
                returns_at=clock.moment(trip.return_time),
            )
            session.add(trip_row)
            session.flush()
            assert trip_row.id is not None
            for sequence, stop in enumerate(trip.stops, start=1):
                visit = build.visits[stop.client]
                session.add(
                    Stop(
                        trip_id=trip_row.id,
                        sequence=sequence,
                        kind=visit.kind,
                        parcel_id=visit.parcel_id,
                        lat=visit.lat,
                        lon=visit.lon,
                        planned_arrival=clock.moment(stop.arrival),
                        planned_departure=clock.moment(stop.departure),
                        load_g=stop.load_after[0],
                    )
                )


def store_plan(
    session: Session,
    window: DeliveryWindow,
    build: Build,
    result: Result | None,
    *,
    solve_s: float,
    actor_user_id: int | None,
) -> Plan:
    """Store ``result`` as the window's new current plan (not committed): the previous plan
    stops being current and its open stops are cancelled, the window gets its ``plan`` event.
    Shared by planning and re-planning (``dispatch.replanning``), so both store alike."""
    window_id = window.id
    assert window_id is not None
    plan = Plan(
        window_id=window_id,
        current=True,
        cost=result.cost if result else 0,
        distance_m=result.distance if result else 0,
        duration_s=result.duration if result else 0,
        solver=result.backend if result else "none",
        solve_s=round(solve_s, 3),
        matrix_s=round(build.matrix_s, 3),
        unassigned=_reasons(build, result),
    )
    session.add(plan)
    session.flush()
    assert plan.id is not None
    for old in _current_plans(session, window_id):
        if old.id == plan.id:
            continue
        old.current = False
        session.add(old)
        assert old.id is not None
        for stop in _plan_stops(session, old.id, OPEN_STOPS):
            lifecycle.perform(
                session,
                stop,
                "cancel",
                actor_role=lifecycle.SYSTEM,
                actor_user_id=actor_user_id,
                detail={"reason": "re-planned", "plan_id": plan.id},
            )
    if result is not None:
        _write_routes(session, build, result, plan)
    lifecycle.perform(
        session,
        window,
        "plan",
        actor_role=lifecycle.SYSTEM,
        actor_user_id=actor_user_id,
        detail={"plan_id": plan.id, "unassigned": len(plan.unassigned)},
    )
    return plan


def plan_window_timed(
    session: Session,
    window_id: int,
    *,
    time_limit_s: float | None = None,
    max_iterations: int | None = None,
    seed: int = 0,
    actor_user_id: int | None = None,
) -> tuple[Plan, PlanTimings]:
    """``plan_window`` and where its time went (for the benchmark and the CLI)."""
    started = time.perf_counter()
    limit = get_settings().plan_time_limit_s if time_limit_s is None else time_limit_s
    try:
        window = lock_window(session, window_id)
        if window.status == "running":  # couriers are out: what is on a bike stays there
            from dispatch.replanning import replan_window_timed

            return replan_window_timed(
                session,
                window_id,
                time_limit_s=limit,
                max_iterations=max_iterations,
                seed=seed,
                actor_user_id=actor_user_id,
            )
        if window.status not in PLANNABLE_WINDOWS:
            why = {
                "open": "it still takes orders (close it or wait for its cutoff)",
            }.get(window.status, f"it is {window.status}")
            raise PlanningError(f"window {window_id} cannot be planned: {why}")
        build = build_problem(session, window)
        read_s = time.perf_counter() - started - build.matrix_s
        solve_started = time.perf_counter()
        result = None
        if build.problem is not None:
            result = solve(
                build.problem, time_limit_s=limit, max_iterations=max_iterations, seed=seed
            )
        solve_s = time.perf_counter() - solve_started
        write_started = time.perf_counter()
        plan = store_plan(
            session, window, build, result, solve_s=solve_s, actor_user_id=actor_user_id
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(plan)
    timings = PlanTimings(read_s, build.matrix_s, solve_s, time.perf_counter() - write_started)
    return plan, timings


def plan_window(
    session: Session,
    window_id: int,
    *,
    time_limit_s: float | None = None,
    seed: int = 0,
    actor_user_id: int | None = None,
    max_iterations: int | None = None,
) -> Plan:
    """Plan (or re-plan) a closed window and commit; returns the new current plan.

    Every parcel ends on a stop or in ``Plan.unassigned`` with its reason. The window moves to
    ``planned`` through the lifecycle; the previous current plan stops being current and its
    open stops are cancelled. Runs under the window's lock (see the module's docstring).
    """
    plan, _ = plan_window_timed(
        session,
        window_id,
        time_limit_s=time_limit_s,
        max_iterations=max_iterations,
        seed=seed,
        actor_user_id=actor_user_id,
    )
    return plan


def current_plan(session: Session, window_id: int) -> Plan | None:
    """The window's current plan, if it has been planned."""
    plans = _current_plans(session, window_id)
    return plans[-1] if plans else None


# ── the room test ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RoomVerdict:
    ok: bool
    reason: str = ""


#: What a customer is told when the solver finds no place for the order.
ROOM_FULL = "the couriers of this window are fully booked"
ROOM_TOO_FAR = "no courier can reach the address within the window"
ROOM_TOO_BIG = "the order is too big for every bike on shift"
ROOM_NEEDS = "no bike on shift can carry what the order needs"
ROOM_NO_PATH = "a cargo bike cannot reach the address"
#: Search iterations tried after a plain insertion fails (a few ruin-and-recreate moves).
ROOM_RETRY_ITERATIONS = 30
#: Windows whose base problem (accepted orders, matrices, starting plan) is kept in memory.
_ROOM_CACHE_SIZE = 32


@dataclass
class _RoomBase:
    """A window's accepted orders as a solver problem, and the plan they start from.

    Plain data only (no ORM rows), so it can outlive the session that built it; ``key`` is
    everything it was built from, and a request whose key differs rebuilds it.
    """

    key: tuple[Any, ...]
    problem: Problem  # may have no clients: then only depots and vehicle types matter
    points: list[tuple[float, float]]  # (lat, lon) per location index
    snapped: list[Any]  # per profile: SnappedPoints of ``points``
    profiles: list[str]
    initial: list[tuple[int, list[list[int]]]]  # vehicle type, trips of client indices
    placed: frozenset[int]
    clock: Clock


_ROOM_CACHE: dict[tuple[str, int], _RoomBase] = {}  # by (database URL, window id)
_ROOM_LOCK = threading.Lock()


def _room_fleet_problem(
    window: DeliveryWindow,
    town: Town,
    hubs: list[Hub],
    fleet: list[tuple[Shift, Courier, BikeType]],
) -> tuple[Problem, list[tuple[float, float]], list[str], Clock]:
    """A window without accepted orders: depots and vehicle types as ``build_problem`` makes
    them, matrices over the hubs only (``build_problem`` returns no problem without clients)."""
    shifts = [shift for shift, _, _ in fleet]
    clock = clock_for(window, shifts)
    profiles = sorted({bike.profile for _, _, bike in fleet})
    points = list(dict.fromkeys((h.lat, h.lon) for h in hubs))
    index = {point: i for i, point in enumerate(points)}
    depots, types = _depots_and_fleet(window, town, hubs, fleet, clock, index, profiles)
    size = len(points)
    empty = np.zeros((len(profiles), size, size), dtype=np.int64)
    problem = Problem(
        depots=tuple(depots),
        clients=(),
        vehicle_types=tuple(types),
        durations=empty,
        distances=empty.copy(),
        dimensions=DIMENSIONS,
        name=f"window {window.id}",
    )
    return problem, points, profiles, clock


def _plan_layout(session: Session, plan_id: int) -> list[tuple[int, list[list[tuple[int, str]]]]]:
    """A plan's open stops as (shift id, trips of (parcel id, kind)), in route order."""
    query = (
        select(PlanRoute.shift_id, PlanTrip.id, Stop.parcel_id, Stop.kind)
        .join(PlanTrip, col(PlanTrip.route_id) == col(PlanRoute.id))
        .join(Stop, col(Stop.trip_id) == col(PlanTrip.id))
        .where(col(PlanRoute.plan_id) == plan_id, col(Stop.status).in_(OPEN_STOPS))
        .order_by(col(PlanRoute.id), col(PlanTrip.number), col(Stop.sequence))
    )
    layout: list[tuple[int, list[list[tuple[int, str]]]]] = []
    last_trip: int | None = None
    for shift_id, trip_id, parcel_id, kind in session.exec(query).all():
        if not layout or layout[-1][0] != shift_id:
            layout.append((int(shift_id), []))
            last_trip = None
        if trip_id != last_trip:
            layout[-1][1].append([])
            last_trip = trip_id
        layout[-1][1][-1].append((int(parcel_id), str(kind)))
    return layout


def _room_base(session: Session, window: DeliveryWindow, town: Town) -> _RoomBase | None:
    """The window's base problem, from the cache when nothing it depends on has changed."""
    assert window.id is not None
    hubs = list(session.exec(select(Hub).where(col(Hub.town_id) == town.id).order_by(col(Hub.id))))
    if not hubs:
        return None
    parcels = _window_parcels(session, window.id)
    fleet = _window_shifts(session, window)
    plan = current_plan(session, window.id)
    layout = _plan_layout(session, plan.id) if plan is not None and plan.id is not None else []
    shop_ids = sorted({p.shop_id for p, _ in parcels})
    shops = (
        [(s.id, s.lat, s.lon) for s in session.exec(select(Shop).where(col(Shop.id).in_(shop_ids)))]
        if town.mode == "direct"
        else []
    )
    key = (
        (town.id, town.mode, town.extract, town.profile, town.time_zone),
        (window.starts_at, window.ends_at, window.cutoff_at),
        tuple((h.id, h.lat, h.lon, h.opens, h.closes) for h in hubs),
        tuple(sorted(shops)),
        tuple(
            (
                *(p.id, p.status, p.weight_g, p.volume_ml, p.count, p.needs, p.shop_id),
                *(p.ready_at, o.lat, o.lon),
            )
            for p, o in parcels
        ),
        tuple(
            (
                *(s.id, s.status, s.starts_at, s.ends_at, s.hub_id, c.id, c.name, b.id),
                *(b.capacity_g, b.capacity_ml, b.capacity_parcels, b.profile, b.cooled, b.trailer),
            )
            for s, c, b in fleet
        ),
        plan.id if plan is not None else None,
        tuple((shift, tuple(map(tuple, trips))) for shift, trips in layout),
    )
    slot = (session.get_bind().engine.url.render_as_string(hide_password=True), window.id)
    with _ROOM_LOCK:
        cached = _ROOM_CACHE.get(slot)
    if cached is not None and cached.key == key:
        return cached

    build = build_problem(session, window)
    profiles = sorted({bike.profile for _, _, bike in fleet})
    if build.problem is None:
        problem, points, profiles, clock = _room_fleet_problem(window, town, hubs, fleet)
    else:
        # Room is a question of feasibility: sharing the work out does not change the answer.
        problem, clock = build.problem.replace(max_duration_cost=0), build.clock
        # Coordinates per location index, as build_problem laid them out (hubs, shops, doors).
        points = [(hubs[0].lat, hubs[0].lon)] * int(problem.durations.shape[1])
        for hub, depot in zip(hubs, problem.depots, strict=True):
            points[depot.location] = (hub.lat, hub.lon)
        for visit, client in zip(build.visits, problem.clients, strict=True):
            points[client.location] = (visit.lat, visit.lon)
    snapped = _snap_everywhere(town, profiles, points)
    if build.problem is None:
        problem = _with_matrices(problem, _room_matrices(town, profiles, snapped, snapped))

    initial: list[tuple[int, list[list[int]]]] = []
    if problem.n_clients:
        shift_type = {s.id: t for t, s in enumerate(build.shifts)}
        if plan is not None:
            for shift_id, trips in layout:
                t = shift_type.get(shift_id)
                if t is None:
                    continue
                clients = [
                    [build.parcel_client[k] for k in trip if k in build.parcel_client]
                    for trip in trips
                ]
                clients = [trip for trip in clients if trip]
                if clients:
                    initial.append((t, clients))
        if not initial:  # no plan yet: a quick greedy plan of the accepted orders
            greedy = solve(problem, time_limit_s=5.0, max_iterations=0, seed=0)
            initial = [
                (route.vehicle_type, [trip.clients for trip in route.trips])
                for route in greedy.routes
            ]
    placed = frozenset(c for _, trips in initial for trip in trips for c in trip)
    base = _RoomBase(key, problem, points, snapped, profiles, initial, placed, clock)
    with _ROOM_LOCK:
        _ROOM_CACHE.pop(slot, None)
        _ROOM_CACHE[slot] = base  # the newest last: the oldest goes first
        while len(_ROOM_CACHE) > _ROOM_CACHE_SIZE:
            _ROOM_CACHE.pop(next(iter(_ROOM_CACHE)))
    return base


def _snap_everywhere(
    town: Town, profiles: list[str], points: list[tuple[float, float]]
) -> list[Any]:
    """``points`` snapped on each profile's graph, however far from a street (per profile)."""
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    return [
        snap_points(
            get_network(town, profile=profile).graph, lons, lats, max_distance_m=_SNAP_ANYWHERE_M
        )
        for profile in profiles
    ]


def _room_matrices(
    town: Town, profiles: list[str], origins: list[Any], destinations: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Durations and distances per profile from ``origins`` to ``destinations`` (snapped)."""
    rows, cols = len(origins[0]), len(destinations[0])
    durations = np.empty((len(profiles), rows, cols), dtype=np.int64)
    distances = np.empty_like(durations)
    for p, profile in enumerate(profiles):
        graph = get_network(town, profile=profile).graph
        matrix = travel_matrix(graph, origins[p], destinations[p])
        durations[p] = np.where(matrix.duration_s < 0, MAX_TIME, matrix.duration_s)
        distances[p] = np.where(matrix.distance_m < 0, MAX_TIME, matrix.distance_m)
    return durations, distances


def _with_matrices(problem: Problem, matrices: tuple[np.ndarray, np.ndarray]) -> Problem:
    durations, distances = matrices
    result: Problem = problem.replace(durations=durations, distances=distances)
    return result


def _customer_reason(reason: str) -> str:
    """The solver's reason for leaving a parcel out, in words a customer understands."""
    text = reason.lower()
    if "fleet full" in text:
        return ROOM_FULL
    if "needs " in text or "skill" in text:
        return ROOM_NEEDS
    if "no path" in text:
        return ROOM_NO_PATH
    if "demand" in text or "capacity" in text:
        return ROOM_TOO_BIG
    if any(word in text for word in ("time window", "shift", "ride back", "reach", "no time")):
        return ROOM_TOO_FAR
    return ROOM_FULL


def window_has_room(
    session: Session,
    window: DeliveryWindow,
    *,
    lat: float,
    lon: float,
    weight_g: int,
    volume_ml: int,
    count: int,
    shop_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> RoomVerdict:
    """Whether one more order (its parcels summed) still fits in ``window``: an insertion test.

    Cheap checks first: the window still takes orders, its ``max_orders`` and
    ``max_weight_g``, couriers on shift, a bike big enough for the new parcels. Then the
    window's solver problem (``build_problem``: its accepted parcels, couriers and matrices)
    is extended by the new order — one parcel per shop of ``shop_ids`` (the sums split evenly;
    in direct mode each with its pickup at the shop), or one parcel when no shop is named (in
    direct mode then loaded at the hub, a stand-in for a shop not yet chosen) — and solved
    from a starting plan with no search (``max_iterations=0``, seed 0): the window's current
    plan if it has one, else a greedy plan of the accepted orders. The loaded plan is kept and
    every parcel not on it is inserted where it fits; if the new parcels do not all fit, a
    few ruin-and-recreate iterations (``ROOM_RETRY_ITERATIONS``) get one more try. The window
    has room iff every new parcel is placed and no parcel that was placed drops out.

    The base problem (matrices and starting plan) is cached per window in this process and
    rebuilt whenever the accepted parcels, the couriers, the hubs or the current plan change;
    a request then only routes the new points. Nothing is written to the database.

    A window whose routes are out (``planned`` or ``running``) is asked about a late order:
    the base is then the re-plan of the window as it stands at ``now`` (``build_replan``:
    couriers from where they are, what is on a bike stays there, done stops gone), the new
    parcels are ready ``late_order_prep_min`` after ``now``, and the order fits iff it can be
    inserted into those routes without any open stop dropping out.
    """
    assert window.id is not None
    now = now or utc_now()
    late = window.status in lifecycle.LATE_ORDER_WINDOWS
    if window.status != "open" and not late:
        return RoomVerdict(False, f"the window is {window.status} and takes no more orders")
    accepted = select(func.count(col(Order.id))).where(
        col(Order.window_id) == window.id,
        col(Order.fulfilment) == "delivery",
        col(Order.status).not_in(("cancelled",)),
    )
    n_orders = int(session.exec(accepted).one())
    if window.max_orders is not None and n_orders + 1 > window.max_orders:
        return RoomVerdict(False, f"the window is full ({n_orders} of {window.max_orders} orders)")
    total_query = (
        select(func.coalesce(func.sum(Parcel.weight_g), 0))
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(
            col(Order.window_id) == window.id,
            col(Order.fulfilment) == "delivery",
            col(Parcel.status).not_in(("cancelled",)),
        )
    )
    total_g = int(session.exec(total_query).one())
    if window.max_weight_g is not None and total_g + weight_g > window.max_weight_g:
        left = max(0, window.max_weight_g - total_g)
        return RoomVerdict(
            False,
            f"the window's weight limit is reached ({left} g left, the order has {weight_g} g)",
        )
    fleet = _window_shifts(session, window)
    if not fleet:
        return RoomVerdict(False, "no courier is on shift in this window")
    if not any(
        b.capacity_g >= weight_g and b.capacity_ml >= volume_ml and b.capacity_parcels >= count
        for _, _, b in fleet
    ):
        return RoomVerdict(False, ROOM_TOO_BIG)
    town = session.get(Town, window.town_id)
    if town is None:
        return RoomVerdict(False, "the window's town does not exist")
    try:
        base = (
            _late_room_base(session, window, town, now)
            if late
            else _room_base(session, window, town)
        )
    except PlanningError as error:  # the town's set-up is broken (a hub off the streets)
        return RoomVerdict(False, f"the window cannot be planned: {error}")
    if base is None:
        return RoomVerdict(False, "the town has no hub")
    ready = now + timedelta(minutes=get_settings().late_order_prep_min) if late else None
    return _insertion_test(
        session, window, town, base, lat, lon, weight_g, volume_ml, count, shop_ids, ready
    )


def _late_room_base(
    session: Session, window: DeliveryWindow, town: Town, now: datetime
) -> _RoomBase | None:
    """The window's re-plan at ``now`` as a room-test base (not cached: it moves with time)."""
    from dispatch.replanning import build_replan  # replanning builds on this module

    hubs = list(session.exec(select(Hub).where(col(Hub.town_id) == town.id).order_by(col(Hub.id))))
    if not hubs:
        return None
    fleet = _window_shifts(session, window)
    replan = build_replan(session, window, now)
    if replan.build.problem is None:  # nothing left to ride: the couriers, from now on
        problem, points, profiles, clock = _room_fleet_problem(window, town, hubs, fleet)
        now_s = clock.seconds(now)
        types = tuple(
            vt.replace(shift_start=min(max(vt.shift_start, now_s), vt.shift_end))
            for vt in problem.vehicle_types
        )
        problem, initial = problem.replace(vehicle_types=types), []
    else:
        problem, points, clock = replan.build.problem, replan.points, replan.build.clock
        profiles = sorted({bike.profile for _, _, bike in fleet})
        initial = replan.initial
    snapped = _snap_everywhere(town, profiles, points)
    if replan.build.problem is None:
        problem = _with_matrices(problem, _room_matrices(town, profiles, snapped, snapped))
    placed = frozenset(c for _, trips in initial for trip in trips for c in trip)
    # Room is a question of feasibility: sharing the work out does not change the answer.
    problem = problem.replace(max_duration_cost=0)
    return _RoomBase((), problem, points, snapped, profiles, initial, placed, clock)


def _split(total: int, parts: int) -> list[int]:
    share, rest = divmod(total, parts)
    return [share + (1 if i < rest else 0) for i in range(parts)]


def _insertion_test(
    session: Session,
    window: DeliveryWindow,
    town: Town,
    base: _RoomBase,
    lat: float,
    lon: float,
    weight_g: int,
    volume_ml: int,
    count: int,
    shop_ids: Sequence[int],
    ready_at: datetime | None = None,
) -> RoomVerdict:
    problem = base.problem
    direct = town.mode == "direct" and bool(shop_ids)
    shops = (
        {s.id: s for s in session.exec(select(Shop).where(col(Shop.id).in_(set(shop_ids))))}
        if direct
        else {}
    )
    parcel_shops: list[int | None] = list(shop_ids) if shop_ids else [None]
    new_points: list[tuple[float, float]] = [(lat, lon)]
    shop_location: dict[int, int] = {}
    for shop_id in dict.fromkeys(shop_ids) if direct else ():
        shop = shops.get(shop_id)
        if shop is None:
            return RoomVerdict(False, f"shop {shop_id} does not exist")
        shop_location[shop_id] = int(problem.durations.shape[1]) + len(new_points)
        new_points.append((shop.lat, shop.lon))
    lats = np.array([p[0] for p in new_points])
    lons = np.array([p[1] for p in new_points])
    new_snapped = []
    for profile in base.profiles:
        graph = get_network(town, profile=profile).graph
        snapped = snap_points(graph, lons, lats, max_distance_m=_SNAP_ANYWHERE_M)
        if float(snapped.distance_m[0]) > DEFAULT_MAX_SNAP_M:
            return RoomVerdict(False, ROOM_NO_PATH)
        new_snapped.append(snapped)
    # The matrix grows by the new points' rows and columns; the base block is reused.
    n, k = int(problem.durations.shape[1]), len(new_points)
    out_d, out_m = _room_matrices(town, base.profiles, new_snapped, base.snapped)
    in_d, in_m = _room_matrices(town, base.profiles, base.snapped, new_snapped)
    own_d, own_m = _room_matrices(town, base.profiles, new_snapped, new_snapped)
    grown = []
    for old, out, into, own in (
        (problem.durations, out_d, in_d, own_d),
        (problem.distances, out_m, in_m, own_m),
    ):
        matrix = np.empty((len(base.profiles), n + k, n + k), dtype=np.int64)
        matrix[:, :n, :n] = old[:, :n, :n]
        matrix[:, n:, :n] = out
        matrix[:, :n, n:] = into
        matrix[:, n:, n:] = own
        grown.append(matrix)

    clock = base.clock
    start, end = clock.seconds(window.starts_at), clock.seconds(window.ends_at)
    release = clock.seconds(ready_at or window.cutoff_at)
    parts = len(parcel_shops)
    loads = zip(
        _split(weight_g, parts), _split(volume_ml, parts), _split(count, parts), strict=True
    )
    clients = list(problem.clients)
    pairs = list(problem.pairs)
    new_clients: list[int] = []
    for parcel_shop, (grams, millilitres, parcels) in zip(parcel_shops, loads, strict=True):
        demand = (grams, millilitres, parcels)
        if direct and parcel_shop is not None:
            new_clients.append(len(clients))
            pairs.append((len(clients), len(clients) + 1))
            clients.append(
                Client(
                    location=shop_location[parcel_shop],
                    demand=demand,
                    service=PICKUP_SERVICE_S,
                    tw_late=max(start, end),
                    release=release,
                    name="new pickup",
                )
            )
        new_clients.append(len(clients))
        clients.append(
            Client(
                location=n,
                demand=demand,
                service=DELIVERY_SERVICE_S,
                tw_early=start,
                tw_late=max(start, end),
                release=0 if direct else release,
                depot=0,
                name="new delivery",
            )
        )
    extended: Problem = problem.replace(
        clients=tuple(clients),
        pairs=tuple(pairs),
        durations=grown[0],
        distances=grown[1],
    )
    initial = base.initial or None
    reason = ""
    for iterations in (0, ROOM_RETRY_ITERATIONS):
        result = solve(
            extended, time_limit_s=5.0, max_iterations=iterations, seed=0, initial=initial
        )
        served = {c for route in result.routes for trip in route.trips for c in trip.clients}
        missing = [c for c in new_clients if c not in served]
        dropped = [c for c in base.placed if c not in served]
        if not missing and not dropped:
            return RoomVerdict(True, "")
        reasons = {u.client: u.reason for u in result.unassigned}
        reason = _customer_reason(reasons.get(missing[0], "")) if missing else ROOM_FULL
        if reason != ROOM_FULL:  # the order cannot be served at all: no search helps
            break
    return RoomVerdict(False, reason)


# ── moving a stop by hand ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class MoveVerdict:
    ok: bool
    reason: str = ""


@dataclass
class _Move:
    """A checked move: the changed plan as solver trips, and its result."""

    plan: Plan
    build: Build | None
    trips: list[tuple[int, list[list[int]]]]
    result: Result | None
    reason: str


def _prepare_move(session: Session, stop_id: int, to_shift_id: int) -> _Move:
    stop = session.get(Stop, stop_id)
    if stop is None:
        raise PlanningError(f"stop {stop_id} does not exist")
    trip = session.get(PlanTrip, stop.trip_id)
    route = session.get(PlanRoute, trip.route_id) if trip is not None else None
    plan = session.get(Plan, route.plan_id) if route is not None else None
    if trip is None or route is None or plan is None:
        raise PlanningError(f"stop {stop_id} is not on a plan")
    window = session.get(DeliveryWindow, plan.window_id)
    assert window is not None
    assert plan.id is not None

    def refuse(reason: str) -> _Move:
        return _Move(plan, None, [], None, reason)

    if not plan.current:
        return refuse(f"stop {stop_id} is on plan {plan.id}, which is no longer current")
    if window.status != "planned":
        return refuse(f"window {window.id} is {window.status}: only a planned window's stops move")
    if stop.status != "planned":
        return refuse(f"stop {stop_id} is {stop.status}")
    if route.shift_id == to_shift_id:
        return refuse(f"stop {stop_id} is already on shift {to_shift_id}")
    build = build_problem(session, window)
    problem = build.problem
    shift_type = {s.id: t for t, s in enumerate(build.shifts)}
    if to_shift_id not in shift_type:
        return refuse(f"shift {to_shift_id} is not on duty in window {window.id}")
    if problem is None:
        return refuse(f"window {window.id} has nothing to route")
    # The current plan as solver trips, from its live stops.
    per_type: dict[int, list[list[int]]] = {}
    routes = session.exec(
        select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id).order_by(col(PlanRoute.id))
    )
    for route_row in routes:
        t = shift_type.get(route_row.shift_id)
        if t is None:
            return refuse(f"shift {route_row.shift_id} of the plan is no longer on duty: re-plan")
        trip_rows = session.exec(
            select(PlanTrip)
            .where(col(PlanTrip.route_id) == route_row.id)
            .order_by(col(PlanTrip.number))
        )
        for trip_row in trip_rows:
            stops = session.exec(
                select(Stop)
                .where(col(Stop.trip_id) == trip_row.id, col(Stop.status).in_(OPEN_STOPS))
                .order_by(col(Stop.sequence))
            )
            clients = [
                build.parcel_client[s.parcel_id, s.kind]
                for s in stops
                if (s.parcel_id, s.kind) in build.parcel_client
            ]
            if clients:
                per_type.setdefault(t, []).append(clients)
    moving_keys = [
        (stop.parcel_id, kind)
        for kind in ("pickup", "delivery")
        if (stop.parcel_id, kind) in build.parcel_client
    ]
    moving = [build.parcel_client[k] for k in moving_keys]
    if not moving:
        return refuse(f"stop {stop_id}'s parcel is no longer to be delivered")
    for trips in per_type.values():
        for clients in trips:
            clients[:] = [c for c in clients if c not in moving]
    target = to_shift_type = shift_type[to_shift_id]
    own = [[c for c in clients] for clients in per_type.get(target, []) if clients]
    cost = problem.cost_matrix(problem.vehicle_types[target].profile)
    depot = problem.depots[problem.vehicle_types[target].start_depot].location
    # Candidates: every insertion into the target's trips (or a new trip), cheapest first.
    candidates: list[tuple[int, list[list[int]]]] = []
    for number in range(len(own) + 1):
        base = own[number] if number < len(own) else []
        locations = [depot, *(problem.clients[c].location for c in base), depot]
        for i in range(len(base) + 1):
            for j in range(i, len(base) + 1) if len(moving) == 2 else (i,):
                sequence = list(base)
                if len(moving) == 2:
                    sequence.insert(j, moving[1])
                    sequence.insert(i, moving[0])
                else:
                    sequence.insert(i, moving[0])
                path = [depot, *(problem.clients[c].location for c in sequence), depot]
                added = sum(int(cost[a, b]) for a, b in itertools.pairwise(path)) - sum(
                    int(cost[a, b]) for a, b in itertools.pairwise(locations)
                )
                trips = [list(t) for t in own]
                if number < len(own):
                    trips[number] = sequence
                else:
                    trips.append(sequence)
                candidates.append((added, trips))
    candidates.sort(key=lambda item: item[0])
    served = {c for trips in per_type.values() for clients in trips for c in clients} | set(moving)
    unassigned = {c: "not on the current plan" for c in range(problem.n_clients) if c not in served}
    first_reason = ""
    for _, trips in candidates[:60]:
        changed = {t: [c for c in v if c] for t, v in per_type.items()}
        changed[to_shift_type] = trips
        vehicle_trips = [(t, v) for t, v in sorted(changed.items()) if v]
        result = build_result(
            problem,
            vehicle_trips,
            unassigned=unassigned,
            backend="manual",
            seed=0,
            runtime_s=0.0,
            iterations=0,
        )
        report = check(problem, result)
        if report.feasible:
            return _Move(plan, build, vehicle_trips, result, "")
        if not first_reason:
            first_reason = humanise(build, report.violations[0])
    courier = build.courier_names[to_shift_type]
    return _Move(plan, build, [], None, f"{courier} cannot take it: {first_reason}")


def check_move(session: Session, stop_id: int, to_shift_id: int) -> MoveVerdict:
    """Whether a delivery (and its pickup, in direct mode) can move to another courier.

    The changed plan (the stop inserted where it adds least into the courier's trips, or on a
    new trip) must pass ``solver.check``; a refusal carries the checker's first reason.
    """
    move = _prepare_move(session, stop_id, to_shift_id)
    return MoveVerdict(move.result is not None, move.reason)


def move_stop(
    session: Session, stop_id: int, to_shift_id: int, *, actor_user_id: int | None
) -> Plan:
    """Move a stop to another courier, re-time the plan's stops and commit; returns the plan.

    Raises ``PlanningError`` with the checker's reason when the move is refused. Stop rows
    keep their ids (a courier's app may hold them): they move to the new trip and get new
    times; emptied trips and routes are removed, and each moved stop gets an event.
    """
    try:
        lock_window(session, _window_of_stop(session, stop_id))
        move = _prepare_move(session, stop_id, to_shift_id)
        if move.result is None:
            raise PlanningError(move.reason)
        plan, build, result = move.plan, move.build, move.result
        assert build is not None
        assert plan.id is not None
        live = {(s.parcel_id, s.kind): s for s in _plan_stops(session, plan.id, OPEN_STOPS)}
        old_routes = list(session.exec(select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id)))
        old_trips = [
            t
            for r in old_routes
            for t in session.exec(select(PlanTrip).where(col(PlanTrip.route_id) == r.id))
        ]
        clock = build.clock
        moved = session.get(Stop, stop_id)
        assert moved is not None
        parcel_id = moved.parcel_id
        kept_trips: set[int] = set()
        for route in result.routes:
            shift = build.shifts[route.vehicle_type]
            assert shift.id is not None
            route_row = next((r for r in old_routes if r.shift_id == shift.id), None)
            if route_row is None:
                route_row = PlanRoute(
                    plan_id=plan.id,
                    shift_id=shift.id,
                    starts_at=clock.moment(route.start),
                    ends_at=clock.moment(route.end),
                )
            route_row.starts_at = clock.moment(route.start)
            route_row.ends_at = clock.moment(route.end)
            route_row.distance_m = route.distance
            session.add(route_row)
            session.flush()
            route_id = route_row.id
            assert route_id is not None
            by_number = {t.number: t for t in old_trips if t.route_id == route_id}
            for number, trip in enumerate(route.trips, start=1):
                trip_row = by_number.get(number)
                if trip_row is None:
                    trip_row = PlanTrip(
                        route_id=route_id,
                        number=number,
                        departs_at=clock.moment(trip.departure),
                        returns_at=clock.moment(trip.return_time),
                    )
                trip_row.departs_at = clock.moment(trip.departure)
                trip_row.returns_at = clock.moment(trip.return_time)
                session.add(trip_row)
                session.flush()
                assert trip_row.id is not None
                kept_trips.add(trip_row.id)
                for sequence, solver_stop in enumerate(trip.stops, start=1):
                    visit = build.visits[solver_stop.client]
                    row = live[visit.parcel_id, visit.kind]
                    row.trip_id = trip_row.id
                    row.sequence = sequence
                    row.planned_arrival = clock.moment(solver_stop.arrival)
                    row.planned_departure = clock.moment(solver_stop.departure)
                    row.load_g = solver_stop.load_after[0]
                    session.add(row)
        session.flush()
        # Emptied trips and routes go, unless a finished or cancelled stop still points at them.
        for trip_row in old_trips:
            if trip_row.id not in kept_trips and not _has_stops(session, trip_row.id):
                session.delete(trip_row)
        session.flush()
        for route_row in old_routes:
            if not session.exec(
                select(PlanTrip.id).where(col(PlanTrip.route_id) == route_row.id)
            ).first():
                session.delete(route_row)
        plan.cost, plan.distance_m, plan.duration_s = result.cost, result.distance, result.duration
        session.add(plan)
        for stop in live.values():
            if stop.parcel_id == parcel_id:
                assert stop.id is not None
                session.add(
                    Event(
                        entity="stop",
                        entity_id=stop.id,
                        action="move",
                        from_status=stop.status,
                        to_status=stop.status,
                        user_id=actor_user_id,
                        detail={"to_shift_id": to_shift_id, "plan_id": plan.id},
                    )
                )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(plan)
    return plan


def _has_stops(session: Session, trip_id: int | None) -> bool:
    return session.exec(select(Stop.id).where(col(Stop.trip_id) == trip_id)).first() is not None


def _window_of_stop(session: Session, stop_id: int) -> int:
    query = (
        select(Plan.window_id)
        .join(PlanRoute, col(PlanRoute.plan_id) == col(Plan.id))
        .join(PlanTrip, col(PlanTrip.route_id) == col(PlanRoute.id))
        .join(Stop, col(Stop.trip_id) == col(PlanTrip.id))
        .where(col(Stop.id) == stop_id)
    )
    window_id = session.exec(query).first()
    if window_id is None:
        raise PlanningError(f"stop {stop_id} does not exist or is not on a plan")
    return int(window_id)


__all__ = [
    "ROOM_FULL",
    "ROOM_NEEDS",
    "ROOM_NO_PATH",
    "ROOM_TOO_BIG",
    "ROOM_TOO_FAR",
    "Build",
    "Clock",
    "MoveVerdict",
    "PlanTimings",
    "PlanningError",
    "RoomVerdict",
    "UnreachableAddressError",
    "Visit",
    "build_problem",
    "check_move",
    "clock_for",
    "current_plan",
    "humanise",
    "in_zone",
    "late_ready_at",
    "locate",
    "lock_window",
    "move_stop",
    "plan_window",
    "plan_window_timed",
    "store_plan",
    "window_has_room",
]
