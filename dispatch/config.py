"""Settings from the environment (``VELOCAL_*``, and ``DATABASE_URL`` for the database)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What an operator sets per installation; every value has a working default."""

    model_config = SettingsConfigDict(env_prefix="VELOCAL_", extra="ignore")

    #: SQLite (the embedded default, a file beside the working directory) or PostgreSQL, e.g.
    #: ``postgresql+psycopg://velocal@localhost/velocal``.
    database_url: str = Field(
        default="sqlite:///velocal.db",
        validation_alias=AliasChoices("DATABASE_URL", "VELOCAL_DATABASE_URL"),
    )
    #: How long a login lasts, in days (cookie and bearer token alike).
    session_days: int = 14
    #: Seconds the planner's search may run per window.
    plan_time_limit_s: float = 10.0
    #: Sharing the work: each second of the longest route costs as much as this many metres
    #: ridden (the solver's ``max_duration_cost``); 0 plans for the least distance alone.
    plan_balance_m_per_s: int = 1
    #: Cookies only over HTTPS (turn off for a plain-HTTP demo on localhost).
    secure_cookies: bool = False
    #: Redis for live updates across worker processes (the live-operations part).
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Run the cutoff clock (close due windows and plan them) inside the app's lifespan.
    #: ``velocal serve`` turns it on; off by default so an app built in a test stays quiet.
    run_scheduler: bool = False
    #: Seconds between two ticks of that clock.
    scheduler_interval_s: float = 30.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
