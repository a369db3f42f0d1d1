"""GPS fixes from couriers' phones: checked one by one, stored once, the latest kept apart.

A phone sends its fixes in batches, each numbered per device (``seq``). A batch sent again
(the answer was lost on a bad connection) stores nothing twice: ``(courier, device, seq)`` is
unique and rows that exist are skipped by the database itself (``ON CONFLICT DO NOTHING`` on
SQLite and PostgreSQL alike), so two copies racing each other are safe too. A fix that cannot
be right is refused with its reason and the rest of the batch is still stored.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import DateTime, Float, Integer, String, Table, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from dispatch.models import CourierPosition, Position, Shift, utc_now

#: A phone's clock may run this far ahead of the server's.
MAX_CLOCK_AHEAD: Final = timedelta(seconds=30)
#: Fixes older than this are not live any more (a phone that was off for a day).
MAX_AGE: Final = timedelta(hours=6)
#: A fix less precise than this cannot place a courier on a street.
MAX_ACCURACY_M: Final = 250.0
#: On ``session.info``: courier id → the latest position this transaction wrote.
LATEST_WRITTEN: Final = "velocal_latest_written"


class NotOnShiftError(Exception):
    """The courier has no shift on duty: positions are only taken while working."""


@dataclass(frozen=True)
class Fix:
    """One reading of a phone's GPS."""

    seq: int
    lat: float
    lon: float
    accuracy_m: float
    at: datetime


@dataclass
class IngestResult:
    """What became of a batch: stored, already stored before, and refused (with reasons)."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    latest: CourierPosition | None = None


def fix_problem(fix: Fix, now: datetime) -> str | None:
    """Why ``fix`` cannot be a real, recent reading, or None if it can."""
    if not -90 <= fix.lat <= 90:
        return f"lat {fix.lat} is not between -90 and 90"
    if not -180 <= fix.lon <= 180:
        return f"lon {fix.lon} is not between -180 and 180"
    if fix.lat == 0 and fix.lon == 0:
        return "0, 0 is a phone's 'no fix yet', not a position"
    if not 0 < fix.accuracy_m <= MAX_ACCURACY_M:
        return f"accuracy_m {fix.accuracy_m:g} is not within 0–{MAX_ACCURACY_M:g} m"
    if fix.at.tzinfo is None:
        return "at has no time zone"
    if fix.at > now + MAX_CLOCK_AHEAD:
        return f"at {fix.at.isoformat()} is in the future"
    if fix.at < now - MAX_AGE:
        return f"at {fix.at.isoformat()} is more than {MAX_AGE.total_seconds() / 3600:g} h old"
    return None


def _shifts_on_duty(session: Session, courier_ids: Sequence[int]) -> dict[int, Shift]:
    """Each courier's shift on duty now (the latest started if there were several)."""
    found: dict[int, Shift] = {}
    for shift in session.exec(_ON_DUTY, params={"courier_ids": sorted(set(courier_ids))}):
        found.setdefault(shift.courier_id, shift)  # the latest started comes first
    return found


_ON_DUTY: Final = (
    select(Shift)
    .where(
        col(Shift.courier_id).in_(bindparam("courier_ids", expanding=True)),
        col(Shift.status) == "on_duty",
    )
    .order_by(col(Shift.courier_id), col(Shift.starts_at).desc())
)


@dataclass(frozen=True)
class Batch:
    """One request's fixes: a courier's phone ``device_id`` and what it read."""

    courier_id: int
    device_id: str
    fixes: Sequence[Fix]


