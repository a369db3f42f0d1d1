"""Live ETAs, the tracking page's "courier is close" flag and the board's alerts, on a route
through the bundled Helsinki graph.

The route is built by hand (one hub trip of three deliveries, planned with routing's own
travel times) and a courier's ride is replayed along its ``ride_path`` at bike speed, the fixes
going in through ``POST /api/courier/positions``. At every step the board's ETAs must equal a
computation made here from routing alone: a 1×1 ``travel_matrix`` from the fix to the next
stop, then the legs between the stops, plus the planner's service times. The board's clock is
the ``current_time`` dependency, set to just after each fix. Every test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from dispatch.alerts import distance_to_path_m
from dispatch.api.routes.live_ops import current_time
from dispatch.api.routes.orders import local_date
from dispatch.config import Settings
from dispatch.models import (
    Customer,
    DeliveryWindow,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Stop,
    Town,
    utc_now,
)
from dispatch.network import get_network
from dispatch.planning import DELIVERY_SERVICE_S, PICKUP_SERVICE_S
from dispatch.security import new_label_code, new_tracking_token
from dispatch.town_map import ride_path
from routing import snap_points, travel_matrix
from routing.geo import haversine_m
from tests.dispatch import test_orders_api as base
from tests.dispatch.test_orders_api import World, bearer_for

fake_planning = base.fake_planning
app = base.app
world = base.world

#: Three doors inside the bundled extract, ridden in this order.
DOORS = [(60.1700, 24.9400), (60.1665, 24.9480), (60.1750, 24.9460)]
BIKE_M_PER_S = 5.0


# ── routing, independently ─────────────────────────────────────────────────────────────────


def ride_s(town: Town, a: tuple[float, float], b: tuple[float, float]) -> int:
    """Seconds from a to b: both snapped on their own and one 1×1 matrix."""
    graph = get_network(town).graph
    sa = snap_points(graph, [a[1]], [a[0]], max_distance_m=1e9)
    sb = snap_points(graph, [b[1]], [b[0]], max_distance_m=1e9)
    return int(travel_matrix(graph, sa, sb).duration_s[0, 0])


def expected_etas(
    town: Town,
    start: datetime,
    here: tuple[float, float],
    doors: list[tuple[float, float]],
    opens: datetime,
) -> list[datetime]:
    """From ``here`` at ``start``: each door's arrival (never before ``opens``), then its
    service time before riding on."""
    out = []
    clock = start
    for door in doors:
        arrival = max(clock + timedelta(seconds=ride_s(town, here, door)), opens)
        out.append(arrival)
        clock = arrival + timedelta(seconds=DELIVERY_SERVICE_S)
        here = door
    return out


# ── the scene ──────────────────────────────────────────────────────────────────────────────


@dataclass
class Scene:
    world: World
    window: DeliveryWindow
    trip: PlanTrip
    stops: list[Stop]
    orders: list[Order]
    #: When the trip leaves the hub (half an hour ago: fixes must be in the past).
    t0: datetime
    heads: dict[str, dict[str, str]]


class Clock:
    """The board's ``current_time``, set by the test."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    found = Clock()
    app.dependency_overrides[current_time] = found
    return found


@pytest.fixture
def client(app: FastAPI, clock: Clock) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _add(session: Session, *rows: Any) -> None:
    for row in rows:
        session.add(row)
    session.commit()
    for row in rows:
        session.refresh(row)


