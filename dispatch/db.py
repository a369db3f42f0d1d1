"""Database engines and sessions: SQLite (WAL, foreign keys on) or PostgreSQL.

The schema is created and upgraded by Alembic (``dispatch/migrations``); ``create_schema`` is
for tests and throw-away demos only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from dispatch import models  # noqa: F401  (registers every table on SQLModel.metadata)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite connections get WAL and foreign keys, every one of them."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL loses no committed data on a crash of velocal, only on a power cut, and
    # spares a disk sync per commit (GPS fixes arrive many times a second).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create every table directly (tests and demos; installations use Alembic)."""
    SQLModel.metadata.create_all(engine)


def sessions(engine: Engine) -> Iterator[Session]:
    """One session per request (a FastAPI dependency's body)."""
    with Session(engine) as session:
        yield session
