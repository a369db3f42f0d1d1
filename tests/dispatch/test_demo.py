"""The demo town: ``seed_demo`` on an empty database (SQLite and PostgreSQL), and
``velocal serve --demo`` answering HTTP in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.demo import EMAIL_DOMAIN, PASSWORD_ENV, seed_demo
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    Parcel,
    Plan,
    Product,
    Shift,
    Shop,
    Stop,
    Town,
    User,
)
from dispatch.planning import current_plan, in_zone
from routing import load_address_index

HELSINKI = ZoneInfo("Europe/Helsinki")
#: 08:30 in Helsinki on a summer morning: the 10–12 window's cutoff (08:00) has passed.
MORNING = datetime(2026, 6, 1, 5, 30, tzinfo=UTC)
#: 21:00 in Helsinki: today's windows are over, tomorrow's are planned.
EVENING = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
#: The ``velocal`` command of this interpreter (the console script's entry point).
VELOCAL = (sys.executable, "-c", "from dispatch.cli.main import run; run()")
FAST: dict[str, Any] = {"time_limit_s": 1.0, "max_iterations": 300}
TABLES = (Town, Hub, Shop, Product, BikeType, Courier, Shift, DeliveryWindow, Customer, Order)
TABLES_2 = (Parcel, User, Plan, Stop, Event)


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: int(session.exec(select(func.count()).select_from(model)).one())
        for model in (*TABLES, *TABLES_2)
    }


def test_seed_demo_builds_a_planned_town(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "demo-password-1")
    summary = seed_demo(session, now=MORNING, **FAST)
    assert summary.created, summary.message

    town = session.exec(select(Town)).one()
    assert town.time_zone == "Europe/Helsinki"
    assert town.mode == "hub"
    assert town.zone is not None
    hub = session.exec(select(Hub)).one()
    assert in_zone(town, hub.lat, hub.lon)

    # Shops are real shops of the extract: names, kinds and coordinates from the index.
    arrays = load_address_index(None).to_arrays()
    real = {
        (str(n), str(k))
        for n, k, kind in zip(arrays["name"], arrays["shop_kind"], arrays["kind"], strict=True)
        if kind == "shop"
    }
    shops = session.exec(select(Shop)).all()
    assert 8 <= len(shops) <= 12
    assert {(s.name, s.kind) for s in shops} <= real
    assert len({s.kind for s in shops}) == len(shops)
    assert any(s.opening_hours for s in shops)
    for shop in shops:
        products = session.exec(select(Product).where(col(Product.shop_id) == shop.id)).all()
        assert 3 <= len(products) <= 5
        assert all(p.price_cents > 0 and p.size_class in "SMLXL" for p in products)

    bikes = session.exec(select(BikeType)).all()
    assert sum(b.count for b in bikes) == 6
    assert any(b.cooled for b in bikes)
    couriers = session.exec(select(Courier)).all()
    assert len(couriers) == 6

    # Windows: the rest of today's (10–12 has not started at 08:30) and tomorrow's.
    windows = session.exec(select(DeliveryWindow).order_by(col(DeliveryWindow.starts_at))).all()
    assert len(windows) == 6
    first = windows[0]
    assert first.starts_at.astimezone(HELSINKI).hour == 10
    assert first.cutoff_at < first.starts_at
    assert first.status == "planned"
    assert all(w.status == "open" for w in windows[1:])
    assert summary.planned_window_id == first.id
    # Shifts cover every window: someone is on duty from its start to its end.
    for window in windows:
        shifts = session.exec(
            select(Shift).where(
                col(Shift.starts_at) <= window.starts_at, col(Shift.ends_at) >= window.ends_at
            )
        ).all()
        assert len(shifts) >= 2, window

    orders = session.exec(select(Order)).all()
    assert 35 <= len(orders) <= 45
    assert all(o.lat is not None and o.lon is not None and o.address for o in orders)
    assert all(
        o.lat is not None and o.lon is not None and in_zone(town, o.lat, o.lon) for o in orders
    )
    parcels_per_order: dict[int | None, int] = {}
    for parcel in session.exec(select(Parcel)).all():
        parcels_per_order[parcel.order_id] = parcels_per_order.get(parcel.order_id, 0) + 1
    assert any(n > 1 for n in parcels_per_order.values()), "no multi-shop order"

    # Every parcel of the planned window is ready, and on a stop or unassigned with a reason.
    assert first.id is not None
    plan = current_plan(session, first.id)
    assert plan is not None
    assert plan.id == summary.plan_id
    planned = session.exec(
        select(Parcel)
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(col(Order.window_id) == first.id)
    ).all()
    assert len(planned) >= 20
    assert all(p.status == "ready" and p.ready_at is not None for p in planned)
    on_stops = {
        int(pid)
        for pid in session.exec(select(Stop.parcel_id).where(col(Stop.status) == "planned"))
    }
    unassigned = {entry["parcel_id"]: entry["reason"] for entry in plan.unassigned}
    for parcel in planned:
        assert parcel.id in on_stops or unassigned.get(parcel.id), parcel
    assert summary.stops == len(on_stops & {p.id for p in planned})
    assert summary.stops >= len(planned) // 2

    # Accounts: staff, one per shop, one per courier, a customer.
    emails = {u.email: u for u in session.exec(select(User)).all()}
    assert emails[f"operator@{EMAIL_DOMAIN}"].role == "operator"
    assert emails[f"dispatcher@{EMAIL_DOMAIN}"].role == "dispatcher"
    assert {emails[f"shop{n}@{EMAIL_DOMAIN}"].shop_id for n in range(1, len(shops) + 1)} == {
        s.id for s in shops
    }
    assert {emails[f"courier{n}@{EMAIL_DOMAIN}"].courier_id for n in range(1, 7)} == {
        c.id for c in couriers
    }
    assert emails[f"customer@{EMAIL_DOMAIN}"].customer_id is not None
    assert {login.email for login in summary.logins} == set(emails)
    assert {login.password for login in summary.logins} == {"demo-password-1"}
    assert any("dispatcher@" in line for line in summary.lines())

    # Seeding again adds nothing and says so.
    before = _counts(session)
    again = seed_demo(session, now=MORNING, **FAST)
    assert not again.created
    assert "already has a town" in again.message
    assert _counts(session) == before


def test_seed_demo_in_the_evening_plans_tomorrow(engine: Engine) -> None:
    with Session(engine) as session:
        summary = seed_demo(session, now=EVENING, seed=3, **FAST)
        windows = session.exec(select(DeliveryWindow).order_by(col(DeliveryWindow.starts_at))).all()
        tomorrow = (EVENING.astimezone(HELSINKI) + timedelta(days=1)).date()
        assert [w.day for w in windows] == [tomorrow] * 3
        assert windows[0].status == "planned"
        assert summary.planned_window_id == windows[0].id
        # Random passwords, one per account.
        passwords = [login.password for login in summary.logins]
        assert len(set(passwords)) == len(passwords)
        dispatcher = next(lg for lg in summary.logins if lg.role == "dispatcher")
    client = TestClient(create_app(Settings(database_url="sqlite://"), engine=engine))
    response = client.post(
        "/api/auth/login", json={"email": dispatcher.email, "password": dispatcher.password}
    )
    assert response.status_code == 200, response.text
    shops = client.get("/api/shops")
    assert shops.status_code == 200
    assert len(shops.json()) >= 8


# ── velocal serve --demo ───────────────────────────────────────────────────────────────────


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status), json.loads(response.read())


def test_serve_demo_answers_http(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, PASSWORD_ENV: "smoke-test-pw", "VELOCAL_PLAN_TIME_LIMIT_S": "1"}
    command = [
        *VELOCAL,
        "serve",
        "--demo",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{tmp_path}/demo.db",
    ]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env
        )
        try:
            deadline = time.monotonic() + 90
            health: tuple[int, Any] | None = None
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    health = _get(f"{base}/healthz")
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.5)
            assert health == (200, {"status": "ok"}), log.read_text()
            status, shops = _get(f"{base}/api/shops")
            assert status == 200
            assert len(shops) >= 8
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
    text = log.read_text()
    assert "migrating" in text
    assert "planning window" in text
    assert f"dispatcher@{EMAIL_DOMAIN}" in text
    assert "smoke-test-pw" in text


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *VELOCAL,
                "serve",
                "--port",
                str(port),
                "--database-url",
                f"sqlite:///{tmp_path}/x.db",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "in use" in lines[0], done.stderr
    assert not (tmp_path / "x.db").exists()


def test_app_runs_the_scheduler_when_asked(engine: Engine) -> None:
    """``velocal serve`` turns the cutoff clock on; the lifespan starts and stops it cleanly."""
    settings = Settings(database_url="sqlite://", run_scheduler=True, scheduler_interval_s=0.05)
    with TestClient(create_app(settings, engine=engine)) as client:
        time.sleep(0.2)  # a few ticks on an empty database
        assert client.get("/healthz").json() == {"status": "ok"}
