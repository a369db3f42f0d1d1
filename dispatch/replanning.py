"""Re-planning a running window: late orders, a courier dropping out, what is on a bike stays.

``replan_window`` (also what ``planning.plan_window`` does with a ``running`` window) builds the
window's solver problem as ``planning.build_problem`` does, then turns it into a re-plan
(``docs/solver-contract.md`` § Operations):

- **Done history stays**: stops that are ``done``, ``failed`` or ``skipped`` are not planned
  again; they move, unchanged (same rows, ids, times and photos), into the new plan's route of
  their courier, so the courier's list, the board and the day's report keep them. A courier
  still out on the trip in progress sees that trip's done stops first, then what is left.
- **On board**: a ``picked_up`` parcel rides on the bike of the courier whose route carried it
  (its open delivery stop, else its done pickup): it is an ``on_board`` client of that
  courier's vehicle, so the solver delivers it on that bike's first trip and never moves it.
- **Where couriers are**: an on-duty courier starts at ``now`` from the latest
  ``CourierPosition`` of the shift (snapped like every point), unless there is no fix or it is
  within ``HUB_RADIUS_M`` of the hub: then from the hub at ``now``. A shift not started yet
  starts at the later of its start and ``now``.
- **Drop-outs**: a ``dropped_out`` shift gets no vehicle (``planning`` plans only scheduled and
  on-duty shifts), so its open stops are reassigned to the others; parcels already on that bike
  cannot be, and are listed in ``Plan.unassigned`` with a hand-over reason, never lost.
- **Late orders**: parcels of the window without a stop in the current plan are plain clients,
  inserted by the solver.
- **Stability**: the current plan's open stops are the warm start (``solve(initial=...)``) and
  every stop that had a courier costs ``MOVE_COST`` if it moves to another one.

Storing is ``planning.store_plan``'s, as for any plan; it all runs under the window's lock.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from dispatch import lifecycle, planning
from dispatch.config import get_settings
from dispatch.models import (
    Courier,
    CourierPosition,
    DeliveryWindow,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    Town,
    utc_now,
)
from solver import Client, Result, solve

#: Stops that are history: they happened (or were given up) and are never planned again.
HISTORY_STOPS = ("done", "failed", "skipped")
#: A fix closer than this to the courier's hub counts as "at the hub" (between trips).
HUB_RADIUS_M = 150.0
#: The cost (in the objective's unit: metres) of moving a stop to another courier than the
#: current plan's: a move must save more than this much riding to be worth confusing anyone.
MOVE_COST = 2000
#: Windows ``replan_window`` re-plans: running ones, and planned ones taking a late order (the
#: board's "Re-plan" of a planned window plans it afresh with ``plan_window``).
REPLANNABLE_WINDOWS = ("planned", "running")


@dataclass
class Replan:
    """A running window's re-plan problem, with what the database needs to read it back."""

    build: planning.Build
    now: datetime
    initial: list[tuple[int, list[list[int]]]] = field(default_factory=list)
    #: Vehicle types that start out on the road (``start_location`` set): mid-trip couriers.
    out: set[int] = field(default_factory=set)
    #: Client index → vehicle type of the current plan (None: new or the dropped courier's).
    planned: dict[int, int | None] = field(default_factory=dict)
    #: Parcel ids on a bike that has no vehicle in the re-plan (a hand-over is needed).
    hand_over: list[int] = field(default_factory=list)
    #: (lat, lon) per location index of ``build.problem`` (the late-order room test extends it).
    points: list[tuple[float, float]] = field(default_factory=list)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: plenty for "is the courier at the hub" within a town."""
    lat = math.radians((a[0] + b[0]) / 2)
    dx = math.radians(b[1] - a[1]) * math.cos(lat)
    dy = math.radians(b[0] - a[0])
    return 6_371_000.0 * math.hypot(dx, dy)


def _on_board(session: Session, window_id: int) -> list[tuple[Parcel, Order]]:
    query = (
        select(Parcel, Order)
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(
            col(Order.window_id) == window_id,
            col(Order.fulfilment) == "delivery",
            col(Parcel.status) == "picked_up",
        )
        .order_by(col(Parcel.id))
    )
    return [(p, o) for p, o in session.exec(query).all()]


def _carrier(session: Session, plan_id: int | None, parcel_id: int) -> int | None:
    """The shift whose bike carries a picked-up parcel: its open delivery stop's route in the
    current plan, else the route of its done pickup (a shop pickup in direct mode)."""
    base = (
        select(PlanRoute.shift_id)
        .join(PlanTrip, col(PlanTrip.route_id) == col(PlanRoute.id))
        .join(Stop, col(Stop.trip_id) == col(PlanTrip.id))
        .where(col(Stop.parcel_id) == parcel_id)
    )
    if plan_id is not None:
        found = session.exec(
            base.where(
                col(PlanRoute.plan_id) == plan_id,
                col(Stop.kind) == "delivery",
                col(Stop.status).in_(planning.OPEN_STOPS),
            )
        ).first()
        if found is not None:
            return int(found)
    found = session.exec(
        base.where(col(Stop.kind) == "pickup", col(Stop.status) == "done").order_by(
            col(Stop.id).desc()
        )
    ).first()
    return int(found) if found is not None else None


def _hand_over_reason(session: Session, shift_id: int | None) -> str:
    shift = session.get(Shift, shift_id) if shift_id is not None else None
    if shift is None:
        return "it is picked up but on no courier's route: find it, then re-plan"
    courier = session.get(Courier, shift.courier_id)
    name = courier.name if courier is not None else f"shift {shift_id}"
    what = "dropped out" if shift.status == "dropped_out" else f"is {shift.status}"
    return (
        f"it is on the bike of {name}, who {what}: hand it over at the hub or to another "
        "courier, then re-plan"
    )


def build_replan(session: Session, window: DeliveryWindow, now: datetime) -> Replan:
    """The running window's re-plan problem from the database (nothing is written)."""
    assert window.id is not None
    build = planning.build_problem(session, window)
    replan = Replan(build, now)
    town = build.town
    hubs = list(session.exec(select(Hub).where(col(Hub.town_id) == town.id).order_by(col(Hub.id))))
    fleet = planning._window_shifts(session, window)
    current = planning.current_plan(session, window.id)
    plan_id = current.id if current is not None else None
    layout = planning._plan_layout(session, plan_id) if plan_id is not None else []
    shift_type = {shift.id: t for t, shift in enumerate(build.shifts)}

    # Parcels on a bike: on board of that bike's vehicle, or a hand-over.
    carried: list[tuple[Parcel, Order, int]] = []
    for parcel, order in _on_board(session, window.id):
        assert parcel.id is not None
        shift_id = _carrier(session, plan_id, parcel.id)
        t = shift_type.get(shift_id)
        if t is None or order.lat is None or order.lon is None:
            reason = (
                _hand_over_reason(session, shift_id)
                if t is None
                else "the order's address has no coordinates"
            )
            build.unassigned.append(planning._unassigned(parcel, reason))
            replan.hand_over.append(parcel.id)
            continue
        carried.append((parcel, order, t))
    if not fleet or (build.problem is None and not carried):
        return replan  # nobody to route, or nothing to route

    # Where each courier starts: out on the road from its latest fix, or at the hub.
    hub_of = {hub.id: hub for hub in hubs}
    starts: dict[int, tuple[float, float]] = {}
    for t, shift in enumerate(build.shifts):
        if shift.status != "on_duty":
            continue
        fix = session.get(CourierPosition, shift.courier_id)
        hub = hub_of.get(shift.hub_id, hubs[0])
        if fix is None or fix.shift_id != shift.id:
            continue
        if _metres((fix.lat, fix.lon), (hub.lat, hub.lon)) > HUB_RADIUS_M:
            starts[t] = (fix.lat, fix.lon)

    # Points per location index: the base problem's, then on-board doors and courier fixes.
    if build.problem is None:
        problem, points, profiles, _ = planning._room_fleet_problem(window, town, hubs, fleet)
        problem = problem.replace(max_duration_cost=get_settings().plan_balance_m_per_s)
    else:
        problem = build.problem
        profiles = sorted({bike.profile for _, _, bike in fleet})
        points = [(hubs[0].lat, hubs[0].lon)] * int(problem.durations.shape[1])
        for hub, depot in zip(hubs, problem.depots, strict=True):
            points[depot.location] = (hub.lat, hub.lon)
        for visit, client in zip(build.visits, problem.clients, strict=True):
            points[client.location] = (visit.lat, visit.lon)
    clock = build.clock
    start_s, end_s = clock.seconds(window.starts_at), clock.seconds(window.ends_at)
    clients = list(problem.clients)
    for parcel, order, t in carried:
        assert parcel.id is not None
        assert order.id is not None
        assert order.lat is not None
        assert order.lon is not None
        build.parcel_client[parcel.id, "delivery"] = len(clients)
        build.visits.append(planning.Visit(parcel.id, order.id, "delivery", order.lat, order.lon))
        clients.append(
            Client(
                location=len(points),
                demand=(parcel.weight_g, parcel.volume_ml, parcel.count),
                service=planning.DELIVERY_SERVICE_S,
                tw_early=start_s,
                tw_late=max(start_s, end_s),
                name=f"parcel {parcel.id} (on board)",
                requires=planning._needs(parcel),
                on_board=t,
                planned_type=t,
            )
        )
        points.append((order.lat, order.lon))
    start_location: dict[int, int] = {}
    for t, point in starts.items():
        start_location[t] = len(points)
        points.append(point)
    replan.out = set(start_location)
    replan.points = points

    # Stability: each open stop of the current plan prefers its courier.
    planned_type: dict[int, int] = {}
    for shift_id, trips in layout:
        t = shift_type.get(shift_id)
        for trip in trips:
            for key in trip:
                c = build.parcel_client.get(key)
                if c is not None and t is not None:
                    planned_type[c] = t
    for c, client in enumerate(clients):
        t = client.on_board if client.on_board is not None else planned_type.get(c)
        replan.planned[c] = t
        if client.on_board is None and t is not None:
            clients[c] = client.replace(planned_type=t, move_cost=MOVE_COST)

    now_s = clock.seconds(now)
    types = [
        vt.replace(
            shift_start=min(max(vt.shift_start, now_s), vt.shift_end),
            start_location=start_location.get(t),
        )
        for t, vt in enumerate(problem.vehicle_types)
    ]
    started = time.perf_counter()
    durations, distances = _matrices(town, profiles, points)
    build.matrix_s += time.perf_counter() - started
    build.problem = problem.replace(
        clients=tuple(clients),
        vehicle_types=tuple(types),
        durations=durations,
        distances=distances,
        name=f"re-plan of window {window.id}",
    )
    replan.initial = _warm_start(build, layout, shift_type, replan.out)
    return replan


def _matrices(
    town: Town, profiles: list[str], points: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    snapped = planning._snap_everywhere(town, profiles, points)
    matrices: tuple[np.ndarray, np.ndarray] = planning._room_matrices(
        town, profiles, snapped, snapped
    )
    return matrices


def _warm_start(
    build: planning.Build,
    layout: list[tuple[int, list[list[tuple[int, str]]]]],
    shift_type: dict[int | None, int],
    out: set[int],
) -> list[tuple[int, list[list[int]]]]:
    """The current plan's open stops as the solver's starting trips, made to fit a re-plan:
    on-board parcels on the first trip; a courier out on the road rides a first trip of
    on-board parcels and shop pickups only (hub parcels wait for the next trip)."""
    problem = build.problem
    assert problem is not None
    trips_of: dict[int, list[list[int]]] = defaultdict(list)
    for shift_id, trips in layout:
        t = shift_type.get(shift_id)
        if t is None:
            continue  # a dropped-out courier's stops: the solver reassigns them
        for trip in trips:
            clients = [build.parcel_client[k] for k in trip if k in build.parcel_client]
            if clients:
                trips_of[t].append(clients)
    pickups = {c for pair in problem.pairs for c in pair}
    initial: list[tuple[int, list[list[int]]]] = []
    for t in range(len(problem.vehicle_types)):
        plan_trips = [list(trip) for trip in trips_of.get(t, [])]
        aboard = {c for c, client in enumerate(problem.clients) if client.on_board == t}
        listed = [c for trip in plan_trips for c in trip if c in aboard]
        first = listed + sorted(aboard - set(listed))  # in the plan's order, then the others
        head = plan_trips[0] if plan_trips else []
        if t in out:  # hub parcels of the trip in progress wait for the next trip
            own = [c for c in head if c in pickups]
            rest = [c for c in head if c not in pickups and c not in aboard]
            plan_trips = [first + own, rest, *plan_trips[1:]]
        else:
            plan_trips = [first + [c for c in head if c not in aboard], *plan_trips[1:]]
        plan_trips = [
            [c for c in trip if number == 0 or c not in aboard]
            for number, trip in enumerate(plan_trips)
        ]
        plan_trips = [
            trip for number, trip in enumerate(plan_trips) if trip or (number == 0 and t in out)
        ]
        if any(plan_trips):
            initial.append((t, plan_trips))
    return initial


def _carry_history(session: Session, build: planning.Build, previous: Plan, plan: Plan) -> None:
    """Move the previous plan's done/failed/skipped stops into ``plan``'s routes, unchanged.

    Per courier, the trips that have history come first, in their order; when the courier is
    still on the last of them (out on the road, or carrying a parcel of that trip), that trip
    and the new route's first trip are one trip: done stops first, then what is left.
    """
    assert previous.id is not None
    assert plan.id is not None
    history = planning._plan_stops(session, previous.id, HISTORY_STOPS)
    if not history:
        return
    old_trips = {
        trip.id: trip
        for trip in session.exec(
            select(PlanTrip)
            .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
            .where(col(PlanRoute.plan_id) == previous.id)
        )
    }
    old_routes = {
        route.id: route
        for route in session.exec(select(PlanRoute).where(col(PlanRoute.plan_id) == previous.id))
    }
    by_shift: dict[int, dict[int, list[Stop]]] = defaultdict(lambda: defaultdict(list))
    for stop in history:
        trip = old_trips[stop.trip_id]
        by_shift[old_routes[trip.route_id].shift_id][trip.number].append(stop)
    new_routes = {
        route.shift_id: route
        for route in session.exec(select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id))
    }
    out_shifts = {build.shifts[t].id for t in _out_types(build)}
    # The trips a bike is on now: where its on-board parcels were (their stops, now cancelled).
    aboard = {
        build.visits[c].parcel_id
        for c, client in enumerate(build.problem.clients if build.problem else ())
        if client.on_board is not None
    }
    riding = {
        stop.trip_id
        for stop in planning._plan_stops(session, previous.id)
        if stop.parcel_id in aboard and stop.kind == "delivery"
    }
    for shift_id, trips in by_shift.items():
        route = new_routes.get(shift_id)
        first_old = old_trips[trips[min(trips)][0].trip_id]
        if route is None:  # nothing left for this courier (or it dropped out): history only
            old_route = old_routes[first_old.route_id]
            route = PlanRoute(
                plan_id=plan.id,
                shift_id=shift_id,
                starts_at=old_route.starts_at,
                ends_at=old_route.ends_at,
                distance_m=old_route.distance_m,
            )
            session.add(route)
            session.flush()
        new_trips = list(
            session.exec(
                select(PlanTrip)
                .where(col(PlanTrip.route_id) == route.id)
                .order_by(col(PlanTrip.number))
            )
        )
        numbers = sorted(trips)
        last_old = trips[max(trips)][0].trip_id
        merge = bool(new_trips) and (shift_id in out_shifts or last_old in riding)
        offset = len(numbers) - (1 if merge else 0)
        for trip_row in new_trips:
            trip_row.number += offset
            session.add(trip_row)
        assert route.id is not None
        for position, number in enumerate(numbers, start=1):
            stops = trips[number]
            old = old_trips[stops[0].trip_id]
            if merge and position == len(numbers):
                target = new_trips[0]
                target.departs_at = old.departs_at
                later = session.exec(select(Stop).where(col(Stop.trip_id) == target.id))
                for stop in later:
                    stop.sequence += len(stops)
                    session.add(stop)
            else:
                target = PlanTrip(
                    route_id=route.id,
                    number=position,
                    departs_at=old.departs_at,
                    returns_at=old.returns_at,
                )
            session.add(target)
            session.flush()
            assert target.id is not None
            for sequence, stop in enumerate(stops, start=1):
                stop.trip_id = target.id
                stop.sequence = sequence
                session.add(stop)
        route.starts_at = min(route.starts_at, first_old.departs_at)
        session.add(route)
    session.flush()


def _out_types(build: planning.Build) -> set[int]:
    problem = build.problem
    if problem is None:
        return set()
    return {t for t, vt in enumerate(problem.vehicle_types) if vt.start_location is not None}


def replan_window_timed(
    session: Session,
    window_id: int,
    *,
    time_limit_s: float | None = None,
    max_iterations: int | None = None,
    seed: int = 0,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> tuple[Plan, planning.PlanTimings]:
    """``replan_window`` and where its time went."""
    started = time.perf_counter()
    limit = get_settings().plan_time_limit_s if time_limit_s is None else time_limit_s
    moment = now or utc_now()
    try:
        window = planning.lock_window(session, window_id)
        if window.status not in REPLANNABLE_WINDOWS:
            raise planning.PlanningError(
                f"window {window_id} cannot be re-planned: it is {window.status}, not planned or "
                "running"
            )
        previous = planning.current_plan(session, window_id)
        replan = build_replan(session, window, moment)
        build = replan.build
        read_s = time.perf_counter() - started - build.matrix_s
        solve_started = time.perf_counter()
        result: Result | None = None
        if build.problem is not None:
            result = solve(
                build.problem,
                time_limit_s=limit,
                max_iterations=max_iterations,
                seed=seed,
                initial=replan.initial or None,
            )
        solve_s = time.perf_counter() - solve_started
        write_started = time.perf_counter()
        plan = planning.store_plan(
            session, window, build, result, solve_s=solve_s, actor_user_id=actor_user_id
        )
        if previous is not None:
            _carry_history(session, build, previous, plan)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(plan)
    write_s = time.perf_counter() - write_started
    return plan, planning.PlanTimings(read_s, build.matrix_s, solve_s, write_s)


def replan_window(
    session: Session,
    window_id: int,
    *,
    time_limit_s: float | None = None,
    max_iterations: int | None = None,
    seed: int = 0,
    actor_user_id: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """Re-plan a running window from where its couriers are and commit; returns the new plan.

    See the module's docstring for what stays, what moves and what is reported.
    """
    plan, _ = replan_window_timed(
        session,
        window_id,
        time_limit_s=time_limit_s,
        max_iterations=max_iterations,
        seed=seed,
        actor_user_id=actor_user_id,
        now=now,
    )
    return plan


def late_parcels(session: Session, window_id: int) -> list[int]:
    """The window's parcels that came after its current plan (late orders): no stop on it and
    not among its unassigned. Empty if the window has no plan."""
    plan = planning.current_plan(session, window_id)
    if plan is None or plan.id is None:
        return []
    planned = set(
        session.exec(
            select(Stop.parcel_id)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
            .where(col(PlanRoute.plan_id) == plan.id)
        ).all()
    )
    left_out = {entry.get("parcel_id") for entry in plan.unassigned}
    return [
        parcel.id
        for parcel, _ in planning._window_parcels(session, window_id)
        if parcel.id is not None and parcel.id not in planned and parcel.id not in left_out
    ]


def windows_with_late_orders(session: Session) -> list[int]:
    """Planned and running windows that have late parcels to insert (the scheduler's list)."""
    query = (
        select(DeliveryWindow.id)
        .where(col(DeliveryWindow.status).in_(lifecycle.LATE_ORDER_WINDOWS))
        .order_by(col(DeliveryWindow.starts_at), col(DeliveryWindow.id))
    )
    ids = [int(i) for i in session.exec(query).all() if i is not None]
    return [window_id for window_id in ids if late_parcels(session, window_id)]


@dataclass(frozen=True)
class DropOut:
    """What dropping a courier out did: the shift, and each window re-planned (or why not)."""

    shift: Shift
    plans: list[Plan]
    refused: list[dict[str, Any]]


def windows_of_shift(session: Session, shift_id: int) -> list[DeliveryWindow]:
    """Windows whose current plan has a route for the shift and that still have work left."""
    query = (
        select(DeliveryWindow)
        .join(Plan, col(Plan.window_id) == col(DeliveryWindow.id))
        .join(PlanRoute, col(PlanRoute.plan_id) == col(Plan.id))
        .where(
            col(PlanRoute.shift_id) == shift_id,
            col(Plan.current),
            col(DeliveryWindow.status).in_(("planned", "running")),
        )
        .order_by(col(DeliveryWindow.starts_at))
    )
    unique: dict[int | None, DeliveryWindow] = {}
    for window in session.exec(query).all():
        unique.setdefault(window.id, window)
    return list(unique.values())


def drop_out(
    session: Session,
    shift: Shift,
    *,
    reason: str,
    actor_role: str,
    actor_user_id: int | None,
    time_limit_s: float | None = None,
    max_iterations: int | None = None,
    now: datetime | None = None,
) -> DropOut:
    """A courier drops out of their shift (committed), then each of their windows is planned
    again without them: a running one re-planned here, a planned one afresh. A window that
    cannot be planned is reported in ``refused`` and keeps its plan; the drop-out stands."""
    lifecycle.perform(
        session,
        shift,
        "drop_out",
        actor_role=actor_role,
        actor_user_id=actor_user_id,
        detail={"reason": reason},
    )
    session.commit()
    assert shift.id is not None
    plans: list[Plan] = []
    refused: list[dict[str, Any]] = []
    for window in windows_of_shift(session, shift.id):
        assert window.id is not None
        window_id = window.id
        try:
            if window.status == "running":
                plan = replan_window(
                    session,
                    window_id,
                    time_limit_s=time_limit_s,
                    max_iterations=max_iterations,
                    actor_user_id=actor_user_id,
                    now=now,
                )
            else:
                plan = planning.plan_window(
                    session,
                    window_id,
                    time_limit_s=time_limit_s,
                    max_iterations=max_iterations,
                    actor_user_id=actor_user_id,
                )
            plans.append(plan)
        except planning.PlanningError as error:
            refused.append({"window_id": window_id, "reason": str(error)})
    session.refresh(shift)
    return DropOut(shift, plans, refused)


__all__ = [
    "HISTORY_STOPS",
    "HUB_RADIUS_M",
    "MOVE_COST",
    "DropOut",
    "Replan",
    "build_replan",
    "drop_out",
    "drop_out_answer",
    "replan_window",
    "replan_window_timed",
    "windows_of_shift",
]


def drop_out_answer(
    session: Session,
    shift: Shift,
    *,
    reason: str,
    actor_role: str,
    actor_user_id: int | None,
    time_limit_s: float | None = None,
) -> dict[str, Any]:
    """``drop_out`` as the API answers it: the shift, each new plan with its unassigned
    parcels (the hand-overs among them), and the windows that could not be re-planned."""
    done = drop_out(
        session,
        shift,
        reason=reason,
        actor_role=actor_role,
        actor_user_id=actor_user_id,
        time_limit_s=time_limit_s,
    )
    return {
        "shift_id": done.shift.id,
        "shift_status": done.shift.status,
        "plans": [
            {"window_id": p.window_id, "plan_id": p.id, "unassigned": p.unassigned}
            for p in done.plans
        ],
        "refused": done.refused,
    }
