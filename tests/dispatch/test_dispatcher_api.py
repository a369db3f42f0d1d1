"""The dispatcher's board: the day's windows with totals, a window's current plan, planning and
re-planning (with the cutoff rule), moving a stop by hand, and the event log; who may reach
each endpoint, 404s and 422s.

``dispatch.planning`` is stood in by a small module of recorded fakes (``fake_planning``), so
these tests check the routes' contract with planning, not the solver. Every test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import lifecycle
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
    Shift,
    Shop,
    Stop,
    Town,
    User,
    utc_now,
)
from dispatch.network import get_network
from dispatch.security import new_tracking_token
from tests.dispatch.factories import add, role_headers

PASSWORD = "correct horse battery"
STAFF_ONLY = "forbidden: this needs the role operator or dispatcher"


# ── fixtures ───────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(Settings(database_url="sqlite://", plan_time_limit_s=2.5), engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def auth(session: Session) -> dict[str, dict[str, str]]:
    return role_headers(session, PASSWORD)


@dataclass
class World:
    """A town with a closed window, two couriers on shift, three orders and a current plan."""

    town: Town
    window: DeliveryWindow
    shifts: list[Shift]
    couriers: list[Courier]
    parcels: list[Parcel]
    plan: Plan
    stops: list[Stop]


def at(hours: float) -> datetime:
    """Whole minutes from the window's start, which is three hours from now."""
    base = (utc_now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    return base + timedelta(hours=hours)


@pytest.fixture
def world(session: Session) -> World:
    town = add(session, Town(name="Helsinki"))
    hub = add(session, Hub(town_id=town.id, name="Depot", lat=60.17, lon=24.94))
    bike = add(
        session,
        BikeType(
            town_id=town.id, name="Long John", capacity_g=80_000, capacity_ml=200_000,
            capacity_parcels=12,
        ),
    )  # fmt: skip
    couriers = [
        add(session, Courier(town_id=town.id, name=name, bike_type_id=bike.id))
        for name in ("Kim", "Ana")
    ]
    shifts = [
        add(session, Shift(courier_id=c.id, hub_id=hub.id, starts_at=at(-1), ends_at=at(3)))
        for c in couriers
    ]
    window = add(
        session,
        DeliveryWindow(
            town_id=town.id, day=at(0).date(), starts_at=at(0), ends_at=at(2),
            cutoff_at=at(-1.5), status="closed",
        ),
    )  # fmt: skip
    shop = add(session, Shop(town_id=town.id, name="Leipä", lat=60.17, lon=24.95))
    customer = add(session, Customer(name="Aino"))
    parcels = []
    for n, weight in enumerate((1000, 2500, 400)):
        order = add(
            session,
            Order(
                town_id=town.id, customer_id=customer.id, window_id=window.id,
                tracking_token=new_tracking_token(), lat=60.16 + n / 100, lon=24.93,
            ),
        )  # fmt: skip
        parcels.append(
            add(
                session,
                Parcel(
                    order_id=order.id,
                    shop_id=shop.id,
                    weight_g=weight,
                    volume_ml=3000,
                    count=n + 1,
                    label_code=f"CODE{n}X",
                ),
            )
        )
    cancelled = add(
        session,
        Order(
            town_id=town.id, customer_id=customer.id, window_id=window.id,
            tracking_token=new_tracking_token(), status="cancelled",
        ),
    )  # fmt: skip
    add(
        session,
        Parcel(
            order_id=cancelled.id, shop_id=shop.id, weight_g=9000, volume_ml=1, status="cancelled",
            label_code="GONE00",
        ),
    )  # fmt: skip
    plan = add(
        session,
        Plan(
            window_id=window.id, cost=1234, distance_m=5600, duration_s=3000,
            unassigned=[{"parcel_id": parcels[2].id, "reason": "no bike has room"}],
        ),
    )  # fmt: skip
    route = add(
        session,
        PlanRoute(plan_id=plan.id, shift_id=shifts[0].id, starts_at=at(0), ends_at=at(1.5)),
    )
    trip = add(session, PlanTrip(route_id=route.id, number=1, departs_at=at(0), returns_at=at(1.5)))
    stops = [
        add(
            session,
            Stop(
                trip_id=trip.id,
                sequence=seq,
                kind="delivery",
                parcel_id=parcel.id,
                lat=60.16,
                lon=24.93,
                planned_arrival=at(seq / 2),
                planned_departure=at(seq / 2),
                load_g=parcel.weight_g,
            ),
        )
        for seq, parcel in ((2, parcels[1]), (1, parcels[0]))
    ]
    return World(
        town, window, shifts, couriers, parcels, plan, sorted(stops, key=lambda s: s.sequence)
    )


@dataclass(frozen=True)
class MoveVerdict:
    ok: bool
    reason: str = ""


class PlanningError(ValueError):
    pass


@pytest.fixture
def fake_planning(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> types.SimpleNamespace:
    """``dispatch.planning`` with planning.py's signatures, recording its calls.

    ``plan_window`` writes a new empty current plan (the old one stops being current) and
    moves the window to planned through the lifecycle, as the real one does.
    """
    calls: list[tuple[str, Any]] = []
    state = types.SimpleNamespace(calls=calls, verdict=MoveVerdict(True), fail=None)

    def plan_window(
        session: Session,
        window_id: int,
        *,
        time_limit_s: float | None = None,
        seed: int = 0,
        actor_user_id: int | None = None,
    ) -> Plan:
        calls.append(("plan_window", (window_id, time_limit_s, actor_user_id)))
        if state.fail is not None:
            raise PlanningError(state.fail)
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        for old in session.exec(select(Plan).where(col(Plan.window_id) == window_id)):
            old.current = False
            session.add(old)
        plan = Plan(window_id=window_id, solver="fake", unassigned=[])
        session.add(plan)
        lifecycle.perform(session, window, "plan", actor_role="system", actor_user_id=actor_user_id)
        session.commit()
        session.refresh(plan)
        return plan

    def check_move(session: Session, stop_id: int, to_shift_id: int) -> MoveVerdict:
        calls.append(("check_move", (stop_id, to_shift_id)))
        verdict: MoveVerdict = state.verdict
        return verdict

    def move_stop(
        session: Session, stop_id: int, to_shift_id: int, *, actor_user_id: int | None
    ) -> Plan:
        calls.append(("move_stop", (stop_id, to_shift_id, actor_user_id)))
        stop = session.get(Stop, stop_id)
        assert stop is not None
        trip = session.get(PlanTrip, stop.trip_id)
        assert trip is not None
        route = session.get(PlanRoute, trip.route_id)
        assert route is not None
        new_route = PlanRoute(
            plan_id=route.plan_id, shift_id=to_shift_id, starts_at=route.starts_at,
            ends_at=route.ends_at,
        )  # fmt: skip
        session.add(new_route)
        session.flush()
        assert new_route.id is not None
        new_trip = PlanTrip(
            route_id=new_route.id, number=1, departs_at=trip.departs_at,
            returns_at=trip.returns_at,
        )  # fmt: skip
        session.add(new_trip)
        session.flush()
        assert new_trip.id is not None
        stop.trip_id = new_trip.id
        stop.sequence = 1
        session.add(stop)
        session.commit()
        plan = session.get(Plan, route.plan_id)
        assert plan is not None
        return plan

    module = types.ModuleType("dispatch.planning")
    module.__dict__.update(
        plan_window=plan_window,
        check_move=check_move,
        move_stop=move_stop,
        MoveVerdict=MoveVerdict,
        PlanningError=PlanningError,
    )
    monkeypatch.setitem(sys.modules, "dispatch.planning", module)
    return state


# ── the day's windows ──────────────────────────────────────────────────────────────────────


def test_board_windows_count_orders_parcels_and_weight(
    client: TestClient, auth: dict[str, dict[str, str]], world: World, session: Session
) -> None:
    """Cancelled orders and parcels do not count; the plan flag shows a current plan."""
    other_day = at(24)
    assert world.town.id is not None
    add(
        session,
        DeliveryWindow(
            town_id=world.town.id, day=other_day.date(), starts_at=other_day,
            ends_at=other_day + timedelta(hours=2), cutoff_at=other_day - timedelta(hours=1),
        ),
    )  # fmt: skip
    day = world.window.day.isoformat()
    response = client.get(f"/api/board/windows?day={day}", headers=auth["dispatcher"])
    assert response.status_code == 200, response.text
    [window] = response.json()
    assert window["id"] == world.window.id
    assert (window["orders"], window["parcels"], window["weight_g"]) == (3, 6, 3900)
    assert (window["volume_ml"], window["planned"], window["status"]) == (9000, True, "closed")
    assert window["cutoff_at"] == world.window.cutoff_at.isoformat().replace("+00:00", "Z")
    assert window["day_before_cutoff_at"] is None
    empty = client.get("/api/board/windows?day=2001-01-01", headers=auth["operator"])
    assert empty.json() == []
    bad = client.get("/api/board/windows?day=monday", headers=auth["operator"])
    assert bad.status_code == 422
    assert bad.json()["detail"] == "query parameter day: must be a date (YYYY-MM-DD)"


# ── the plan ───────────────────────────────────────────────────────────────────────────────


def test_read_plan_lists_routes_trips_and_stops_in_order(
    client: TestClient, auth: dict[str, dict[str, str]], world: World
) -> None:
    response = client.get(f"/api/board/windows/{world.window.id}/plan", headers=auth["dispatcher"])
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["id"], plan["window_status"], plan["cost"]) == (world.plan.id, "closed", 1234)
    [route] = plan["routes"]
    assert route["shift_id"] == world.shifts[0].id
    assert (route["courier_id"], route["courier_name"]) == (world.couriers[0].id, "Kim")
    [trip] = route["trips"]
    assert [s["id"] for s in trip["stops"]] == [s.id for s in world.stops]
    first = trip["stops"][0]
    assert (first["sequence"], first["status"], first["parcel_id"]) == (
        1, "planned", world.parcels[0].id,
    )  # fmt: skip
    assert first["order_id"] == world.parcels[0].order_id
    assert first["planned_arrival"].endswith("Z")
    assert plan["unassigned"] == [{"parcel_id": world.parcels[2].id, "reason": "no bike has room"}]


def test_plan_is_404_for_unknown_windows_and_unplanned_ones(
    client: TestClient, auth: dict[str, dict[str, str]], world: World, session: Session
) -> None:
    response = client.get("/api/board/windows/999/plan", headers=auth["dispatcher"])
    assert response.json() == {"detail": "window 999 not found"}
    assert client.post("/api/board/windows/999/plan", headers=auth["operator"]).status_code == 404
    world.plan.current = False
    add(session, world.plan)
    response = client.get(f"/api/board/windows/{world.window.id}/plan", headers=auth["operator"])
    assert response.status_code == 404
    assert response.json() == {"detail": f"plan of window {world.window.id} not found"}


def test_replan_calls_planning_and_shows_the_new_plan(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
    session: Session,
) -> None:
    """A closed window is planned at once with the configured time limit and the actor."""
    response = client.post(f"/api/board/windows/{world.window.id}/plan", headers=auth["dispatcher"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["solver"], body["window_status"], body["routes"]) == ("fake", "planned", [])
    dispatcher_id = _user_id(session, "dispatcher")
    assert fake_planning.calls == [("plan_window", (world.window.id, 2.5, dispatcher_id))]
    current = client.get(f"/api/board/windows/{world.window.id}/plan", headers=auth["operator"])
    assert current.json()["id"] == body["id"] != world.plan.id


def _user_id(session: Session, role: str) -> int | None:
    return session.exec(select(User.id).where(User.email == f"{role}@velocal.test")).one()


def test_open_window_before_cutoff_needs_force(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
    session: Session,
) -> None:
    """409 naming the cutoff; with force=true the window is closed (with an event) and planned."""
    window = session.get(DeliveryWindow, world.window.id)
    assert window is not None
    window.status = "open"
    add(session, window)
    url = f"/api/board/windows/{window.id}/plan"
    refused = client.post(url, headers=auth["dispatcher"])
    assert refused.status_code == 409
    cutoff = window.cutoff_at.isoformat()
    assert refused.json()["detail"] == (
        f"window {window.id} is open until its cutoff at {cutoff}: "
        "plan it after the cutoff or with force=true"
    )
    assert fake_planning.calls == []
    forced = client.post(f"{url}?force=true", headers=auth["dispatcher"])
    assert forced.status_code == 200, forced.text
    assert forced.json()["window_status"] == "planned"
    events = session.exec(
        select(Event).where(Event.entity == "window").order_by(col(Event.id))
    ).all()
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("close", "open", "closed"),
        ("plan", "closed", "planned"),
    ]
    assert events[0].detail == {"reason": "planned by hand", "forced": True}


def test_open_window_past_its_cutoff_is_planned(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
    session: Session,
) -> None:
    window = session.get(DeliveryWindow, world.window.id)
    assert window is not None
    window.status = "open"
    window.cutoff_at = utc_now() - timedelta(minutes=1)
    add(session, window)
    response = client.post(f"/api/board/windows/{window.id}/plan", headers=auth["operator"])
    assert response.status_code == 200, response.text
    event = session.exec(select(Event).where(Event.action == "close")).one()
    assert event.detail == {"reason": "planned by hand", "forced": False}


def test_planning_refusal_is_409_and_leaves_the_window_open(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
    session: Session,
) -> None:
    """If planning fails, the close it needed is rolled back with it."""
    window = session.get(DeliveryWindow, world.window.id)
    assert window is not None
    window.status = "open"
    window.cutoff_at = utc_now() - timedelta(minutes=1)
    add(session, window)
    fake_planning.fail = "town 'Helsinki' has no hub: add one before planning"
    response = client.post(f"/api/board/windows/{window.id}/plan", headers=auth["operator"])
    assert response.status_code == 409
    assert response.json() == {"detail": "town 'Helsinki' has no hub: add one before planning"}
    session.refresh(window)
    assert window.status == "open"
    assert session.exec(select(Event).where(Event.entity == "window")).all() == []


# ── moving a stop ──────────────────────────────────────────────────────────────────────────


def test_move_stop_checks_then_moves(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
    session: Session,
) -> None:
    stop, target = world.stops[1], world.shifts[1]
    response = client.post(
        f"/api/board/stops/{stop.id}/move", json={"shift_id": target.id}, headers=auth["dispatcher"]
    )
    assert response.status_code == 200, response.text
    routes = {r["shift_id"]: r for r in response.json()["routes"]}
    assert [s["id"] for s in routes[target.id]["trips"][0]["stops"]] == [stop.id]
    assert routes[target.id]["courier_name"] == "Ana"
    actor = _user_id(session, "dispatcher")
    assert fake_planning.calls == [
        ("check_move", (stop.id, target.id)),
        ("move_stop", (stop.id, target.id, actor)),
    ]


def test_refused_move_is_409_with_the_checkers_reason(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
) -> None:
    fake_planning.verdict = MoveVerdict(False, "shift 2 cannot take it: capacity_g exceeded")
    response = client.post(
        f"/api/board/stops/{world.stops[0].id}/move",
        json={"shift_id": world.shifts[1].id},
        headers=auth["operator"],
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "shift 2 cannot take it: capacity_g exceeded"}
    assert [name for name, _ in fake_planning.calls] == ["check_move"]


def test_move_stop_404_and_422(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
) -> None:
    op = auth["operator"]
    unknown = client.post("/api/board/stops/999/move", json={"shift_id": 1}, headers=op)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "stop 999 not found"}
    url = f"/api/board/stops/{world.stops[0].id}/move"
    no_shift = client.post(url, json={"shift_id": 999}, headers=op)
    assert no_shift.status_code == 422
    assert no_shift.json()["detail"] == "shift_id: shift 999 does not exist"
    missing = client.post(url, json={}, headers=op)
    assert missing.json()["detail"] == "shift_id: is required"
    wrong_type = client.post(url, json={"shift_id": "two"}, headers=op)
    assert wrong_type.json()["detail"] == "shift_id: must be a whole number"
    assert fake_planning.calls == []


