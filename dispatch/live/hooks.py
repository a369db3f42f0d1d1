"""Publish every committed state change and GPS fix, without the routes knowing.

SQLAlchemy events do it for every session of an engine that has a broker attached (``attach``;
the app's lifespan does it). ``after_flush`` collects the new ``Event`` rows (every
``lifecycle.perform`` writes one, so do planning and checkout); the couriers' latest positions
are upserted by a Core statement that no session event sees, so an engine ``after_execute``
listener notes which couriers moved and ``after_flush``/``before_commit`` read those rows. All
go into ``session.info`` with what the channels need to route them (the order an event belongs
to, the order whose delivery is a moving courier's next stop), read in the same transaction;
``after_commit`` publishes them; ``after_rollback`` drops them. A change that is rolled back is
never pushed, and a push never reports a change that did not commit.

A message is ``{"kind": "change" | "position", "board": {...}, ...routing keys}``;
``dispatch.live.channels`` decides what each channel sends of it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, event, func
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert, Update
from sqlmodel import col, select

from dispatch.live.broker import Broker
from dispatch.models import CourierPosition, Event, Parcel, Plan, PlanRoute, PlanTrip, Stop
from dispatch.positions import LATEST_WRITTEN

log = logging.getLogger(__name__)

_PENDING: Final = "velocal_live_pending"
#: On a connection's ``info``: couriers whose latest position the transaction wrote.
_MOVED: Final = "velocal_live_moved"
_POSITIONS: Final = CourierPosition.__table__  # type: ignore[attr-defined]
_OPEN_STOPS: Final = ("planned", "arrived")

_brokers: weakref.WeakKeyDictionary[Engine, Broker] = weakref.WeakKeyDictionary()
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Listen to every session's flushes and commits (once per process; idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_begin", _after_begin)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        _installed = True


def attach(engine: Engine, broker: Broker) -> None:
    """Publish the changes committed through ``engine``'s sessions to ``broker``."""
    install()
    if not event.contains(engine, "after_execute", _after_execute):
        event.listen(engine, "after_execute", _after_execute)
    _brokers[engine] = broker


def detach(engine: Engine) -> None:
    """Stop publishing ``engine``'s changes (the app is shutting down)."""
    _brokers.pop(engine, None)
    if event.contains(engine, "after_execute", _after_execute):
        event.remove(engine, "after_execute", _after_execute)


def broker_for(session: Session) -> Broker | None:
    """The broker attached to the engine ``session`` writes to, if any."""
    bind = session.bind
    if isinstance(bind, Connection):
        bind = bind.engine
    return _brokers.get(bind) if isinstance(bind, Engine) else None


def _iso(value: datetime) -> str:
    return value.isoformat()


def _after_flush(session: Session, _context: Any) -> None:
    if broker_for(session) is None:
        return
    events = [obj for obj in session.new if isinstance(obj, Event)]
    connection = session.connection()
    if events:
        pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
        routes = _order_routes(connection, events)
        for row in sorted(events, key=lambda e: e.id or 0):
            order_id, stop_kind = routes.get((row.entity, row.entity_id), (None, None))
            pending.append(
                {
                    "kind": "change",
                    "order_id": order_id,
                    "stop_kind": stop_kind,
                    "board": {
                        "id": row.id,
                        "at": _iso(row.at),
                        "user_id": row.user_id,
                        "entity": row.entity,
                        "entity_id": row.entity_id,
                        "action": row.action,
                        "from_status": row.from_status,
                        "to_status": row.to_status,
                        "detail": row.detail,
                    },
                }
            )
    _collect_positions(session, connection)


def _before_commit(session: Session) -> None:
    # Positions written by a Core statement before the commit need no flush to be seen.
    if broker_for(session) is not None and session.in_transaction():
        _collect_positions(session, session.connection())


def _after_begin(session: Session, _transaction: Any, connection: Connection) -> None:
    connection.info.pop(_MOVED, None)  # nothing of an earlier transaction carries over
    session.info.pop(LATEST_WRITTEN, None)


def _after_execute(
    connection: Connection,
    statement: Any,
    multiparams: Any,
    params: Any,
    _options: Any,
    _result: Any,
) -> None:
    """Note the couriers whose ``CourierPosition`` row a statement inserted or updated.

    ``dispatch.positions`` upserts that row with one Core statement, which no session event
    sees, so the engine's own event records it on the connection for the session's hooks.
    """
    if not isinstance(statement, (Insert, Update)) or statement.table is not _POSITIONS:
        return
    found: set[int] = connection.info.setdefault(_MOVED, set())
    given = [*(multiparams or []), params or {}]
    couriers = _courier_ids(given)
    if not couriers and isinstance(statement, Insert):  # values inside the statement itself
        couriers = _courier_ids([statement.compile(dialect=connection.dialect).params])
    found.update(couriers)


