"""What the dispatcher should look at now, for one window or the whole day.

Five kinds, each computed from the data at ``now`` (nothing is stored: an alert goes away when
its cause does):

- ``late``: a stop's ETA (``dispatch.eta``) is after its window's end;
- ``not_ready``: a parcel is still ``awaiting`` at its shop pickup's planned arrival, or when
  the trip that should take it from the hub departs;
- ``off_route``: the courier's latest fix is farther than ``off_route_m`` from the ride path
  of the trip they are on (``dispatch.town_map.ride_path``, the line the board draws);
- ``not_moving``: no fix of the last ``STILL_FOR`` is more than ``STILL_WITHIN_M`` from the
  others while stops are open (waiting at the hub for a trip's departure does not count);
- ``gps_silent``: on duty with open stops and no fix for more than ``gps_silent_s``.

Each says who, which stops and parcels, since when (as far as the data tells), and a sentence
for the board.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
from sqlmodel import Session, col, select

from dispatch.config import Settings
from dispatch.eta import RouteEta, current_routes, route_eta
from dispatch.models import (
    DeliveryWindow,
    Event,
    Parcel,
    PlanRoute,
    PlanTrip,
    Position,
    Shift,
    Stop,
    Town,
)
from dispatch.network import get_network
from dispatch.planning import OPEN_STOPS
from dispatch.town_map import ride_path
from routing.geo import haversine_m

#: A courier counts as not moving when every fix of this long lies within ``STILL_WITHIN_M``.
STILL_FOR: Final = timedelta(minutes=5)
STILL_WITHIN_M: Final = 30.0
#: How far back "since when" looks for off-route and still runs of fixes.
LOOK_BACK: Final = timedelta(hours=1)
KINDS: Final = ("late", "not_ready", "off_route", "not_moving", "gps_silent")
#: Kinds about the courier rather than one stop: reported once per courier in a day's list.
COURIER_KINDS: Final = frozenset({"off_route", "not_moving", "gps_silent"})
_EARTH_M: Final = 6_371_008.8


@dataclass(frozen=True)
class Alert:
    """Something that needs the dispatcher, with what it is about and since when."""

    kind: str
    courier_id: int
    courier_name: str
    window_id: int
    route_id: int
    since: datetime
    message: str
    stop_ids: list[int] = field(default_factory=list)
    parcel_ids: list[int] = field(default_factory=list)


def _alert(
    kind: str,
    estimate: RouteEta,
    *,
    since: datetime,
    message: str,
    stop_ids: list[int] | None = None,
    parcel_ids: list[int] | None = None,
) -> Alert:
    """An alert about ``estimate``'s courier and route."""
    return Alert(
        kind=kind,
        courier_id=estimate.courier_id,
        courier_name=estimate.courier_name,
        window_id=estimate.window_id,
        route_id=estimate.route_id,
        since=since,
        message=message,
        stop_ids=stop_ids or [],
        parcel_ids=parcel_ids or [],
    )


def distance_to_path_m(lat: float, lon: float, path: list[list[float]]) -> float:
    """Metres from (lat, lon) to the nearest point of the ``[[lat, lon], ...]`` line."""
    if not path:
        return float("inf")
    line = np.asarray(path, dtype=np.float64)
    scale = np.cos(np.radians(lat))
    ys = np.radians(line[:, 0] - lat) * _EARTH_M
    xs = np.radians(line[:, 1] - lon) * _EARTH_M * scale
    if len(line) == 1:
        return float(np.hypot(xs[0], ys[0]))
    ax, ay, bx, by = xs[:-1], ys[:-1], xs[1:], ys[1:]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.where(length2 > 0, -(ax * dx + ay * dy) / np.where(length2 > 0, length2, 1), 0)
    t = np.clip(t, 0.0, 1.0)
    return float(np.min(np.hypot(ax + t * dx, ay + t * dy)))


