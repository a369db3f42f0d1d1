"""Planning a window end to end: database → matrix → solver → stored routes, on SQLite and
PostgreSQL, in a tiny town built on the bundled Helsinki graph (real junction coordinates)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from dispatch import lifecycle
from dispatch.cli.main import main
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
    Shift,
    Shop,
    Stop,
    Town,
)
from dispatch.network import get_network
from dispatch.planning import (
    DELIVERY_SERVICE_S,
    ROOM_FULL,
    ROOM_NO_PATH,
    ROOM_TOO_FAR,
    Clock,
    PlanningError,
    UnreachableAddressError,
    check_move,
    clock_for,
    current_plan,
    in_zone,
    locate,
    move_stop,
    plan_window,
    window_has_room,
)
from dispatch.scheduler import run_scheduler, tick
from routing import BikeGraph, travel_matrix

DAY = date(2026, 6, 1)
START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
END = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
AFTER_CUTOFF = CUTOFF + timedelta(minutes=1)
#: Small search budgets: the tests check plumbing, not the search's quality.
FAST: dict[str, Any] = {"time_limit_s": 1.0, "max_iterations": 200}


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@dataclass
class TinyTown:
    town: Town
    hub: Hub
    window: DeliveryWindow
    shops: list[Shop]
    shifts: list[Shift] = field(default_factory=list)
    parcels: list[Parcel] = field(default_factory=list)
    points: list[tuple[float, float]] = field(default_factory=list)


def _near_points(graph: BikeGraph, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` junctions within 1.2 km of the middle of the graph, as (lat, lon)."""
    lat0, lon0 = float(np.median(graph.node_lat)), float(np.median(graph.node_lon))
    d = np.hypot((graph.node_lat - lat0) * 111_000, (graph.node_lon - lon0) * 55_000)
    near = np.flatnonzero(d < 1200)
    rows = np.random.default_rng(seed).choice(near, size=n, replace=False)
    return [(float(graph.node_lat[r]), float(graph.node_lon[r])) for r in rows]


def build_town(
    session: Session,
    *,
    mode: str = "hub",
    orders: int = 8,
    shops: int = 3,
    bikes: tuple[dict[str, Any], ...] = ({}, {}),
    needs: dict[int, str] | None = None,
    max_orders: int | None = None,
) -> TinyTown:
    """A town with a hub, shops, couriers on shift and ``orders`` one-parcel orders."""
    graph = get_network(Town(name="t")).graph
    points = _near_points(graph, 1 + shops + orders, seed=7)
    town = Town(name="Tiny", mode=mode, time_zone="Europe/Helsinki")
    session.add(town)
    session.flush()
    hub = Hub(town_id=_id(town), name="Hub", lat=points[0][0], lon=points[0][1])
    window = DeliveryWindow(
        town_id=_id(town),
        day=DAY,
        starts_at=START,
        ends_at=END,
        cutoff_at=CUTOFF,
        max_orders=max_orders,
    )
    shop_rows = [
        Shop(town_id=_id(town), name=f"Shop {i}", lat=points[1 + i][0], lon=points[1 + i][1])
        for i in range(shops)
    ]
    session.add_all([hub, window, *shop_rows])
    session.flush()
    tiny = TinyTown(town, hub, window, shop_rows, points=points)
    for number, options in enumerate(bikes):
        bike = BikeType(
            town_id=_id(town),
            name=f"bike {number}",
            capacity_g=options.get("capacity_g", 100_000),
            capacity_ml=options.get("capacity_ml", 400_000),
            capacity_parcels=options.get("capacity_parcels", 20),
            cooled=options.get("cooled", False),
        )
        session.add(bike)
        session.flush()
        courier = Courier(town_id=_id(town), name=f"Courier {number}", bike_type_id=_id(bike))
        session.add(courier)
        session.flush()
        shift = Shift(
            courier_id=_id(courier),
            hub_id=_id(hub),
            starts_at=START - timedelta(hours=1),
            ends_at=END + timedelta(hours=1),
        )
        session.add(shift)
        tiny.shifts.append(shift)
    customer = Customer(name="C")
    session.add(customer)
    session.flush()
    for number in range(orders):
        lat, lon = points[1 + shops + number]
        order = Order(
            town_id=_id(town),
            customer_id=_id(customer),
            window_id=_id(window),
            lat=lat,
            lon=lon,
            tracking_token=uuid.uuid4().hex,
        )
        session.add(order)
        session.flush()
        parcel = Parcel(
            order_id=_id(order),
            shop_id=_id(shop_rows[number % shops]),
            weight_g=2000,
            volume_ml=5000,
            needs=(needs or {}).get(number, ""),
            label_code=uuid.uuid4().hex[:10],
        )
        session.add(parcel)
        tiny.parcels.append(parcel)
    session.commit()
    return tiny