def _courier_ids(given: list[Any]) -> set[int]:
    return {
        int(v)
        for values in given
        if isinstance(values, dict)
        for k, v in values.items()
        if k.endswith("courier_id") and v is not None
    }


def _collect_positions(session: Session, connection: Connection) -> None:
    """Queue a position message for each courier whose latest fix this transaction wrote."""
    moved = connection.info.pop(_MOVED, None)
    if not moved:
        return
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    # ``positions.ingest_many`` hands over the rows it wrote; any other writer's are read.
    written: dict[int, CourierPosition] = session.info.pop(LATEST_WRITTEN, None) or {}
    positions = [written[courier] for courier in sorted(moved) if courier in written]
    unknown = sorted(moved - written.keys())
    if unknown:
        rows = connection.execute(_LATEST_POSITIONS, {"courier_ids": unknown}).all()
        positions += [CourierPosition.model_validate(row._asdict()) for row in rows]
    next_orders = _next_delivery_orders(connection, [pos.shift_id for pos in positions])
    for pos in positions:
        pending.append(
            {
                "kind": "position",
                "courier_id": pos.courier_id,
                "next_order_id": next_orders.get(pos.shift_id),
                "board": {
                    "courier_id": pos.courier_id,
                    "shift_id": pos.shift_id,
                    "lat": pos.lat,
                    "lon": pos.lon,
                    "accuracy_m": pos.accuracy_m,
                    "at": _iso(pos.at),
                },
            }
        )


def _order_routes(
    connection: Connection, events: list[Event]
) -> dict[tuple[str, int], tuple[int, str | None]]:
    """(entity, id) → (the order it belongs to, the stop's kind) for orders, parcels, stops."""
    found: dict[tuple[str, int], tuple[int, str | None]] = {}
    parcel_ids = {e.entity_id for e in events if e.entity == "parcel"}
    stop_ids = {e.entity_id for e in events if e.entity == "stop"}
    for e in events:
        if e.entity == "order":
            found[("order", e.entity_id)] = (e.entity_id, None)
    if parcel_ids:
        parcels = connection.execute(
            select(col(Parcel.id), col(Parcel.order_id)).where(col(Parcel.id).in_(parcel_ids))
        )
        for parcel_id, order_id in parcels:
            found[("parcel", int(parcel_id or 0))] = (int(order_id), None)
    if stop_ids:
        stops = connection.execute(
            select(col(Stop.id), col(Parcel.order_id), col(Stop.kind))
            .join(Parcel, col(Parcel.id) == col(Stop.parcel_id))
            .where(col(Stop.id).in_(stop_ids))
        )
        for stop_id, order_id, kind in stops:
            found[("stop", int(stop_id or 0))] = (int(order_id), str(kind))
    return found


def _next_delivery_orders(connection: Connection, shift_ids: list[int]) -> dict[int, int]:
    """Shift → the order whose delivery is the next open stop of its current route (shifts
    whose next stop is a pickup, or that have none, are left out). One query for them all."""
    if not shift_ids:
        return {}
    found: dict[int, int] = {}
    for shift_id, kind, order_id in connection.execute(
        _NEXT_OPEN_STOPS, {"shift_ids": sorted(set(shift_ids))}
    ):
        if kind == "delivery":
            found[int(shift_id)] = int(order_id)
    return found


# Built once: they run for every GPS batch.
_LATEST_POSITIONS: Final = (
    select(CourierPosition)
    .where(col(CourierPosition.courier_id).in_(bindparam("courier_ids", expanding=True)))
    .order_by(col(CourierPosition.courier_id))
)
_OPEN_STOP_ORDER = (col(PlanTrip.number), col(Stop.sequence), col(Stop.id))
_RANKED_OPEN_STOPS = (
    select(
        col(PlanRoute.shift_id).label("shift_id"),
        col(Stop.kind).label("kind"),
        col(Parcel.order_id).label("order_id"),
        func.row_number()
        .over(partition_by=col(PlanRoute.shift_id), order_by=_OPEN_STOP_ORDER)
        .label("rank"),
    )
    .join(Parcel, col(Parcel.id) == col(Stop.parcel_id))
    .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
    .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
    .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
    .where(
        col(PlanRoute.shift_id).in_(bindparam("shift_ids", expanding=True)),
        col(Plan.current).is_(True),
        col(Stop.status).in_(_OPEN_STOPS),
    )
    .subquery()
)
_NEXT_OPEN_STOPS: Final = select(
    _RANKED_OPEN_STOPS.c.shift_id, _RANKED_OPEN_STOPS.c.kind, _RANKED_OPEN_STOPS.c.order_id
).where(_RANKED_OPEN_STOPS.c.rank == 1)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    broker = broker_for(session)
    if broker is None:
        return
    try:
        broker.publish(pending)
    except Exception:  # the change is committed; a lost push must not fail the request
        log.exception("live: publishing %d message(s) failed", len(pending))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(LATEST_WRITTEN, None)


__all__ = ["attach", "broker_for", "detach", "install"]
