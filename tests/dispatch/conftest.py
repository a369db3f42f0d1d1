"""Databases for the dispatch tests: a test that takes ``database_url``, ``engine`` or
``session`` runs twice, on SQLite (a file in the test's tmp_path) and on PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, database ``test``, user ``postgres``, trust
auth) unless ``VELOCAL_TEST_POSTGRES_URL`` names another. Every test gets a schema of its own,
named after the xdist worker and a random suffix, created before the test, reached through the
URL (``options=-csearch_path=<schema>``, so every engine and Alembic land in it) and dropped
with everything in it afterwards. When the server cannot be reached the PostgreSQL runs skip
with the reason, which ``VELOCAL_REQUIRE_ALL=1`` turns into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from dispatch import security
from dispatch.db import create_schema, make_engine

POSTGRES_URL = os.environ.get(
    "VELOCAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

#: Test schemas start with this, so leftovers of a killed run are easy to find and drop.
SCHEMA_PREFIX = "velocal_test_"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """One connection per worker that creates and drops the tests' schemas (or a skip)."""
    url = make_url(POSTGRES_URL)
    engine = create_engine(
        url, isolation_level="AUTOCOMMIT", pool_size=1, connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as connection:
            # A test that leaves a transaction open on its tables would make DROP SCHEMA wait
            # for ever; fail the teardown instead.
            connection.exec_driver_sql("SET lock_timeout = '10s'")
    except OperationalError as error:
        engine.dispose()
        first_line = str(error.orig or error).strip().splitlines()[0]
        pytest.skip(
            f"PostgreSQL not reachable at {url.host or 'localhost'}:{url.port or 5432} "
            f"({first_line}; set VELOCAL_TEST_POSTGRES_URL)"
        )
    yield engine
    engine.dispose()


def _url_in_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema``, after any ``options`` it already has."""
    parsed = make_url(url)
    given = parsed.query.get("options", "")
    given = given if isinstance(given, str) else " ".join(given)
    options = f"{given} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/velocal.db"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"{SCHEMA_PREFIX}{worker}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _url_in_schema(POSTGRES_URL, schema)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` with every table created from the models.

    Tests use ``create_schema`` for speed; ``test_migrations`` checks that the Alembic head
    builds the same schema.
    """
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """argon2id with tiny parameters: the same code paths, milliseconds instead of 0.2 s."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "PASSWORD_HASHER", hasher)
    return hasher
