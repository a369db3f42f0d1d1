"""GPS fixes from couriers' phones: checked one by one, stored once, the latest kept apart.

A phone sends its fixes in batches, each numbered per device (``seq``). A batch sent again
(the answer was lost on a bad connection) stores nothing twice: ``(courier, device, seq)`` is
unique and rows that exist are skipped by the database itself (``ON CONFLICT DO NOTHING`` on
SQLite and PostgreSQL alike), so two copies racing each other are safe too. A fix that cannot
be right is refused with its reason and the rest of the batch is still stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from dispatch.models import CourierPosition, Position, Shift, utc_now

#: A phone's clock may run this far ahead of the server's.
MAX_CLOCK_AHEAD: Final = timedelta(seconds=30)
#: Fixes older than this are not live any more (a phone that was off for a day).
MAX_AGE: Final = timedelta(hours=6)
#: A fix less precise than this cannot place a courier on a street.
MAX_ACCURACY_M: Final = 250.0


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


def shift_on_duty(session: Session, courier_id: int) -> Shift | None:
    """The courier's shift on duty now (the latest started if there were several)."""
    return session.exec(
        select(Shift)
        .where(col(Shift.courier_id) == courier_id, col(Shift.status) == "on_duty")
        .order_by(col(Shift.starts_at).desc())
    ).first()


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
    now = now or utc_now()
    shift = shift_on_duty(session, courier_id)
    if shift is None or shift.id is None:
        raise NotOnShiftError("not on shift: start your shift before sending positions")
    result = IngestResult()
    good: dict[int, Fix] = {}
    for fix in fixes:
        problem = fix_problem(fix, now)
        if problem is not None:
            result.rejected.append((fix.seq, problem))
        elif fix.seq in good:
            result.duplicates += 1  # the same number twice in one batch
        else:
            good[fix.seq] = fix
    if not good:
        return result
    # One round trip stores the batch and says which rows were new: the unique key skips
    # fixes stored before (a resent batch) and the returned ids are the rows really inserted.
    rows = [
        {
            "courier_id": courier_id,
            "shift_id": shift.id,
            "device_id": device_id,
            "seq": fix.seq,
            "lat": fix.lat,
            "lon": fix.lon,
            "accuracy_m": fix.accuracy_m,
            "at": fix.at,
            "received_at": now,
        }
        for fix in good.values()
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    positions: Table = Position.__table__  # type: ignore[attr-defined]  # Core, not the ORM
    statement = (
        dialect.insert(positions)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(positions.c.id, positions.c.seq)
    )
    inserted = {seq for _, seq in session.connection().execute(statement).all()}
    result.stored = len(inserted)
    result.duplicates += len(good) - len(inserted)  # sent before, or lost a race with itself
    if inserted:
        newest = max((good[seq] for seq in inserted), key=_when)
        result.latest = _keep_latest(session, courier_id, shift.id, newest)
    return result


def _when(fix: Fix) -> datetime:
    return fix.at


def _keep_latest(session: Session, courier_id: int, shift_id: int, fix: Fix) -> CourierPosition:
    """Upsert the courier's latest position in one statement (a fix older than the kept one
    changes nothing) and return it."""
    table: Table = CourierPosition.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(
        courier_id=courier_id,
        shift_id=shift_id,
        lat=fix.lat,
        lon=fix.lon,
        accuracy_m=fix.accuracy_m,
        at=fix.at,
    )
    changed = ("shift_id", "lat", "lon", "accuracy_m", "at")
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.courier_id],
        set_={name: insert.excluded[name] for name in changed},
        where=insert.excluded.at >= table.c.at,
    ).returning(*(table.c[name] for name in ("courier_id", *changed)))
    row = session.connection().execute(statement).first()
    if row is None:  # a newer fix is kept already
        kept = session.get(CourierPosition, courier_id)
        assert kept is not None
        return kept
    latest = CourierPosition.model_validate(row._asdict())
    # Rows the session loaded before must not be written back over the new values.
    cached = session.identity_map.get(session.identity_key(CourierPosition, courier_id))
    if cached is not None:
        session.expire(cached)
    return latest


__all__ = ["Fix", "IngestResult", "NotOnShiftError", "fix_problem", "ingest", "shift_on_duty"]