# ── the event log ──────────────────────────────────────────────────────────────────────────


def test_events_timeline(
    client: TestClient, auth: dict[str, dict[str, str]], world: World, session: Session
) -> None:
    """One thing's events oldest first; unknown entities are a 422 naming the parameter."""
    stop = session.get(Stop, world.stops[0].id)
    assert stop is not None
    lifecycle.perform(session, stop, "arrive", actor_role="dispatcher")
    session.commit()
    lifecycle.perform(session, stop, "skip", actor_role="dispatcher")
    session.commit()
    url = f"/api/board/events?entity=stop&entity_id={stop.id}"
    events = client.get(url, headers=auth["dispatcher"]).json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("arrive", "planned", "arrived"),
        ("skip", "arrived", "skipped"),
    ]
    assert set(events[0]) == {
        "id", "at", "user_id", "entity", "entity_id", "action", "from_status", "to_status",
        "detail",
    }  # fmt: skip
    assert len(client.get("/api/board/events?entity=stop", headers=auth["operator"]).json()) == 2
    assert client.get("/api/board/events?entity=order", headers=auth["operator"]).json() == []
    latest = client.get("/api/board/events?limit=1", headers=auth["operator"]).json()
    assert [e["action"] for e in latest] == ["skip"]

    bad = client.get("/api/board/events?entity=banana", headers=auth["operator"])
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "query parameter entity: must be one of order, parcel, stop, shift, window, plan"
    )
    lonely = client.get("/api/board/events?entity_id=3", headers=auth["operator"])
    assert lonely.json()["detail"] == "query parameter entity: is required with entity_id"
    too_many = client.get("/api/board/events?limit=0", headers=auth["operator"])
    assert too_many.json()["detail"] == "query parameter limit: must be at least 1"