def close(session: Session) -> None:
    lifecycle.close_due_windows(session, now=AFTER_CUTOFF)
    session.commit()


def live_stops(session: Session, plan_id: int) -> list[Stop]:
    query = (
        select(Stop)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .where(col(PlanRoute.plan_id) == plan_id, col(Stop.status) == "planned")
    )
    return list(session.exec(query))


def route_of(session: Session, stop: Stop) -> PlanRoute:
    trip = session.get(PlanTrip, stop.trip_id)
    assert trip is not None
    route = session.get(PlanRoute, trip.route_id)
    assert route is not None
    return route


def assert_covered(session: Session, plan: Plan, tiny: TinyTown, kinds: set[str]) -> None:
    """Every parcel is delivered by exactly one live stop per kind, or unassigned with a reason."""
    stops = live_stops(session, _id(plan))
    unassigned = {u["parcel_id"]: u for u in plan.unassigned}
    for parcel in tiny.parcels:
        mine = sorted(s.kind for s in stops if s.parcel_id == parcel.id)
        if parcel.id in unassigned:
            assert mine == []
            assert unassigned[parcel.id]["reason"].strip()
            assert unassigned[parcel.id]["order_id"] == parcel.order_id
        else:
            assert mine == sorted(kinds), (parcel.id, mine)


# ── geometry and time ──────────────────────────────────────────────────────────────────────


def test_locate_snaps_and_refuses_far_points(helsinki_graph: BikeGraph) -> None:
    network = get_network(Town(name="t"))
    lat, lon = float(helsinki_graph.node_lat[0]), float(helsinki_graph.node_lon[0])
    snapped = locate(network, lat + 0.0001, lon)
    assert abs(snapped[0] - lat) < 0.01
    with pytest.raises(UnreachableAddressError, match=r"m from the nearest street .*limit 250 m"):
        locate(network, lat + 0.2, lon)


def test_in_zone() -> None:
    square = [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.2], [24.9, 60.1]]]
    hole = [[24.94, 60.14], [24.96, 60.14], [24.96, 60.16], [24.94, 60.16], [24.94, 60.14]]
    town = Town(name="t", zone=square)
    assert in_zone(town, 60.15, 24.95)
    assert not in_zone(town, 60.25, 24.95)
    assert in_zone(Town(name="t"), 0.0, 0.0)  # no zone: everywhere
    assert not in_zone(Town(name="t", zone=[*square, hole]), 60.15, 24.95)


def test_clock_round_trip() -> None:
    window = DeliveryWindow(town_id=1, day=DAY, starts_at=START, ends_at=END, cutoff_at=CUTOFF)
    clock = clock_for(window)
    assert clock.origin == datetime(2026, 6, 1, tzinfo=UTC)
    assert clock.seconds(START) == 36_000
    assert clock.moment(36_000) == START
    assert clock.seconds(START - timedelta(days=2)) == 0
    assert Clock(clock.origin).local(START, "07:00", ZoneInfo("UTC")) == 25_200


# ── planning ───────────────────────────────────────────────────────────────────────────────