class _Context:
    """What one window's alerts share: the town, its network, the clock and settings."""

    def __init__(self, session: Session, town: Town, now: datetime, settings: Settings) -> None:
        self.session = session
        self.town = town
        self.zone = ZoneInfo(town.time_zone)
        self.now = now
        self.settings = settings

    def hhmm(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%H:%M")


def _late(ctx: _Context, estimate: RouteEta) -> list[Alert]:
    basis = estimate.position.at if estimate.position is not None else ctx.now
    out = []
    for stop in estimate.stops:
        if stop.eta <= stop.latest:
            continue
        over = (stop.eta - stop.latest).total_seconds() / 60
        out.append(
            _alert(
                "late",
                estimate,
                since=basis,
                stop_ids=[stop.stop_id],
                parcel_ids=[stop.parcel_id],
                message=(
                    f"{estimate.courier_name} is expected at the {stop.kind} of parcel "
                    f"{stop.parcel_id} (stop {stop.stop_id}) at {ctx.hhmm(stop.eta)}, "
                    f"{over:.0f} min after its window ends at {ctx.hhmm(stop.latest)}."
                ),
            )
        )
    return out


def _not_ready(ctx: _Context, estimate: RouteEta, rows: list[tuple[Stop, PlanTrip]]) -> list[Alert]:
    session = ctx.session
    ids = {stop.parcel_id for stop, _ in rows}
    parcels = {p.id: p for p in session.exec(select(Parcel).where(col(Parcel.id).in_(ids))).all()}
    shop_pickup = {stop.parcel_id for stop, _ in rows if stop.kind == "pickup"}
    out = []
    for stop, trip in rows:
        parcel = parcels.get(stop.parcel_id)
        if stop.status not in OPEN_STOPS or parcel is None or parcel.status != "awaiting":
            continue
        if stop.kind == "pickup":
            due, where = stop.planned_arrival, f"its pickup at the shop (stop {stop.id})"
        elif stop.parcel_id not in shop_pickup:
            due, where = trip.departs_at, f"trip {trip.number}'s departure from the hub"
        else:
            continue  # collected at the shop: its pickup stop is the one that alerts
        if due > ctx.now:
            continue
        out.append(
            _alert(
                "not_ready",
                estimate,
                since=due,
                stop_ids=[stop.id or 0],
                parcel_ids=[parcel.id or 0],
                message=(
                    f"Parcel {parcel.id} is still not ready: it was due at {ctx.hhmm(due)} for "
                    f"{where} on {estimate.courier_name}'s route."
                ),
            )
        )
    return out


def _recent_fixes(ctx: _Context, shift_id: int) -> list[Position]:
    """The shift's fixes of the last ``LOOK_BACK``, newest first."""
    return list(
        ctx.session.exec(
            select(Position)
            .where(
                col(Position.shift_id) == shift_id,
                col(Position.at) >= ctx.now - LOOK_BACK,
                col(Position.at) <= ctx.now + timedelta(minutes=1),
            )
            .order_by(col(Position.at).desc(), col(Position.id).desc())
        ).all()
    )


def _current_trip_path(
    ctx: _Context, estimate: RouteEta, rows: list[tuple[Stop, PlanTrip]]
) -> list[list[float]]:
    """The ride path of the trip of the next open stop, and the previous trip's too while the
    current trip has not begun (the courier may still be riding back to the hub)."""
    next_trip = next(trip for stop, trip in rows if stop.status in OPEN_STOPS)
    begun = any(trip.id == next_trip.id and stop.status not in OPEN_STOPS for stop, trip in rows)
    numbers = {next_trip.number} if begun else {next_trip.number, next_trip.number - 1}
    network = get_network(ctx.town)
    path: list[list[float]] = []
    by_trip: dict[int, list[Stop]] = {}
    for stop, trip in rows:
        if trip.number in numbers:
            by_trip.setdefault(trip.number, []).append(stop)
    for stops in by_trip.values():
        points = [estimate.hub, *((s.lat, s.lon) for s in stops), estimate.hub]
        path.extend(ride_path(network, points))
    return path


def _off_route(ctx: _Context, estimate: RouteEta, rows: list[tuple[Stop, PlanTrip]]) -> list[Alert]:
    position = estimate.position
    if position is None:
        return []
    path = _current_trip_path(ctx, estimate, rows)
    limit = ctx.settings.off_route_m
    away = distance_to_path_m(position.lat, position.lon, path)
    if away <= limit:
        return []
    since = position.at
    for fix in _recent_fixes(ctx, estimate.shift_id):
        if fix.at > position.at:
            continue
        if distance_to_path_m(fix.lat, fix.lon, path) <= limit:
            break
        since = fix.at
    return [
        _alert(
            "off_route",
            estimate,
            since=since,
            stop_ids=[s.stop_id for s in estimate.stops[:1]],
            message=(
                f"{estimate.courier_name} is {away:.0f} m off the planned route "
                f"(more than {limit:.0f} m) since {ctx.hhmm(since)}."
            ),
        )
    ]


def still_since(fixes: list[Position]) -> datetime | None:
    """The oldest fix of the newest run that stays within ``STILL_WITHIN_M`` of itself.

    ``fixes`` are newest first; a run grows back in time while the fix added is within the
    distance of every newer fix of the run.
    """
    if not fixes:
        return None
    lats = np.array([f.lat for f in fixes])
    lons = np.array([f.lon for f in fixes])
    since = fixes[0].at
    for i in range(1, len(fixes)):
        spread = haversine_m(lons[:i], lats[:i], np.full(i, lons[i]), np.full(i, lats[i]))
        if float(np.max(spread)) > STILL_WITHIN_M:
            break
        since = fixes[i].at
    return since


def _not_moving(
    ctx: _Context, estimate: RouteEta, rows: list[tuple[Stop, PlanTrip]]
) -> list[Alert]:
    position = estimate.position
    if position is None or estimate.position_age_s is None:
        return []
    if estimate.position_age_s > ctx.settings.gps_silent_s:
        return []  # silent, not still: that alert says it
    next_stop, next_trip = next((s, t) for s, t in rows if s.status in OPEN_STOPS)
    begun = any(t.id == next_trip.id and s.status not in OPEN_STOPS for s, t in rows)
    if not begun and ctx.now < next_trip.departs_at:
        return []  # waiting at the hub for the trip's departure is the plan
    fixes = [f for f in _recent_fixes(ctx, estimate.shift_id) if f.at <= position.at]
    since = still_since(fixes)
    if since is None or ctx.now - since < STILL_FOR:
        return []
    minutes = (ctx.now - since).total_seconds() / 60
    return [
        _alert(
            "not_moving",
            estimate,
            since=since,
            stop_ids=[next_stop.id or 0],
            message=(
                f"{estimate.courier_name} has not moved more than {STILL_WITHIN_M:.0f} m for "
                f"{minutes:.0f} min (since {ctx.hhmm(since)}) with stops still open."
            ),
        )
    ]


def _gps_silent(ctx: _Context, estimate: RouteEta, shift: Shift) -> list[Alert]:
    position = estimate.position
    if position is not None:
        if ctx.now - position.at <= timedelta(seconds=ctx.settings.gps_silent_s):
            return []
        since, last = position.at, f"the last fix was at {ctx.hhmm(position.at)}"
    else:
        started = ctx.session.exec(
            select(Event.at)
            .where(
                col(Event.entity) == "shift",
                col(Event.entity_id) == shift.id,
                col(Event.action) == "start",
            )
            .order_by(col(Event.at).desc())
        ).first()
        since = started or shift.starts_at
        if ctx.now - since <= timedelta(seconds=ctx.settings.gps_silent_s):
            return []
        last = f"no fix since the shift started at {ctx.hhmm(since)}"
    minutes = (ctx.now - since).total_seconds() / 60
    return [
        _alert(
            "gps_silent",
            estimate,
            since=since,
            stop_ids=[s.stop_id for s in estimate.stops[:1]],
            message=(
                f"{estimate.courier_name}'s phone has sent no position for {minutes:.0f} min "
                f"({last}) while on duty with open stops."
            ),
        )
    ]


def route_alerts(ctx: _Context, route: PlanRoute) -> list[Alert]:
    """Every alert of one route at ``ctx.now``."""
    session = ctx.session
    assert route.id is not None
    rows = [
        (stop, trip)
        for stop, trip in session.exec(
            select(Stop, PlanTrip)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .where(col(PlanTrip.route_id) == route.id)
            .order_by(col(PlanTrip.number), col(Stop.sequence), col(Stop.id))
        ).all()
    ]
    if not any(stop.status in OPEN_STOPS for stop, _ in rows):
        return []
    estimate = route_eta(session, route, now=ctx.now)
    alerts = _late(ctx, estimate) + _not_ready(ctx, estimate, rows)
    shift = session.get(Shift, route.shift_id)
    if shift is not None and shift.status == "on_duty":
        alerts += _off_route(ctx, estimate, rows)
        alerts += _not_moving(ctx, estimate, rows)
        alerts += _gps_silent(ctx, estimate, shift)
    return alerts


def window_alerts(
    session: Session, window: DeliveryWindow, *, now: datetime, settings: Settings
) -> list[Alert]:
    """The alerts of every route of the window's current plan."""
    town = session.get(Town, window.town_id)
    assert town is not None
    assert window.id is not None
    ctx = _Context(session, town, now, settings)
    alerts: list[Alert] = []
    for route in current_routes(session, window.id):
        alerts += route_alerts(ctx, route)
    return alerts


def day_alerts(
    session: Session, town: Town, day: date, *, now: datetime, settings: Settings
) -> list[Alert]:
    """The alerts of every window of the town's ``day``; a courier-level alert (off route,
    not moving, GPS silent) once per courier even when they ride routes of two windows."""
    windows = session.exec(
        select(DeliveryWindow)
        .where(col(DeliveryWindow.town_id) == town.id, col(DeliveryWindow.day) == day)
        .order_by(col(DeliveryWindow.starts_at))
    ).all()
    seen: set[tuple[str, int]] = set()
    alerts: list[Alert] = []
    for window in windows:
        for alert in window_alerts(session, window, now=now, settings=settings):
            if alert.kind in COURIER_KINDS:
                key = (alert.kind, alert.courier_id)
                if key in seen:
                    continue
                seen.add(key)
            alerts.append(alert)
    return alerts


__all__ = [
    "COURIER_KINDS",
    "KINDS",
    "STILL_FOR",
    "STILL_WITHIN_M",
    "Alert",
    "day_alerts",
    "distance_to_path_m",
    "still_since",
    "window_alerts",
]
