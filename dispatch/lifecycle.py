"""The lifecycles of orders, parcels, stops, shifts and delivery windows, in one table.

Every status change in velocal goes through this module, so the rules live in one place and
every change leaves an ``Event``. A route calls ``perform``: it checks the action against
``TABLE`` (from the object's status, for the actor's role, and the few rules that need more
than a status: a cutoff, a label code, the parcel behind a stop), sets the status, writes the
event and then applies what follows from it as the ``system`` role: a completed stop moves its
parcel, a parcel's change closes stops that no longer apply and moves its order, a cancelled
order cancels its parcels. It is all or nothing and commits nothing: the caller commits, so a
change and its events land together.

``InvalidTransitionError`` (HTTP 409) says the action is not possible now and why;
``ForbiddenTransitionError`` (HTTP 403) says the role may not do it. Ownership (which shop,
which courier) is the API's check, not this module's.

The order's status is never set by people: it follows its parcels (``order_status_for``).
Cancelled parcels do not count, so an order is delivered when every parcel it still has is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

from sqlmodel import Session, col, select

from dispatch.models import (
    DeliveryWindow,
    Event,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    utc_now,
)

# ── roles and entities ─────────────────────────────────────────────────────────────────────

OPERATOR = "operator"
DISPATCHER = "dispatcher"
SHOP = "shop"
COURIER = "courier"
CUSTOMER = "customer"
#: velocal itself: derived changes (an order follows its parcels), the cutoff clock, the planner.
SYSTEM = "system"
ROLES: tuple[str, ...] = (OPERATOR, DISPATCHER, SHOP, COURIER, CUSTOMER, SYSTEM)

#: Anything with a lifecycle; ``Event.entity`` holds its name from ``ENTITY_OF``.
Tracked: TypeAlias = Order | Parcel | Stop | Shift | DeliveryWindow

ENTITY_OF: Mapping[type, str] = MappingProxyType(
    {Order: "order", Parcel: "parcel", Stop: "stop", Shift: "shift", DeliveryWindow: "window"}
)
ENTITIES: tuple[str, ...] = tuple(ENTITY_OF.values())

#: The status a new row starts in (the models' defaults).
INITIAL: Mapping[str, str] = MappingProxyType(
    {
        "order": "placed",
        "parcel": "awaiting",
        "stop": "planned",
        "shift": "scheduled",
        "window": "open",
    }
)


# ── the table ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Transition:
    """One row of the table: ``action`` takes ``entity`` from ``from_status`` to ``to_status``."""

    entity: str
    from_status: str
    action: str
    to_status: str
    roles: frozenset[str]


#: Windows whose routes are out: past their cutoff, they may still take late orders.
LATE_ORDER_WINDOWS = ("planned", "running")
_PEOPLE = (DISPATCHER, SYSTEM)  # the dispatcher may stand in for velocal itself
_ROWS: tuple[tuple[str, tuple[str, ...], str, str, tuple[str, ...]], ...] = (
    # entity, from statuses, action, to status, roles
    # An order follows its parcels; people can only cancel it (its parcels go with it).
    ("order", ("placed",), "mark_ready", "ready", (SYSTEM,)),
    ("order", ("placed", "ready"), "send_out", "out_for_delivery", (SYSTEM,)),
    ("order", ("out_for_delivery",), "deliver", "delivered", (SYSTEM,)),
    ("order", ("out_for_delivery",), "deliver_partly", "partly_delivered", (SYSTEM,)),
    ("order", ("out_for_delivery",), "fail", "failed", (SYSTEM,)),
    ("order", ("ready",), "collect", "collected", (SYSTEM,)),
    ("order", ("placed", "ready"), "cancel", "cancelled", (CUSTOMER, *_PEOPLE)),
    # A parcel is what one shop hands over for one order.
    ("parcel", ("awaiting",), "mark_ready", "ready", (SHOP, DISPATCHER)),
    ("parcel", ("ready",), "pick_up", "picked_up", (COURIER, *_PEOPLE)),
    ("parcel", ("picked_up",), "deliver", "delivered", _PEOPLE),
    ("parcel", ("picked_up",), "fail", "failed", _PEOPLE),
    ("parcel", ("failed",), "return", "returned", (COURIER, SHOP, DISPATCHER)),
    ("parcel", ("ready",), "collect", "collected", (SHOP, DISPATCHER)),
    ("parcel", ("awaiting", "ready"), "cancel", "cancelled", (SHOP, *_PEOPLE)),
    # A stop is a visit on a courier's route; its parcel follows when it is done or failed.
    ("stop", ("planned",), "arrive", "arrived", (COURIER, DISPATCHER)),
    ("stop", ("planned", "arrived"), "complete", "done", (COURIER, DISPATCHER)),
    ("stop", ("planned", "arrived"), "fail", "failed", (COURIER, DISPATCHER)),
    ("stop", ("planned", "arrived"), "skip", "skipped", (COURIER, DISPATCHER)),
    ("stop", ("planned", "arrived"), "cancel", "cancelled", _PEOPLE),
    # A courier's shift.
    ("shift", ("scheduled",), "start", "on_duty", (COURIER, DISPATCHER)),
    ("shift", ("on_duty",), "end", "off_duty", (COURIER, *_PEOPLE)),
    ("shift", ("on_duty",), "drop_out", "dropped_out", (COURIER, DISPATCHER)),
    ("shift", ("scheduled",), "cancel", "cancelled", (OPERATOR, DISPATCHER)),
    # A delivery window; planning again is a self-loop, a running window included.
    ("window", ("open",), "close", "closed", (OPERATOR, *_PEOPLE)),
    ("window", ("closed",), "reopen", "open", (OPERATOR, DISPATCHER)),
    ("window", ("closed",), "plan", "planned", _PEOPLE),
    ("window", ("planned",), "plan", "planned", _PEOPLE),
    ("window", ("running",), "plan", "running", _PEOPLE),
    ("window", ("planned",), "start", "running", _PEOPLE),
    ("window", ("running",), "finish", "finished", _PEOPLE),
    ("window", ("open", "closed", "planned"), "cancel", "cancelled", (OPERATOR, DISPATCHER)),
)

#: (entity, from_status, action) → the transition.
TABLE: Mapping[tuple[str, str, str], Transition] = MappingProxyType(
    {
        (entity, source, action): Transition(entity, source, action, target, frozenset(roles))
        for entity, sources, action, target, roles in _ROWS
        for source in sources
    }
)

#: Why an action is not possible from a status: the tail of ``InvalidTransitionError``.
_STANDING: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("order", "placed"): "its shops are still preparing its parcels",
        ("order", "ready"): "its parcels are ready and none has been picked up yet",
        ("order", "out_for_delivery"): "its parcels are on the way",
        ("order", "delivered"): "it has been delivered",
        ("order", "partly_delivered"): "it has been partly delivered",
        ("order", "failed"): "its delivery has failed",
        ("order", "collected"): "it has been collected",
        ("order", "cancelled"): "it has been cancelled",
        ("parcel", "awaiting"): "the shop has not marked it ready yet",
        ("parcel", "ready"): "it is ready and nobody has picked it up yet",
        ("parcel", "picked_up"): "it is on a courier's bike",
        ("parcel", "delivered"): "it has been delivered",
        ("parcel", "failed"): "its delivery failed and it has not been returned yet",
        ("parcel", "returned"): "it has been returned",
        ("parcel", "collected"): "it has been collected",
        ("parcel", "cancelled"): "it has been cancelled",
        ("stop", "planned"): "the courier has not arrived yet",
        ("stop", "arrived"): "the courier is there",
        ("stop", "done"): "it is done",
        ("stop", "failed"): "it has failed",
        ("stop", "skipped"): "it was skipped",
        ("stop", "cancelled"): "it was cancelled",
        ("shift", "scheduled"): "it has not started yet",
        ("shift", "on_duty"): "the courier is on duty",
        ("shift", "off_duty"): "it has ended",
        ("shift", "dropped_out"): "the courier dropped out",
        ("shift", "cancelled"): "it was cancelled",
        ("window", "open"): "it still takes orders",
        ("window", "closed"): "it is closed and not planned yet",
        ("window", "planned"): "it is planned and has not started",
        ("window", "running"): "its couriers are out",
        ("window", "finished"): "it has finished",
        ("window", "cancelled"): "it was cancelled",
    }
)


# ── errors ─────────────────────────────────────────────────────────────────────────────────


class TransitionError(Exception):
    """A refused status change; ``str()`` is the message to show."""

    def __init__(
        self, entity: str, from_status: str, action: str, message: str, entity_id: int | None
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.entity_id = entity_id
        self.from_status = from_status
        self.action = action


class InvalidTransitionError(TransitionError, ValueError):
    """The action is not possible now (HTTP 409): wrong status, or a rule such as a cutoff."""

    def __init__(
        self,
        entity: str,
        from_status: str,
        action: str,
        reason: str,
        *,
        entity_id: int | None = None,
    ) -> None:
        message = f"{_name(entity, entity_id)}: cannot '{action}' from '{from_status}': {reason}"
        super().__init__(entity, from_status, action, message, entity_id)
        self.reason = reason


class ForbiddenTransitionError(TransitionError, PermissionError):
    """The actor's role may not do this action (HTTP 403)."""

    def __init__(
        self,
        entity: str,
        from_status: str,
        action: str,
        role: str,
        *,
        entity_id: int | None = None,
        allowed_roles: frozenset[str] = frozenset(),
    ) -> None:
        who = ", ".join(r for r in ROLES if r in allowed_roles) or "nobody"
        message = (
            f"{_name(entity, entity_id)}: a {role} may not '{action}' "
            f"from '{from_status}' (allowed: {who})"
        )
        super().__init__(entity, from_status, action, message, entity_id)
        self.role = role
        self.allowed_roles = allowed_roles