def ingest(
    session: Session,
    courier_id: int,
    device_id: str,
    fixes: Sequence[Fix],
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Store ``fixes`` of ``courier_id``'s phone ``device_id`` and update their latest position.

    Raises ``NotOnShiftError`` if the courier is not on duty. The caller commits.
    """
    (outcome,) = ingest_many(session, [Batch(courier_id, device_id, fixes)], now=now)
    if isinstance(outcome, NotOnShiftError):
        raise outcome
    return outcome


def ingest_many(
    session: Session, batches: Sequence[Batch], *, now: datetime | None = None
) -> list[IngestResult | NotOnShiftError]:
    """Store several phones' batches in one go: what became of each, in order.

    The same as ``ingest`` for each batch (a courier not on duty gets ``NotOnShiftError``,
    the others are stored), with one statement per kind of write for all of them: requests
    that arrive together share one transaction. The caller commits.
    """
    now = now or utc_now()
    shifts = _shifts_on_duty(session, [batch.courier_id for batch in batches])
    outcomes: list[IngestResult | NotOnShiftError] = []
    accepted: list[list[Fix]] = []  # per batch: the fixes sent to the database
    rows: list[dict[str, Any]] = []
    for batch in batches:
        shift = shifts.get(batch.courier_id)
        good: dict[int, Fix] = {}
        accepted.append([])
        if shift is None or shift.id is None:
            outcomes.append(NotOnShiftError(_NOT_ON_SHIFT))
            continue
        result = IngestResult()
        outcomes.append(result)
        for fix in batch.fixes:
            problem = fix_problem(fix, now)
            if problem is not None:
                result.rejected.append((fix.seq, problem))
            elif fix.seq in good:
                result.duplicates += 1  # the same number twice in one batch
            else:
                good[fix.seq] = fix
        accepted[-1] = list(good.values())
        rows.extend(_row(batch, shift.id, fix, now) for fix in accepted[-1])
    if not rows:
        return outcomes
    # One round trip stores every batch and says which rows were new: the unique key skips
    # fixes stored before (a resent batch) and the returned keys are the rows really inserted.
    # The statements are built once per dialect, so each call only binds values.
    statements = _statements(session.get_bind().dialect.name)
    connection = session.connection()
    if statements.columnar:  # one array per column: a short statement, however many rows
        params: Any = {name: [row[name] for row in rows] for name in _POSITION_COLUMNS}
        for name in ("at", "received_at"):  # stored as naive UTC, as ``UTCDateTime`` does
            params[name] = [at.astimezone(UTC).replace(tzinfo=None) for at in params[name]]
    else:
        params = rows
    inserted = {
        (int(courier), str(device), int(seq))
        for courier, device, seq in connection.execute(statements.insert, params).all()
    }
    newest: dict[int, tuple[int, Fix]] = {}  # courier → (shift, their newest stored fix)
    for batch, outcome, fixes in zip(batches, outcomes, accepted, strict=True):
        if isinstance(outcome, NotOnShiftError):
            continue
        shift_id = shifts[batch.courier_id].id
        assert shift_id is not None
        for fix in fixes:
            key = (batch.courier_id, batch.device_id, fix.seq)
            if key not in inserted:
                outcome.duplicates += 1  # sent before, or lost a race with itself
                continue
            inserted.discard(key)  # the same fix again later in the group is a repeat
            outcome.stored += 1
            kept = newest.get(batch.courier_id)
            if kept is None or fix.at >= kept[1].at:
                newest[batch.courier_id] = (shift_id, fix)
    latest = _keep_latest(session, statements, newest)
    # The live hooks publish these at commit; handing them over spares them reading them again.
    session.info.setdefault(LATEST_WRITTEN, {}).update(latest)
    for batch, outcome in zip(batches, outcomes, strict=True):
        if isinstance(outcome, IngestResult) and outcome.stored:
            outcome.latest = latest.get(batch.courier_id)
    return outcomes


_NOT_ON_SHIFT: Final = "not on shift: start your shift before sending positions"


def _row(batch: Batch, shift_id: int, fix: Fix, now: datetime) -> dict[str, Any]:
    return {
        "courier_id": batch.courier_id,
        "shift_id": shift_id,
        "device_id": batch.device_id,
        "seq": fix.seq,
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
        "at": fix.at,
        "received_at": now,
    }


_LATEST_COLUMNS: Final = ("courier_id", "shift_id", "lat", "lon", "accuracy_m", "at")


_POSITION_COLUMNS: Final = (
    "courier_id",
    "shift_id",
    "device_id",
    "seq",
    "lat",
    "lon",
    "accuracy_m",
    "at",
    "received_at",
)


@dataclass(frozen=True)
class _Statements:
    """The two writes of an ingest, for one SQL dialect."""

    insert: Any  # the fixes, skipping (courier, device, seq) rows that exist; returns those keys
    latest: Any  # each courier's latest position, unless a newer one is kept; returns the rows
    columnar: bool  # ``insert`` takes one list per column (PostgreSQL), not a row per fix


@functools.cache
def _statements(dialect_name: str) -> _Statements:
    positions: Table = Position.__table__  # type: ignore[attr-defined]  # Core, not the ORM
    keys = (positions.c.courier_id, positions.c.device_id, positions.c.seq)
    if dialect_name == "postgresql":
        dialect: Any = postgresql
        # INSERT … SELECT FROM unnest(arrays): nine parameters whatever the number of fixes,
        # so the driver parses the statement once instead of a VALUES list per group.
        item_types: dict[str, Any] = {
            "device_id": String(),
            "lat": Float(),
            "lon": Float(),
            "accuracy_m": Float(),
            "at": DateTime(),
            "received_at": DateTime(),
        }
        arrays: list[Any] = [
            bindparam(name, type_=postgresql.ARRAY(item_types.get(name, Integer())))
            for name in _POSITION_COLUMNS
        ]
        unnest = func.unnest(*arrays).table_valued(*_POSITION_COLUMNS).render_derived()
        insert = (
            postgresql.insert(positions)
            .from_select(list(_POSITION_COLUMNS), select(*unnest.c))
            .on_conflict_do_nothing()
            .returning(*keys)
        )
    else:
        dialect = sqlite
        insert = sqlite.insert(positions).on_conflict_do_nothing().returning(*keys)
    table: Table = CourierPosition.__table__  # type: ignore[attr-defined]
    upsert = dialect.insert(table).values({name: bindparam(name) for name in _LATEST_COLUMNS})
    changed = _LATEST_COLUMNS[1:]
    latest = upsert.on_conflict_do_update(
        index_elements=[table.c.courier_id],
        set_={name: upsert.excluded[name] for name in changed},
        where=upsert.excluded.at >= table.c.at,
    ).returning(*(table.c[name] for name in _LATEST_COLUMNS))
    return _Statements(insert, latest, columnar=dialect_name == "postgresql")


def _keep_latest(
    session: Session, statements: _Statements, newest: dict[int, tuple[int, Fix]]
) -> dict[int, CourierPosition]:
    """Upsert each courier's latest position (a fix older than the kept one changes nothing)
    in one statement and return them."""
    if not newest:
        return {}
    values = [
        {
            "courier_id": courier_id,
            "shift_id": shift_id,
            "lat": fix.lat,
            "lon": fix.lon,
            "accuracy_m": fix.accuracy_m,
            "at": fix.at,
        }
        for courier_id, (shift_id, fix) in sorted(newest.items())
    ]
    rows = session.connection().execute(statements.latest, values).all()
    latest = {int(row.courier_id): CourierPosition.model_validate(row._asdict()) for row in rows}
    for courier_id in newest:
        # Rows the session loaded before must not be written back over the new values.
        cached = session.identity_map.get(session.identity_key(CourierPosition, courier_id))
        if cached is not None:
            session.expire(cached)
        if courier_id not in latest:  # a newer fix is kept already
            kept = session.get(CourierPosition, courier_id)
            assert kept is not None
            latest[courier_id] = kept
    return latest


__all__ = [
    "LATEST_WRITTEN",
    "Batch",
    "Fix",
    "IngestResult",
    "NotOnShiftError",
    "fix_problem",
    "ingest",
    "ingest_many",
]
