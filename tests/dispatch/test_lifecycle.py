"""The lifecycle table and ``perform``: the table's shape, refusals in their exact words, one
event per change, and a state machine of an order with its parcels and stops run against a
small reference model.

Tests taking ``session`` run on SQLite and on PostgreSQL (the fixtures in ``conftest.py``)."""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func
from sqlmodel import Session, col, select

from dispatch import lifecycle
from dispatch.lifecycle import (
    COURIER,
    CUSTOMER,
    DISPATCHER,
    ENTITIES,
    ENTITY_OF,
    INITIAL,
    OPERATOR,
    ROLES,
    SHOP,
    SYSTEM,
    TABLE,
    ForbiddenTransitionError,
    InvalidTransitionError,
    Tracked,
    TransitionError,
    actions,
    allowed,
    close_due_windows,
    entity_of,
    order_status_for,
    perform,
    statuses,
    terminal,
    transition,
)
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
)

NOW = datetime(2025, 5, 6, 9, 0, tzinfo=UTC)
PEOPLE = (OPERATOR, DISPATCHER, SHOP, COURIER, CUSTOMER)

#: The designed end states; a new one must be added here on purpose.
TERMINAL = {
    "order": {"delivered", "partly_delivered", "failed", "collected", "cancelled"},
    "parcel": {"delivered", "returned", "collected", "cancelled"},
    "stop": {"done", "failed", "skipped", "cancelled"},
    "shift": {"off_duty", "dropped_out", "cancelled"},
    "window": {"finished", "cancelled"},
}


# ── a small town to act in ─────────────────────────────────────────────────────────────────


@dataclass
class World:
    """One town with three shops, a courier on shift, a trip to put stops on, two windows
    (cutoff ahead of ``NOW`` and passed) and a user per role, for ``Event.user_id``."""

    town_id: int
    customer_id: int
    shop_ids: list[int]
    users: dict[str, int]
    open_window_id: int
    past_window_id: int
    shift_id: int
    trip_id: int


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def build_world(session: Session) -> World:
    town = Town(name="Lauf")
    customer = Customer(name="Aino")
    session.add_all([town, customer])
    session.flush()
    shops = [
        Shop(town_id=_id(town), name=name, lat=49.51 + i / 1000, lon=11.28)
        for i, name in enumerate(["Bakery", "Books", "Greengrocer"])
    ]
    hub = Hub(town_id=_id(town), name="Hub", lat=49.51, lon=11.27)
    bike = BikeType(
        town_id=_id(town),
        name="Long John",
        capacity_g=80_000,
        capacity_ml=200_000,
        capacity_parcels=12,
    )
    session.add_all([*shops, hub, bike])
    session.flush()
    courier = Courier(town_id=_id(town), name="Kalle", bike_type_id=_id(bike))
    windows = [
        DeliveryWindow(
            town_id=_id(town),
            day=NOW.date(),
            starts_at=NOW + timedelta(hours=start),
            ends_at=NOW + timedelta(hours=start + 2),
            cutoff_at=NOW + timedelta(hours=cutoff),
        )
        for start, cutoff in [(3, 1), (1, -1)]
    ]
    session.add_all([courier, *windows])
    session.flush()
    shift = Shift(
        courier_id=_id(courier), hub_id=_id(hub), starts_at=NOW, ends_at=NOW + timedelta(hours=5)
    )
    plan = Plan(window_id=_id(windows[0]))
    session.add_all([shift, plan])
    session.flush()
    route = PlanRoute(
        plan_id=_id(plan), shift_id=_id(shift), starts_at=NOW, ends_at=NOW + timedelta(hours=5)
    )
    session.add(route)
    session.flush()
    trip = PlanTrip(route_id=_id(route), number=1, departs_at=NOW, returns_at=NOW)
    users = {
        role: User(
            email=f"{role}-{uuid.uuid4().hex[:8]}@velocal.test", password_hash="-", role=role
        )
        for role in PEOPLE
    }
    session.add_all([trip, *users.values()])
    session.flush()
    return World(
        town_id=_id(town),
        customer_id=_id(customer),
        shop_ids=[_id(s) for s in shops],
        users={role: _id(user) for role, user in users.items()},
        open_window_id=_id(windows[0]),
        past_window_id=_id(windows[1]),
        shift_id=_id(shift),
        trip_id=_id(trip),
    )


def new_stop(session: Session, world: World, parcel: Parcel, kind: str) -> Stop:
    stop = Stop(
        trip_id=world.trip_id,
        sequence=0,
        kind=kind,
        parcel_id=_id(parcel),
        lat=49.5,
        lon=11.3,
        planned_arrival=NOW,
        planned_departure=NOW,
    )
    session.add(stop)
    session.flush()
    return stop


