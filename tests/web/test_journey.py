"""The whole loop in a real browser, on SQLite and on PostgreSQL: a customer orders from two
shops and gets a tracking link; each shop marks its parcel ready; the dispatcher plans the
window from the board; the courier's phone starts the shift, reports GPS fixes, loads both
parcels at the hub by their label codes and delivers them; the tracking page says delivered
and the board shows the route done.

The demo town's other orders in the chosen window are cancelled first (as a dispatcher would),
so the window holds just this customer's parcels and one courier's route can be walked to the
end through the app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from dispatch import lifecycle
from dispatch.models import (
    DeliveryWindow,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Position,
    Product,
    Shift,
    Shop,
    Stop,
    User,
)
from tests.web.conftest import Pages

POLL = 500  # ms: the board and the tracking page refresh this often in the test


def wait_until(page: Any, check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` (a database query) while ``page`` keeps running: a plain sleep would hold
    up the page's own requests, which playwright serves only inside its calls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {what}")


def two_shops(session: Session) -> list[tuple[Shop, Product, str]]:
    """Two shops with a product in stock and a shop account, with that account's e-mail."""
    found = []
    for shop in session.exec(select(Shop).order_by(col(Shop.id))).all():
        product = session.exec(
            select(Product)
            .where(col(Product.shop_id) == shop.id, col(Product.in_stock).is_(True))
            .order_by(col(Product.weight_g))
        ).first()
        account = session.exec(select(User).where(col(User.shop_id) == shop.id)).first()
        if product is not None and account is not None:
            found.append((shop, product, account.email))
        if len(found) == 2:
            return found
    raise AssertionError("the demo town has fewer than two shops with products")


def clear_window(session: Session) -> DeliveryWindow:
    """The next open window, with the demo's orders in it cancelled by a dispatcher."""
    window = session.exec(
        select(DeliveryWindow)
        .where(col(DeliveryWindow.status) == "open")
        .order_by(col(DeliveryWindow.starts_at))
    ).first()
    assert window is not None
    for order in session.exec(select(Order).where(col(Order.window_id) == window.id)).all():
        lifecycle.perform(
            session,
            order,
            "cancel",
            actor_role=lifecycle.DISPATCHER,
            detail={"reason": "test: the journey's window"},
        )
    session.commit()
    session.refresh(window)
    return window


