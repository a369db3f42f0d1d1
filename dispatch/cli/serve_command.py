"""``velocal serve``: migrate the database, seed the demo town if asked, run the web service."""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dispatch import migrate
from dispatch.config import get_settings
from dispatch.db import make_engine

#: The database ``--demo`` uses when none is given: a file in the working directory.
DEMO_DATABASE_URL = "sqlite:///velocal-demo.db"
#: Seconds the demo's first plan may search (less if ``VELOCAL_PLAN_TIME_LIMIT_S`` says so).
DEMO_PLAN_S = 5.0


def _say(line: str) -> None:
    print(line, flush=True)


def _check_port(host: str, port: int) -> None:
    """Fail now, in one line, if ``host:port`` cannot be listened on (taken, or no such host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise ValueError(f"cannot listen on {host}:{port}: {error}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        if os.name != "nt":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = "the port is in use" if error.errno == 98 else error.strerror or str(error)
            raise ValueError(f"cannot listen on {host}:{port}: {reason}") from None


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


#: The pages a new user wants to open first, and who they are for.
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "the town's shops and checkout (customers, no login)"),
    ("/login", "log in with one of the accounts above"),
    ("/board", "the dispatcher's live board"),
    ("/shop", "a shop's console: orders, ready, labels"),
    ("/courier", "the courier app (open it on a phone)"),
    ("/setup", "the operator's set-up"),
    ("/docs", "the API"),
)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"Database (default: DATABASE_URL / settings; {DEMO_DATABASE_URL} with --demo).",
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the demo town if the database is empty.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for the demo's shops and orders.")] = 0,
) -> None:
    """Run velocal's API (docs at /docs): migrations first, then the demo town with --demo."""
    if not 0 < port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, not {port}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    url = database_url or (DEMO_DATABASE_URL if demo else get_settings().database_url)
    _check_port(host, port)

    started = time.perf_counter()
    _say(f"velocal: migrating {url}")
    try:
        migrate.upgrade(url)
    except SQLAlchemyError as error:
        raise ValueError(f"database {url}: {_first_line(error)}") from None
    _say(f"velocal: database ready ({time.perf_counter() - started:.1f} s)")

    if demo:
        from dispatch.demo import seed_demo  # the routing stack loads only when needed

        engine = make_engine(url)
        try:
            with Session(engine) as session:
                summary = seed_demo(
                    session,
                    seed=seed,
                    time_limit_s=min(DEMO_PLAN_S, get_settings().plan_time_limit_s),
                    progress=lambda line: _say(f"velocal: {line}"),
                )
        except SQLAlchemyError as error:
            raise ValueError(f"database {url}: {_first_line(error)}") from None
        finally:
            engine.dispose()
        for line in summary.lines():
            _say(line if line.startswith(" ") else f"velocal: {line}")

    # The app (built by uvicorn, in this process or its workers) reads its settings from here.
    os.environ["DATABASE_URL"] = url
    os.environ["VELOCAL_DATABASE_URL"] = url
    os.environ.setdefault("VELOCAL_RUN_SCHEDULER", "true")
    if workers > 1:
        # Live updates must cross between worker processes: only Redis does that (the
        # in-memory broker "auto" picks for SQLite reaches one process's clients).
        os.environ.setdefault("VELOCAL_LIVE_BROKER", "redis")
    get_settings.cache_clear()
    site = f"http://{host}:{port}"
    _say(f"velocal: serving {site} (Ctrl-C stops)")
    for page, who in PAGES:
        _say(f"  {site}{page:<10} {who}")
    sys.stdout.flush()

    import uvicorn

    uvicorn.run(
        "dispatch.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )
