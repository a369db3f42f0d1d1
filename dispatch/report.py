"""The day-end report: per delivery window and per courier, how the day went.

What each figure means (the page's footnotes repeat this):

- **Deliveries** are the delivery stops of each window's current plan; cancelled stops do not
  count. *Done* and *failed* are the stops' statuses; *open* are still planned or arrived.
- **On time**: a delivery stop that is done with ``Stop.done_at`` at or before its window's
  ``ends_at``. The window is what the customer was promised: a stop's ``planned_arrival`` and
  ``planned_departure`` are the planner's estimate, not a promise, so the window's end is the
  stop's latest time. A done stop without ``done_at`` (completed by hand) uses the time of its
  ``complete`` event. The **on-time rate** is on time ÷ deliveries due, where *due* is every
  delivery stop that is done, failed or skipped, plus open stops whose window has ended (an
  open stop of a window still running may yet be on time, so it is left out).
- **Parcels** are the pieces (``Parcel.count``) of the done deliveries.
- **Ridden km (planned path)**: for each trip, the bike network's fastest path from the hub
  through every visited stop (done or failed, pickups included: the courier rode there) in
  the plan's order, and back to the hub once every stop of the trip is over. A leg the
  network cannot route is counted as a straight line.
- **GPS km**: the length along the courier's GPS fixes (accuracy within
  ``GPS_MAX_ACCURACY_M``; a jump faster than ``GPS_MAX_SPEED_KPH`` is a glitch and skipped).
  Per window, the fixes of the route's shift from the route's start to its end (or its last
  visited stop, if later); per courier, every fix of the courier's shifts that day.
  None when there are no fixes.
- **Van km and CO₂**: velocal's routing has cargo-bike profiles only (``routing.profile``),
  no car or van profile, so the van's distance is *approximated* by the bike's planned path
  over the same stops, with no detour factor. A van on roads usually drives further (no
  cycleways, one-way streets), so the CO₂ figure is a low estimate. CO₂ is van km ×
  ``VAN_KG_CO2E_PER_KM``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Final

import numpy as np
from sqlmodel import Session, col, select

from dispatch.models import (
    Courier,
    DeliveryWindow,
    Event,
    Hub,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Position,
    Shift,
    Stop,
    Town,
    utc_now,
)
from routing.geo import haversine_m

#: kg CO₂e per km of an average diesel van (up to 3.5 tonnes).
#:
#: Source: UK Government GHG Conversion Factors for Company Reporting 2024 (Department for
#: Energy Security and Net Zero, DESNZ), "Delivery vehicles › Vans › Average (up to 3.5
#: tonnes) › Diesel", kg CO₂e per km (2024 set, version 1.1).
#: https://www.gov.uk/government/publications/greenhouse-gas-reporting-conversion-factors-2024
VAN_KG_CO2E_PER_KM: Final = 0.25023
VAN_FACTOR_YEAR: Final = 2024
VAN_FACTOR_SOURCE: Final = (
    "UK Government GHG Conversion Factors for Company Reporting 2024 (DESNZ): "
    "Delivery vehicles, Vans, Average (up to 3.5 tonnes), Diesel — 0.25023 kg CO2e per km"
)
VAN_FACTOR_URL: Final = (
    "https://www.gov.uk/government/publications/greenhouse-gas-reporting-conversion-factors-2024"
)
#: How the van's distance is found (there is no van profile in ``routing``).
VAN_DISTANCE_NOTE: Final = (
    "No van routing profile exists: van km is the cargo bike's planned network path over the "
    "same stops (no detour factor), an approximation that likely understates a van's km."
)
#: GPS fixes less precise than this are left out of the GPS distance.
GPS_MAX_ACCURACY_M: Final = 50.0
#: A jump between two fixes faster than this is a GPS glitch, not riding.
GPS_MAX_SPEED_KPH: Final = 45.0

#: Stop statuses that mean the courier went there.
VISITED: Final = frozenset({"done", "failed"})
#: Stop statuses after which nothing more happens to the stop.
OVER: Final = frozenset({"done", "failed", "skipped", "cancelled"})
OPEN: Final = frozenset({"planned", "arrived"})

Point = tuple[float, float]  # (lat, lon)
#: Draws the ride through points ((lat, lon), in order) as a [[lat, lon], ...] line.
PathFn = Callable[[Sequence[Point]], list[list[float]]]


@dataclass(frozen=True)
class Figures:
    """One block of the report's numbers (a row, a window, a courier or the whole day)."""

    deliveries: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    open: int = 0
    due: int = 0
    on_time: int = 0
    #: due but not on time: late, failed, skipped, or still open after the window ended.
    missed: int = 0
    parcels: int = 0
    ridden_m: int = 0
    gps_m: int | None = None
    van_m: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """On time ÷ due, or None when nothing was due yet."""
        return self.on_time / self.due if self.due else None

    @property
    def van_kg_co2e(self) -> float:
        """What a diesel van would have emitted over ``van_m`` (kg CO₂e)."""
        return self.van_m / 1000 * VAN_KG_CO2E_PER_KM

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, with the derived figures and distances in km too."""
        return {
            "deliveries": self.deliveries,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "open": self.open,
            "due": self.due,
            "on_time": self.on_time,
            "missed": self.missed,
            "on_time_rate": self.on_time_rate,
            "parcels": self.parcels,
            "ridden_m": self.ridden_m,
            "gps_m": self.gps_m,
            "van_m": self.van_m,
            "van_kg_co2e": self.van_kg_co2e,
        }


def combine(blocks: Iterable[Figures], *, gps_m: int | str | None = "sum") -> Figures:
    """The sum of ``blocks``; GPS is the sum of those that have any (or ``gps_m`` as given)."""
    items = list(blocks)
    gps: int | None
    if gps_m == "sum":
        known = [b.gps_m for b in items if b.gps_m is not None]
        gps = sum(known) if known else None
    else:
        gps = gps_m if isinstance(gps_m, int) else None
    return Figures(
        deliveries=sum(b.deliveries for b in items),
        done=sum(b.done for b in items),
        failed=sum(b.failed for b in items),
        skipped=sum(b.skipped for b in items),
        open=sum(b.open for b in items),
        due=sum(b.due for b in items),
        on_time=sum(b.on_time for b in items),
        missed=sum(b.missed for b in items),
        parcels=sum(b.parcels for b in items),
        ridden_m=sum(b.ridden_m for b in items),
        gps_m=gps,
        van_m=sum(b.van_m for b in items),
    )


@dataclass(frozen=True)
class ReportRow:
    """One courier's route in one window."""

    window_id: int
    window_starts_at: datetime
    window_ends_at: datetime
    courier_id: int
    courier_name: str
    route_id: int
    figures: Figures