def new_order(
    session: Session,
    world: World,
    *,
    parcels: int = 1,
    fulfilment: str = "delivery",
    window_id: int | None = None,
    pickups: bool = False,
) -> tuple[Order, list[Parcel], list[Stop]]:
    """An order with ``parcels`` parcels from different shops; a delivery order gets a
    delivery stop per parcel, and a pickup stop before it when ``pickups`` (direct mode)."""
    order = Order(
        town_id=world.town_id,
        customer_id=world.customer_id,
        fulfilment=fulfilment,
        window_id=window_id or world.open_window_id,
        tracking_token=uuid.uuid4().hex,
    )
    session.add(order)
    session.flush()
    rows = [
        Parcel(
            order_id=_id(order),
            shop_id=shop_id,
            weight_g=1200,
            volume_ml=3000,
            label_code=uuid.uuid4().hex[:10].upper(),
        )
        for shop_id in world.shop_ids[:parcels]
    ]
    session.add_all(rows)
    session.flush()
    stops: list[Stop] = []
    if fulfilment == "delivery":
        for parcel in rows:
            kinds = ["pickup", "delivery"] if pickups else ["delivery"]
            stops.extend(new_stop(session, world, parcel, kind) for kind in kinds)
    return order, rows, stops


def events_of(session: Session, obj: Tracked) -> list[Event]:
    session.flush()
    query = (
        select(Event)
        .where(col(Event.entity) == entity_of(obj), col(Event.entity_id) == obj.id)
        .order_by(col(Event.id))
    )
    return list(session.exec(query))


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


# ── the table ──────────────────────────────────────────────────────────────────────────────


def _reachable(entity: str, start: str) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in allowed(entity, queue.popleft()).values():
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


#: The table as designed, one row per line: a change to it must change this on purpose too.
DESIGNED = """
order    placed           mark_ready     ready             system
order    placed           send_out       out_for_delivery  system
order    ready            send_out       out_for_delivery  system
order    out_for_delivery deliver        delivered         system
order    out_for_delivery deliver_partly partly_delivered  system
order    out_for_delivery fail           failed            system
order    ready            collect        collected         system
order    placed           cancel         cancelled         dispatcher,customer,system
order    ready            cancel         cancelled         dispatcher,customer,system
parcel   awaiting         mark_ready     ready             dispatcher,shop
parcel   ready            pick_up        picked_up         dispatcher,courier,system
parcel   picked_up        deliver        delivered         dispatcher,system
parcel   picked_up        fail           failed            dispatcher,system
parcel   failed           return         returned          dispatcher,shop,courier
parcel   ready            collect        collected         dispatcher,shop
parcel   awaiting         cancel         cancelled         dispatcher,shop,system
parcel   ready            cancel         cancelled         dispatcher,shop,system
stop     planned          arrive         arrived           dispatcher,courier
stop     planned          complete       done              dispatcher,courier
stop     arrived          complete       done              dispatcher,courier
stop     planned          fail           failed            dispatcher,courier
stop     arrived          fail           failed            dispatcher,courier
stop     planned          skip           skipped           dispatcher,courier
stop     arrived          skip           skipped           dispatcher,courier
stop     planned          cancel         cancelled         dispatcher,system
stop     arrived          cancel         cancelled         dispatcher,system
shift    scheduled        start          on_duty           dispatcher,courier
shift    on_duty          end            off_duty          dispatcher,courier,system
shift    on_duty          drop_out       dropped_out       dispatcher,courier
shift    scheduled        cancel         cancelled         operator,dispatcher
window   open             close          closed            operator,dispatcher,system
window   closed           reopen         open              operator,dispatcher
window   closed           plan           planned           dispatcher,system
window   planned          plan           planned           dispatcher,system
window   running          plan           running           dispatcher,system
window   planned          start          running           dispatcher,system
window   running          finish         finished          dispatcher,system
window   open             cancel         cancelled         operator,dispatcher
window   closed           cancel         cancelled         operator,dispatcher
window   planned          cancel         cancelled         operator,dispatcher
"""


def test_the_table_is_the_designed_one() -> None:
    """A golden copy: who may do what is a product decision, not a side effect of an edit."""
    designed = set()
    for line in DESIGNED.strip().splitlines():
        entity, source, action, target, roles = line.split()
        designed.add((entity, source, action, target, frozenset(roles.split(","))))
    table = {(t.entity, t.from_status, t.action, t.to_status, t.roles) for t in TABLE.values()}
    assert table == designed


def test_initial_statuses_are_the_models_defaults() -> None:
    """A new row starts where the table starts."""
    for model, entity in ENTITY_OF.items():
        assert model.model_fields["status"].default == INITIAL[entity]


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_status_is_reachable_from_the_initial_one(entity: str) -> None:
    """No status in the table is dead weight."""
    assert _reachable(entity, INITIAL[entity]) == statuses(entity)


@pytest.mark.parametrize("entity", ENTITIES)
def test_terminal_statuses_have_no_way_out_and_every_status_can_end(entity: str) -> None:
    """The end states are the designed ones, leave to nowhere, and are reachable from every
    status (nothing can be stuck for ever)."""
    ends = {s for s in statuses(entity) if terminal(entity, s)}
    assert ends == TERMINAL[entity]
    assert not [t for t in TABLE.values() if t.entity == entity and t.from_status in ends]
    for status in statuses(entity):
        assert _reachable(entity, status) & ends, status