@pytest.fixture
def scene(session: Session, world: World) -> Scene:
    """One trip of three deliveries leaving the hub at ``t0``, planned with routing's times;
    the parcels are on the bike, the window ends an hour after ``t0``."""
    t0 = utc_now().replace(microsecond=0) - timedelta(minutes=30)
    town, hub = world.town, world.hub
    assert town.id is not None
    window = DeliveryWindow(
        town_id=town.id,
        day=t0.date(),
        starts_at=t0 - timedelta(minutes=10),
        ends_at=t0 + timedelta(hours=1),
        cutoff_at=t0 - timedelta(hours=1),
        status="planned",
    )
    customer = Customer(name="Ann Example")
    _add(session, window, customer)
    assert window.id is not None
    assert customer.id is not None
    orders = [
        Order(
            town_id=town.id,
            customer_id=customer.id,
            window_id=window.id,
            lat=lat,
            lon=lon,
            status="out_for_delivery",
            tracking_token=new_tracking_token(),
        )
        for lat, lon in DOORS
    ]
    _add(session, *orders)
    parcels = [
        Parcel(
            order_id=order.id or 0,
            shop_id=world.bakery.id or 0,
            weight_g=900,
            volume_ml=2000,
            ready_at=t0 - timedelta(minutes=20),
            label_code=new_label_code(session),
            status="picked_up",
        )
        for order in orders
    ]
    _add(session, *parcels)
    plan = Plan(window_id=window.id)
    _add(session, plan)
    route = PlanRoute(
        plan_id=plan.id or 0,
        shift_id=world.shifts[0].id or 0,
        starts_at=t0,
        ends_at=t0 + timedelta(hours=1),
    )
    _add(session, route)
    trip = PlanTrip(
        route_id=route.id or 0, number=1, departs_at=t0, returns_at=t0 + timedelta(hours=1)
    )
    _add(session, trip)
    planned = expected_etas(town, t0, (hub.lat, hub.lon), DOORS, window.starts_at)
    stops = [
        Stop(
            trip_id=trip.id or 0,
            sequence=i + 1,
            kind="delivery",
            parcel_id=parcel.id or 0,
            lat=door[0],
            lon=door[1],
            planned_arrival=arrival,
            planned_departure=arrival + timedelta(seconds=DELIVERY_SERVICE_S),
        )
        for i, (door, parcel, arrival) in enumerate(zip(DOORS, parcels, planned, strict=True))
    ]
    _add(session, *stops)
    c1 = world.couriers[0].id
    heads = {
        "aino": bearer_for(session, "courier", "aino@v.fi", courier_id=c1),
        "dispatcher": bearer_for(session, "dispatcher", "disp@v.fi"),
        "shop": bearer_for(session, "shop", "bakery@v.fi", shop_id=world.bakery.id),
    }
    return Scene(world, window, trip, stops, orders, t0, heads)


def start_shift(client: TestClient, scene: Scene) -> None:
    answer = client.post(
        f"/api/courier/shifts/{scene.world.shifts[0].id}/start", headers=scene.heads["aino"]
    )
    assert answer.status_code == 200, answer.text