@dataclass(frozen=True)
class WindowTotal:
    window_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    planned: bool
    figures: Figures


@dataclass(frozen=True)
class CourierTotal:
    courier_id: int
    courier_name: str
    figures: Figures


@dataclass(frozen=True)
class DayReport:
    """The whole report of one local day of the town."""

    day: date
    time_zone: str
    generated_at: datetime
    rows: list[ReportRow]
    windows: list[WindowTotal]
    couriers: list[CourierTotal]
    totals: Figures
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (the API's answer)."""
        return {
            "day": self.day.isoformat(),
            "time_zone": self.time_zone,
            "generated_at": self.generated_at.isoformat(),
            "totals": self.totals.to_dict(),
            "windows": [
                {
                    "window_id": w.window_id,
                    "starts_at": w.starts_at.isoformat(),
                    "ends_at": w.ends_at.isoformat(),
                    "status": w.status,
                    "planned": w.planned,
                    **w.figures.to_dict(),
                }
                for w in self.windows
            ],
            "couriers": [
                {"courier_id": c.courier_id, "courier_name": c.courier_name, **c.figures.to_dict()}
                for c in self.couriers
            ],
            "rows": [
                {
                    "window_id": r.window_id,
                    "window_starts_at": r.window_starts_at.isoformat(),
                    "window_ends_at": r.window_ends_at.isoformat(),
                    "courier_id": r.courier_id,
                    "courier_name": r.courier_name,
                    "route_id": r.route_id,
                    **r.figures.to_dict(),
                }
                for r in self.rows
            ],
            "van": {
                "kg_co2e_per_km": VAN_KG_CO2E_PER_KM,
                "factor_year": VAN_FACTOR_YEAR,
                "factor_source": VAN_FACTOR_SOURCE,
                "factor_url": VAN_FACTOR_URL,
                "distance": VAN_DISTANCE_NOTE,
            },
            "notes": self.notes,
        }


# ── distances ──────────────────────────────────────────────────────────────────────────────


def line_length_m(line: Sequence[Sequence[float]]) -> float:
    """Length of a ``[[lat, lon], ...]`` line along the earth's surface, metres."""
    if len(line) < 2:
        return 0.0
    coords = np.asarray(line, dtype=np.float64)
    lat, lon = coords[:, 0], coords[:, 1]
    return float(np.sum(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])))


