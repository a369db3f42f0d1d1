"""Live push: state changes and GPS fixes to the board and tracking pages as they happen.

``hooks`` publishes every committed change to a ``broker`` (Redis across worker processes, or
in memory for one process); ``channels`` says what each stream may send;
``dispatch.api.routes.live`` serves them as Server-Sent Events. ``start`` and ``stop`` are
for the app's lifespan.
"""

from __future__ import annotations

import hashlib
import logging

import redis
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from dispatch.config import Settings
from dispatch.live import hooks
from dispatch.live.broker import Broker, MemoryBroker, RedisBroker

log = logging.getLogger(__name__)


def stream_name(settings: Settings) -> str:
    """``settings.live_stream``, or one of the database's own: the workers of one
    installation share it, other installations (and test databases) on the Redis do not."""
    if settings.live_stream:
        return settings.live_stream
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
    return f"velocal:live:{digest}"


def make_broker(settings: Settings) -> Broker:
    """The broker ``settings.live_broker`` asks for.

    "auto" reads ``settings.database_url``: SQLite means one process, so memory; anything
    else means an installation with worker processes, so Redis (memory, with a warning, if
    Redis cannot be reached). An app built on a given engine (tests) keeps its settings' say.
    """
    choice = settings.live_broker
    if choice == "auto":
        choice = "memory" if settings.database_url.startswith("sqlite") else "redis"
    if choice == "memory":
        return MemoryBroker()
    broker = RedisBroker(settings.redis_url, stream_name(settings))
    if settings.live_broker == "auto":
        try:
            broker.ping()
        except redis.RedisError as error:
            log.warning(
                "live: Redis at %s unreachable (%s): pushing within this process only",
                settings.redis_url,
                error,
            )
            return MemoryBroker()
    return broker


async def start(app: FastAPI, settings: Settings) -> Broker:
    """Start the app's broker and publish its engine's commits to it."""
    engine: Engine = app.state.engine
    broker = make_broker(settings)
    await broker.start()
    hooks.attach(engine, broker)
    app.state.live_broker = broker
    return broker


async def stop(app: FastAPI) -> None:
    """Stop publishing and close the broker (the lifespan's end)."""
    broker: Broker | None = getattr(app.state, "live_broker", None)
    engine: Engine | None = getattr(app.state, "engine", None)
    if engine is not None:
        hooks.detach(engine)
    if broker is not None:
        app.state.live_broker = None
        await broker.stop()


__all__ = ["make_broker", "start", "stop", "stream_name"]
