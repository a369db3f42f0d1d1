"""The web service: ``create_app`` builds the FastAPI app (``uvicorn --factory
dispatch.app:create_app``), its engine's lifetime, error handlers and routers."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from dispatch import live
from dispatch.api.deps import SessionDep
from dispatch.api.errors import install_error_handlers
from dispatch.api.routes import api_router
from dispatch.config import Settings, get_settings
from dispatch.db import make_engine
from dispatch.scheduler import run_scheduler
from dispatch.web import pages


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The velocal API for ``settings`` (default: the environment's).

    Without ``engine`` the lifespan makes one for ``settings.database_url`` and disposes of it
    on shutdown; a given engine (tests) is used as is and left to its owner. The schema is not
    created here: installations run Alembic, tests call ``dispatch.db.create_schema``.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = getattr(app.state, "engine", None) is None
        if own:
            app.state.engine = make_engine(settings.database_url)
        await live.start(app, settings)
        stop = asyncio.Event()
        clock = None
        if settings.run_scheduler:
            clock = asyncio.create_task(
                run_scheduler(
                    app.state.engine, interval_s=settings.scheduler_interval_s, stop_event=stop
                )
            )
        _freeze_startup_objects()
        try:
            yield
        finally:
            stop.set()
            if clock is not None:
                await clock
            await live.stop(app)
            if own:
                app.state.engine.dispose()
                app.state.engine = None

    app = FastAPI(
        title="velocal",
        summary="Cargo-bike delivery dispatch for a town's shops",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    # Set now, not only in the lifespan, so a TestClient used without ``with`` works too.
    app.state.engine = engine
    install_error_handlers(app)
    # The network GeoJSON and the vendored scripts shrink several times over.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.include_router(api_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")

    @app.get("/healthz", tags=["health"], response_model=None)
    def healthz(session: SessionDep) -> dict[str, str] | JSONResponse:
        """Up and able to reach the database (for load balancers and ``systemd``)."""
        try:
            session.connection().execute(text("SELECT 1"))
        except SQLAlchemyError:
            return JSONResponse({"detail": "database unreachable", "status": "down"}, 503)
        return {"status": "ok"}

    return app


def _freeze_startup_objects() -> None:
    """Exempt what exists at startup (modules, the app, the engine) from garbage collection.

    Hundreds of thousands of long-lived objects make each full collection pause the event loop
    for a fifth of a second on a small machine, a spike in every request's latency then;
    frozen, a collection only walks what requests made since.
    """
    gc.collect()
    gc.freeze()
    import os
    import sys

    if os.environ.get("VELOCAL_EXP_SWITCH"):
        sys.setswitchinterval(float(os.environ["VELOCAL_EXP_SWITCH"]))
