"""Re-planning a running window (``dispatch.replanning``): late orders, a courier dropping out,
parcels on a bike staying on it, done stops kept, stability, and the courier's route answer.
Every test runs on SQLite and PostgreSQL, in the tiny town of ``test_planning`` (real junctions
of the bundled Helsinki graph) with a real solver run on a small budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import lifecycle, replanning
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import (
    CourierPosition,
    DeliveryWindow,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
)
from dispatch.planning import plan_window
from tests.dispatch.test_orders_api import bearer_for
from tests.dispatch.test_planning import FAST, START, TinyTown, build_town, close

DISPATCHER = lifecycle.DISPATCHER


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


@dataclass
class Running:
    """A window out on the road: ``busy`` (a shift) rode off with ``aboard`` and did ``done``."""

    tiny: TinyTown
    plan: Plan
    busy: Shift
    other: Shift
    done: Stop
    aboard: list[int]  # parcel ids picked up and not delivered yet
    waiting: list[int]  # parcel ids of the busy courier's route not picked up yet
    now: datetime


def _route_stops(session: Session, plan_id: int) -> list[tuple[Stop, PlanTrip, PlanRoute]]:
    query = (
        select(Stop, PlanTrip, PlanRoute)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .where(col(PlanRoute.plan_id) == plan_id)
        .order_by(col(PlanRoute.id), col(PlanTrip.number), col(Stop.sequence))
    )
    return [(s, t, r) for s, t, r in session.exec(query).all()]


def _open_by_parcel(session: Session, plan_id: int) -> dict[int, tuple[Stop, PlanTrip, PlanRoute]]:
    """Each parcel's live delivery stop in a plan, with its trip and route."""
    return {
        s.parcel_id: (s, t, r)
        for s, t, r in _route_stops(session, plan_id)
        if s.kind == "delivery" and s.status in ("planned", "arrived")
    }


def start_running(session: Session, *, orders: int = 8, hold_back: int = 0) -> Running:
    """Plan the tiny town's window, start both shifts, and send the busiest courier out: it
    loads the first two parcels of its first trip at the hub, delivers the first and sends a
    GPS fix from that door. The last ``hold_back`` orders are placed after the plan (late)."""
    tiny = build_town(session, orders=orders)
    late = tiny.parcels[len(tiny.parcels) - hold_back :] if hold_back else []
    late_ids = {_id(p) for p in late}
    for parcel in late:
        order = session.get(Order, parcel.order_id)
        assert order is not None
        order.window_id = None  # not placed yet
        session.add(order)
    session.commit()
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    routes = session.exec(select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id)).all()
    per_shift = {
        r.shift_id: [s for s, _, rr in _route_stops(session, _id(plan)) if rr.id == r.id]
        for r in routes
    }
    busy_id = max(per_shift, key=lambda s: (len(per_shift[s]), -s))
    busy = session.get(Shift, busy_id)
    other = next(s for s in tiny.shifts if s.id != busy_id)
    assert busy is not None
    first_trip = [
        s for s, t, r in _route_stops(session, _id(plan)) if r.shift_id == busy_id and t.number == 1
    ]
    assert len(first_trip) >= 3, "the busy courier's first trip should have 3 stops or more"
    for shift in tiny.shifts:
        lifecycle.perform(session, shift, "start", actor_role=DISPATCHER)
    for parcel in tiny.parcels:
        if parcel.id not in late_ids:
            lifecycle.perform(session, parcel, "mark_ready", actor_role=DISPATCHER)
    loaded = first_trip[:2]
    for stop in loaded:
        parcel = session.get(Parcel, stop.parcel_id)
        assert parcel is not None
        lifecycle.perform(session, parcel, "pick_up", actor_role=DISPATCHER)
    done = loaded[0]
    lifecycle.perform(session, done, "complete", actor_role=DISPATCHER)
    done.done_at = done.planned_departure
    session.add(done)
    session.add(
        CourierPosition(
            courier_id=busy.courier_id,
            shift_id=busy_id,
            lat=done.lat,
            lon=done.lon,
            accuracy_m=5.0,
            at=done.planned_departure,
        )
    )
    for parcel in late:
        order = session.get(Order, parcel.order_id)
        assert order is not None
        order.window_id = tiny.window.id
        session.add(order)
    session.commit()
    window = session.get(DeliveryWindow, tiny.window.id)
    assert window is not None
    assert window.status == "running"
    waiting = [
        s.parcel_id for s in per_shift[busy_id] if s.parcel_id not in {x.parcel_id for x in loaded}
    ]
    return Running(
        tiny,
        plan,
        busy,
        other,
        done,
        aboard=[loaded[1].parcel_id],
        waiting=waiting,
        now=done.planned_departure + timedelta(seconds=30),
    )


