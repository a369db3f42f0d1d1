"""Late orders: after its cutoff, a window whose routes are out takes an order that fits into
them; the next scheduler tick inserts it into the running routes (both databases)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch import replanning, scheduler
from dispatch.api.routes import orders as orders_route
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import DeliveryWindow, Order, Product
from dispatch.planning import ROOM_TOO_FAR
from tests.dispatch.test_replanning import Running, _id, _open_by_parcel, start_running

SETTINGS = Settings(database_url="sqlite://", plan_time_limit_s=1.0)


def _client(
    engine: Engine, run: Running, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> TestClient:
    """The API on the test's engine, its clock at the running window's moment."""
    monkeypatch.setattr(orders_route, "utc_now", lambda: run.now)
    return TestClient(create_app(SETTINGS.model_copy(update=settings), engine))


def _product(session: Session, run: Running, **size: int) -> Product:
    product = Product(shop_id=_id(run.tiny.shops[0]), name="Rye loaf", price_cents=450, **size)
    session.add(product)
    session.commit()
    return product


def _order(product: Product, run: Running, quantity: int = 1) -> dict[str, Any]:
    lat, lon = run.tiny.points[-1]  # a door of the tiny town
    return {
        "items": [{"product_id": product.id, "quantity": quantity}],
        "fulfilment": "delivery",
        "address": "Late Street 1",
        "lat": lat,
        "lon": lon,
        "window_id": run.tiny.window.id,
        "customer": {"name": "Late Larry", "email": "larry@example.fi"},
    }


def _errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    return [{"field": e["field"], "message": e["message"]} for e in response.json()["errors"]]


def test_a_late_order_is_accepted_and_the_next_tick_inserts_it(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_running(session)
    window = session.get(DeliveryWindow, run.tiny.window.id)
    assert window is not None
    assert window.status == "running"
    assert run.now > window.cutoff_at  # a late order indeed
    client = _client(engine, run, monkeypatch)
    product = _product(session, run)

    offered = client.get(
        "/api/windows/available",
        params={"lat": run.tiny.points[-1][0], "lon": run.tiny.points[-1][1]},
    )
    assert offered.status_code == 200, offered.text
    assert window.id in [w["id"] for w in offered.json()]

    placed = client.post("/api/orders", json=_order(product, run))
    assert placed.status_code == 201, placed.text
    order = session.get(Order, placed.json()["id"])
    assert order is not None
    (parcel_id,) = [p["id"] for p in placed.json()["parcels"]]
    assert replanning.late_parcels(session, _id(window)) == [parcel_id]
    assert replanning.windows_with_late_orders(session) == [window.id]

    # The parcel is at the hub no sooner than the preparation time after the order.
    assert orders_route.planning().late_ready_at(window, order) == order.created_at + timedelta(
        minutes=SETTINGS.late_order_prep_min
    )

    monkeypatch.setattr(replanning, "get_settings", lambda: SETTINGS)
    done = scheduler.tick(engine, now=run.now)
    assert window.id in done
    session.expire_all()
    plan = replanning.planning.current_plan(session, _id(window))
    assert plan is not None
    found = _open_by_parcel(session, _id(plan))
    assert parcel_id in found, plan.unassigned
    assert found[parcel_id][0].planned_arrival >= order.created_at  # type: ignore[operator]
    # What was on a bike still rides with its courier; nothing else was left out.
    (aboard,) = run.aboard
    assert found[aboard][2].shift_id == run.busy.id
    assert plan.unassigned == []
    assert replanning.late_parcels(session, _id(window)) == []
    assert scheduler.tick(engine, now=run.now) == []  # nothing late any more: no new plan


def test_a_late_order_that_does_not_fit_is_refused_with_the_reason(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room test runs on the running routes: a parcel that cannot be ready in time for
    any courier to bring it within the window is refused on window_id, and nothing is kept."""
    run = start_running(session)
    slow = SETTINGS.model_copy(update={"late_order_prep_min": 8 * 60.0})
    monkeypatch.setattr(orders_route.planning(), "get_settings", lambda: slow)
    client = _client(engine, run, monkeypatch, late_order_prep_min=8 * 60.0)
    product = _product(session, run)
    orders_before = len(session.exec(select(Order)).all())
    (error,) = _errors(client.post("/api/orders", json=_order(product, run)))
    assert error == {
        "field": "window_id",
        "message": f"window {run.tiny.window.id} has no room: {ROOM_TOO_FAR}",
    }
    assert len(session.exec(select(Order)).all()) == orders_before
    assert replanning.late_parcels(session, _id(run.tiny.window)) == []
    # The same order fits with the usual preparation time.
    monkeypatch.setattr(orders_route.planning(), "get_settings", lambda: SETTINGS)
    fits = _client(engine, run, monkeypatch).post("/api/orders", json=_order(product, run))
    assert fits.status_code == 201, fits.text


def test_late_orders_off_or_too_close_to_the_end_keep_the_cutoff(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_running(session)
    product = _product(session, run)
    window = session.get(DeliveryWindow, run.tiny.window.id)
    assert window is not None
    off = _client(engine, run, monkeypatch, late_orders=False)
    (error,) = _errors(off.post("/api/orders", json=_order(product, run)))
    assert error == {
        "field": "window_id",
        "message": f"window {window.id} is running and takes no more orders",
    }
    minutes_left = (window.ends_at - run.now).total_seconds() / 60
    too_late = _client(engine, run, monkeypatch, late_order_last_min=minutes_left + 1)
    (error,) = _errors(too_late.post("/api/orders", json=_order(product, run)))
    assert error["message"] == f"window {window.id} is running and takes no more orders"
    assert replanning.late_parcels(session, _id(window)) == []


def test_takes_late_orders_only_with_routes_out_and_before_the_last_minutes() -> None:
    start = datetime(2026, 5, 6, 10, 0, tzinfo=orders_route.ZoneInfo("UTC"))
    window = DeliveryWindow(
        town_id=1,
        day=start.date(),
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        cutoff_at=start - timedelta(hours=1),
        status="running",
    )
    on = Settings(late_order_last_min=30)
    assert orders_route.takes_late_orders(window, start + timedelta(minutes=89), on)
    assert not orders_route.takes_late_orders(window, start + timedelta(minutes=90), on)
    assert not orders_route.takes_late_orders(window, start, Settings(late_orders=False))
    for status in ("open", "closed", "finished", "cancelled"):
        window.status = status
        assert not orders_route.takes_late_orders(window, start, on)
    window.status = "planned"
    assert orders_route.takes_late_orders(window, start, on)