def test_every_action_has_known_roles_and_every_role_has_an_action() -> None:
    """Each row names who may do it, from the known roles; no role is left without work."""
    for row in TABLE.values():
        assert row.roles, row
        assert row.roles <= set(ROLES), row
    assert set().union(*(row.roles for row in TABLE.values())) == set(ROLES)


def test_people_only_cancel_orders() -> None:
    """An order's status follows its parcels: every other order action is the system's."""
    by_people = {t.action for t in TABLE.values() if t.entity == "order" and t.roles - {SYSTEM}}
    assert by_people == {"cancel"}


def test_allowed_by_role_is_what_a_page_shows() -> None:
    """``allowed`` answers the buttons per role; unknown statuses are an error, not empty."""
    assert allowed("parcel", "ready") == {
        "pick_up": "picked_up",
        "collect": "collected",
        "cancel": "cancelled",
    }
    assert allowed("parcel", "ready", role=COURIER) == {"pick_up": "picked_up"}
    assert allowed("window", "running") == {"plan": "running", "finish": "finished"}
    assert allowed("order", "placed", role=SHOP) == {}
    with pytest.raises(ValueError, match="unknown parcel status 'lost'"):
        allowed("parcel", "lost")
    with pytest.raises(ValueError, match="unknown entity 'bike'"):
        actions("bike")


@pytest.mark.parametrize(
    ("fulfilment", "parcels", "order"),
    [
        ("delivery", ["awaiting", "ready"], "placed"),
        ("delivery", ["ready", "ready", "cancelled"], "ready"),
        ("delivery", ["awaiting", "picked_up"], "out_for_delivery"),
        ("delivery", ["delivered", "ready"], "out_for_delivery"),
        ("delivery", ["delivered", "cancelled"], "delivered"),
        ("delivery", ["delivered", "returned"], "partly_delivered"),
        ("delivery", ["failed", "returned"], "failed"),
        ("delivery", ["cancelled", "cancelled"], "cancelled"),
        ("collect", ["ready", "collected"], "ready"),
        ("collect", ["collected", "cancelled"], "collected"),
        ("collect", ["awaiting", "collected"], "placed"),
    ],
)
def test_order_status_follows_the_live_parcels(
    fulfilment: str, parcels: list[str], order: str
) -> None:
    """Cancelled parcels do not count; one picked-up parcel puts the order on the way."""
    assert order_status_for(fulfilment, parcels) == order


# ── refusals, word for word ────────────────────────────────────────────────────────────────


def test_invalid_transition_says_which_and_why(session: Session, world: World) -> None:
    """A parcel the shop has not marked ready cannot be picked up; nothing is written."""
    _, [parcel], _ = new_order(session, world)
    with pytest.raises(InvalidTransitionError) as caught:
        transition(session, parcel, "pick_up", actor_role=COURIER)
    assert str(caught.value) == (
        f"parcel {parcel.id}: cannot 'pick_up' from 'awaiting': "
        "the shop has not marked it ready yet"
    )
    assert isinstance(caught.value, ValueError)
    error = caught.value
    assert (error.entity, error.entity_id, error.from_status, error.action) == (
        "parcel",
        parcel.id,
        "awaiting",
        "pick_up",
    )
    assert parcel.status == "awaiting"
    assert events_of(session, parcel) == []


def test_forbidden_transition_names_who_may(session: Session, world: World) -> None:
    """A customer may not pick up a parcel; the message lists the roles that may."""
    _, [parcel], _ = new_order(session, world)
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    with pytest.raises(ForbiddenTransitionError) as caught:
        perform(session, parcel, "pick_up", actor_role=CUSTOMER, detail={"label_code": "x"})
    assert str(caught.value) == (
        f"parcel {parcel.id}: a customer may not 'pick_up' from 'ready' "
        "(allowed: dispatcher, courier, system)"
    )
    assert isinstance(caught.value, PermissionError)
    assert caught.value.allowed_roles == {DISPATCHER, COURIER, SYSTEM}
    assert parcel.status == "ready"


def test_role_that_may_never_act_is_forbidden_from_any_status(
    session: Session, world: World
) -> None:
    """403 before 409: a shop may never complete a stop, whatever the stop's status."""
    _, _, [stop] = new_order(session, world)
    with pytest.raises(ForbiddenTransitionError, match=r"a shop may not 'complete' from"):
        perform(session, stop, "complete", actor_role=SHOP)


def test_unknown_action_and_unknown_role(session: Session, world: World) -> None:
    order, _, _ = new_order(session, world)
    with pytest.raises(InvalidTransitionError) as caught:
        perform(session, order, "teleport", actor_role=DISPATCHER)
    assert str(caught.value) == (
        f"order {order.id}: cannot 'teleport' from 'placed': orders have no action 'teleport'"
    )
    with pytest.raises(ValueError, match="unknown role 'admin'"):
        perform(session, order, "cancel", actor_role="admin")


