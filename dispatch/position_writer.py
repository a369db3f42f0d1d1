"""GPS batches that arrive together are stored together: one transaction, one commit.

Each request hands its batch to ``store``; the batches queued at that moment are written by
``positions.ingest_many`` in one worker-thread call (``dispatch.grouping``). A request still
gets exactly what it would alone: its stored, duplicate and refused fixes, or the
``NotOnShiftError`` when its courier is not on shift.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.grouping import Grouped, runner
from dispatch.positions import Batch, IngestResult, NotOnShiftError, ingest_many


async def store(engine: Engine, batch: Batch) -> IngestResult:
    """Store ``batch`` with whatever else is waiting; raises ``NotOnShiftError``."""
    writer: Grouped[Batch, IngestResult] = runner(
        (engine, "positions"), lambda: Grouped(functools.partial(write, engine))
    )
    return await writer.run(batch)


def write(engine: Engine, batches: Sequence[Batch]) -> list[IngestResult | NotOnShiftError]:
    """Store ``batches`` in one transaction (blocking)."""
    with Session(engine) as session:
        if engine.dialect.name == "sqlite":
            # Take SQLite's write lock before reading: a read snapshot that another process's
            # write overtook cannot become a write ("database is locked" at once, whatever the
            # busy timeout).
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # Commit without waiting for the disk: a crash of the database server may lose the
            # last fraction of a second of fixes (phones send them again only if unanswered),
            # never corrupts anything, and spares each group a write-ahead-log sync.
            session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        outcomes = ingest_many(session, batches)
        session.commit()
    return outcomes


__all__ = ["store", "write"]
