"""Live ETAs: when each open stop of a route will be reached, from where its courier is now.

The plan's times are what the solver expected before anyone rode. Once a courier's phone
reports (``CourierPosition``), the rest of the route is recomputed with the same numbers the
planner used: the fix and the remaining stops (and the hub, for later trips) are snapped to
the town's graph for the courier's bike profile and one ``travel_matrix`` gives every leg;
each stop adds the planner's service time (``dispatch.planning``'s constants) and, like the
plan, the courier waits at a door until its window opens and at the hub until a trip's parcels
are released. Without a fix for the route's shift the plan's own times are the estimate.

The courier is taken to stand at the latest fix at ``now`` (never before the fix was taken):
a fix is seconds old while the phone reports, and a stale one raises the GPS-silent alert
(``dispatch.alerts``) instead of an estimate in the past.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from sqlmodel import Session, col, select

from dispatch.models import (
    BikeType,
    Courier,
    CourierPosition,
    DeliveryWindow,
    Event,
    Hub,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    Town,
)
from dispatch.network import get_network
from dispatch.planning import DELIVERY_SERVICE_S, OPEN_STOPS, PICKUP_SERVICE_S, RELOAD_S
from routing import snap_points, travel_matrix
from routing.geo import haversine_m

#: Points are snapped with no distance limit: a courier in a courtyard is still somewhere.
_SNAP_ANYWHERE_M: Final = 1e9

SERVICE_S: Final[dict[str, int]] = {"delivery": DELIVERY_SERVICE_S, "pickup": PICKUP_SERVICE_S}


@dataclass(frozen=True)
class StopEta:
    """One open stop's estimate: when the courier is at it, against the plan."""

    stop_id: int
    parcel_id: int
    order_id: int
    kind: str
    status: str
    trip_id: int
    trip_number: int
    sequence: int
    lat: float
    lon: float
    planned_arrival: datetime
    #: When the courier is expected at the stop (at the door, after any wait for its window).
    eta: datetime
    #: The plan's time at the door: its arrival, or the window's opening if the plan waits.
    planned_start: datetime
    #: The latest the stop may be served: its window's end.
    latest: datetime

    @property
    def seconds_late(self) -> float:
        """Positive when behind the plan, negative when ahead."""
        return (self.eta - self.planned_start).total_seconds()

    @property
    def minutes_late(self) -> float:
        return round(self.seconds_late / 60, 1)


@dataclass(frozen=True)
class RouteEta:
    """A route's open stops with their ETAs, and the fix they were computed from (if any)."""

    route_id: int
    window_id: int
    shift_id: int
    shift_status: str
    courier_id: int
    courier_name: str
    hub: tuple[float, float]
    position: CourierPosition | None
    now: datetime
    stops: list[StopEta]

    @property
    def position_age_s(self) -> float | None:
        if self.position is None:
            return None
        return max(0.0, (self.now - self.position.at).total_seconds())


def _route_stops(session: Session, route_id: int) -> list[tuple[Stop, PlanTrip]]:
    """The route's stops in riding order (trip by trip), every status."""
    rows = session.exec(
        select(Stop, PlanTrip)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .where(col(PlanTrip.route_id) == route_id)
        .order_by(col(PlanTrip.number), col(Stop.sequence), col(Stop.id))
    ).all()
    return [(stop, trip) for stop, trip in rows]


def _arrived_at(session: Session, stop_ids: Sequence[int]) -> dict[int, datetime]:
    """When each of these stops' courier said they arrived (the ``arrive`` event)."""
    if not stop_ids:
        return {}
    events = session.exec(
        select(Event.entity_id, Event.at).where(
            col(Event.entity) == "stop",
            col(Event.action) == "arrive",
            col(Event.entity_id).in_(list(stop_ids)),
        )
    ).all()
    return {int(entity_id): at for entity_id, at in events}


def route_position(session: Session, route: PlanRoute, shift: Shift) -> CourierPosition | None:
    """The courier's latest fix if it was taken on this route's shift (an older shift's
    last fix says nothing about today's ride)."""
    position = session.get(CourierPosition, shift.courier_id)
    if position is None or position.shift_id != route.shift_id:
        return None
    return position


def route_eta(
    session: Session, route: PlanRoute, *, now: datetime, with_fix: bool = True
) -> RouteEta:
    """The ETAs of ``route``'s open stops at ``now`` (see the module's docstring).

    ``with_fix=False`` gives the plan's own times even when there is a fix (for comparison).
    """
    assert route.id is not None
    shift = session.get(Shift, route.shift_id)
    assert shift is not None
    courier = session.get(Courier, shift.courier_id)
    hub = session.get(Hub, shift.hub_id)
    plan = session.get(Plan, route.plan_id)
    assert courier is not None
    assert hub is not None
    assert plan is not None
    window = session.get(DeliveryWindow, plan.window_id)
    assert window is not None
    rows = _route_stops(session, route.id)
    parcel_ids = {stop.parcel_id for stop, _ in rows}
    parcels = {
        p.id: p for p in session.exec(select(Parcel).where(col(Parcel.id).in_(parcel_ids))).all()
    }
    picked_up_at_shop = {stop.parcel_id for stop, _ in rows if stop.kind == "pickup"}
    open_rows = [(stop, trip) for stop, trip in rows if stop.status in OPEN_STOPS]
    position = route_position(session, route, shift) if with_fix else None

    def earliest(stop: Stop) -> datetime:
        """When the stop can be served at the soonest, as the planner sets it."""
        if stop.kind == "delivery":
            return window.starts_at
        parcel = parcels.get(stop.parcel_id)
        return (parcel.ready_at if parcel else None) or window.cutoff_at

    def release(trip_id: int | None) -> datetime | None:
        """When a trip's hub-loaded parcels are released (the planner's trip departure rule)."""
        loaded = [
            parcels[stop.parcel_id]
            for stop, trip in rows
            if trip.id == trip_id
            and stop.kind == "delivery"
            and stop.parcel_id not in picked_up_at_shop
            and stop.parcel_id in parcels
        ]
        times = [p.ready_at or window.cutoff_at for p in loaded]
        return max(times, default=None)

    planned_eta = {stop.id: max(stop.planned_arrival, earliest(stop)) for stop, _ in open_rows}
    if position is None or not open_rows:
        etas = planned_eta
    else:
        etas = _ride(session, route, position, hub, courier, open_rows, earliest, release, now)
    stops = [
        StopEta(
            stop_id=stop.id or 0,
            parcel_id=stop.parcel_id,
            order_id=parcels[stop.parcel_id].order_id if stop.parcel_id in parcels else 0,
            kind=stop.kind,
            status=stop.status,
            trip_id=trip.id or 0,
            trip_number=trip.number,
            sequence=stop.sequence,
            lat=stop.lat,
            lon=stop.lon,
            planned_arrival=stop.planned_arrival,
            eta=etas[stop.id],
            planned_start=planned_eta[stop.id],
            latest=window.ends_at,
        )
        for stop, trip in open_rows
    ]
    return RouteEta(
        route_id=route.id,
        window_id=plan.window_id,
        shift_id=shift.id or 0,
        shift_status=shift.status,
        courier_id=courier.id or 0,
        courier_name=courier.name,
        hub=(hub.lat, hub.lon),
        position=position,
        now=now,
        stops=stops,
    )


def _ride(
    session: Session,
    route: PlanRoute,
    position: CourierPosition,
    hub: Hub,
    courier: Courier,
    open_rows: list[tuple[Stop, PlanTrip]],
    earliest: Callable[[Stop], datetime],
    release: Callable[[int | None], datetime | None],
    now: datetime,
) -> dict[int | None, datetime]:
    """Ride the open stops from the fix: one matrix over [fix, hub, stops...]."""
    town = session.get(Town, hub.town_id)
    bike = session.get(BikeType, courier.bike_type_id)
    assert town is not None
    graph = get_network(town, profile=bike.profile if bike else None).graph
    points = [(position.lat, position.lon), (hub.lat, hub.lon)]
    points += [(stop.lat, stop.lon) for stop, _ in open_rows]
    snapped = snap_points(
        graph,
        np.array([p[1] for p in points]),
        np.array([p[0] for p in points]),
        max_distance_m=_SNAP_ANYWHERE_M,
    )
    durations = travel_matrix(graph, snapped).duration_s
    arrived = _arrived_at(session, [s.id for s, _ in open_rows if s.status == "arrived" and s.id])

    clock = max(now, position.at)
    here = 0  # matrix index: 0 the fix, 1 the hub, 2 + k the k-th open stop
    etas: dict[int | None, datetime] = {}
    trip_id: int | None = None
    for k, (stop, trip) in enumerate(open_rows):
        if trip.id != trip_id:
            if trip_id is not None:  # back to the hub, reload, out again
                clock += timedelta(seconds=_leg(durations, here, 1))
                clock += timedelta(seconds=RELOAD_S)
                here = 1
            trip_id = trip.id
            released = release(trip.id)
            if released is not None and released > clock:
                clock = released
        if stop.status == "arrived":
            reached = arrived.get(stop.id or 0, clock)
            start = max(reached, earliest(stop))
            clock = max(clock, start + timedelta(seconds=SERVICE_S[stop.kind]))
        else:
            reached = clock + timedelta(seconds=_leg(durations, here, 2 + k))
            start = max(reached, earliest(stop))
            clock = start + timedelta(seconds=SERVICE_S[stop.kind])
        etas[stop.id] = start
        here = 2 + k
    return etas


def _leg(durations: np.ndarray, origin: int, destination: int) -> int:
    seconds = int(durations[origin, destination])
    return max(seconds, 0)  # -1 (unreachable) cannot happen within one connected graph


def current_routes(session: Session, window_id: int) -> list[PlanRoute]:
    """The routes of the window's current plan (the newest current one)."""
    plan = session.exec(
        select(Plan)
        .where(col(Plan.window_id) == window_id, col(Plan.current).is_(True))
        .order_by(col(Plan.id).desc())
    ).first()
    if plan is None:
        return []
    return list(
        session.exec(
            select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id).order_by(col(PlanRoute.id))
        ).all()
    )


def window_etas(session: Session, window_id: int, *, now: datetime) -> list[RouteEta]:
    """Every route of the window's current plan with its open stops' ETAs."""
    return [route_eta(session, route, now=now) for route in current_routes(session, window_id)]


def stop_eta(session: Session, stop: Stop, *, now: datetime) -> tuple[StopEta, RouteEta] | None:
    """The ETA of one open stop of a current plan, with its route's estimate."""
    if stop.status not in OPEN_STOPS:
        return None
    trip = session.get(PlanTrip, stop.trip_id)
    route = session.get(PlanRoute, trip.route_id) if trip else None
    plan = session.get(Plan, route.plan_id) if route else None
    if route is None or plan is None or not plan.current:
        return None
    estimate = route_eta(session, route, now=now)
    for found in estimate.stops:
        if found.stop_id == stop.id:
            return found, estimate
    return None


def order_eta(
    session: Session,
    parcel_ids: Sequence[int],
    *,
    now: datetime,
    close_eta_s: float,
    close_distance_m: float,
) -> tuple[datetime | None, bool]:
    """The tracking page's ETA for an order (its first open delivery stop on a current plan)
    and whether the courier is close: an on-duty courier with a fix on that route whose ETA
    is at most ``close_eta_s`` away or who is at most ``close_distance_m`` from the door.
    A plan's time alone never says "close": only a live fix does."""
    if not parcel_ids:
        return None, False
    stops = session.exec(
        select(Stop)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
        .where(
            col(Plan.current).is_(True),
            col(Stop.kind) == "delivery",
            col(Stop.parcel_id).in_(list(parcel_ids)),
            col(Stop.status).in_(OPEN_STOPS),
        )
    ).all()
    best: tuple[StopEta, RouteEta] | None = None
    for stop in stops:
        found = stop_eta(session, stop, now=now)
        if found is not None and (best is None or found[0].eta < best[0].eta):
            best = found
    if best is None:
        return None, False
    estimate, route = best
    position = route.position
    close = False
    if position is not None and route.shift_status == "on_duty":
        away_m = float(haversine_m(position.lon, position.lat, estimate.lon, estimate.lat))
        soon = (estimate.eta - now).total_seconds() <= close_eta_s
        close = soon or away_m <= close_distance_m
    return estimate.eta, close


__all__ = [
    "SERVICE_S",
    "RouteEta",
    "StopEta",
    "current_routes",
    "order_eta",
    "route_eta",
    "route_position",
    "stop_eta",
    "window_etas",
]