# ── who may call what ──────────────────────────────────────────────────────────────────────

BOARD = [
    ("GET", "/api/board/windows?day=2031-01-06"),
    ("GET", "/api/board/windows/1/plan"),
    ("POST", "/api/board/windows/1/plan"),
    ("POST", "/api/board/stops/1/move"),
    ("GET", "/api/board/events?entity=stop&entity_id=1"),
]


def test_board_needs_a_login(client: TestClient) -> None:
    for method, path in BOARD:
        response = client.request(method, path, json={"shift_id": 1})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == 'Bearer realm="velocal"'


def test_board_is_for_dispatchers_and_operators(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    world: World,
    fake_planning: types.SimpleNamespace,
) -> None:
    """Shops, couriers and customers get 403; both staff roles get through."""
    for role in ("shop", "courier", "customer"):
        for method, path in BOARD:
            response = client.request(method, path, json={"shift_id": 1}, headers=auth[role])
            assert response.status_code == 403, (role, method, path)
            assert response.json() == {"detail": STAFF_ONLY}
    for role in ("dispatcher", "operator"):
        day = world.window.day.isoformat()
        assert client.get(f"/api/board/windows?day={day}", headers=auth[role]).status_code == 200
        assert client.get("/api/board/events", headers=auth[role]).status_code == 200
    assert fake_planning.calls == []


