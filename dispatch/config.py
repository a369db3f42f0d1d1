"""Settings from the environment (``VELOCAL_*``, and ``DATABASE_URL`` for the database)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

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
    #: Live push's broker: "redis" (fan-out across worker processes), "memory" (one process),
    #: "auto" (memory on SQLite, Redis otherwise, memory with a warning if Redis is down).
    live_broker: Literal["auto", "redis", "memory"] = "auto"
    #: The Redis stream live messages go through; empty: one per database
    #: (``velocal:live:<hash of database_url>``), so installations and test runs sharing a
    #: Redis never hear each other.
    live_stream: str = ""
    #: Seconds between two heartbeats on an idle live stream (proxies drop silent ones).
    live_heartbeat_s: float = 15.0
    #: Run the cutoff clock (close due windows and plan them) inside the app's lifespan.
    #: ``velocal serve`` turns it on; off by default so an app built in a test stays quiet.
    run_scheduler: bool = False
    #: Seconds between two ticks of that clock.
    scheduler_interval_s: float = 30.0
    #: Tracking says "your courier is close" when the ETA is this many seconds away or less...
    close_eta_s: float = 300.0
    #: ...or the courier's latest fix is this many metres from the door or less.
    close_distance_m: float = 400.0
    #: The board's "off route" alert: the latest fix this far from the trip's ride path.
    off_route_m: float = 150.0
    #: The board's "GPS silent" alert: on duty with open stops and no fix for this long.
    gps_silent_s: float = 120.0
    #: Seconds a shop's webhook receiver has to answer one delivery before it counts as failed.
    webhook_timeout_s: float = 5.0
    #: Late orders: after its cutoff, a window whose routes are out (planned or running) still
    #: takes an order that fits into them without leaving anyone else out; the next scheduler
    #: tick re-plans the window with it. Off: the cutoff is final.
    late_orders: bool = True
    #: ...until this many minutes before the window ends.
    late_order_last_min: float = 30.0
    #: ...and a late parcel is at the hub (or ready at the shop) this many minutes after the
    #: order, at the earliest.
    late_order_prep_min: float = 15.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