def test_courier_confirms_a_pickup_with_the_label_code(session: Session, world: World) -> None:
    """Without the label's code or with another one the courier cannot pick up; any case."""
    _, [parcel], _ = new_order(session, world)
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    prefix = f"parcel {parcel.id}: cannot 'pick_up' from 'ready': "
    with pytest.raises(InvalidTransitionError) as missing:
        perform(session, parcel, "pick_up", actor_role=COURIER)
    assert str(missing.value) == prefix + "confirm it with the code on its label"
    with pytest.raises(InvalidTransitionError) as wrong:
        perform(session, parcel, "pick_up", actor_role=COURIER, detail={"label_code": "NOPE"})
    assert str(wrong.value) == prefix + "'NOPE' is not the code on its label"
    detail = {"label_code": parcel.label_code.lower()}
    perform(session, parcel, "pick_up", actor_role=COURIER, detail=detail)
    assert parcel.status == "picked_up"


def test_pickup_stop_needs_a_ready_parcel_and_its_label(session: Session, world: World) -> None:
    """A courier at the shop cannot take a parcel that is not packed yet, nor one whose label
    was not scanned; completing the stop picks the parcel up."""
    order, [parcel], [pickup, delivery] = new_order(session, world, pickups=True)
    prefix = f"stop {pickup.id}: cannot 'complete' from 'planned': "
    with pytest.raises(InvalidTransitionError) as caught:
        perform(session, pickup, "complete", actor_role=COURIER)
    assert str(caught.value) == (
        prefix + f"parcel {parcel.id} is 'awaiting': the shop has not marked it ready yet"
    )
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    with pytest.raises(InvalidTransitionError) as caught:
        perform(session, pickup, "complete", actor_role=COURIER, detail={"label_code": "X1"})
    assert str(caught.value) == prefix + f"'X1' is not the code on parcel {parcel.id}'s label"
    detail = {"label_code": parcel.label_code}
    events = perform(session, pickup, "complete", actor_role=COURIER, detail=detail)
    assert [(e.entity, e.action) for e in events] == [
        ("stop", "complete"),
        ("parcel", "pick_up"),
        ("order", "send_out"),
    ]
    assert (parcel.status, order.status, delivery.status) == (
        "picked_up",
        "out_for_delivery",
        "planned",
    )


def test_customer_cancels_only_before_the_cutoff(session: Session, world: World) -> None:
    """Past the window's cutoff only the dispatcher can cancel; the customer is told when."""
    late, _, _ = new_order(session, world, window_id=world.past_window_id)
    with pytest.raises(InvalidTransitionError) as caught:
        perform(session, late, "cancel", actor_role=CUSTOMER, now=NOW)
    assert str(caught.value) == (
        f"order {late.id}: cannot 'cancel' from 'placed': "
        "its window's cutoff passed at 2025-05-06 08:00 UTC"
    )
    perform(session, late, "cancel", actor_role=DISPATCHER, now=NOW)
    assert late.status == "cancelled"

    order, parcels, stops = new_order(session, world, parcels=2, pickups=True)
    events = perform(session, order, "cancel", actor_role=CUSTOMER, now=NOW)
    assert [(e.entity, e.action) for e in events] == [
        ("order", "cancel"),
        *[("parcel", "cancel"), ("stop", "cancel"), ("stop", "cancel")] * 2,
    ]
    assert {p.status for p in parcels} == {s.status for s in stops} == {"cancelled"}


def test_orders_placed_before_the_day_before_cutoff_keep_it(session: Session, world: World) -> None:
    """An order in the day-before batch cannot be cancelled once that batch has closed."""
    window = DeliveryWindow(
        town_id=world.town_id,
        day=NOW.date(),
        starts_at=NOW + timedelta(hours=6),
        ends_at=NOW + timedelta(hours=8),
        cutoff_at=NOW + timedelta(hours=2),
        day_before_cutoff_at=NOW - timedelta(hours=12),
    )
    session.add(window)
    session.flush()
    early, _, _ = new_order(session, world, window_id=_id(window))
    early.created_at = NOW - timedelta(hours=15)
    same_day, _, _ = new_order(session, world, window_id=_id(window))
    same_day.created_at = NOW - timedelta(hours=1)
    with pytest.raises(InvalidTransitionError, match="cutoff passed at 2025-05-05 21:00 UTC"):
        perform(session, early, "cancel", actor_role=CUSTOMER, now=NOW)
    perform(session, same_day, "cancel", actor_role=CUSTOMER, now=NOW)
    assert (early.status, same_day.status) == ("placed", "cancelled")


def test_partly_collected_order_cannot_be_cancelled(session: Session, world: World) -> None:
    order, [first, second], _ = new_order(session, world, parcels=2, fulfilment="collect")
    for parcel in (first, second):
        perform(session, parcel, "mark_ready", actor_role=SHOP)
    perform(session, first, "collect", actor_role=SHOP)
    with pytest.raises(InvalidTransitionError) as caught:
        perform(session, order, "cancel", actor_role=DISPATCHER)
    assert str(caught.value) == (
        f"order {order.id}: cannot 'cancel' from 'ready': "
        f"parcel {first.id} is 'collected': it has been collected"
    )
    perform(session, second, "cancel", actor_role=SHOP, detail={"why": "sold out"})
    assert order.status == "collected"