def test_order_ready_plan_deliver_track(fresh_pages: Pages, screenshot: Any) -> None:
    server = fresh_pages.server
    with server.session() as session:
        window = clear_window(session)
        window_id, window_day = window.id, window.day
        (shop_a, product_a, email_a), (shop_b, product_b, email_b) = two_shops(session)

    # ── the customer orders from two shops ───────────────────────────────────────────────
    customer = fresh_pages.open("/")
    for shop, product in ((shop_a, product_a), (shop_b, product_b)):
        customer.get_by_role("link", name=shop.name, exact=True).click()
        customer.wait_for_url(f"**/shops/{shop.id}")
        customer.get_by_role("button", name=f"Add {product.name} to cart").click()
        customer.get_by_role("link", name="← All shops").click()
    customer.get_by_role("link", name="Cart (2)").click()
    customer.wait_for_url("**/checkout")
    customer.get_by_label("Name", exact=True).fill("Helmi Korhonen")
    customer.get_by_label("E-mail").fill("helmi@example.org")
    address = customer.get_by_label("Delivery address", exact=True)
    address.press_sequentially("Aleksanterinkatu 7", delay=20)
    customer.get_by_role("listbox").get_by_role("option").first.click()
    customer.locator(f'input[name="window_id"][value="{window_id}"]').check()
    customer.get_by_role("button", name="Place order").click()
    expect(customer.get_by_role("heading", name="Order placed")).to_be_visible()
    href = customer.get_by_role("link", name="Track your order").get_attribute("href") or ""
    assert re.fullmatch(r"/t/[\w-]{20,}", href), href
    screenshot(customer, "journey-1-order-placed")

    with server.session() as session:
        order = session.exec(select(Order).where(col(Order.tracking_token) == href[3:])).one()
        parcels = {
            p.shop_id: p
            for p in session.exec(select(Parcel).where(col(Parcel.order_id) == order.id))
        }
        assert order.window_id == window_id
        assert set(parcels) == {shop_a.id, shop_b.id}

    tracking = fresh_pages.open(f"{href}?poll={POLL}", phone=True)
    expect(tracking.locator("body")).to_contain_text("Being packed")

    # ── each shop marks its parcel ready ─────────────────────────────────────────────────
    for shop, email in ((shop_a, email_a), (shop_b, email_b)):
        console = fresh_pages.open("/shop", login=email)
        row = console.locator(f'[data-parcel-id="{parcels[shop.id].id}"]')
        row.get_by_role("button", name="Mark ready").click()
        row.get_by_role("button", name="Confirm ready").click()
        console.locator(
            f'[data-parcel-id="{parcels[shop.id].id}"] .badge[data-status="ready"]'
        ).wait_for()
        # Not another shop's parcel on this console.
        other = next(p for s, p in parcels.items() if s != shop.id)
        expect(console.locator(f'[data-parcel-id="{other.id}"]')).to_have_count(0)
    with server.session() as session:
        assert {session.get(Parcel, p.id).status for p in parcels.values()} == {"ready"}  # type: ignore[union-attr]

    # ── the dispatcher plans the window ──────────────────────────────────────────────────
    board = fresh_pages.open(
        f"/board?day={window_day.isoformat()}&window={window_id}&poll={POLL}",
        login=server.email("dispatcher"),
    )
    board.get_by_role("button", name="Plan now").click()
    board.get_by_role("dialog").get_by_role("button", name="Close and plan").click()
    expect(board.get_by_role("button", name="Re-plan")).to_be_visible(timeout=60_000)
    with server.session() as session:
        plan = session.exec(
            select(Plan).where(col(Plan.window_id) == window_id, col(Plan.current))
        ).one()
        stops = session.exec(
            select(Stop, PlanRoute)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
            .where(col(PlanRoute.plan_id) == plan.id)
        ).all()
        assert {s.parcel_id for s, _ in stops} == {p.id for p in parcels.values()}
        assert plan.unassigned == []
        routes = {r.id: r for _, r in stops}
        assert len(routes) == 1, "two parcels to one door ride with one courier"
        route = next(iter(routes.values()))
        shift = session.get(Shift, route.shift_id)
        assert shift is not None
        courier_email = session.exec(
            select(User.email).where(col(User.courier_id) == shift.courier_id)
        ).one()
        hub_lat, hub_lon = stops[0][0].lat, stops[0][0].lon
    card = board.locator(f'.board-route[data-route-id="{route.id}"]')
    expect(card).to_have_attribute("data-route-state", "planned")
    screenshot(board, "journey-2-planned")

    # ── the courier: shift, GPS, loading at the hub, deliveries ──────────────────────────
    courier = fresh_pages.open(
        "/courier",
        login=courier_email,
        phone=True,
        context_options={
            "geolocation": {"latitude": hub_lat, "longitude": hub_lon, "accuracy": 10},
            "permissions": ["geolocation"],
        },
    )
    courier.locator("body[data-courier-ready]").wait_for()
    courier.evaluate("window.velocalGpsMs = 500")
    courier.get_by_role("button", name="Start shift").click()
    expect(courier.get_by_role("button", name="End shift")).to_be_visible()
    for step in range(3):  # riding towards the door
        courier.context.set_geolocation(
            {"latitude": hub_lat + 0.0004 * step, "longitude": hub_lon, "accuracy": 9}
        )
        courier.wait_for_timeout(600)

    def fixes() -> int:
        with server.session() as session:
            return len(
                session.exec(
                    select(Position.id).where(col(Position.courier_id) == shift.courier_id)
                ).all()
            )

    assert wait_until(courier, lambda: fixes() >= 3, "the phone's GPS fixes along the ride")
    for stop, _ in stops:
        with server.session() as session:
            code = session.get(Parcel, stop.parcel_id).label_code  # type: ignore[union-attr]
        row = courier.locator(f'li[data-parcel-for="{stop.id}"]')
        row.get_by_label("Label code").fill(code)
        row.get_by_role("button", name="Confirm loaded").click()
        expect(row.get_by_text("Loaded", exact=True)).to_be_visible()
    screenshot(courier, "journey-3-courier-loaded")
    expect(tracking.locator("body")).to_contain_text("On its way", timeout=15_000)
    for stop, _ in stops:
        item = courier.locator(f'li[data-stop-id="{stop.id}"]')
        item.get_by_label("Recipient's name").fill("Helmi Korhonen")
        item.get_by_role("button", name="Confirm delivery").click()
        expect(item).to_have_attribute("data-status", "done")
    screenshot(courier, "journey-4-courier-done")

    # ── the customer sees it delivered, the board sees the route done ────────────────────
    expect(tracking.locator("body")).to_contain_text("Delivered", timeout=15_000)
    screenshot(tracking, "journey-5-tracking-delivered")
    expect(card).to_have_attribute("data-route-state", "done", timeout=15_000)
    expect(card).to_contain_text("Route done")
    screenshot(board, "journey-6-board-done")
    with server.session() as session:
        assert session.get(Order, order.id).status == "delivered"  # type: ignore[union-attr]
        assert session.get(DeliveryWindow, window_id).status == "finished"  # type: ignore[union-attr]