def _replan(session: Session, run: Running) -> Plan:
    return replanning.replan_window(session, _id(run.tiny.window), now=run.now, **FAST)


def test_replan_with_nothing_changed_moves_no_stop(session: Session) -> None:
    """Same couriers, no new order: every stop still open keeps its courier."""
    run = start_running(session)
    before = {p: r.shift_id for p, (_, _, r) in _open_by_parcel(session, _id(run.plan)).items()}
    plan = _replan(session, run)
    assert plan.id != run.plan.id
    assert plan.current
    after = {p: r.shift_id for p, (_, _, r) in _open_by_parcel(session, _id(plan)).items()}
    assert set(after) == set(before), plan.unassigned
    changed = [p for p in before if after[p] != before[p]]
    assert changed == []
    assert plan.unassigned == []
    old = session.get(Plan, run.plan.id)
    assert old is not None
    assert not old.current


def test_parcels_on_a_bike_stay_on_it_on_its_first_trip(session: Session) -> None:
    """A picked-up parcel is delivered by its courier on the trip in progress, after the done
    stop of that trip; the done stop keeps its row, status and times."""
    run = start_running(session)
    done_at, arrival = run.done.done_at, run.done.planned_arrival
    plan = _replan(session, run)
    stops = _route_stops(session, _id(plan))
    (aboard,) = run.aboard
    stop, trip, route = _open_by_parcel(session, _id(plan))[aboard]
    assert route.shift_id == run.busy.id
    assert trip.number == 1
    done = next(s for s, _, _ in stops if s.id == run.done.id)
    done_trip = next(t for s, t, _ in stops if s.id == run.done.id)
    assert done_trip.id == trip.id
    assert done.sequence < stop.sequence
    assert done.status == "done"
    assert done.done_at == done_at
    assert done.planned_arrival == arrival
    parcel = session.get(Parcel, aboard)
    assert parcel is not None
    assert parcel.status == "picked_up"


def test_done_stops_stay_done_through_two_replans(session: Session) -> None:
    """History moves along: after two re-plans the done stop is in the newest plan, once."""
    run = start_running(session)
    _replan(session, run)
    plan = _replan(session, run)
    done = [s for s, _, r in _route_stops(session, _id(plan)) if s.status == "done"]
    assert [s.id for s in done] == [run.done.id]
    assert done[0].planned_arrival == run.done.planned_arrival
    cancelled_old = [
        s for s, _, _ in _route_stops(session, _id(run.plan)) if s.status == "cancelled"
    ]
    assert cancelled_old, "the first plan keeps its replaced stops, cancelled"


def test_a_late_order_is_inserted_into_the_running_routes(session: Session) -> None:
    run = start_running(session, orders=9, hold_back=1)
    late = run.tiny.parcels[-1]
    assert late.id not in _open_by_parcel(session, _id(run.plan))
    plan = _replan(session, run)
    found = _open_by_parcel(session, _id(plan))
    assert late.id in found, plan.unassigned
    assert found[late.id][2].shift_id in {s.id for s in run.tiny.shifts}
    # The parcel on a bike still rides with its courier.
    (aboard,) = run.aboard
    assert found[aboard][2].shift_id == run.busy.id