def send_fix(
    client: TestClient, scene: Scene, seq: int, lat: float, lon: float, at: datetime
) -> None:
    answer = client.post(
        "/api/courier/positions",
        json={
            "device_id": "phone-1",
            "fixes": [
                {"seq": seq, "lat": lat, "lon": lon, "accuracy_m": 6.0, "at": at.isoformat()}
            ],
        },
        headers=scene.heads["aino"],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1, answer.text


def board_etas(client: TestClient, scene: Scene) -> list[dict[str, Any]]:
    answer = client.get(
        f"/api/board/windows/{scene.window.id}/etas", headers=scene.heads["dispatcher"]
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def alerts(client: TestClient, scene: Scene, kind: str | None = None) -> list[dict[str, Any]]:
    answer = client.get(
        "/api/board/alerts",
        params={"window_id": scene.window.id},
        headers=scene.heads["dispatcher"],
    )
    assert answer.status_code == 200, answer.text
    found = list(answer.json())
    return [a for a in found if kind is None or a["kind"] == kind]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def tracked(client: TestClient, order: Order) -> dict[str, Any]:
    answer = client.get(f"/api/track/{order.tracking_token}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def replay_points(path: list[list[float]], every_m: float) -> list[tuple[float, float, float]]:
    """Points every ``every_m`` metres along ``path`` as (lat, lon, metres ridden)."""
    out = [(path[0][0], path[0][1], 0.0)]
    ridden, next_at = 0.0, every_m
    for (la, lo), (lb, lob) in itertools.pairwise(path):
        step = float(haversine_m(lo, la, lob, lb))
        while step > 0 and ridden + step >= next_at:
            share = (next_at - ridden) / step
            out.append((la + share * (lb - la), lo + share * (lob - lo), next_at))
            next_at += every_m
        ridden += step
    return out


# ── ETAs ───────────────────────────────────────────────────────────────────────────────────


def test_eta_follows_a_replayed_ride_and_equals_the_recomputed_route(
    client: TestClient, scene: Scene, session: Session, clock: Clock
) -> None:
    town, hub = scene.world.town, scene.world.hub
    opens = scene.window.starts_at
    # No fix yet: the plan's own times.
    clock.now = scene.t0 - timedelta(minutes=1)
    start_shift(client, scene)
    (route,) = board_etas(client, scene)
    assert route["based_on"] == "plan"
    assert route["position"] is None
    assert [when(s["eta"]) for s in route["stops"]] == [s.planned_arrival for s in scene.stops]
    assert [s["minutes_late"] for s in route["stops"]] == [0, 0, 0]

    network = get_network(town)
    points = [(hub.lat, hub.lon), *DOORS]
    legs = [ride_path(network, [a, b]) for a, b in itertools.pairwise(points)]
    ride_started = scene.t0
    seq = 0
    checked = 0
    for leg_number, leg in enumerate(legs):
        open_doors = DOORS[leg_number:]
        ridden_before = ride_started
        for lat, lon, metres in replay_points(leg, every_m=120.0)[:-1]:
            seq += 1
            at = ridden_before + timedelta(seconds=metres / BIKE_M_PER_S)
            send_fix(client, scene, seq, lat, lon, at)
            clock.now = at + timedelta(seconds=4)
            (route,) = board_etas(client, scene)
            assert route["based_on"] == "position"
            assert route["position"]["lat"] == pytest.approx(lat)
            assert route["position"]["age_s"] == pytest.approx(4.0)
            got = [when(s["eta"]) for s in route["stops"]]
            assert [s["stop_id"] for s in route["stops"]] == [
                s.id for s in scene.stops[leg_number:]
            ]
            assert got == expected_etas(town, clock.now, (lat, lon), open_doors, opens)
            planned = [s.planned_arrival for s in scene.stops[leg_number:]]
            late = [(g - p).total_seconds() / 60 for g, p in zip(got, planned, strict=True)]
            assert [s["minutes_late"] for s in route["stops"]] == [
                pytest.approx(m, abs=0.05) for m in late
            ]
            # The tracking page of the last door shows the same ETA as the board.
            assert when(tracked(client, scene.orders[-1])["eta"]) == got[-1]
            checked += 1
        # At the door: deliver, the clock moves on by the service time.
        done = client.post(
            f"/api/courier/stops/{scene.stops[leg_number].id}/deliver",
            json={"recipient": "Ann"},
            headers=scene.heads["aino"],
        )
        assert done.status_code == 200, done.text
        ride_started = clock.now + timedelta(seconds=DELIVERY_SERVICE_S)
    assert checked >= 10  # the replay really stepped along the ride
    assert board_etas(client, scene)[0]["stops"] == []


def test_a_trip_waits_for_its_parcels_and_a_door_for_its_window(
    client: TestClient, scene: Scene, session: Session, clock: Clock
) -> None:
    """At the hub before the parcels are released the ride starts at the release; a door is
    not served before its window opens, like the plan."""
    town, hub = scene.world.town, scene.world.hub
    later = scene.t0 + timedelta(minutes=15)
    parcel = session.get(Parcel, scene.stops[0].parcel_id)
    assert parcel is not None
    parcel.ready_at = later
    window = session.get(DeliveryWindow, scene.window.id)
    assert window is not None
    window.starts_at = later + timedelta(minutes=10)
    session.add(parcel)
    session.add(window)
    session.commit()
    start_shift(client, scene)
    send_fix(client, scene, 1, hub.lat, hub.lon, scene.t0)
    clock.now = scene.t0 + timedelta(seconds=5)
    got = [when(s["eta"]) for s in board_etas(client, scene)[0]["stops"]]
    assert got == expected_etas(town, later, (hub.lat, hub.lon), DOORS, window.starts_at)
    assert got[0] == window.starts_at  # the ride from the hub is shorter than the wait


def test_tracking_eta_is_only_the_orders_own_and_close_when_near(
    client: TestClient, scene: Scene, session: Session, clock: Clock, app: FastAPI
) -> None:
    town, hub = scene.world.town, scene.world.hub
    first, second, third = scene.orders
    assert tracked(client, first)["courier_close"] is False
    start_shift(client, scene)
    # Before any fix: the plan's times, never "close".
    clock.now = scene.stops[0].planned_arrival - timedelta(minutes=1)
    body = tracked(client, first)
    assert when(body["eta"]) == scene.stops[0].planned_arrival
    assert body["courier_close"] is False

    # At the hub: each order gets its own stop's ETA; none is close (minutes away, far).
    send_fix(client, scene, 1, hub.lat, hub.lon, scene.t0)
    clock.now = scene.t0 + timedelta(seconds=2)
    etas = expected_etas(town, clock.now, (hub.lat, hub.lon), DOORS, scene.window.starts_at)
    for order, eta in zip(scene.orders, etas, strict=True):
        body = tracked(client, order)
        assert when(body["eta"]) == eta
        assert body["courier_close"] is False, (order.id, eta - clock.now)
    assert len(set(etas)) == 3

    # 300 m from the second door, its ETA several minutes away: close by distance only.
    door = DOORS[1]
    near = (door[0] + 300 / 111_320, door[1])
    send_fix(client, scene, 2, near[0], near[1], scene.t0 + timedelta(minutes=1))
    clock.now = scene.t0 + timedelta(minutes=1, seconds=2)
    assert tracked(client, second)["courier_close"] is True
    assert tracked(client, third)["courier_close"] is (
        float(haversine_m(near[1], near[0], DOORS[2][1], DOORS[2][0])) <= 400
    )
    # The distance is a setting: at 100 m the same fix is not close (its ETA is > 5 min).
    eta_second = when(tracked(client, second)["eta"])
    assert eta_second - clock.now > timedelta(minutes=5)
    app.state.settings = Settings(database_url="sqlite://", close_distance_m=100)
    assert tracked(client, second)["courier_close"] is False
    # ...and so is the time: within 20 minutes counts as close.
    app.state.settings = Settings(database_url="sqlite://", close_distance_m=0, close_eta_s=1200)
    assert tracked(client, second)["courier_close"] is True

    # An order on no route has no ETA, whatever the couriers do.
    order = session.get(Order, first.id)
    assert order is not None
    stray = Order(
        town_id=order.town_id,
        customer_id=order.customer_id,
        window_id=order.window_id,
        lat=60.17,
        lon=24.94,
        tracking_token=new_tracking_token(),
    )
    _add(session, stray)
    body = tracked(client, stray)
    assert body["eta"] is None
    assert body["courier_close"] is False


# ── alerts ─────────────────────────────────────────────────────────────────────────────────


def test_predicted_late_when_an_eta_passes_the_windows_end(
    client: TestClient, scene: Scene, session: Session, clock: Clock
) -> None:
    hub = scene.world.hub
    start_shift(client, scene)
    send_fix(client, scene, 1, hub.lat, hub.lon, scene.t0)
    clock.now = scene.t0 + timedelta(seconds=3)
    assert alerts(client, scene, "late") == []  # on time: the window ends an hour later

    # The window ends just after the second door's ETA: only the third is late.
    stops = board_etas(client, scene)[0]["stops"]
    window = session.get(DeliveryWindow, scene.window.id)
    assert window is not None
    window.ends_at = when(stops[1]["eta"]) + timedelta(seconds=30)
    session.add(window)
    session.commit()
    late = alerts(client, scene, "late")
    assert [a["stop_ids"] for a in late] == [[scene.stops[2].id]]
    assert late[0]["parcel_ids"] == [scene.stops[2].parcel_id]
    assert late[0]["courier_id"] == scene.world.couriers[0].id
    assert when(late[0]["since"]) == scene.t0
    assert "after its window ends" in late[0]["message"]
    assert board_etas(client, scene)[0]["stops"][2]["latest"] is not None


def test_parcel_not_ready_at_departure_or_at_its_shop_pickup(
    client: TestClient, scene: Scene, session: Session, clock: Clock
) -> None:
    parcel = session.get(Parcel, scene.stops[1].parcel_id)
    assert parcel is not None
    parcel.status = "awaiting"
    session.add(parcel)
    # A fourth parcel collected at the bakery on the way, still awaiting too.
    extra_order = Order(
        town_id=scene.world.town.id or 0,
        customer_id=scene.orders[0].customer_id,
        window_id=scene.window.id,
        lat=DOORS[2][0],
        lon=DOORS[2][1],
        status="placed",
        tracking_token=new_tracking_token(),
    )
    _add(session, extra_order)
    extra = Parcel(
        order_id=extra_order.id or 0,
        shop_id=scene.world.bakery.id or 0,
        weight_g=500,
        volume_ml=1000,
        label_code=new_label_code(session),
    )
    _add(session, extra)
    pickup_at = scene.t0 + timedelta(minutes=20)
    _add(
        session,
        Stop(
            trip_id=scene.trip.id or 0,
            sequence=10,
            kind="pickup",
            parcel_id=extra.id or 0,
            lat=scene.world.bakery.lat,
            lon=scene.world.bakery.lon,
            planned_arrival=pickup_at,
            planned_departure=pickup_at + timedelta(seconds=PICKUP_SERVICE_S),
        ),
        Stop(
            trip_id=scene.trip.id or 0,
            sequence=11,
            kind="delivery",
            parcel_id=extra.id or 0,
            lat=DOORS[2][0],
            lon=DOORS[2][1],
            planned_arrival=pickup_at + timedelta(minutes=5),
            planned_departure=pickup_at + timedelta(minutes=8),
        ),
    )

    clock.now = scene.t0 - timedelta(seconds=1)
    assert alerts(client, scene, "not_ready") == []  # nothing is due yet
    clock.now = scene.t0 + timedelta(seconds=1)
    (at_hub,) = alerts(client, scene, "not_ready")
    assert at_hub["parcel_ids"] == [parcel.id]
    assert at_hub["stop_ids"] == [scene.stops[1].id]
    assert when(at_hub["since"]) == scene.t0
    assert "trip 1's departure from the hub" in at_hub["message"]

    clock.now = pickup_at + timedelta(seconds=1)
    found = alerts(client, scene, "not_ready")
    assert sorted(a["parcel_ids"][0] for a in found) == sorted([parcel.id, extra.id])
    (shop,) = [a for a in found if a["parcel_ids"] == [extra.id]]
    assert "its pickup at the shop" in shop["message"]
    assert when(shop["since"]) == pickup_at

    # Marked ready by the shop: the alert goes.
    ready = client.post(
        f"/api/shop/parcels/{extra.id}/ready",
        json={"count": 1, "weight_g": 500, "volume_ml": 1000},
        headers=scene.heads["shop"],
    )
    assert ready.status_code == 200, ready.text
    assert [a["parcel_ids"] for a in alerts(client, scene, "not_ready")] == [[parcel.id]]


def _far_from(path: list[list[float]], lat: float, lon: float) -> float:
    """Metres from the point to the path, sampled densely (independent of the module's
    projection): the least haversine distance to points every few metres along it."""
    best = float("inf")
    for (la, lo), (lb, lob) in itertools.pairwise(path):
        for k in range(21):
            share = k / 20
            best = min(
                best,
                float(haversine_m(lon, lat, lo + share * (lob - lo), la + share * (lb - la))),
            )
    return best


def test_off_route_when_the_fix_is_far_from_the_trips_path(
    client: TestClient, scene: Scene, clock: Clock, app: FastAPI
) -> None:
    hub = scene.world.hub
    path = ride_path(
        get_network(scene.world.town), [(hub.lat, hub.lon), *DOORS, (hub.lat, hub.lon)]
    )
    start_shift(client, scene)
    on_path = path[len(path) // 3]
    send_fix(client, scene, 1, on_path[0], on_path[1], scene.t0 + timedelta(minutes=2))
    clock.now = scene.t0 + timedelta(minutes=2, seconds=5)
    assert alerts(client, scene, "off_route") == []

    away = (60.1600, 24.9300)  # south-west of the extract
    metres = _far_from(path, *away)
    assert metres > 300
    assert distance_to_path_m(away[0], away[1], path) == pytest.approx(metres, rel=0.02)
    send_fix(client, scene, 2, away[0], away[1], scene.t0 + timedelta(minutes=3))
    send_fix(client, scene, 3, away[0], away[1] + 1e-4, scene.t0 + timedelta(minutes=4))
    clock.now = scene.t0 + timedelta(minutes=4, seconds=5)
    (alert,) = alerts(client, scene, "off_route")
    assert alert["courier_id"] == scene.world.couriers[0].id
    assert when(alert["since"]) == scene.t0 + timedelta(minutes=3)  # the first fix off it
    assert "off the planned route" in alert["message"]
    # The distance is a setting.
    app.state.settings = Settings(database_url="sqlite://", off_route_m=metres + 500)
    assert alerts(client, scene, "off_route") == []


def test_not_moving_after_five_minutes_within_thirty_metres(
    client: TestClient, scene: Scene, clock: Clock
) -> None:
    lat, lon = DOORS[0][0] + 0.002, DOORS[0][1]
    start_shift(client, scene)
    base_at = scene.t0 + timedelta(minutes=1)
    # A fix 80 m away, then 4 minutes of fixes within ~10 m: not yet.
    send_fix(client, scene, 1, lat + 80 / 111_320, lon, base_at)
    for k in range(9):
        wobble = (k % 3) * 4 / 111_320
        send_fix(client, scene, 2 + k, lat + wobble, lon, base_at + timedelta(seconds=30 * (k + 1)))
    last = base_at + timedelta(seconds=30 * 9)
    clock.now = last + timedelta(seconds=5)
    assert alerts(client, scene, "not_moving") == []  # still for 4 minutes only
    for k in range(3):
        send_fix(client, scene, 20 + k, lat, lon, last + timedelta(seconds=30 * (k + 1)))
    clock.now = last + timedelta(seconds=95)
    (alert,) = alerts(client, scene, "not_moving")
    assert when(alert["since"]) == base_at + timedelta(seconds=30)  # the first still fix
    assert alert["stop_ids"] == [scene.stops[0].id]
    assert "has not moved" in alert["message"]
    # Moving again: gone.
    send_fix(client, scene, 30, lat + 0.001, lon, clock.now - timedelta(seconds=1))
    assert alerts(client, scene, "not_moving") == []


def test_gps_silent_after_two_minutes_without_a_fix(
    client: TestClient, scene: Scene, clock: Clock, session: Session
) -> None:
    hub = scene.world.hub
    # Not on duty: no courier alerts at all, however long the silence.
    clock.now = utc_now() + timedelta(minutes=30)
    assert alerts(client, scene, "gps_silent") == []
    started_at = utc_now()
    start_shift(client, scene)
    clock.now = started_at + timedelta(seconds=60)
    assert alerts(client, scene, "gps_silent") == []
    clock.now = started_at + timedelta(minutes=3)
    (alert,) = alerts(client, scene, "gps_silent")
    assert "no fix since the shift started" in alert["message"]
    assert abs((when(alert["since"]) - started_at).total_seconds()) < 5
    at = utc_now() - timedelta(seconds=10)
    send_fix(client, scene, 1, hub.lat, hub.lon, at)
    clock.now = at + timedelta(seconds=110)
    assert alerts(client, scene, "gps_silent") == []
    clock.now = at + timedelta(seconds=130)
    (alert,) = alerts(client, scene, "gps_silent")
    assert when(alert["since"]) == at
    # Every stop done: nothing to wait for, no alert.
    for stop in scene.stops:
        row = session.get(Stop, stop.id)
        assert row is not None
        row.status = "done"
        session.add(row)
    session.commit()
    assert alerts(client, scene) == []


def test_day_alerts_list_a_courier_once_and_unknown_windows_are_404(
    client: TestClient, scene: Scene, clock: Clock, session: Session
) -> None:
    """A courier riding routes of two of today's windows is GPS-silent once in the day's list
    (and once in each window's)."""
    clock.now = utc_now() + timedelta(minutes=5)
    today = local_date(scene.world.town, clock.now)
    window = session.get(DeliveryWindow, scene.window.id)
    assert window is not None
    window.day = today
    other = DeliveryWindow(
        town_id=window.town_id,
        day=today,
        starts_at=window.starts_at + timedelta(hours=2),
        ends_at=window.ends_at + timedelta(hours=2),
        cutoff_at=window.cutoff_at,
        status="planned",
    )
    _add(session, window, other)
    plan = Plan(window_id=other.id or 0)
    _add(session, plan)
    route = PlanRoute(
        plan_id=plan.id or 0,
        shift_id=scene.world.shifts[0].id or 0,
        starts_at=other.starts_at,
        ends_at=other.ends_at,
    )
    _add(session, route)
    trip = PlanTrip(
        route_id=route.id or 0, number=1, departs_at=other.starts_at, returns_at=other.ends_at
    )
    _add(session, trip)
    _add(
        session,
        Stop(
            trip_id=trip.id or 0,
            sequence=1,
            kind="delivery",
            parcel_id=scene.stops[0].parcel_id,
            lat=DOORS[0][0],
            lon=DOORS[0][1],
            planned_arrival=other.starts_at,
            planned_departure=other.starts_at + timedelta(minutes=3),
        ),
    )
    staff = scene.heads["dispatcher"]

    def silent(params: dict[str, Any]) -> list[int]:
        answer = client.get("/api/board/alerts", params=params, headers=staff)
        assert answer.status_code == 200, answer.text
        return [a["window_id"] for a in answer.json() if a["kind"] == "gps_silent"]

    assert silent({}) == []  # not on duty yet
    start_shift(client, scene)
    assert silent({"window_id": scene.window.id}) == [scene.window.id]
    assert silent({"window_id": other.id}) == [other.id]
    assert silent({}) == [scene.window.id]

    missing = client.get("/api/board/alerts?window_id=9999", headers=staff)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "window 9999 not found"}
    etas = client.get("/api/board/windows/9999/etas", headers=staff)
    assert etas.json() == {"detail": "window 9999 not found"}
    bad = client.get("/api/board/alerts?window_id=x", headers=staff)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["query parameter window_id"]
    assert client.get("/api/board/alerts", headers=scene.heads["aino"]).status_code == 403