# ── events ─────────────────────────────────────────────────────────────────────────────────


def test_a_transition_writes_one_event_and_commits_nothing(session: Session, world: World) -> None:
    """The row says who did what from where to where, with the caller's detail; the caller
    commits or rolls back."""
    _, [parcel], _ = new_order(session, world)
    session.commit()
    user_id = world.users[SHOP]
    detail = {"count": 2, "weight_g": 1800}
    assert (
        transition(
            session, parcel, "mark_ready", actor_user_id=user_id, actor_role=SHOP, detail=detail
        )
        == "ready"
    )
    [event] = events_of(session, parcel)
    assert (event.entity, event.entity_id, event.action) == ("parcel", parcel.id, "mark_ready")
    assert (event.from_status, event.to_status, event.user_id) == ("awaiting", "ready", user_id)
    assert event.detail == detail
    session.rollback()
    assert parcel.status == "awaiting"
    assert events_of(session, parcel) == []


def test_a_delivery_writes_the_stop_the_parcel_and_the_order(
    session: Session, world: World
) -> None:
    """The courier completes the stop; parcel and order follow as the system, each with
    the cause, in order."""
    order, [parcel], [stop] = new_order(session, world)
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    assert order.status == "ready"
    perform(
        session, parcel, "pick_up", actor_role=COURIER, detail={"label_code": parcel.label_code}
    )
    assert order.status == "out_for_delivery"
    courier = world.users[COURIER]
    events = perform(
        session,
        stop,
        "complete",
        actor_role=COURIER,
        actor_user_id=courier,
        detail={"recipient": "Aino"},
    )
    session.flush()
    rows = [
        (e.entity, e.entity_id, e.action, e.from_status, e.to_status, e.user_id) for e in events
    ]
    assert rows == [
        ("stop", stop.id, "complete", "planned", "done", courier),
        ("parcel", parcel.id, "deliver", "picked_up", "delivered", None),
        ("order", order.id, "deliver", "out_for_delivery", "delivered", None),
    ]
    assert events[1].detail == {"cause": {"entity": "stop", "id": stop.id, "action": "complete"}}
    assert events[2].detail == {"cause": {"entity": "parcel", "id": parcel.id, "action": "deliver"}}
    assert [e.action for e in events_of(session, order)] == ["mark_ready", "send_out", "deliver"]


def test_a_failed_delivery_needs_a_reason_and_fails_the_parcel(
    session: Session, world: World
) -> None:
    order, [parcel], [stop] = new_order(session, world)
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    perform(session, parcel, "pick_up", actor_role=DISPATCHER)
    with pytest.raises(InvalidTransitionError, match=r"say why in detail\['reason'\]$"):
        perform(session, stop, "fail", actor_role=COURIER)
    events = perform(session, stop, "fail", actor_role=COURIER, detail={"reason": "not home"})
    assert [(e.entity, e.to_status) for e in events] == [
        ("stop", "failed"),
        ("parcel", "failed"),
        ("order", "failed"),
    ]
    assert events[1].detail["reason"] == "not home"
    perform(session, parcel, "return", actor_role=COURIER)
    assert (parcel.status, order.status) == ("returned", "failed")