def test_plan_window_hub_mode_end_to_end(session: Session) -> None:
    tiny = build_town(session, orders=10, shops=3)
    with pytest.raises(PlanningError, match="still takes orders"):
        plan_window(session, _id(tiny.window), **FAST)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert plan.current
    session.refresh(tiny.window)
    assert tiny.window.status == "planned"
    stops = live_stops(session, _id(plan))
    assert stops, "some parcels should be routed"
    assert {s.kind for s in stops} == {"delivery"}
    for stop in stops:
        assert stop.planned_arrival.tzinfo is not None
        assert stop.planned_departure >= stop.planned_arrival
        assert START <= stop.planned_departure <= END + timedelta(minutes=10)
    assert_covered(session, plan, tiny, {"delivery"})
    routes = session.exec(select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id)).all()
    assert {r.shift_id for r in routes} <= {_id(s) for s in tiny.shifts}
    assert plan.distance_m == sum(r.distance_m for r in routes)
    # The window's change went through the lifecycle.
    planned = session.exec(
        select(Event).where(col(Event.entity) == "window", col(Event.action) == "plan")
    ).all()
    assert len(planned) == 1
    assert planned[0].detail["plan_id"] == plan.id


def test_planning_twice_replaces_without_duplicates(session: Session) -> None:
    tiny = build_town(session, orders=6)
    close(session)
    first = plan_window(session, _id(tiny.window), **FAST)
    second = plan_window(session, _id(tiny.window), **FAST)
    session.refresh(first)
    assert not first.current
    assert second.current
    assert live_stops(session, _id(first)) == []
    assert_covered(session, second, tiny, {"delivery"})
    current = session.exec(
        select(func.count()).where(col(Plan.window_id) == tiny.window.id, col(Plan.current))
    ).one()
    assert current == 1
    live = session.exec(select(Stop).where(col(Stop.status) == "planned")).all()
    assert len(live) == len({s.parcel_id for s in live})
    # The first plan's stops were cancelled through the lifecycle, naming the new plan.
    old_ids = {
        _id(s)
        for s in session.exec(
            select(Stop)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
            .where(col(PlanRoute.plan_id) == first.id)
        )
    }
    assert old_ids
    cancels = session.exec(
        select(Event).where(col(Event.entity) == "stop", col(Event.action) == "cancel")
    ).all()
    assert {e.entity_id for e in cancels} == old_ids
    assert all(e.detail["plan_id"] == second.id for e in cancels)


def test_two_planners_at_once_leave_one_current_plan(engine: Engine) -> None:
    with Session(engine) as session:
        tiny = build_town(session, orders=6)
        close(session)
        window_id = _id(tiny.window)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Session(engine) as own:
                plan_window(own, window_id, **FAST)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(engine) as session:
        plans = session.exec(select(Plan).where(col(Plan.window_id) == window_id)).all()
        assert len(plans) == 2
        assert sum(p.current for p in plans) == 1
        live = session.exec(select(Stop).where(col(Stop.status) == "planned")).all()
        assert len(live) == len({s.parcel_id for s in live})
        current = current_plan(session, window_id)
        assert current is not None
        assert {s.id for s in live} == {s.id for s in live_stops(session, _id(current))}


def test_direct_mode_picks_up_before_delivering(session: Session) -> None:
    tiny = build_town(session, mode="direct", orders=6, shops=2)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert_covered(session, plan, tiny, {"pickup", "delivery"})
    stops = live_stops(session, _id(plan))
    shops = {(s.lat, s.lon) for s in tiny.shops}
    for parcel_id in {s.parcel_id for s in stops}:
        pickup = next(s for s in stops if s.parcel_id == parcel_id and s.kind == "pickup")
        delivery = next(s for s in stops if s.parcel_id == parcel_id and s.kind == "delivery")
        assert pickup.trip_id == delivery.trip_id
        assert pickup.sequence < delivery.sequence
        assert (pickup.lat, pickup.lon) in shops


def test_cooled_parcel_rides_a_cooled_bike(session: Session) -> None:
    tiny = build_town(session, orders=6, bikes=({}, {"cooled": True}), needs={0: "cooled"})
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    cooled_shift = _id(tiny.shifts[1])
    stop = next(s for s in live_stops(session, _id(plan)) if s.parcel_id == tiny.parcels[0].id)
    assert route_of(session, stop).shift_id == cooled_shift


def test_cooled_parcel_without_a_cooled_bike_is_unassigned(session: Session) -> None:
    tiny = build_town(session, orders=4, needs={0: "cooled"})
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    reasons = {u["parcel_id"]: u["reason"] for u in plan.unassigned}
    assert "cooled" in reasons[_id(tiny.parcels[0])]
    assert_covered(session, plan, tiny, {"delivery"})


