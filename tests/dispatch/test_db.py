"""Engines and the stored form of times, on SQLite and PostgreSQL: foreign keys are enforced,
SQLite runs in WAL mode, aware datetimes come back as the same instant in UTC and naive ones
are refused before they reach the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from dispatch.db import create_schema, make_engine
from dispatch.models import Hub, Town

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_sqlite_connections_have_foreign_keys_and_wal(tmp_path: Path) -> None:
    """Every pooled SQLite connection, not only the first, enforces foreign keys, runs in WAL
    mode and waits for a writer instead of failing at once."""
    engine = make_engine(f"sqlite:///{tmp_path}/velocal.db")
    try:
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_foreign_key_violation_raises(session: Session) -> None:
    """A hub of a town that does not exist is refused by the database itself."""
    session.add(Hub(town_id=4242, name="Nowhere", lat=60.17, lon=24.94))

    with pytest.raises(IntegrityError):
        session.commit()


def test_aware_datetimes_round_trip_as_utc(engine: Engine) -> None:
    """A time given in any zone is stored as naive UTC and read back as the same instant,
    aware and in UTC, to the microsecond; comparisons in queries use the same instant."""
    given = datetime(2026, 6, 15, 12, 30, 15, 123456, tzinfo=HELSINKI)  # summer time, +03:00
    with Session(engine) as session:
        session.add(Town(name="Helsinki", created_at=given))
        session.commit()

    with Session(engine) as session:
        town = session.exec(select(Town)).one()
        assert town.created_at == given
        assert town.created_at.tzinfo is UTC
        assert town.created_at == datetime(2026, 6, 15, 9, 30, 15, 123456, tzinfo=UTC)

        after = given - timedelta(microseconds=1)
        assert session.exec(select(Town).where(Town.created_at > after)).one() == town
        assert session.exec(select(Town).where(Town.created_at > given)).first() is None

    with engine.connect() as connection:
        raw = connection.execute(text("SELECT created_at FROM town")).scalar()
    if isinstance(raw, str):  # SQLite keeps datetimes as ISO text
        raw = datetime.fromisoformat(raw)
    assert raw == datetime(2026, 6, 15, 9, 30, 15, 123456)


def test_naive_datetime_is_refused(session: Session) -> None:
    """A datetime without a zone is ambiguous; writing one fails with a message saying so, and
    nothing is stored."""
    session.add(Town(name="Helsinki", created_at=datetime(2026, 3, 29, 3, 30)))

    with pytest.raises(StatementError, match=r"naive datetime .*: velocal stores aware UTC") as e:
        session.commit()
    assert isinstance(e.value.orig, ValueError)

    session.rollback()
    assert session.exec(select(Town)).all() == []


def test_create_schema_is_idempotent(engine: Engine) -> None:
    """Creating the tables again over existing ones changes nothing and keeps the rows."""
    with Session(engine) as session:
        session.add(Town(name="Helsinki"))
        session.commit()

    create_schema(engine)

    with Session(engine) as session:
        assert [town.name for town in session.exec(select(Town))] == ["Helsinki"]