def test_a_refusal_half_way_leaves_nothing_behind(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``perform`` is all or nothing: a derived step refused undoes the first one too."""
    order, [parcel], _ = new_order(session, world)
    guards = dict(lifecycle._GUARDS)
    guards["order", "mark_ready"] = lambda *_: "the test says no"
    monkeypatch.setattr(lifecycle, "_GUARDS", guards)
    with pytest.raises(InvalidTransitionError, match="the test says no"):
        perform(session, parcel, "mark_ready", actor_role=SHOP)
    assert (parcel.status, order.status) == ("awaiting", "placed")
    assert events_of(session, parcel) == events_of(session, order) == []


def test_re_planned_stops_are_cancelled_when_their_parcel_moves_on(
    session: Session, world: World
) -> None:
    """A parcel picked up at the hub by the dispatcher no longer needs its pickup stop."""
    _, [parcel], [pickup, delivery] = new_order(session, world, pickups=True)
    perform(session, parcel, "mark_ready", actor_role=SHOP)
    events = perform(session, parcel, "pick_up", actor_role=DISPATCHER)
    assert [(e.entity, e.entity_id, e.action) for e in events][:2] == [
        ("parcel", parcel.id, "pick_up"),
        ("stop", pickup.id, "cancel"),
    ]
    assert (pickup.status, delivery.status) == ("cancelled", "planned")


def test_windows_close_at_their_cutoff(session: Session, world: World) -> None:
    """The cutoff clock closes only the windows whose cutoff has passed."""
    events = close_due_windows(session, now=NOW)
    assert [(e.entity_id, e.action, e.to_status, e.user_id) for e in events] == [
        (world.past_window_id, "close", "closed", None)
    ]
    assert close_due_windows(session, now=NOW) == []
    open_window = session.get(DeliveryWindow, world.open_window_id)
    assert open_window is not None
    assert open_window.status == "open"


def test_a_window_is_planned_again_while_it_runs(session: Session, world: World) -> None:
    """Re-planning is a recorded self-loop, before and during the window."""
    window = session.get(DeliveryWindow, world.open_window_id)
    assert window is not None
    for action in ["close", "plan", "plan", "start", "plan", "finish"]:
        perform(session, window, action, actor_role=DISPATCHER)
    assert [(e.from_status, e.to_status) for e in events_of(session, window)] == [
        ("open", "closed"),
        ("closed", "planned"),
        ("planned", "planned"),
        ("planned", "running"),
        ("running", "running"),
        ("running", "finished"),
    ]
    assert terminal("window", window.status)


def test_a_courier_drops_out_but_cannot_cancel_a_shift(session: Session, world: World) -> None:
    shift = session.get(Shift, world.shift_id)
    assert shift is not None
    with pytest.raises(ForbiddenTransitionError) as caught:
        perform(session, shift, "cancel", actor_role=COURIER)
    assert str(caught.value) == (
        f"shift {shift.id}: a courier may not 'cancel' from 'scheduled' "
        "(allowed: operator, dispatcher)"
    )
    perform(session, shift, "start", actor_role=COURIER)
    perform(session, shift, "drop_out", actor_role=COURIER, detail={"reason": "flat tyre"})
    with pytest.raises(InvalidTransitionError, match="cannot 'end' from 'dropped_out'"):
        perform(session, shift, "end", actor_role=COURIER)


# ── the state machine ──────────────────────────────────────────────────────────────────────


def reference_order_status(fulfilment: str, parcels: list[str]) -> str:
    """The order's status spelled out from the product's words, apart from the module."""
    live = [p for p in parcels if p != "cancelled"]
    if not live:
        return "cancelled"
    if fulfilment == "collect":
        if set(live) == {"collected"}:
            return "collected"
        return "ready" if set(live) <= {"ready", "collected"} else "placed"
    delivered = live.count("delivered")
    ended = delivered + live.count("failed") + live.count("returned")
    if ended == len(live):
        return {len(live): "delivered", 0: "failed"}.get(delivered, "partly_delivered")
    if set(live) <= {"ready"}:
        return "ready"
    return "placed" if set(live) <= {"awaiting", "ready"} else "out_for_delivery"


Key = tuple[str, int]

#: Moves that end a walk early or stand in for the courier: rarer in the machine's walks.
_RARE = {
    ("order", "cancel"),
    ("parcel", "cancel"),
    ("parcel", "deliver"),
    ("parcel", "fail"),
    ("stop", "cancel"),
    ("stop", "skip"),
}


def often(data: st.DataObject, percent: int) -> bool:
    """True ``percent`` times in a hundred; shrinks towards True."""
    return data.draw(st.integers(0, 99)) < percent


class OrderLifecycle(RuleBasedStateMachine):
    """Random actions by random people on one order, its 1–3 parcels (one per shop) and
    their stops, with the planner adding stops now and then; after every step the database
    must hold exactly what the reference predicts, with one event per change."""

    session: ClassVar[Session]
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.order: Order | None = None
        self.parcels: list[Parcel] = []
        self.stops: list[Stop] = []
        self.pickups = False
        self.cutoff_passed = False
        self.expected: dict[Key, str] = {}
        self.ended: dict[Key, str] = {}
        self.last_event_id = 0

    # ── set-up and reading back ──

    @initialize(
        parcels=st.integers(1, 3),
        fulfilment=st.sampled_from(["delivery", "delivery", "collect"]),
        pickups=st.booleans(),
        cutoff_passed=st.booleans(),
    )
    def place_order(
        self, parcels: int, fulfilment: str, pickups: bool, cutoff_passed: bool
    ) -> None:
        window = self.world.past_window_id if cutoff_passed else self.world.open_window_id
        self.order, self.parcels, self.stops = new_order(
            self.session,
            self.world,
            parcels=parcels,
            fulfilment=fulfilment,
            window_id=window,
            pickups=pickups,
        )
        self.pickups = pickups and fulfilment == "delivery"
        self.cutoff_passed = cutoff_passed
        self.last_event_id = self.session.exec(select(func.max(Event.id))).one() or 0
        self.expected = self.read_statuses()

    def read_statuses(self) -> dict[Key, str]:
        """The statuses in the database (columns, not the session's objects)."""
        self.session.flush()
        assert self.order is not None
        found: dict[Key, str] = {}
        for model, rows in [(Order, [self.order]), (Parcel, self.parcels), (Stop, self.stops)]:
            ids = [_id(row) for row in rows]
            query = select(col(model.id), col(model.status)).where(col(model.id).in_(ids))
            for row_id, status in self.session.exec(query):
                found[ENTITY_OF[model], row_id] = status
        return found

    def new_events(self) -> list[Event]:
        query = select(Event).where(col(Event.id) > self.last_event_id).order_by(col(Event.id))
        return list(self.session.exec(query))

    def parcel_behind(self, obj: Tracked) -> Parcel | None:
        if isinstance(obj, Parcel):
            return obj
        if isinstance(obj, Stop):
            return next(p for p in self.parcels if p.id == obj.parcel_id)
        return None

    # ── the reference ──

    @staticmethod
    def may(entity: str, action: str) -> set[str]:
        """Who may do ``action`` from some status."""
        return {
            r for t in TABLE.values() if (t.entity, t.action) == (entity, action) for r in t.roles
        }

    def verdict(self, obj: Tracked, action: str, role: str, detail: dict[str, Any]) -> str:
        """ "ok", "forbidden" or "invalid", from the table and the product's rules."""
        entity = entity_of(obj)
        row = TABLE.get((entity, obj.status, action))
        if role not in (row.roles if row else self.may(entity, action)):
            return "forbidden"
        if row is None:
            return "invalid"
        parcel = self.parcel_behind(obj)
        code_ok = parcel is not None and detail.get("label_code") == parcel.label_code
        said_why = bool(detail.get("reason"))
        assert self.order is not None
        collect = self.order.fulfilment == "collect"
        ok = True
        if (entity, action) == ("order", "cancel"):
            packed = all(p.status in ("awaiting", "ready", "cancelled") for p in self.parcels)
            ok = packed and (role != CUSTOMER or not self.cutoff_passed)
        elif (entity, action) == ("parcel", "pick_up"):
            ok = not collect and (role != COURIER or code_ok)
        elif (entity, action) == ("parcel", "collect"):
            ok = collect
        elif (entity, action) == ("parcel", "fail"):
            ok = said_why
        elif isinstance(obj, Stop) and parcel is not None and action in ("complete", "fail"):
            if obj.kind == "delivery":
                ok = parcel.status == "picked_up"
            elif action == "complete":
                ok = parcel.status == "ready" and (role != COURIER or code_ok)
            ok = ok and (action == "complete" or said_why)
        return "ok" if ok else "invalid"

    def predict(self, before: dict[Key, str], obj: Tracked, action: str) -> dict[Key, str]:
        """The statuses after ``action`` succeeded on ``obj``, with all that follows."""
        assert self.order is not None
        entity = entity_of(obj)
        after = dict(before)
        after[entity, _id(obj)] = TABLE[entity, before[entity, _id(obj)], action].to_status
        if isinstance(obj, Stop):
            parcel = ("parcel", obj.parcel_id)
            if after["stop", _id(obj)] == "done":
                after[parcel] = "picked_up" if obj.kind == "pickup" else "delivered"
            elif after["stop", _id(obj)] == "failed" and obj.kind == "delivery":
                after[parcel] = "failed"
        if (entity, action) == ("order", "cancel"):
            for p in self.parcels:
                if after["parcel", _id(p)] in ("awaiting", "ready"):
                    after["parcel", _id(p)] = "cancelled"
        for stop in self.stops:
            parcel_status = after["parcel", stop.parcel_id]
            still = ("awaiting", "ready") + (("picked_up",) if stop.kind == "delivery" else ())
            if parcel_status not in still and after["stop", _id(stop)] in ("planned", "arrived"):
                after["stop", _id(stop)] = "cancelled"
        parcels = [after["parcel", _id(p)] for p in self.parcels]
        after["order", _id(self.order)] = reference_order_status(self.order.fulfilment, parcels)
        return after

    # ── rules ──

    def objects(self) -> list[Tracked]:
        assert self.order is not None
        return [self.order, *self.parcels, *self.stops]

    def moves(self) -> list[tuple[Tracked, str]]:
        """What people may do now, to what; the rare moves weigh less, so that walks often
        get as far as a delivery."""
        return [
            (obj, row.action)
            for obj in self.objects()
            for row in TABLE.values()
            if (row.entity, row.from_status) == (entity_of(obj), obj.status)
            if row.roles - {SYSTEM}
            for _ in range(1 if (row.entity, row.action) in _RARE else 5)
        ]

    def best_try(self, obj: Tracked, action: str) -> tuple[str, dict[str, Any]]:
        """A role that may do ``action`` now and the fullest detail: the move most likely to
        pass, to steer walks past the guards towards the end states."""
        row = TABLE[entity_of(obj), obj.status, action]
        parcel = self.parcel_behind(obj)
        detail = {"reason": "nobody home"}
        if parcel is not None:
            detail["label_code"] = parcel.label_code
        return sorted(row.roles - {SYSTEM}, key=PEOPLE.index)[-1], detail

    def detail_for(self, data: st.DataObject, obj: Tracked, percent: int) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        parcel = self.parcel_behind(obj)
        if parcel is not None and often(data, percent):
            detail["label_code"] = parcel.label_code if often(data, percent) else "WRONG"
        if often(data, percent):
            detail["reason"] = "nobody home"
        return detail

    @precondition(lambda self: bool(self.moves()))
    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """Mostly a sensible move by someone who may; otherwise anything by anyone."""
        if often(data, 80):
            moves = self.moves()
            likely = [(o, a) for o, a in moves if self.verdict(o, a, *self.best_try(o, a)) == "ok"]
            obj, action = data.draw(st.sampled_from(likely or moves))
            row = TABLE[entity_of(obj), obj.status, action]
            people = sorted(row.roles - {SYSTEM})
            role = data.draw(st.sampled_from(people if often(data, 90) else PEOPLE))
            detail = self.detail_for(data, obj, 80)
        else:
            obj = data.draw(st.sampled_from(self.objects()))
            action = data.draw(st.sampled_from(sorted(actions(entity_of(obj)))))
            somewhere = [r for r in PEOPLE if r in self.may(entity_of(obj), action)]
            role = data.draw(
                st.sampled_from(somewhere if somewhere and often(data, 60) else PEOPLE)
            )
            detail = self.detail_for(data, obj, 50)
        self.attempt(obj, action, role, detail)

    def attempt(self, obj: Tracked, action: str, role: str, detail: dict[str, Any]) -> None:
        """``perform`` against the reference: the verdict, the statuses and the log."""
        entity = entity_of(obj)
        before = self.read_statuses()
        assert before == self.expected
        verdict = self.verdict(obj, action, role, detail)
        user_id = self.world.users[role]
        what = f"{entity} {obj.id} '{action}' by {role} from '{obj.status}' with {detail}"
        refused: TransitionError | None = None
        try:
            returned = perform(
                self.session,
                obj,
                action,
                actor_user_id=user_id,
                actor_role=role,
                detail=detail,
                now=NOW,
            )
        except TransitionError as error:
            refused = error
        if refused is not None:
            kind = "forbidden" if isinstance(refused, ForbiddenTransitionError) else "invalid"
            assert kind == verdict, f"{what}: {refused}"
            assert str(refused).startswith(f"{entity} {obj.id}: ")
            assert self.read_statuses() == before
            assert self.new_events() == []
            return
        assert verdict == "ok", f"{what}: done, the reference says {verdict}"
        after = self.read_statuses()
        assert after == self.predict(before, obj, action), what
        events = self.new_events()
        assert [e.id for e in events] == [e.id for e in returned]
        self.check_events(before, after, events, (entity, _id(obj)), action, user_id)
        self.expected = after
        self.last_event_id = _id(events[-1])

    def check_events(
        self,
        before: dict[Key, str],
        after: dict[Key, str],
        events: list[Event],
        key: Key,
        action: str,
        user_id: int,
    ) -> None:
        """The log replays ``before`` into ``after`` one table row at a time, in order."""
        first = events[0]
        assert (first.entity, first.entity_id, first.action, first.user_id) == (
            *key,
            action,
            user_id,
        )
        current = dict(before)
        for event in events:
            at = (event.entity, event.entity_id)
            assert not terminal(event.entity, current[at]), f"{at} left '{current[at]}'"
            assert event.from_status == current[at]
            row = TABLE[event.entity, event.from_status, event.action]
            assert row.to_status == event.to_status
            if event is not first:
                assert SYSTEM in row.roles
                assert event.user_id is None
                assert "cause" in event.detail
            current[at] = event.to_status
        assert current == after
        assert {(e.entity, e.entity_id) for e in events} == {
            k for k in after if after[k] != before[k]
        }

    @rule(data=st.data())
    def plan_stop(self, data: st.DataObject) -> None:
        """The planner gives a parcel a new stop when it has none open (a re-plan); always
        allowed, so that a walk whose objects have all ended can still take its steps."""
        if self.order is None or self.order.fulfilment != "delivery":
            return
        parcel = data.draw(st.sampled_from(self.parcels))
        open_kinds = {
            s.kind
            for s in self.stops
            if s.parcel_id == parcel.id and not terminal("stop", s.status)
        }
        kinds = []
        if parcel.status in ("awaiting", "ready", "picked_up") and "delivery" not in open_kinds:
            kinds.append("delivery")
        if self.pickups and parcel.status in ("awaiting", "ready") and "pickup" not in open_kinds:
            kinds.append("pickup")
        if kinds:
            stop = new_stop(self.session, self.world, parcel, data.draw(st.sampled_from(kinds)))
            self.stops.append(stop)
            self.expected["stop", _id(stop)] = "planned"

    # ── invariants ──

    @invariant()
    def delivered_iff_every_live_parcel_is(self) -> None:
        if self.order is None:
            return
        live = [self.expected["parcel", _id(p)] for p in self.parcels]
        live = [s for s in live if s != "cancelled"]
        delivered = bool(live) and set(live) == {"delivered"}
        assert (self.expected["order", _id(self.order)] == "delivered") == delivered

    @invariant()
    def nothing_leaves_an_end_state(self) -> None:
        for key, status in self.expected.items():
            if key in self.ended:
                assert status == self.ended[key], f"{key} left '{self.ended[key]}'"
            elif terminal(key[0], status):
                self.ended[key] = status


def test_order_parcel_and_stop_lifecycle_machine(session: Session, world: World) -> None:
    """Random walks through the order, parcel and stop lifecycles agree with the reference."""
    OrderLifecycle.session = session
    OrderLifecycle.world = world
    run_state_machine_as_test(
        OrderLifecycle,
        settings=settings(max_examples=50, stateful_step_count=30, deadline=None),
    )