def straight_path(points: Sequence[Point]) -> list[list[float]]:
    """Points joined by straight lines (when no network is at hand)."""
    return [[lat, lon] for lat, lon in points]


def network_path(town: Town) -> PathFn:
    """The town's bike-network ride paths (``dispatch.town_map.ride_path``), loaded lazily:
    a day with nothing ridden never loads the graph."""
    loaded: list[PathFn] = []

    def path(points: Sequence[Point]) -> list[list[float]]:
        if len(points) < 2:
            return straight_path(points)
        if not loaded:
            from dispatch.network import get_network
            from dispatch.town_map import ride_path

            network = get_network(town)
            loaded.append(lambda pts: ride_path(network, pts))
        return loaded[0](points)

    return path


def gps_length_m(fixes: Sequence[Position]) -> int | None:
    """Distance along ``fixes`` (in time order), leaving out imprecise fixes and glitches."""
    good = [f for f in sorted(fixes, key=lambda f: f.at) if f.accuracy_m <= GPS_MAX_ACCURACY_M]
    if not good:
        return None
    total = 0.0
    last = good[0]
    for fix in good[1:]:
        metres = float(haversine_m(last.lon, last.lat, fix.lon, fix.lat))
        seconds = (fix.at - last.at).total_seconds()
        if seconds <= 0 or metres / seconds * 3.6 > GPS_MAX_SPEED_KPH:
            continue  # same instant twice, or a jump no cargo bike makes: keep the last fix
        total += metres
        last = fix
    return round(total)


# ── the report ─────────────────────────────────────────────────────────────────────────────


def _complete_times(session: Session, stops: Sequence[Stop]) -> dict[int, datetime]:
    """When done stops without ``done_at`` were completed, from their events."""
    ids = [s.id for s in stops if s.status == "done" and s.done_at is None and s.id is not None]
    if not ids:
        return {}
    events = session.exec(
        select(Event).where(
            col(Event.entity) == "stop",
            col(Event.entity_id).in_(ids),
            col(Event.to_status) == "done",
        )
    ).all()
    return {e.entity_id: e.at for e in events}


def _route_figures(
    stops_by_trip: Sequence[tuple[PlanTrip, list[Stop]]],
    window: DeliveryWindow,
    hub: Point | None,
    parcel_counts: dict[int, int],
    done_times: dict[int, datetime],
    path: PathFn,
    now: datetime,
) -> tuple[Figures, datetime | None]:
    """One route's figures (GPS aside), and the time of its last visited stop."""
    deliveries = done = failed = skipped = opened = due = on_time = parcels = 0
    ridden = 0.0
    last_visit: datetime | None = None
    window_over = window.ends_at <= now
    for _trip, stops in stops_by_trip:
        visited = [s for s in stops if s.status in VISITED]
        for stop in stops:
            when = stop.done_at or done_times.get(stop.id or -1)
            if stop.status in VISITED and when is not None:
                last_visit = when if last_visit is None else max(last_visit, when)
            if stop.kind != "delivery" or stop.status == "cancelled":
                continue
            deliveries += 1
            if stop.status == "done":
                done += 1
                due += 1
                parcels += parcel_counts.get(stop.parcel_id, 1)
                if when is not None and when <= window.ends_at:
                    on_time += 1
            elif stop.status == "failed":
                failed += 1
                due += 1
            elif stop.status == "skipped":
                skipped += 1
                due += 1
            else:
                opened += 1
                due += 1 if window_over else 0
        if visited:
            points: list[Point] = [(s.lat, s.lon) for s in visited]
            if hub is not None:
                points.insert(0, hub)
                if all(s.status in OVER for s in stops):
                    points.append(hub)
            ridden += line_length_m(path(points))
    ridden_m = round(ridden)
    figures = Figures(
        deliveries=deliveries,
        done=done,
        failed=failed,
        skipped=skipped,
        open=opened,
        due=due,
        on_time=on_time,
        missed=due - on_time,
        parcels=parcels,
        ridden_m=ridden_m,
        van_m=ridden_m,
    )
    return figures, last_visit


