"""GPS batches that arrive together are authenticated and stored together: one worker-thread
call, one transaction, one commit for the lot.

Every courier's phone posts its fixes every few seconds. Each request hands its login token and
its batch to ``post``; the requests queued at that moment are checked by one login query
(``security.find_logins``) and written by ``positions.ingest_many``, in one worker-thread call
(``dispatch.grouping``). A request still gets exactly what it would alone: its stored,
duplicate and refused fixes, its own authentication error, or ``NotOnShiftError`` when its
courier is not on shift. A request whose body is not a valid batch is authenticated all the
same (a stranger learns nothing about the body before being refused) and stores nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.grouping import Grouped, runner
from dispatch.positions import Batch, Fix, IngestResult, NotOnShiftError, ingest_many
from dispatch.security import Login, TokenKind, find_logins

#: ``(login or None, how it came) -> courier id``; raises the request's error for a login
#: that is missing, not a courier's, or without a courier (the route's own rules).
Identify = Callable[[Login | None, Literal["cookie", "bearer"]], int]


@dataclass(frozen=True)
class Posting:
    """One request: the login token it carries and its batch (``device_id`` None when the
    body was not a valid batch)."""

    token: str
    kind: TokenKind
    via: Literal["cookie", "bearer"]
    device_id: str | None
    fixes: Sequence[Fix]


async def post(engine: Engine, posting: Posting, identify: Identify) -> IngestResult | None:
    """Authenticate and store ``posting`` with whatever else is waiting: what became of its
    fixes (None when it had no valid batch); raises what ``identify`` raises for its login,
    or ``NotOnShiftError``."""
    poster: Grouped[Posting, IngestResult | None] = runner(
        (engine, "positions"), lambda: Grouped(functools.partial(handle, engine, identify))
    )
    return await poster.run(posting)


def handle(
    engine: Engine, identify: Identify, postings: Sequence[Posting]
) -> list[IngestResult | Exception | None]:
    """Authenticate ``postings`` and store the batches of couriers' ones, in one transaction
    (blocking): each posting's outcome, in order."""
    outcomes: list[IngestResult | Exception | None] = []
    batches: list[Batch] = []
    stored_at: list[int] = []  # where each batch's outcome goes
    with write_session(engine) as session:
        logins = find_logins(session, [(p.token, p.kind) for p in postings])
        for posting, login in zip(postings, logins, strict=True):
            try:
                courier_id = identify(login, posting.via)
            except Exception as error:  # this request's own refusal
                outcomes.append(error)
                continue
            outcomes.append(None)
            if posting.device_id is not None:
                stored_at.append(len(outcomes) - 1)
                batches.append(Batch(courier_id, posting.device_id, posting.fixes))
        if batches:
            for index, result in zip(stored_at, ingest_many(session, batches), strict=True):
                outcomes[index] = result
        session.commit()
    return outcomes


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction is ready for a group of GPS writes."""
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
        yield session


__all__ = ["Identify", "NotOnShiftError", "Posting", "handle", "post", "write_session"]