def _name(entity: str, entity_id: int | None) -> str:
    return entity if entity_id is None else f"{entity} {entity_id}"


# ── reading the table ──────────────────────────────────────────────────────────────────────


def _check_entity(entity: str) -> None:
    if entity not in INITIAL:
        raise ValueError(f"unknown entity {entity!r}: one of {', '.join(ENTITIES)}")


def statuses(entity: str) -> frozenset[str]:
    """Every status ``entity`` can be in."""
    _check_entity(entity)
    return frozenset(
        {INITIAL[entity]}
        | {t.from_status for t in TABLE.values() if t.entity == entity}
        | {t.to_status for t in TABLE.values() if t.entity == entity}
    )


def actions(entity: str) -> frozenset[str]:
    """Every action the table knows for ``entity``."""
    _check_entity(entity)
    return frozenset(t.action for t in TABLE.values() if t.entity == entity)


def allowed(entity: str, status: str, *, role: str | None = None) -> dict[str, str]:
    """Action → next status from ``status`` (for ``role`` only if given): a page's buttons."""
    if status not in statuses(entity):
        raise ValueError(f"unknown {entity} status {status!r}")
    return {
        t.action: t.to_status
        for t in TABLE.values()
        if t.entity == entity and t.from_status == status and (role is None or role in t.roles)
    }