def test_no_courier_on_shift_leaves_every_parcel_unassigned(session: Session) -> None:
    tiny = build_town(session, orders=3, bikes=())
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert len(plan.unassigned) == 3
    assert all("no courier" in u["reason"] for u in plan.unassigned)


def test_unreachable_and_missing_addresses_are_unassigned(session: Session) -> None:
    tiny = build_town(session, orders=4)
    far, blank = (session.get(Order, p.order_id) for p in tiny.parcels[:2])
    assert far is not None
    assert blank is not None
    far.lat = (far.lat or 0) + 0.2  # 20 km out to sea
    blank.lat = blank.lon = None
    session.add_all([far, blank])
    session.commit()
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    reasons = {u["parcel_id"]: u["reason"] for u in plan.unassigned}
    assert "m from the nearest street a cargo bike can ride" in reasons[_id(tiny.parcels[0])]
    assert "no coordinates" in reasons[_id(tiny.parcels[1])]
    assert_covered(session, plan, tiny, {"delivery"})


def test_unknown_window_is_refused(session: Session) -> None:
    with pytest.raises(PlanningError, match="window 999 does not exist"):
        plan_window(session, 999, **FAST)


# ── the room test ──────────────────────────────────────────────────────────────────────────


def test_window_has_room(session: Session) -> None:
    tiny = build_town(session, orders=3, max_orders=4)
    lat, lon = tiny.points[-1]
    ok = window_has_room(
        session, tiny.window, lat=lat, lon=lon, weight_g=1000, volume_ml=1000, count=1, shop_ids=[]
    )
    assert ok.ok, ok.reason
    too_big = window_has_room(
        session, tiny.window, lat=lat, lon=lon, weight_g=10**7, volume_ml=1, count=1
    )
    assert not too_big.ok
    assert "too big" in too_big.reason
    customer = session.exec(select(Customer)).first()
    assert customer is not None
    session.add(
        Order(
            town_id=_id(tiny.town),
            customer_id=_id(customer),
            window_id=_id(tiny.window),
            lat=lat,
            lon=lon,
            tracking_token=uuid.uuid4().hex,
        )
    )
    session.commit()
    full = window_has_room(
        session, tiny.window, lat=lat, lon=lon, weight_g=1000, volume_ml=1000, count=1
    )
    assert not full.ok
    assert full.reason == "the window is full (4 of 4 orders)"
    close(session)
    closed = window_has_room(
        session, tiny.window, lat=lat, lon=lon, weight_g=1, volume_ml=1, count=1
    )
    assert not closed.ok
    assert "closed" in closed.reason


def _add_order(session: Session, tiny: TinyTown, lat: float, lon: float) -> Parcel:
    """One more accepted one-parcel order in the tiny town's window."""
    customer = session.exec(select(Customer)).first()
    assert customer is not None
    order = Order(
        town_id=_id(tiny.town),
        customer_id=_id(customer),
        window_id=_id(tiny.window),
        lat=lat,
        lon=lon,
        tracking_token=uuid.uuid4().hex,
    )
    session.add(order)
    session.flush()
    parcel = Parcel(
        order_id=_id(order),
        shop_id=_id(tiny.shops[0]),
        weight_g=1000,
        volume_ml=1000,
        label_code=uuid.uuid4().hex[:10],
    )
    session.add(parcel)
    session.commit()
    tiny.parcels.append(parcel)
    return parcel


def _short_shift_town(session: Session, minutes_after_start: float) -> TinyTown:
    """No orders yet, one courier whose shift ends ``minutes_after_start`` after the window
    opens (the window's parcels cannot be delivered before it opens)."""
    tiny = build_town(session, orders=0, bikes=({},))
    shift = tiny.shifts[0]
    shift.ends_at = START + timedelta(minutes=minutes_after_start)
    session.add(shift)
    session.commit()
    return tiny


def _room_at(session: Session, tiny: TinyTown, point: tuple[float, float]) -> Any:
    return window_has_room(
        session, tiny.window, lat=point[0], lon=point[1], weight_g=1000, volume_ml=1000, count=1
    )


def _row_counts(session: Session) -> dict[str, int]:
    models = (Order, Parcel, Plan, PlanRoute, PlanTrip, Stop, Event)
    return {
        m.__name__: int(session.exec(select(func.count()).select_from(m)).one()) for m in models
    }


