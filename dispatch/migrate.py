"""Create and upgrade the dispatch schema with Alembic, from Python.

The scripts live inside the package (``dispatch/migrations``), so this works from an installed
velocal as well as from a checkout. From a shell, the same scripts run with
``alembic -c dispatch/migrations/alembic.ini upgrade head``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlmodel import SQLModel

from dispatch.db import make_engine

#: The Alembic environment: ``alembic.ini``, ``env.py`` and ``versions/``.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the dispatch scripts, aimed at ``url``.

    Without ``url``, ``env.py`` falls back to the service's setting (``DATABASE_URL``).
    """
    config = Config(MIGRATIONS / "alembic.ini")
    # Wherever the package is installed, not where the ini file was once written.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    # Passed as an attribute, not an ini option: URLs may hold "%" (escaped passwords).
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (an empty database gets every table)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` ("-1" for one step, "base" for none)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first upgrade."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the scripts know."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the dispatch migrations have {len(heads)} heads: {heads}")
    return heads[0]


def differences(url: str) -> list[Any]:
    """What the database at ``url`` lacks or has beyond ``dispatch.models``, as Alembic's
    autogenerate sees it; empty when the schema matches the models."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()