def test_a_courier_drops_out_and_their_work_is_reassigned(session: Session) -> None:
    """The busy courier drops out: stops not picked up go to the other courier; the parcel on
    their bike is reported for a hand-over; their done stop stays on their route."""
    run = start_running(session)
    assert run.waiting
    result = replanning.drop_out(
        session,
        run.busy,
        reason="flat tyre",
        actor_role=DISPATCHER,
        actor_user_id=None,
        now=run.now,
        **FAST,
    )
    assert result.shift.status == "dropped_out"
    assert result.refused == []
    (plan,) = result.plans
    found = _open_by_parcel(session, _id(plan))
    for parcel_id in run.waiting:
        assert found[parcel_id][2].shift_id == run.other.id, plan.unassigned
    assert all(r.shift_id != run.busy.id for _, _, r in found.values())
    (aboard,) = run.aboard
    assert aboard not in found
    hand_over = {u["parcel_id"]: u["reason"] for u in plan.unassigned}
    assert set(hand_over) == {aboard}
    assert "dropped out" in hand_over[aboard]
    assert "hand it over" in hand_over[aboard]
    history = [(s, r) for s, _, r in _route_stops(session, _id(plan)) if s.id == run.done.id]
    assert [(s.status, r.shift_id) for s, r in history] == [("done", run.busy.id)]


def test_only_planned_and_running_windows_are_replanned(session: Session) -> None:
    """A closed window is planned, not re-planned; a planned one (taking a late order) is
    re-planned from its own plan, and with nothing new no stop changes courier."""
    tiny = build_town(session, orders=2)
    close(session)
    with pytest.raises(replanning.planning.PlanningError, match="not planned or running"):
        replanning.replan_window(session, _id(tiny.window), **FAST)
    first = plan_window(session, _id(tiny.window), **FAST)
    before = {p: r.shift_id for p, (_, _, r) in _open_by_parcel(session, _id(first)).items()}
    again = replanning.replan_window(session, _id(tiny.window), now=START, **FAST)
    after = {p: r.shift_id for p, (_, _, r) in _open_by_parcel(session, _id(again)).items()}
    assert again.id != first.id
    assert after == before


# ── the API ────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def api(engine: Engine) -> TestClient:
    settings = Settings(database_url="sqlite://", plan_time_limit_s=1.0)
    return TestClient(create_app(settings, engine))