def terminal(entity: str, status: str) -> bool:
    """True if nothing can happen to an ``entity`` in ``status`` any more."""
    return not allowed(entity, status)


def entity_of(obj: object) -> str:
    """The table's name for a model instance (``Event.entity``)."""
    try:
        return ENTITY_OF[type(obj)]
    except KeyError:
        raise TypeError(f"{type(obj).__name__} has no lifecycle") from None


def order_status_for(fulfilment: str, parcel_statuses: list[str]) -> str:
    """The status an order's parcels imply; cancelled parcels do not count.

    Delivery: ``out_for_delivery`` once any parcel has been picked up, and when every parcel
    has an outcome ``delivered`` (all delivered), ``failed`` (none) or ``partly_delivered``.
    Click & collect: ``ready`` when every parcel is ready or collected, then ``collected``.
    """
    live = [s for s in parcel_statuses if s != "cancelled"]
    if not live:
        return "cancelled"
    if fulfilment == "collect":
        if all(s == "collected" for s in live):
            return "collected"
        return "ready" if all(s in ("ready", "collected") for s in live) else "placed"
    outcomes = ("delivered", "failed", "returned")
    if all(s in outcomes for s in live):
        delivered = sum(s == "delivered" for s in live)
        if delivered == len(live):
            return "delivered"
        return "partly_delivered" if delivered else "failed"
    if any(s in ("picked_up", *outcomes) for s in live):
        return "out_for_delivery"
    return "ready" if all(s == "ready" for s in live) else "placed"


# ── rules beyond the status ────────────────────────────────────────────────────────────────

_Guard = Callable[[Session, Any, str, Mapping[str, Any], datetime], str | None]


def _order_of(session: Session, parcel: Parcel) -> Order:
    order = session.get(Order, parcel.order_id)
    if order is None:
        raise LookupError(f"parcel {parcel.id}: order {parcel.order_id} does not exist")
    return order


def _parcel_of(session: Session, stop: Stop) -> Parcel:
    parcel = session.get(Parcel, stop.parcel_id)
    if parcel is None:
        raise LookupError(f"stop {stop.id}: parcel {stop.parcel_id} does not exist")
    return parcel