def test_window_has_room_refuses_when_the_couriers_are_fully_booked(session: Session) -> None:
    # One courier, 16 minutes of the window: five deliveries of three minutes at the hub's door.
    tiny = _short_shift_town(session, 16)
    hub = (tiny.hub.lat, tiny.hub.lon)
    for _ in range(4):
        _add_order(session, tiny, *hub)
    assert _room_at(session, tiny, hub).ok  # the fifth fits
    _add_order(session, tiny, *hub)  # the accepted orders change: the cached base is rebuilt
    full = _room_at(session, tiny, hub)
    assert not full.ok
    assert full.reason == ROOM_FULL
    # A full plan agrees: with a sixth order one parcel stays out, for want of room.
    _add_order(session, tiny, *hub)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert len(plan.unassigned) == 1
    assert "fleet full" in plan.unassigned[0]["reason"]
    # Many orders and small bikes: booked too.
    crowded = build_town(session, orders=60, bikes=({"capacity_parcels": 5},))
    verdict = _room_at(session, crowded, crowded.points[-1])
    assert not verdict.ok
    assert verdict.reason == ROOM_FULL
    empty = build_town(session, orders=0, bikes=())
    none = _room_at(session, empty, crowded.points[-1])
    assert not none.ok
    assert none.reason == "no courier is on shift in this window"


def test_window_has_room_refuses_an_address_the_courier_cannot_reach_in_time(
    session: Session,
) -> None:
    graph = get_network(Town(name="t")).graph
    probe = build_town(session, orders=0, bikes=({},))
    hub = (probe.hub.lat, probe.hub.lon)
    # The junction farthest (in riding time) back to the hub, and that ride's duration.
    nodes = np.arange(len(graph.node_lat))
    hub_node = int(np.argmin(np.hypot(graph.node_lat - hub[0], graph.node_lon - hub[1])))
    back = travel_matrix(graph, nodes, [hub_node]).duration_s[:, 0]
    far_node = int(np.argmax(back))
    far = (float(graph.node_lat[far_node]), float(graph.node_lon[far_node]))
    ride_back_s = int(back[far_node])
    assert ride_back_s > 120
    # Enough time to deliver at the hub's door, not to ride back from the far corner.
    tiny = _short_shift_town(session, (DELIVERY_SERVICE_S + ride_back_s / 2) / 60)
    near = _room_at(session, tiny, hub)
    assert near.ok, near.reason
    refused = _room_at(session, tiny, far)
    assert not refused.ok
    assert refused.reason == ROOM_TOO_FAR
    # A full plan agrees: the far parcel stays out, the near one is delivered.
    far_parcel = _add_order(session, tiny, *far)
    near_parcel = _add_order(session, tiny, *hub)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert [u["parcel_id"] for u in plan.unassigned] == [_id(far_parcel)]
    assert {s.parcel_id for s in live_stops(session, _id(plan))} == {_id(near_parcel)}


def test_window_has_room_agrees_with_a_full_plan(session: Session) -> None:
    tiny = build_town(session, orders=12, bikes=({},))
    door = tiny.points[-1]
    verdict = _room_at(session, tiny, door)
    assert verdict.ok, verdict.reason
    added = _add_order(session, tiny, *door)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    assert plan.unassigned == []
    assert _id(added) in {s.parcel_id for s in live_stops(session, _id(plan))}


def test_window_has_room_uses_the_current_plan_and_writes_nothing(session: Session) -> None:
    tiny = build_town(session, orders=6)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    # A planned window takes no orders; reopened (as a dispatcher may), the plan is the start.
    window = session.get(DeliveryWindow, _id(tiny.window))
    assert window is not None
    window.status = "open"
    session.add(window)
    session.commit()
    before = _row_counts(session)
    for point in (tiny.points[-1], (tiny.hub.lat, tiny.hub.lon)):
        verdict = _room_at(session, tiny, point)
        assert verdict.ok, verdict.reason
    assert not session.new
    assert not session.dirty
    session.rollback()
    assert _row_counts(session) == before
    assert current_plan(session, _id(tiny.window)) == plan


