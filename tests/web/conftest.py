"""Browser tests: velocal served by uvicorn on loopback, Debian's chromium driven by playwright.

``demo_server`` is one seeded demo town (SQLite) shared by a worker's page tests; a test that
changes much of the world takes ``fresh_server`` instead (its own town, on SQLite and on
PostgreSQL). Pages are opened in a fresh browser context per test, logged in by the API (the
session cookie lands in the context), with every request off loopback refused, so map tiles
never load and the offline base map is what the tests see. A JavaScript error on a page fails
its test. Screenshots go to ``build/screenshots`` (``VELOCAL_SCREENSHOTS`` to move them).

Without chromium (``VELOCAL_CHROMIUM``, default ``/usr/bin/chromium``) or python playwright
these tests skip with the reason; ``.ci/run`` installs both, and ``VELOCAL_REQUIRE_ALL=1``
turns a skip into a failure.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch import security
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.db import create_schema, make_engine
from dispatch.demo import PASSWORD_ENV, DemoSummary, seed_demo
from tests.dispatch.conftest import database_url, postgres_admin  # noqa: F401  (fixtures)

CHROMIUM = Path(os.environ.get("VELOCAL_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(
    os.environ.get(
        "VELOCAL_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"
    )
)
PASSWORD = "demo-password-for-tests"
#: Chromium as root in a sandboxed machine with a closed network (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
#: Fast planning for seeded towns: the same solver, fewer iterations.
FAST_PLAN: dict[str, Any] = {"time_limit_s": 2.0, "max_iterations": 3000}


@dataclass
class LiveServer:
    """A running velocal on loopback, its database and the demo accounts."""

    url: str
    engine: Engine
    summary: DemoSummary
    server: Any = None
    thread: threading.Thread | None = None

    def email(self, role: str, n: int = 1) -> str:
        """The ``n``-th demo account of ``role`` ("shop", "courier", "dispatcher", ...)."""
        found = [login.email for login in self.summary.logins if login.role == role]
        return found[n - 1]

    def session(self) -> Session:
        return Session(self.engine)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.engine.dispose()


def start_server(url: str, *, now: datetime | None = None, seed: int = 0) -> LiveServer:
    """Seed the demo town into ``url`` and serve it with uvicorn in a thread."""
    import uvicorn

    engine = make_engine(url)
    create_schema(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, PASSWORD)
        patch.setattr(
            security,
            "PASSWORD_HASHER",
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        )
        with Session(engine) as session:
            summary = seed_demo(session, now=now, seed=seed, **FAST_PLAN)
    settings = Settings(database_url=url, run_scheduler=False)
    app = create_app(settings, engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", engine, summary, server, thread)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One demo town on SQLite for this worker's page tests."""
    path = tmp_path_factory.mktemp("web") / "velocal.db"
    live = start_server(f"sqlite:///{path}")
    yield live
    live.stop()


@pytest.fixture
def fresh_server(database_url: str) -> Iterator[LiveServer]:  # noqa: F811
    """A demo town of its own, on SQLite and on PostgreSQL, for tests that change a lot."""
    live = start_server(database_url)
    yield live
    live.stop()


# ── the browser ────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, started by playwright (never a downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("python playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        pytest.skip(
            f"chromium not found at {CHROMIUM} (apt install chromium, or set VELOCAL_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Pages:
    """Opens pages of one server in fresh, optionally logged-in, browser contexts."""

    browser: Any
    server: LiveServer
    contexts: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(
        self,
        path: str,
        *,
        login: str | None = None,
        phone: bool = False,
        context_options: dict[str, Any] | None = None,
        init_script: str | None = None,
    ) -> Any:
        """A new context (phone or desktop viewport), logged in as ``login`` (an e-mail),
        at ``path``; returns the page. ``init_script`` runs in the page before its own."""
        options: dict[str, Any] = {
            "viewport": PHONE if phone else DESKTOP,
            "base_url": self.server.url,
            "locale": "en-GB",
            "service_workers": "allow",
        }
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        options.update(context_options or {})
        context = self.browser.new_context(**options)
        self.contexts.append(context)
        loopback = re.compile(r"^https?://(127\.0\.0\.1|localhost)(:\d+)?/")
        context.route(
            re.compile(r"^https?://.*"),
            lambda route: (
                route.continue_()
                if loopback.match(route.request.url)
                else route.abort("internetdisconnected")
            ),
        )
        if login is not None:
            answer = context.request.post(
                "/api/auth/login", data={"email": login, "password": PASSWORD}
            )
            assert answer.ok, f"login as {login} failed: {answer.status} {answer.text()}"
        if init_script is not None:
            context.add_init_script(init_script)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.goto(path)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, demo_server: LiveServer) -> Iterator[Pages]:
    """Pages of the shared demo town; fails the test if any page threw a JavaScript error."""
    opened = Pages(browser, demo_server)
    yield opened
    opened.close()
    assert not opened.errors, "JavaScript errors:\n" + "\n".join(opened.errors)


@pytest.fixture
def fresh_pages(browser: Any, fresh_server: LiveServer) -> Iterator[Pages]:
    """Pages of a town of the test's own (SQLite and PostgreSQL)."""
    opened = Pages(browser, fresh_server)
    yield opened
    opened.close()
    assert not opened.errors, "JavaScript errors:\n" + "\n".join(opened.errors)


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "board")`` saves ``build/screenshots/board.png`` (full page)."""

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        # From the top: a sticky top bar scrolled half-way would be drawn over the content.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