# ── with the real planner ──────────────────────────────────────────────────────────────────


def test_plan_and_move_with_the_real_planner(
    engine: Engine, session: Session, auth: dict[str, dict[str, str]]
) -> None:
    """End to end on the bundled Helsinki graph: plan through the API, read it, move a stop.

    Every parcel ends on a route or unassigned with a reason; a move either lands the stop on
    the other courier's route or is refused with the checker's reason.
    """
    graph = get_network(Town(name="t")).graph
    lat0, lon0 = float(np.median(graph.node_lat)), float(np.median(graph.node_lon))
    dist = np.hypot((graph.node_lat - lat0) * 111_000, (graph.node_lon - lon0) * 55_000)
    rows = np.random.default_rng(3).choice(np.flatnonzero(dist < 1000), size=8, replace=False)
    points = [(float(graph.node_lat[r]), float(graph.node_lon[r])) for r in rows]

    start = (utc_now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    town = add(session, Town(name="Tiny", time_zone="Europe/Helsinki"))
    hub = add(
        session,
        Hub(town_id=town.id, name="Hub", lat=points[0][0], lon=points[0][1], opens="00:00",
            closes="23:59"),
    )  # fmt: skip
    shop = add(session, Shop(town_id=town.id, name="Shop", lat=points[1][0], lon=points[1][1]))
    window = add(
        session,
        DeliveryWindow(
            town_id=town.id, day=start.date(), starts_at=start, ends_at=start + timedelta(hours=2),
            cutoff_at=utc_now() - timedelta(minutes=1),
        ),
    )  # fmt: skip
    shifts = []
    for n in range(2):
        bike = add(
            session,
            BikeType(town_id=town.id, name=f"b{n}", capacity_g=50_000, capacity_ml=400_000,
                     capacity_parcels=20),
        )  # fmt: skip
        courier = add(session, Courier(town_id=town.id, name=f"C{n}", bike_type_id=bike.id))
        shifts.append(
            add(
                session,
                Shift(
                    courier_id=courier.id,
                    hub_id=hub.id,
                    starts_at=start - timedelta(hours=1),
                    ends_at=start + timedelta(hours=3),
                ),
            )
        )
    customer = add(session, Customer(name="C"))
    parcel_ids = []
    for n, (lat, lon) in enumerate(points[2:]):
        order = add(
            session,
            Order(town_id=town.id, customer_id=customer.id, window_id=window.id, lat=lat,
                  lon=lon, tracking_token=new_tracking_token()),
        )  # fmt: skip
        parcel = add(
            session,
            Parcel(order_id=order.id, shop_id=shop.id, weight_g=2000, volume_ml=5000,
                   label_code=f"REAL{n}Z"),
        )  # fmt: skip
        parcel_ids.append(parcel.id)

    app = create_app(Settings(database_url="sqlite://", plan_time_limit_s=0.5), engine)
    with TestClient(app) as client:
        planned = client.post(f"/api/board/windows/{window.id}/plan", headers=auth["dispatcher"])
        assert planned.status_code == 200, planned.text
        plan = client.get(f"/api/board/windows/{window.id}/plan", headers=auth["dispatcher"])
        body = plan.json()
        assert body["id"] == planned.json()["id"]
        assert body["window_status"] == "planned"
        routed = [
            stop for route in body["routes"] for trip in route["trips"] for stop in trip["stops"]
        ]
        unassigned = {u["parcel_id"] for u in body["unassigned"]}
        assert all(u["reason"] for u in body["unassigned"])
        assert {s["parcel_id"] for s in routed} | unassigned == set(parcel_ids)
        if not routed:
            return
        stop = routed[0]
        from_shift = next(
            r["shift_id"] for r in body["routes"] for t in r["trips"] if stop in t["stops"]
        )
        to_shift = next(s.id for s in shifts if s.id != from_shift)
        moved = client.post(
            f"/api/board/stops/{stop['id']}/move", json={"shift_id": to_shift},
            headers=auth["dispatcher"],
        )  # fmt: skip
        if moved.status_code == 200:
            after = {r["shift_id"]: r for r in moved.json()["routes"]}
            ids = [s["id"] for t in after[to_shift]["trips"] for s in t["stops"]]
            assert stop["id"] in ids
        else:
            assert moved.status_code == 409
            assert moved.json()["detail"]