def test_window_has_room_direct_mode(session: Session) -> None:
    tiny = build_town(session, mode="direct", orders=6)
    door = tiny.points[-1]
    verdict = window_has_room(
        session,
        tiny.window,
        lat=door[0],
        lon=door[1],
        weight_g=3000,
        volume_ml=3000,
        count=2,
        shop_ids=[_id(tiny.shops[0]), _id(tiny.shops[1])],
    )
    assert verdict.ok, verdict.reason
    nowhere = window_has_room(
        session, tiny.window, lat=door[0] + 0.2, lon=door[1], weight_g=1, volume_ml=1, count=1
    )
    assert not nowhere.ok
    assert nowhere.reason == ROOM_NO_PATH


def test_window_has_room_answers_for_a_busy_window_from_its_cache(session: Session) -> None:
    """A hundred accepted orders: the first answer builds the window's cache and a second
    address reuses it; both say there is room. (How fast: benchmarks/planning_bench.py.)"""
    tiny = build_town(session, orders=100, bikes=({}, {}, {}, {}))
    first = _room_at(session, tiny, tiny.points[-1])
    again = _room_at(session, tiny, tiny.points[5])
    assert first.ok, first.reason
    assert again.ok, again.reason


# ── moving a stop ──────────────────────────────────────────────────────────────────────────


def test_move_stop_accepted_and_refused(session: Session) -> None:
    tiny = build_town(
        session,
        orders=6,
        bikes=({"cooled": True}, {}),
        needs={0: "cooled"},
    )
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    stops = live_stops(session, _id(plan))
    cooled_shift, plain_shift = _id(tiny.shifts[0]), _id(tiny.shifts[1])
    # Refused: the cooled parcel onto the bike without a cooled box.
    cold = next(s for s in stops if s.parcel_id == tiny.parcels[0].id)
    verdict = check_move(session, _id(cold), plain_shift)
    assert not verdict.ok
    assert "cooled" in verdict.reason
    with pytest.raises(PlanningError, match="cooled"):
        move_stop(session, _id(cold), plain_shift, actor_user_id=None)
    # Accepted: a plain parcel onto the other bike.
    plain = next(s for s in stops if s.parcel_id != tiny.parcels[0].id)
    target = plain_shift if route_of(session, plain).shift_id == cooled_shift else cooled_shift
    assert check_move(session, _id(plain), target).ok
    moved = move_stop(session, _id(plain), target, actor_user_id=None)
    assert moved.id == plan.id
    session.refresh(plain)
    assert route_of(session, plain).shift_id == target
    assert_covered(session, moved, tiny, {"delivery"})
    assert check_move(session, _id(plain), target).reason.endswith(f"already on shift {target}")


# ── scheduler and CLI ──────────────────────────────────────────────────────────────────────


def test_scheduler_tick_closes_and_plans(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(engine) as session:
        tiny = build_town(session, orders=3)
        window_id = _id(tiny.window)
    monkeypatch.setenv("VELOCAL_PLAN_TIME_LIMIT_S", "0.5")
    from dispatch.config import get_settings

    get_settings.cache_clear()
    try:
        assert tick(engine, now=AFTER_CUTOFF) == [window_id]
    finally:
        get_settings.cache_clear()
    with Session(engine) as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        assert window.status == "planned"
        assert tick(engine, now=AFTER_CUTOFF) == []


def test_run_scheduler_stops_when_told(engine: Engine) -> None:
    with Session(engine) as session:
        tiny = build_town(session, orders=0)  # nothing to route: the plan is empty
        window_id = _id(tiny.window)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_scheduler(engine, interval_s=0.05, stop_event=stop))
        for _ in range(200):
            await asyncio.sleep(0.05)
            with Session(engine) as session:
                window = session.get(DeliveryWindow, window_id)
                if window is not None and window.status == "planned":
                    break
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    with Session(engine) as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        assert window.status == "planned"


def test_cli_plan(engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with Session(engine) as session:
        tiny = build_town(session, orders=3)
        close(session)
        window_id = _id(tiny.window)
    assert main(["plan", "--window", "999", "--database-url", database_url]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "velocal: error: window 999 does not exist"
    code = main(
        ["plan", "--window", str(window_id), "--database-url", database_url, "--time-limit", "0.5"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "routes" in out
    assert "Courier" in out
