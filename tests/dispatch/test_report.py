"""The day-end report on a scripted day: two windows, two couriers, stops done on time, late,
failed, skipped, cancelled and still open, a stop completed by hand (no ``done_at``), a plan
that was replaced, another day's window, and GPS fixes with a poor fix and a glitch.

Distances use straight lines between stops (``straight_path``) so every expected metre is
computed here with the haversine formula; one test rides the real Helsinki bike network.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch import report as report_module
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Position,
    Shift,
    Shop,
    Stop,
    Town,
)
from dispatch.network import get_network
from dispatch.report import (
    CSV_HEADER,
    VAN_KG_CO2E_PER_KM,
    DayReport,
    day_report,
    line_length_m,
    report_csv,
    straight_path,
)
from dispatch.security import create_user, issue_login_token, new_label_code, new_tracking_token
from dispatch.town_map import ride_path
from routing.geo import haversine_m

DAY = date(2024, 5, 14)  # Helsinki is UTC+3 that day
HUB = (60.1700, 24.9400)
SHOP = (60.1720, 24.9450)
#: Delivery points, inside the bundled Helsinki extract.
D = {
    "d1": (60.1740, 24.9420),
    "d2": (60.1760, 24.9460),
    "d3": (60.1680, 24.9480),
    "d4": (60.1690, 24.9370),
    "d5": (60.1770, 24.9380),
    "d6": (60.1660, 24.9420),
    "d7": (60.1750, 24.9500),
    "d8": (60.1710, 24.9510),
    "old": (60.1650, 24.9390),
}
END_OF_DAY = datetime(2024, 5, 14, 21, 0, tzinfo=UTC)


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 5, 14, hour, minute, second, tzinfo=UTC)


def m(*points: tuple[float, float]) -> float:
    """Straight-line metres along ``points``."""
    return sum(float(haversine_m(a[1], a[0], b[1], b[0])) for a, b in itertools.pairwise(points))


@dataclass
class Day:
    town: Town
    window_a: DeliveryWindow
    window_b: DeliveryWindow
    aino: Courier
    bo: Courier
    routes: dict[str, PlanRoute]
    stops: dict[str, Stop]


def _add(session: Session, *rows: Any) -> None:
    for row in rows:
        session.add(row)
    session.commit()
    for row in rows:
        session.refresh(row)


def build_day(session: Session) -> Day:
    """The scripted day (see the module's docstring)."""
    town = Town(name="Kallio", time_zone="Europe/Helsinki")
    _add(session, town)
    tid = town.id or 0
    hub = Hub(town_id=tid, name="Hub", lat=HUB[0], lon=HUB[1])
    shop = Shop(town_id=tid, name="Bakery", lat=SHOP[0], lon=SHOP[1])
    bike = BikeType(
        town_id=tid, name="Long John", capacity_g=50_000, capacity_ml=200_000, capacity_parcels=8
    )
    customer = Customer(name="Ann")
    _add(session, hub, shop, bike, customer)
    aino = Courier(town_id=tid, name="Aino", bike_type_id=bike.id or 0)
    bo = Courier(town_id=tid, name="Bo", bike_type_id=bike.id or 0)
    _add(session, aino, bo)
    shift_a = Shift(courier_id=aino.id or 0, hub_id=hub.id or 0, starts_at=utc(4), ends_at=utc(14))
    shift_b = Shift(courier_id=bo.id or 0, hub_id=hub.id or 0, starts_at=utc(6), ends_at=utc(10))
    window_a = DeliveryWindow(
        town_id=tid, day=DAY, starts_at=utc(7), ends_at=utc(9), cutoff_at=utc(5), status="running"
    )
    window_b = DeliveryWindow(
        town_id=tid, day=DAY, starts_at=utc(11), ends_at=utc(13), cutoff_at=utc(9)
    )
    other_day = DeliveryWindow(
        town_id=tid,
        day=DAY + timedelta(days=1),
        starts_at=utc(7) + timedelta(days=1),
        ends_at=utc(9) + timedelta(days=1),
        cutoff_at=utc(5) + timedelta(days=1),
    )
    _add(session, shift_a, shift_b, window_a, window_b, other_day)

    def parcel(window: DeliveryWindow, count: int) -> Parcel:
        order = Order(
            town_id=tid,
            customer_id=customer.id or 0,
            window_id=window.id,
            tracking_token=new_tracking_token(),
        )
        _add(session, order)
        row = Parcel(
            order_id=order.id or 0,
            shop_id=shop.id or 0,
            weight_g=500,
            volume_ml=1000,
            count=count,
            label_code=new_label_code(session),
        )
        _add(session, row)
        return row

    routes: dict[str, PlanRoute] = {}
    stops: dict[str, Stop] = {}

    def route(name: str, window: DeliveryWindow, shift: Shift, plan: Plan) -> PlanTrip:
        row = PlanRoute(
            plan_id=plan.id or 0,
            shift_id=shift.id or 0,
            starts_at=window.starts_at - timedelta(minutes=15),
            ends_at=window.ends_at,
        )
        _add(session, row)
        routes[name] = row
        trip = PlanTrip(
            route_id=row.id or 0, number=1, departs_at=row.starts_at, returns_at=row.ends_at
        )
        _add(session, trip)
        return trip

    def stop(
        name: str,
        trip: PlanTrip,
        seq: int,
        status: str,
        done_at: datetime | None,
        *,
        kind: str = "delivery",
        count: int = 1,
        window: DeliveryWindow = window_a,
        point: tuple[float, float] | None = None,
        of: Parcel | None = None,
    ) -> Stop:
        lat, lon = point or D[name]
        row = Stop(
            trip_id=trip.id or 0,
            sequence=seq,
            kind=kind,
            parcel_id=(of or parcel(window, count)).id or 0,
            lat=lat,
            lon=lon,
            planned_arrival=trip.departs_at + timedelta(minutes=10 * seq),
            planned_departure=trip.departs_at + timedelta(minutes=10 * seq + 3),
            status=status,
            done_at=done_at,
        )
        _add(session, row)
        stops[name] = row
        return row

    # A replaced plan of window A: its done stop must not count.
    old_plan = Plan(window_id=window_a.id or 0, current=False)
    plan_a = Plan(window_id=window_a.id or 0)
    plan_b = Plan(window_id=window_b.id or 0)
    _add(session, old_plan, plan_a, plan_b)
    old_trip = route("old", window_a, shift_b, old_plan)
    stop("old", old_trip, 0, "done", utc(7, 30))

    trip = route("a_aino", window_a, shift_a, plan_a)
    d1_parcel = parcel(window_a, 2)
    stop("pickup", trip, 0, "done", utc(6, 55), kind="pickup", point=SHOP, of=d1_parcel)
    stop("d1", trip, 1, "done", utc(8, 30), of=d1_parcel)  # on time, 2 pieces
    stop("d2", trip, 2, "done", utc(9, 10))  # 10 minutes after the window: late
    stop("d3", trip, 3, "failed", utc(8, 45))
    stop("d4", trip, 4, "cancelled", None, count=5)

    trip = route("a_bo", window_a, shift_b, plan_a)
    stop("d5", trip, 0, "done", utc(8), count=3)  # on time
    stop("d6", trip, 1, "planned", None)  # never done, the window is over: due and missed

    trip = route("b_aino", window_b, shift_a, plan_b)
    d7 = stop("d7", trip, 0, "done", None, window=window_b)  # completed by hand
    stop("d8", trip, 1, "skipped", None, window=window_b)
    session.add(
        Event(
            at=utc(12, 30),
            entity="stop",
            entity_id=d7.id or 0,
            action="complete",
            from_status="arrived",
            to_status="done",
        )
    )

    fixes = [
        # (minute offsets are UTC times), lat, lon, accuracy
        (utc(5), 60.1700, 24.9400, 5.0),  # before any route: the shift's total only
        (utc(7), 60.1710, 24.9400, 5.0),
        (utc(7, 10), 60.1720, 24.9410, 80.0),  # too imprecise
        (utc(7, 20), 60.1730, 24.9420, 5.0),
        (utc(7, 20, 1), 60.3000, 24.9420, 5.0),  # a 14 km jump in a second: a glitch
        (utc(7, 40), 60.1740, 24.9430, 5.0),
        (utc(11), 60.1750, 24.9440, 5.0),
        (utc(11, 30), 60.1760, 24.9450, 5.0),
    ]
    for seq, (at, lat, lon, accuracy) in enumerate(fixes):
        session.add(
            Position(
                courier_id=aino.id or 0,
                shift_id=shift_a.id or 0,
                device_id="phone",
                seq=seq,
                lat=lat,
                lon=lon,
                accuracy_m=accuracy,
                at=at,
            )
        )
    session.commit()
    return Day(town, window_a, window_b, aino, bo, routes, stops)


@pytest.fixture
def day(session: Session) -> Day:
    return build_day(session)


def scripted(session: Session, day: Day) -> DayReport:
    return day_report(session, day.town, DAY, path=straight_path, now=END_OF_DAY)


def row(report: DayReport, window: DeliveryWindow, courier: Courier) -> Any:
    found = [r for r in report.rows if r.window_id == window.id and r.courier_id == courier.id]
    assert len(found) == 1
    return found[0].figures


# ── the figures ────────────────────────────────────────────────────────────────────────────


def test_on_time_counts_by_the_windows_end(session: Session, day: Day) -> None:
    report = scripted(session, day)
    assert [(r.window_id, r.courier_name) for r in report.rows] == [
        (day.window_a.id, "Aino"),
        (day.window_a.id, "Bo"),
        (day.window_b.id, "Aino"),
    ]
    a_aino = row(report, day.window_a, day.aino)
    # d1 on time, d2 late, d3 failed; d4 cancelled is no delivery; the pickup is no delivery.
    assert (a_aino.deliveries, a_aino.done, a_aino.failed, a_aino.open) == (3, 2, 1, 0)
    assert (a_aino.due, a_aino.on_time, a_aino.missed) == (3, 1, 2)
    assert a_aino.on_time_rate == pytest.approx(1 / 3)
    assert a_aino.parcels == 3  # d1's two pieces and d2's one
    a_bo = row(report, day.window_a, day.bo)
    assert (a_bo.deliveries, a_bo.done, a_bo.open, a_bo.due, a_bo.on_time) == (2, 1, 1, 2, 1)
    assert a_bo.parcels == 3
    b_aino = row(report, day.window_b, day.aino)
    # d7 has no done_at: its complete event at 12:30 is before the window's end (13:00).
    assert (b_aino.done, b_aino.skipped, b_aino.due, b_aino.on_time) == (1, 1, 2, 1)

    window_a = report.windows[0].figures
    assert (window_a.deliveries, window_a.due, window_a.on_time) == (5, 5, 2)
    assert report.windows[0].window_id == day.window_a.id
    assert [w.window_id for w in report.windows] == [day.window_a.id, day.window_b.id]
    aino = next(c for c in report.couriers if c.courier_id == day.aino.id).figures
    assert (aino.deliveries, aino.due, aino.on_time, aino.parcels) == (5, 5, 2, 4)
    totals = report.totals
    assert (totals.deliveries, totals.done, totals.failed, totals.skipped, totals.open) == (
        7,
        4,
        1,
        1,
        1,
    )
    assert (totals.due, totals.on_time, totals.missed, totals.parcels) == (7, 3, 4, 7)
    assert totals.on_time_rate == pytest.approx(3 / 7)


def test_open_stops_of_a_running_window_are_not_due_yet(session: Session, day: Day) -> None:
    """At 08:50 window A is still on: Bo's open stop d6 may yet be on time."""
    report = day_report(session, day.town, DAY, path=straight_path, now=utc(8, 50))
    a_bo = row(report, day.window_a, day.bo)
    assert (a_bo.open, a_bo.due, a_bo.on_time) == (1, 1, 1)
    assert a_bo.on_time_rate == 1.0


def test_km_ridden_follow_the_visited_stops_from_and_back_to_the_hub(
    session: Session, day: Day
) -> None:
    report = scripted(session, day)
    # Every stop of Aino's window A trip is over: hub, pickup, d1, d2, d3 (failed, but ridden
    # to), back to the hub; the cancelled d4 is not ridden.
    a_aino = row(report, day.window_a, day.aino)
    assert a_aino.ridden_m == round(m(HUB, SHOP, D["d1"], D["d2"], D["d3"], HUB))
    # Bo's trip still has d6 open: hub to d5 only, no way back yet.
    assert row(report, day.window_a, day.bo).ridden_m == round(m(HUB, D["d5"]))
    # The skipped d8 is not ridden to.
    assert row(report, day.window_b, day.aino).ridden_m == round(m(HUB, D["d7"], HUB))
    assert report.totals.ridden_m == sum(r.figures.ridden_m for r in report.rows)


def test_gps_km_skip_poor_fixes_and_glitches(session: Session, day: Day) -> None:
    report = scripted(session, day)
    fix = {
        5: (60.1700, 24.9400),
        7: (60.1710, 24.9400),
        720: (60.1730, 24.9420),
        740: (60.1740, 24.9430),
        11: (60.1750, 24.9440),
        1130: (60.1760, 24.9450),
    }
    # Window A's route runs 06:45 to 09:10 (its last visit): the 07:00–07:40 fixes.
    assert row(report, day.window_a, day.aino).gps_m == round(m(fix[7], fix[720], fix[740]))
    assert row(report, day.window_b, day.aino).gps_m == round(m(fix[11], fix[1130]))
    assert row(report, day.window_a, day.bo).gps_m is None  # Bo sent no fixes
    # The courier's whole shift, the 05:00 fix included.
    whole = round(m(fix[5], fix[7], fix[720], fix[740], fix[11], fix[1130]))
    aino = next(c for c in report.couriers if c.courier_id == day.aino.id).figures
    bo = next(c for c in report.couriers if c.courier_id == day.bo.id).figures
    assert (aino.gps_m, bo.gps_m) == (whole, None)
    assert report.totals.gps_m == whole


def test_van_co2_is_van_km_times_the_factor(session: Session, day: Day) -> None:
    report = scripted(session, day)
    assert VAN_KG_CO2E_PER_KM == 0.25023
    for block in [report.totals, *(r.figures for r in report.rows)]:
        assert block.van_m == block.ridden_m  # no van profile: the bike's path, no detour
        assert block.van_kg_co2e == block.van_m / 1000 * VAN_KG_CO2E_PER_KM
    assert report.totals.van_m > 0
    assert any("No van routing profile" in note for note in report.notes)


def test_ridden_km_on_the_bike_network(session: Session, day: Day) -> None:
    """The default path is the town's bike network: at least the straight line, and exactly
    the length of the board's ride path."""
    report = day_report(session, day.town, DAY, now=END_OF_DAY)
    network = get_network(day.town)
    expected = round(line_length_m(ride_path(network, [HUB, D["d5"]])))
    ridden = row(report, day.window_a, day.bo).ridden_m
    assert ridden == expected
    assert ridden >= round(m(HUB, D["d5"]))


def test_a_day_without_plans_is_empty(session: Session, day: Day) -> None:
    report = day_report(session, day.town, DAY + timedelta(days=1), path=straight_path)
    assert report.rows == []
    assert report.couriers == []
    assert len(report.windows) == 1
    assert not report.windows[0].planned
    assert report.totals.on_time_rate is None
    assert "nothing to report" in report.notes[-1]


def test_csv_has_a_header_a_row_per_courier_per_window_and_totals(
    session: Session, day: Day
) -> None:
    report = scripted(session, day)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert tuple(rows[0]) == CSV_HEADER
    body = [dict(zip(CSV_HEADER, r, strict=True)) for r in rows[1:]]
    assert [(r["window_id"], r["courier"]) for r in body] == [
        (str(day.window_a.id), "Aino"),
        (str(day.window_a.id), "Bo"),
        (str(day.window_b.id), "Aino"),
        (str(day.window_a.id), "all couriers"),
        (str(day.window_b.id), "all couriers"),
        ("all", "Aino"),
        ("all", "Bo"),
        ("all", "day total"),
    ]
    first = body[0]
    assert first["window_start"] == "2024-05-14T10:00+03:00"
    assert (first["deliveries"], first["done"], first["failed"], first["on_time"]) == (
        "3",
        "2",
        "1",
        "1",
    )
    assert first["on_time_rate"] == "0.3333"
    figures = row(report, day.window_a, day.aino)
    assert first["ridden_km_planned_path"] == f"{figures.ridden_m / 1000:.3f}"
    assert first["van_kg_co2e"] == f"{figures.van_m / 1000 * 0.25023:.3f}"
    assert body[1]["gps_km"] == ""  # Bo: no fixes
    total = body[-1]
    assert (total["due"], total["on_time"], total["parcels"]) == ("7", "3", "7")


# ── the API ────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(report_module, "network_path", lambda town: straight_path)
    app = create_app(Settings(database_url="sqlite://", run_scheduler=False), engine)
    with TestClient(app) as client:
        yield client


def bearer(session: Session, role: str) -> dict[str, str]:
    user = create_user(session, f"{role}@report.test", "a long password", role)  # type: ignore[arg-type]
    token, _ = issue_login_token(session, user, kind="bearer")
    return {"Authorization": f"Bearer {token}"}


def test_the_api_answers_staff_with_the_report(
    client: TestClient, session: Session, day: Day
) -> None:
    expected = scripted(session, day)
    answer = client.get(f"/api/report/day?day={DAY}", headers=bearer(session, "dispatcher"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["day"] == "2024-05-14"
    assert body["totals"]["on_time"] == 3
    assert body["totals"]["due"] == 7
    assert body["totals"]["ridden_m"] == expected.totals.ridden_m
    assert body["totals"]["van_kg_co2e"] == pytest.approx(expected.totals.van_kg_co2e)
    assert body["van"]["kg_co2e_per_km"] == 0.25023
    assert "2024" in body["van"]["factor_source"]
    assert [(r["courier_name"], r["window_id"]) for r in body["rows"]] == [
        ("Aino", day.window_a.id),
        ("Bo", day.window_a.id),
        ("Aino", day.window_b.id),
    ]
    assert [c["courier_name"] for c in body["couriers"]] == ["Aino", "Bo"]


def test_the_csv_download(client: TestClient, session: Session, day: Day) -> None:
    answer = client.get(f"/api/report/day.csv?day={DAY}", headers=bearer(session, "operator"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="velocal-report-2024-05-14.csv"' in answer.headers["content-disposition"]
    lines = answer.text.splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) == 1 + 3 + 2 + 2 + 1


def test_the_report_is_for_staff_and_needs_a_day(
    client: TestClient, session: Session, day: Day
) -> None:
    courier = client.get(f"/api/report/day?day={DAY}", headers=bearer(session, "courier"))
    assert courier.status_code == 403
    assert courier.json() == {"detail": "forbidden: this needs the role operator or dispatcher"}
    headers = bearer(session, "dispatcher")
    missing = client.get("/api/report/day.csv", headers=headers)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "query parameter day", "message": "is required"}]
    wrong = client.get("/api/report/day?day=14.5.2024", headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "query parameter day"