def _parcels_of(session: Session, order: Order) -> list[Parcel]:
    query = select(Parcel).where(col(Parcel.order_id) == order.id).order_by(col(Parcel.id))
    return list(session.exec(query))


def _label_problem(parcel: Parcel, detail: Mapping[str, Any], whose: str) -> str | None:
    code = detail.get("label_code")
    if not code:
        return f"confirm it with the code on {whose} label"
    if str(code).strip().upper() != parcel.label_code.upper():
        return f"'{code}' is not the code on {whose} label"
    return None


def _reason_problem(role: str, detail: Mapping[str, Any]) -> str | None:
    if role != SYSTEM and not str(detail.get("reason", "")).strip():
        return "say why in detail['reason']"
    return None


def _guard_order_cancel(
    session: Session, order: Order, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    for parcel in _parcels_of(session, order):
        if parcel.status not in ("awaiting", "ready", "cancelled"):
            return f"parcel {parcel.id} is '{parcel.status}': {_STANDING['parcel', parcel.status]}"
    if role != CUSTOMER or order.window_id is None:
        return None
    window = session.get(DeliveryWindow, order.window_id)
    if window is None:
        return None
    if window.status != "open":
        return f"its window is {window.status}, customers can no longer cancel"
    # An order placed before the day-before cutoff was prepared with that batch.
    cutoff = window.cutoff_at
    before = window.day_before_cutoff_at
    if before is not None and order.created_at <= before:
        cutoff = before
    if now >= cutoff:
        return f"its window's cutoff passed at {cutoff:%Y-%m-%d %H:%M} UTC"
    return None


def _guard_parcel_pick_up(
    session: Session, parcel: Parcel, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    if _order_of(session, parcel).fulfilment == "collect":
        return "its order is click & collect: the customer collects it at the shop"
    return _label_problem(parcel, detail, "its") if role == COURIER else None


def _guard_parcel_collect(
    session: Session, parcel: Parcel, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    if _order_of(session, parcel).fulfilment != "collect":
        return "its order is for delivery, not click & collect"
    return None


def _guard_parcel_fail(
    session: Session, parcel: Parcel, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    return _reason_problem(role, detail)


def _parcel_not(parcel: Parcel, status: str) -> str | None:
    if parcel.status == status:
        return None
    return f"parcel {parcel.id} is '{parcel.status}': {_STANDING['parcel', parcel.status]}"


def _guard_stop_complete(
    session: Session, stop: Stop, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    parcel = _parcel_of(session, stop)
    if stop.kind == "pickup":
        problem = _parcel_not(parcel, "ready")
        if problem is None and role == COURIER:
            problem = _label_problem(parcel, detail, f"parcel {parcel.id}'s")
        return problem
    return _parcel_not(parcel, "picked_up")


def _guard_stop_fail(
    session: Session, stop: Stop, role: str, detail: Mapping[str, Any], now: datetime
) -> str | None:
    problem = _reason_problem(role, detail)
    if problem is None and stop.kind == "delivery":
        problem = _parcel_not(_parcel_of(session, stop), "picked_up")
    return problem


#: (entity, action) → a check that returns why the action is not possible, or None.
_GUARDS: Mapping[tuple[str, str], _Guard] = MappingProxyType(
    {
        ("order", "cancel"): _guard_order_cancel,
        ("parcel", "pick_up"): _guard_parcel_pick_up,
        ("parcel", "collect"): _guard_parcel_collect,
        ("parcel", "fail"): _guard_parcel_fail,
        ("stop", "complete"): _guard_stop_complete,
        ("stop", "fail"): _guard_stop_fail,
    }
)


# ── one transition ─────────────────────────────────────────────────────────────────────────


def check_transition(
    session: Session,
    obj: Tracked,
    action: str,
    *,
    actor_role: str,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """The status ``action`` would lead to, or raise the error ``transition`` would raise."""
    entity = entity_of(obj)
    if actor_role not in ROLES:
        raise ValueError(f"unknown role {actor_role!r}: one of {', '.join(ROLES)}")
    status = obj.status
    if action not in actions(entity):
        reason = f"{entity}s have no action '{action}'"
        raise InvalidTransitionError(entity, status, action, reason, entity_id=obj.id)
    anywhere = frozenset[str]().union(
        *(t.roles for t in TABLE.values() if t.entity == entity and t.action == action)
    )
    row = TABLE.get((entity, status, action))
    if actor_role not in (row.roles if row is not None else anywhere):
        raise ForbiddenTransitionError(
            entity,
            status,
            action,
            actor_role,
            entity_id=obj.id,
            allowed_roles=row.roles if row is not None else anywhere,
        )
    if row is None:
        reason = _STANDING.get((entity, status), f"'{status}' is not a {entity} status")
        raise InvalidTransitionError(entity, status, action, reason, entity_id=obj.id)
    guard = _GUARDS.get((entity, action))
    if guard is not None:
        problem = guard(session, obj, actor_role, detail or {}, now or utc_now())
        if problem is not None:
            raise InvalidTransitionError(entity, status, action, problem, entity_id=obj.id)
    return row.to_status


def _transition(
    session: Session,
    obj: Tracked,
    action: str,
    *,
    actor_role: str,
    actor_user_id: int | None,
    detail: Mapping[str, Any] | None,
    now: datetime | None,
) -> Event:
    if obj.id is None:
        session.flush()  # the event needs the row's id
    if obj.id is None:
        raise ValueError(f"{entity_of(obj)} is not in the session: add it first")
    to_status = check_transition(
        session, obj, action, actor_role=actor_role, detail=detail, now=now
    )
    event = Event(
        entity=entity_of(obj),
        entity_id=obj.id,
        action=action,
        from_status=obj.status,
        to_status=to_status,
        user_id=actor_user_id,
        detail=dict(detail or {}),
    )
    obj.status = to_status
    session.add(obj)
    session.add(event)
    return event


def transition(
    session: Session,
    obj: Tracked,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_role: str,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Apply one action to ``obj``, write its ``Event`` and return the new status.

    Only this one change: routes call ``perform``, which adds what follows from it. Raises
    ``InvalidTransitionError`` or ``ForbiddenTransitionError`` before changing anything.
    """
    event = _transition(
        session,
        obj,
        action,
        actor_role=actor_role,
        actor_user_id=actor_user_id,
        detail=detail,
        now=now,
    )
    return event.to_status


# ── what follows from a transition ─────────────────────────────────────────────────────────


@dataclass
class _Run:
    """The changes of one ``perform``: undone together if any step is refused."""

    session: Session
    now: datetime | None
    events: list[Event] = field(default_factory=list)
    undo: list[tuple[Tracked, str]] = field(default_factory=list)

    def step(
        self,
        obj: Tracked,
        action: str,
        role: str,
        user_id: int | None,
        detail: Mapping[str, Any] | None,
    ) -> Event:
        before = obj.status
        event = _transition(
            self.session,
            obj,
            action,
            actor_role=role,
            actor_user_id=user_id,
            detail=detail,
            now=self.now,
        )
        self.undo.append((obj, before))
        self.events.append(event)
        return event

    def derived(self, obj: Tracked, action: str, cause: Event, **extra: Any) -> Event:
        detail = {"cause": {"entity": cause.entity, "id": cause.entity_id, "action": cause.action}}
        return self.step(obj, action, SYSTEM, None, {**detail, **extra})


@contextmanager
def _atomic(session: Session, now: datetime | None) -> Iterator[_Run]:
    # Queries inside see the identity map's statuses, so nothing is flushed half-way; on a
    # refusal the statuses are put back and the pending events dropped.
    session.flush()
    run = _Run(session, now)
    try:
        with session.no_autoflush:
            yield run
    except BaseException:
        for obj, before in reversed(run.undo):
            obj.status = before
        for event in run.events:
            session.expunge(event)
        raise


def _follow(run: _Run, obj: Tracked, event: Event) -> None:
    if isinstance(obj, Stop):
        _follow_stop(run, obj, event)
    elif isinstance(obj, Parcel):
        _follow_parcel(run, obj, event)
    elif isinstance(obj, Order) and event.action == "cancel":
        # The order is already where its parcels are going: only their stops follow.
        for parcel in _parcels_of(run.session, obj):
            if parcel.status in ("awaiting", "ready"):
                _follow_parcel(run, parcel, run.derived(parcel, "cancel", event), sync=False)


def _follow_stop(run: _Run, stop: Stop, event: Event) -> None:
    parcel = _parcel_of(run.session, stop)
    if stop.status == "done":
        action = "pick_up" if stop.kind == "pickup" else "deliver"
        _follow_parcel(run, parcel, run.derived(parcel, action, event))
    elif stop.status == "failed" and stop.kind == "delivery":
        reason = event.detail.get("reason", "")
        _follow_parcel(run, parcel, run.derived(parcel, "fail", event, reason=reason))
    if event.action in ("arrive", "complete", "fail", "skip"):
        _follow_window(run, stop, event)


def _follow_window(run: _Run, stop: Stop, event: Event) -> None:
    """A courier's first stop starts the window; the last stop of its plan finishes it."""
    found = run.session.exec(
        select(DeliveryWindow, Plan)
        .join(Plan, col(Plan.window_id) == col(DeliveryWindow.id))
        .join(PlanRoute, col(PlanRoute.plan_id) == col(Plan.id))
        .join(PlanTrip, col(PlanTrip.route_id) == col(PlanRoute.id))
        .where(col(PlanTrip.id) == stop.trip_id, col(Plan.current))
    ).first()
    if found is None:
        return
    window, plan = found
    if window.status == "planned":
        run.derived(window, "start", event)
    if window.status != "running":
        return
    # Whole rows, not a status column: the identity map holds this run's unflushed changes.
    stops = run.session.exec(
        select(Stop)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .where(col(PlanRoute.plan_id) == plan.id)
    ).all()
    if all(terminal("stop", s.status) for s in stops):
        run.derived(window, "finish", event)


#: Parcel statuses in which a stop of that kind still makes sense.
_STOP_STILL_NEEDED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"pickup": ("awaiting", "ready"), "delivery": ("awaiting", "ready", "picked_up")}
)


def _follow_parcel(run: _Run, parcel: Parcel, event: Event, *, sync: bool = True) -> None:
    stops = run.session.exec(select(Stop).where(col(Stop.parcel_id) == parcel.id))
    for stop in sorted(stops, key=lambda s: s.id or 0):
        needed = parcel.status in _STOP_STILL_NEEDED.get(stop.kind, ())
        if not needed and not terminal("stop", stop.status):
            run.derived(stop, "cancel", event)
    if sync:
        _sync_order(run, _order_of(run.session, parcel), event)


def _system_path(entity: str, source: str, target: str) -> list[str]:
    """The shortest list of system actions from ``source`` to ``target`` (breadth first)."""
    previous: dict[str, tuple[str, str] | None] = {source: None}
    queue = deque([source])
    while queue:
        status = queue.popleft()
        if status == target:
            path: list[str] = []
            while (link := previous[status]) is not None:
                status, action = link
                path.append(action)
            return path[::-1]
        for action, nxt in allowed(entity, status, role=SYSTEM).items():
            if nxt not in previous:
                previous[nxt] = (status, action)
                queue.append(nxt)
    raise RuntimeError(f"no system path for {entity} from {source!r} to {target!r}")


def _sync_order(run: _Run, order: Order, cause: Event | None) -> None:
    parcels = _parcels_of(run.session, order)
    target = order_status_for(order.fulfilment, [p.status for p in parcels])
    for action in _system_path("order", order.status, target):
        if cause is None:
            run.step(order, action, SYSTEM, None, None)
        else:
            run.derived(order, action, cause)


# ── what routes and the planner call ───────────────────────────────────────────────────────


def perform(
    session: Session,
    obj: Tracked,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_role: str,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[Event]:
    """Apply ``action`` and every change that follows from it; return their events in order.

    All or nothing: if any step is refused, the error is raised and nothing has changed. The
    caller commits (or rolls back) the session.
    """
    with _atomic(session, now) as run:
        event = run.step(obj, action, actor_role, actor_user_id, detail)
        _follow(run, obj, event)
    return run.events


def sync_order(session: Session, order: Order) -> list[Event]:
    """Bring ``order`` to the status its parcels imply, as the system; return the events.

    ``perform`` does this after every parcel change; call it after changing parcels any
    other way (an import, a fix by hand).
    """
    with _atomic(session, None) as run:
        _sync_order(run, order, None)
    return run.events


def close_due_windows(session: Session, *, now: datetime | None = None) -> list[Event]:
    """Close every open window whose same-day cutoff has passed (the cutoff clock's tick)."""
    moment = now or utc_now()
    query = (
        select(DeliveryWindow)
        .where(col(DeliveryWindow.status) == "open", col(DeliveryWindow.cutoff_at) <= moment)
        .order_by(col(DeliveryWindow.cutoff_at), col(DeliveryWindow.id))
    )
    with _atomic(session, moment) as run:
        for window in session.exec(query).all():
            run.step(window, "close", SYSTEM, None, {"cutoff_at": window.cutoff_at.isoformat()})
    return run.events