def day_report(
    session: Session,
    town: Town,
    day: date,
    *,
    path: PathFn | None = None,
    now: datetime | None = None,
) -> DayReport:
    """The report of ``town``'s local ``day``: every window of the day with its current plan.

    ``path`` draws ride paths (default: the town's bike network); ``now`` decides which open
    stops are already due (their window has ended).
    """
    now = now or utc_now()
    path = path or network_path(town)
    windows = list(
        session.exec(
            select(DeliveryWindow)
            .where(col(DeliveryWindow.town_id) == town.id, col(DeliveryWindow.day) == day)
            .order_by(col(DeliveryWindow.starts_at))
        ).all()
    )
    window_ids = [w.id for w in windows if w.id is not None]
    plans: dict[int, Plan] = {}
    if window_ids:
        for plan in session.exec(
            select(Plan)
            .where(col(Plan.window_id).in_(window_ids), col(Plan.current))
            .order_by(col(Plan.id))
        ).all():
            plans[plan.window_id] = plan  # the newest current plan wins
    plan_ids = [p.id for p in plans.values() if p.id is not None]
    routes = list(
        session.exec(
            select(PlanRoute)
            .where(col(PlanRoute.plan_id).in_(plan_ids))
            .order_by(col(PlanRoute.id))
        ).all()
        if plan_ids
        else []
    )
    route_ids = [r.id for r in routes if r.id is not None]
    trips = list(
        session.exec(
            select(PlanTrip)
            .where(col(PlanTrip.route_id).in_(route_ids))
            .order_by(col(PlanTrip.number))
        ).all()
        if route_ids
        else []
    )
    trip_ids = [t.id for t in trips if t.id is not None]
    stops = list(
        session.exec(
            select(Stop).where(col(Stop.trip_id).in_(trip_ids)).order_by(col(Stop.sequence))
        ).all()
        if trip_ids
        else []
    )
    stops_of: dict[int, list[Stop]] = defaultdict(list)
    for stop in stops:
        stops_of[stop.trip_id].append(stop)
    trips_of: dict[int, list[tuple[PlanTrip, list[Stop]]]] = defaultdict(list)
    for trip in trips:
        trips_of[trip.route_id].append((trip, stops_of.get(trip.id or -1, [])))
    parcel_ids = sorted({s.parcel_id for s in stops})
    parcel_counts = (
        {
            int(pid): int(n)
            for pid, n in session.exec(
                select(Parcel.id, Parcel.count).where(col(Parcel.id).in_(parcel_ids))
            ).all()
            if pid is not None
        }
        if parcel_ids
        else {}
    )
    done_times = _complete_times(session, stops)
    shift_ids = sorted({r.shift_id for r in routes})
    shifts = {
        s.id: s
        for s in (
            session.exec(select(Shift).where(col(Shift.id).in_(shift_ids))).all()
            if shift_ids
            else []
        )
    }
    courier_ids = sorted({s.courier_id for s in shifts.values()})
    couriers = {
        c.id: c
        for c in (
            session.exec(select(Courier).where(col(Courier.id).in_(courier_ids))).all()
            if courier_ids
            else []
        )
    }
    hubs = {h.id: (h.lat, h.lon) for h in session.exec(select(Hub)).all()}
    fixes_of: dict[int, list[Position]] = defaultdict(list)
    if shift_ids:
        for fix in session.exec(select(Position).where(col(Position.shift_id).in_(shift_ids))):
            fixes_of[fix.shift_id].append(fix)

    window_of = {w.id: w for w in windows}
    plan_window = {p.id: p.window_id for p in plans.values()}
    rows: list[ReportRow] = []
    for route in routes:
        window = window_of[plan_window[route.plan_id]]
        shift = shifts[route.shift_id]
        courier = couriers[shift.courier_id]
        figures, last_visit = _route_figures(
            trips_of.get(route.id or -1, []),
            window,
            hubs.get(shift.hub_id),
            parcel_counts,
            done_times,
            path,
            now,
        )
        starts = min(
            [route.starts_at, *(t.departs_at for t, _ in trips_of.get(route.id or -1, []))]
        )
        ends = max(route.ends_at, last_visit) if last_visit is not None else route.ends_at
        span = [f for f in fixes_of.get(route.shift_id, []) if starts <= f.at <= ends]
        figures = replace(figures, gps_m=gps_length_m(span))
        rows.append(
            ReportRow(
                window_id=window.id or 0,
                window_starts_at=window.starts_at,
                window_ends_at=window.ends_at,
                courier_id=courier.id or 0,
                courier_name=courier.name,
                route_id=route.id or 0,
                figures=figures,
            )
        )
    rows.sort(key=lambda r: (r.window_starts_at, r.courier_name, r.route_id))

    window_totals = [
        WindowTotal(
            window_id=w.id or 0,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            status=w.status,
            planned=w.id in plans,
            figures=combine(r.figures for r in rows if r.window_id == w.id),
        )
        for w in windows
    ]
    courier_totals = []
    for courier_id in sorted(
        {r.courier_id for r in rows}, key=lambda c: (couriers[c].name if c in couriers else "", c)
    ):
        own = [r for r in rows if r.courier_id == courier_id]
        shift_fixes = [
            f
            for s in shifts.values()
            if s.courier_id == courier_id
            for f in fixes_of.get(s.id or -1, [])
        ]
        courier_totals.append(
            CourierTotal(
                courier_id=courier_id,
                courier_name=own[0].courier_name,
                figures=combine((r.figures for r in own), gps_m=gps_length_m(shift_fixes)),
            )
        )
    notes = [VAN_DISTANCE_NOTE]
    if not plans:
        notes.append("No window of this day has a plan yet: there is nothing to report.")
    return DayReport(
        day=day,
        time_zone=town.time_zone,
        generated_at=now,
        rows=rows,
        windows=window_totals,
        couriers=courier_totals,
        totals=combine(c.figures for c in courier_totals),
        notes=notes,
    )