def test_board_replan_shows_the_courier_a_new_plan_with_their_parcels(
    session: Session, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board's plan button re-plans the running window; the courier's route answer has the
    new plan id and still lists the parcel on the bike and the done stop."""
    run = start_running(session)
    monkeypatch.setattr(replanning, "utc_now", lambda: run.now)
    busy = session.get(Shift, run.busy.id)
    assert busy is not None
    courier = bearer_for(session, "courier", "rider@v.fi", courier_id=busy.courier_id)
    staff = bearer_for(session, "dispatcher", "desk@v.fi")
    url = f"/api/courier/route?shift_id={run.busy.id}"
    before = api.get(url, headers=courier)
    assert before.status_code == 200, before.text
    assert before.json()["plan_id"] == run.plan.id

    answer = api.post(f"/api/board/windows/{run.tiny.window.id}/plan", headers=staff)
    assert answer.status_code == 200, answer.text
    new_id = answer.json()["id"]
    assert new_id != run.plan.id
    assert answer.json()["window_status"] == "running"

    route = api.get(url, headers=courier).json()
    assert route["plan_id"] == new_id
    stops = [s for trip in route["trips"] for s in trip["stops"]]
    (aboard,) = run.aboard
    assert [s["parcel"]["status"] for s in stops if s["parcel"]["id"] == aboard] == ["picked_up"]
    assert [s["status"] for s in stops if s["id"] == run.done.id] == ["done"]


def test_courier_drop_out_needs_a_reason_and_reports_the_hand_over(
    session: Session, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_running(session)
    monkeypatch.setattr(replanning, "utc_now", lambda: run.now)
    busy = session.get(Shift, run.busy.id)
    assert busy is not None
    courier = bearer_for(session, "courier", "rider@v.fi", courier_id=busy.courier_id)
    url = f"/api/courier/shifts/{run.busy.id}/drop-out"
    empty = api.post(url, json={"reason": "  "}, headers=courier)
    assert empty.status_code == 422, empty.text
    assert [e["field"] for e in empty.json()["errors"]] == ["reason"]

    answer = api.post(url, json={"reason": "crashed, bike broken"}, headers=courier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["shift_status"] == "dropped_out"
    (plan,) = body["plans"]
    (aboard,) = run.aboard
    assert [u["parcel_id"] for u in plan["unassigned"]] == [aboard]
    again = api.post(url, json={"reason": "again"}, headers=courier)
    assert again.status_code == 409, again.text


def test_board_drop_out(session: Session, api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dispatcher drops a courier out; an unknown shift is the plain 404."""
    run = start_running(session)
    monkeypatch.setattr(replanning, "utc_now", lambda: run.now)
    staff = bearer_for(session, "dispatcher", "desk@v.fi")
    missing = api.post("/api/board/shifts/987654/drop-out", json={"reason": "x"}, headers=staff)
    assert missing.status_code == 404
    answer = api.post(
        f"/api/board/shifts/{run.busy.id}/drop-out", json={"reason": "ill"}, headers=staff
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["shift_status"] == "dropped_out"
    (plan,) = answer.json()["plans"]
    found = _open_by_parcel(session, plan["plan_id"])
    assert set(run.waiting) <= set(found), plan["unassigned"]
    assert {r.shift_id for _, _, r in found.values()} == {run.other.id}
    (aboard,) = run.aboard
    assert [u["parcel_id"] for u in plan["unassigned"]] == [aboard]


def test_direct_mode_a_parcel_picked_up_at_its_shop_stays_on_that_bike(session: Session) -> None:
    """Direct mode: the courier did a shop pickup; its delivery stays on that bike's first trip
    after the done pickup, and the other pickups keep their pairs."""
    tiny = build_town(session, mode="direct", orders=6)
    close(session)
    plan = plan_window(session, _id(tiny.window), **FAST)
    for shift in tiny.shifts:
        lifecycle.perform(session, shift, "start", actor_role=DISPATCHER)
    for parcel in tiny.parcels:
        lifecycle.perform(session, parcel, "mark_ready", actor_role=DISPATCHER)
    pickup, _, route = next(
        (s, t, r) for s, t, r in _route_stops(session, _id(plan)) if s.kind == "pickup"
    )
    lifecycle.perform(session, pickup, "complete", actor_role=DISPATCHER)
    session.commit()
    now = pickup.planned_departure + timedelta(seconds=30)
    new = replanning.replan_window(session, _id(tiny.window), now=now, **FAST)
    stops = _route_stops(session, _id(new))
    delivery, trip, new_route = _open_by_parcel(session, _id(new))[pickup.parcel_id]
    assert new_route.shift_id == route.shift_id
    assert trip.number == 1
    done = [(s, t) for s, t, _ in stops if s.id == pickup.id]
    assert [(s.status, t.id) for s, t in done] == [("done", trip.id)]
    assert done[0][0].sequence < delivery.sequence
    others = [s for s, _, _ in stops if s.status == "planned" and s.parcel_id != pickup.parcel_id]
    kinds: dict[int, list[str]] = {}
    for stop in others:
        kinds.setdefault(stop.parcel_id, []).append(stop.kind)
    assert all(sorted(k) == ["delivery", "pickup"] for k in kinds.values())
    assert len(kinds) == len(tiny.parcels) - 1, new.unassigned
