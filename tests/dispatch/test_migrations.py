"""The Alembic migrations of the dispatch schema, on SQLite and PostgreSQL: from empty to head
and back down, step by step, and the head against ``dispatch.models``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, pool
from sqlmodel import SQLModel

from dispatch import migrate
from dispatch.db import make_engine

VERSION_TABLE = "alembic_version"


def schema_of(url: str) -> dict[str, Any]:
    """Everything a migration may change, as plain data: per table its columns (name, type
    class, nullable), indexes, unique constraints and foreign keys."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        inspector = inspect(engine)
        # One catalogue query per kind for all tables (keys are (schema, table) pairs).
        columns = inspector.get_multi_columns()
        indexes = inspector.get_multi_indexes()
        uniques = inspector.get_multi_unique_constraints()
        foreign_keys = inspector.get_multi_foreign_keys()
        return {
            table: {
                "columns": {
                    column["name"]: (type(column["type"]).__name__, column["nullable"])
                    for column in columns[key]
                },
                "indexes": {
                    (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                    for index in indexes[key]
                },
                "unique": {tuple(unique["column_names"]) for unique in uniques[key]},
                "foreign_keys": {
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in foreign_keys[key]
                },
            }
            for key in sorted(columns, key=lambda key: key[1])
            if (table := key[1]) != VERSION_TABLE
        }
    finally:
        engine.dispose()


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_upgrade_from_empty_creates_exactly_the_models_tables(database_url: str) -> None:
    """An empty database upgraded to head has the models' tables, no others, with the models'
    columns, and reports the head revision."""
    assert migrate.current(database_url) is None

    migrate.upgrade(database_url)

    assert migrate.current(database_url) == migrate.head()
    expected = {
        table.name: {column.name for column in table.columns}
        for table in SQLModel.metadata.sorted_tables
    }
    found = {name: set(table["columns"]) for name, table in schema_of(database_url).items()}
    assert found == expected


def test_head_matches_the_models(database_url: str) -> None:
    """Autogenerate finds nothing to do at head: a model change without a migration fails here
    (add one with ``alembic -c dispatch/migrations/alembic.ini revision --autogenerate``)."""
    migrate.upgrade(database_url)

    assert migrate.differences(database_url) == []


def test_downgrade_one_step_undoes_the_last_revision(database_url: str) -> None:
    """Downgrading from head by one step gives the schema of the revision before it, and
    upgrading again gives the head's schema back."""
    previous = revisions_oldest_first()[-2]
    migrate.upgrade(database_url, previous)
    before = schema_of(database_url)
    migrate.upgrade(database_url)
    at_head = schema_of(database_url)
    assert at_head != before, "the last revision changes nothing"

    migrate.downgrade(database_url, "-1")

    assert migrate.current(database_url) == previous
    assert schema_of(database_url) == before
    assert migrate.differences(database_url) != []

    migrate.upgrade(database_url)

    assert migrate.current(database_url) == migrate.head()
    assert schema_of(database_url) == at_head


def test_every_revision_downgrades_to_the_schema_before_it(database_url: str) -> None:
    """Up one revision at a time from empty, each downgrade restores the schema below it and
    the same upgrade then runs again."""
    for revision in revisions_oldest_first():
        below = schema_of(database_url)
        migrate.upgrade(database_url, revision)
        above = schema_of(database_url)

        migrate.downgrade(database_url, "-1")
        assert schema_of(database_url) == below, f"downgrade of {revision}"

        migrate.upgrade(database_url, revision)
        assert schema_of(database_url) == above, f"upgrade of {revision} after its downgrade"
    assert migrate.current(database_url) == migrate.head()


def test_downgrade_to_base_leaves_no_velocal_tables(database_url: str) -> None:
    """Down to base nothing of velocal is left (PostgreSQL: no sequences either), only
    Alembic's empty version table."""
    migrate.upgrade(database_url)

    migrate.downgrade(database_url, "base")

    assert migrate.current(database_url) is None
    engine = make_engine(database_url, poolclass=pool.NullPool)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == {VERSION_TABLE}
        if engine.dialect.name == "postgresql":
            assert inspector.get_sequence_names() == []
    finally:
        engine.dispose()


def test_revisions_form_one_line() -> None:
    """One head and one base: two developers' revisions on the same parent would fork the
    history, and ``upgrade head`` would refuse to run."""
    script = ScriptDirectory.from_config(migrate.alembic_config())

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    assert migrate.head() == revisions_oldest_first()[-1]


def test_offline_sql_names_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    """``alembic upgrade head --sql`` prints the PostgreSQL DDL without a server."""
    from alembic import command

    command.upgrade(
        migrate.alembic_config("postgresql+psycopg://nobody@unreachable.invalid/velocal"),
        "head",
        sql=True,
    )

    sql = capsys.readouterr().out
    for table in SQLModel.metadata.tables:
        assert f"CREATE TABLE {table} " in sql or f'CREATE TABLE "{table}" ' in sql


def test_alembic_command_line_with_the_packaged_ini(tmp_path: Any) -> None:
    """The shell route an operator uses: ``alembic -c dispatch/migrations/alembic.ini -x
    url=... upgrade head``."""
    url = f"sqlite:///{tmp_path}/velocal.db"
    ini = migrate.MIGRATIONS / "alembic.ini"

    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), "-x", f"url={url}", "upgrade", "head"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert migrate.current(url) == migrate.head()