# ── CSV ────────────────────────────────────────────────────────────────────────────────────

CSV_HEADER: Final = (
    "window_id",
    "window_start",
    "window_end",
    "courier_id",
    "courier",
    "deliveries",
    "done",
    "failed",
    "skipped",
    "open",
    "due",
    "on_time",
    "missed",
    "on_time_rate",
    "parcels",
    "ridden_km_planned_path",
    "gps_km",
    "van_km_approx",
    "van_kg_co2e",
)


def _csv_figures(figures: Figures) -> list[str]:
    rate = figures.on_time_rate
    return [
        str(figures.deliveries),
        str(figures.done),
        str(figures.failed),
        str(figures.skipped),
        str(figures.open),
        str(figures.due),
        str(figures.on_time),
        str(figures.missed),
        "" if rate is None else f"{rate:.4f}",
        str(figures.parcels),
        f"{figures.ridden_m / 1000:.3f}",
        "" if figures.gps_m is None else f"{figures.gps_m / 1000:.3f}",
        f"{figures.van_m / 1000:.3f}",
        f"{figures.van_kg_co2e:.3f}",
    ]


def report_csv(report: DayReport, zone: str | None = None) -> str:
    """The report as CSV: a header, one row per courier per window, then a total per window,
    per courier and for the day (``window_id``/``courier_id`` say "all" where they sum)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone or report.time_zone)

    def local(moment: datetime) -> str:
        return moment.astimezone(tz).isoformat(timespec="minutes")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        writer.writerow(
            [
                row.window_id,
                local(row.window_starts_at),
                local(row.window_ends_at),
                row.courier_id,
                row.courier_name,
                *_csv_figures(row.figures),
            ]
        )
    for window in report.windows:
        writer.writerow(
            [
                window.window_id,
                local(window.starts_at),
                local(window.ends_at),
                "all",
                "all couriers",
                *_csv_figures(window.figures),
            ]
        )
    for courier in report.couriers:
        writer.writerow(
            [
                "all",
                "",
                "",
                courier.courier_id,
                courier.courier_name,
                *_csv_figures(courier.figures),
            ]
        )
    writer.writerow(["all", "", "", "all", "day total", *_csv_figures(report.totals)])
    return out.getvalue()


__all__ = [
    "CSV_HEADER",
    "GPS_MAX_ACCURACY_M",
    "GPS_MAX_SPEED_KPH",
    "VAN_DISTANCE_NOTE",
    "VAN_FACTOR_SOURCE",
    "VAN_FACTOR_YEAR",
    "VAN_KG_CO2E_PER_KM",
    "CourierTotal",
    "DayReport",
    "Figures",
    "ReportRow",
    "WindowTotal",
    "combine",
    "day_report",
    "gps_length_m",
    "line_length_m",
    "report_csv",
]
