"""The customer's pages: the shop fronts, the cart across shops and checkout (delivery with an
address from the suggestions and a window, click & collect, errors in words).

Orders go to the two shops with the highest ids and to the last open window, so the shops and
windows other page tests look at keep their numbers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect
from sqlmodel import col, select

from dispatch.models import Customer, Order, OrderItem, Product, Shop
from tests.web.conftest import Pages

# A window past its cutoff with its couriers out says it takes the order as a late one.
WINDOW_LABEL = re.compile(
    r"^\w{3} \d{1,2} \w{3}, \d\d:\d\d–\d\d:\d\d( · late order: joins the routes already out)?$"
)


def last_shops(pages: Pages, n: int) -> list[tuple[Shop, Product]]:
    """The ``n`` shops with the highest ids, each with its first product in stock."""
    with pages.server.session() as session:
        shops = session.exec(select(Shop).order_by(col(Shop.id).desc()).limit(n)).all()
        found = []
        for shop in shops:
            product = session.exec(
                select(Product)
                .where(col(Product.shop_id) == shop.id, col(Product.in_stock).is_(True))
                .order_by(col(Product.id))
            ).first()
            assert product is not None
            found.append((shop, product))
        return found


def seed_cart(page: Any, shop: Shop, product: Product, quantity: int = 1) -> None:
    """Put ``quantity`` of ``product`` into the page's cart directly, as the shop page does."""
    line = {
        "product_id": product.id,
        "shop_id": shop.id,
        "shop_name": shop.name,
        "name": product.name,
        "price_cents": product.price_cents,
        "weight_g": product.weight_g,
        "volume_ml": product.volume_ml,
        "quantity": quantity,
    }
    page.evaluate(
        "cart => localStorage.setItem('velocal.cart', JSON.stringify(cart))", {"lines": [line]}
    )
    page.reload()


def shoot(screenshot: Any, page: Any, name: str) -> None:
    """A full-page screenshot from the top (the sticky top bar stays at the top)."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def cart_link(page: Any) -> Any:
    return page.get_by_role("link", name=re.compile(r"^Cart \(\d+\)$"))


def add_from_shop(page: Any, shop: Shop, product: Product) -> None:
    page.get_by_role("link", name=shop.name, exact=True).click()
    page.wait_for_url(f"**/shops/{shop.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(shop.name)
    page.get_by_role("button", name=f"Add {product.name} to cart").click()


def pick_address(page: Any, typed: str, downs: int = 1) -> str:
    """Type into the address field, go to the ``downs``-th suggestion with the keyboard (one
    too far and back up), press Enter."""
    field = page.get_by_label("Delivery address", exact=True)
    field.press_sequentially(typed, delay=20)
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options.first).to_be_visible()
    for _ in range(downs + 1):
        field.press("ArrowDown")
    field.press("ArrowUp")
    chosen = options.nth(downs - 1)
    expect(chosen).to_have_attribute("aria-selected", "true")
    label = chosen.get_attribute("data-label") or ""
    field.press("Enter")
    expect(page.get_by_role("listbox")).to_be_hidden()
    expect(field).to_have_value(label)
    return label


def test_an_order_from_two_shops_is_delivered_in_a_window(pages: Pages, screenshot: Any) -> None:
    (shop_a, product_a), (shop_b, product_b) = last_shops(pages, 2)
    page = pages.open("/")
    expect(cart_link(page)).to_have_text("Cart (0)")

    add_from_shop(page, shop_a, product_a)
    expect(cart_link(page)).to_have_text("Cart (1)")
    page.get_by_role("button", name=f"One more {product_a.name}").click()
    expect(cart_link(page)).to_have_text("Cart (2)")
    page.get_by_role("link", name="← All shops").click()
    add_from_shop(page, shop_b, product_b)
    expect(cart_link(page)).to_have_text("Cart (3)")

    cart_link(page).click()
    page.wait_for_url("**/checkout")
    cart = page.locator("#cart")
    expect(cart.get_by_role("heading", name=shop_a.name)).to_be_visible()
    expect(cart.get_by_role("heading", name=shop_b.name)).to_be_visible()
    expect(page.get_by_label(f"Quantity of {product_a.name}")).to_have_value("2")
    total = 2 * product_a.price_cents + product_b.price_cents
    expect(page.locator("#cart-total")).to_contain_text(f"{total / 100:.2f}")

    page.get_by_label("Name", exact=True).fill("Aino Virtanen")
    page.get_by_label("E-mail").fill("aino@example.org")
    address = pick_address(page, "Aleksanterinkatu 1", downs=2)
    expect(page.locator("#address-map .leaflet-marker-icon")).to_have_count(1)
    windows = page.get_by_role("group", name="Delivery window").get_by_role("radio")
    expect(windows.first).to_be_visible()
    labels = page.locator("#window-options label").all_inner_texts()
    assert labels
    assert all(WINDOW_LABEL.match(text.strip()) for text in labels), labels
    windows.last.check()
    window_id = int(windows.last.get_attribute("value") or "0")
    page.get_by_label("Note for the courier").fill("Ring twice")
    shoot(screenshot, page, "checkout-desktop")

    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Order placed")).to_be_visible()
    track = page.get_by_role("link", name="Track your order")
    href = track.get_attribute("href") or ""
    token = href.removeprefix("/t/")
    assert href.startswith("/t/")
    assert token
    expect(page.get_by_label(re.compile("tracking link"))).to_have_value(pages.server.url + href)
    expect(page.locator("#confirmation")).to_contain_text(f"{product_a.name}")
    expect(page.locator("#confirmed-window")).to_have_text(labels[-1].strip())
    expect(cart_link(page)).to_have_text("Cart (0)")
    stored = page.evaluate("localStorage.getItem('velocal.cart')")
    assert json.loads(stored) == {"lines": []}
    shoot(screenshot, page, "checkout-confirmation")

    with pages.server.session() as session:
        order = session.exec(select(Order).where(col(Order.tracking_token) == token)).one()
        items = session.exec(select(OrderItem).where(col(OrderItem.order_id) == order.id)).all()
        assert page.locator("#order-number").inner_text() == str(order.id)
        assert order.fulfilment == "delivery"
        assert order.window_id == window_id
        assert order.address == address
        assert order.note == "Ring twice"
        assert order.total_cents == total
        assert {(i.shop_id, i.product_id, i.quantity) for i in items} == {
            (shop_a.id, product_a.id, 2),
            (shop_b.id, product_b.id, 1),
        }

    track.click()
    page.wait_for_url(f"**/t/{token}")


def test_click_and_collect_needs_no_address(pages: Pages, screenshot: Any) -> None:
    ((shop, product),) = last_shops(pages, 1)
    page = pages.open(f"/shops/{shop.id}", phone=True)
    page.get_by_role("button", name=f"Add {product.name} to cart").click()
    page.get_by_role("link", name="Go to checkout").click()
    page.wait_for_url("**/checkout")

    page.get_by_label("Click & collect").check()
    expect(page.get_by_label("Delivery address", exact=True)).to_be_hidden()
    expect(page.get_by_role("group", name="Delivery window")).to_be_hidden()
    collect = page.locator("#collect-shops")
    expect(collect).to_contain_text(shop.name)
    expect(collect).to_contain_text(shop.address)

    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("Name is required")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name", exact=True).fill("Eero Collects")
    page.get_by_label("Phone").fill("+358 40 123 4567")
    shoot(screenshot, page, "checkout-phone")
    page.get_by_role("button", name="Place order").dblclick()
    expect(page.get_by_role("heading", name="Order placed")).to_be_visible()
    token = (page.get_by_role("link", name="Track your order").get_attribute("href") or "")[3:]
    with pages.server.session() as session:
        order = session.exec(select(Order).where(col(Order.tracking_token) == token)).one()
        assert order.fulfilment == "collect"
        assert order.window_id is None
        assert order.address == ""
        # The double click placed one order.
        theirs = session.exec(
            select(Order).join(Customer).where(col(Customer.name) == "Eero Collects")
        ).all()
        assert [o.id for o in theirs] == [order.id]


def test_an_address_outside_the_zone_and_api_errors_are_in_words(pages: Pages) -> None:
    ((shop, product),) = last_shops(pages, 1)
    page = pages.open("/checkout")
    seed_cart(page, shop, product)
    page.get_by_label("Name", exact=True).fill("Outside Person")
    page.get_by_label("E-mail").fill("outside@example.org")

    # The demo extract's addresses are all inside the zone; answer with one that is not.
    outside = [
        {"label": "Käpyläntie 1, Helsinki", "kind": "address", "lat": 60.2147, "lon": 24.9512}
        | {"in_zone": False}
    ]
    page.route(
        re.compile(r".*/api/town/addresses\?.*"),
        lambda route: route.fulfill(json=outside),
    )
    pick_address(page, "Käpyläntie", downs=1)
    note = page.locator("#address-note")
    expect(note).to_contain_text("is outside the delivery zone")
    expect(page.locator("#window-status")).to_have_text(
        "No delivery windows: the address is outside the delivery zone."
    )
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("Delivery address is outside the delivery zone")).to_be_visible()
    expect(page.get_by_label("Delivery address", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    page.unroute(re.compile(r".*/api/town/addresses\?.*"))

    # A real address, but the window sent is one the API does not know: its 422 in words.
    page.get_by_label("Delivery address", exact=True).fill("")
    pick_address(page, "Kalevankatu 4")
    windows = page.get_by_role("group", name="Delivery window").get_by_role("radio")
    windows.last.check()

    def wrong_window(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps(body | {"window_id": 999999}))

    page.route("**/api/orders", wrong_window)
    page.get_by_role("button", name="Place order").click()
    error = page.locator("#checkout-error")
    expect(error).to_contain_text("window 999999 does not exist")
    assert "422" not in error.inner_text()
    expect(page.locator("#window-status")).to_have_text("Window 999999 does not exist")
    expect(page.get_by_role("heading", name="Order placed")).to_have_count(0)


def test_a_non_customer_login_is_told_why_it_cannot_order(pages: Pages) -> None:
    ((shop, product),) = last_shops(pages, 1)
    page = pages.open("/checkout", login=pages.server.email("courier", 1))
    seed_cart(page, shop, product)
    page.get_by_label("Click & collect").check()
    page.get_by_label("Name", exact=True).fill("A Courier")
    page.get_by_label("E-mail").fill("courier@example.org")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#checkout-error")).to_contain_text("orders are placed by customers")
    expect(page.get_by_role("heading", name="Order placed")).to_have_count(0)


def test_the_cart_survives_a_reload_and_can_be_changed(pages: Pages) -> None:
    ((shop, product),) = last_shops(pages, 1)
    page = pages.open(f"/shops/{shop.id}")
    page.get_by_role("button", name=f"Add {product.name} to cart").click()
    expect(cart_link(page)).to_have_text("Cart (1)")
    page.reload()
    expect(cart_link(page)).to_have_text("Cart (1)")
    expect(page.get_by_label(f"In cart ({product.name})")).to_have_value("1")

    page.goto("/checkout")
    quantity = page.get_by_label(f"Quantity of {product.name}")
    quantity.fill("3")
    quantity.press("Tab")
    expect(cart_link(page)).to_have_text("Cart (3)")
    page.reload()
    expect(page.get_by_label(f"Quantity of {product.name}")).to_have_value("3")
    expect(page.locator("#cart-total")).to_contain_text(f"{3 * product.price_cents / 100:.2f}")
    page.get_by_role("button", name=f"Remove {product.name}").click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    expect(page.locator("#checkout-form")).to_be_hidden()
    expect(cart_link(page)).to_have_text("Cart (0)")


def test_out_of_stock_products_show_but_cannot_be_added(pages: Pages, screenshot: Any) -> None:
    ((shop, product),) = last_shops(pages, 1)
    with pages.server.session() as session:
        count = len(session.exec(select(Product).where(col(Product.shop_id) == shop.id)).all())
    page = pages.open("/")

    def sold_out(route: Any) -> None:
        answer = route.fetch()
        products = answer.json()
        products[0]["in_stock"] = False
        route.fulfill(response=answer, json=products)

    page.route(f"**/api/shops/{shop.id}/products", sold_out)
    page.goto(f"/shops/{shop.id}")
    button = page.get_by_role("button", name=f"Add {product.name} to cart")
    expect(button).to_be_disabled()
    expect(button).to_have_text("Out of stock")
    expect(page.locator(".product-card")).to_have_count(count)
    shoot(screenshot, page, "shop-products-desktop")
    others = page.get_by_role("button", name=re.compile(r"^Add .* to cart$"))
    expect(others.and_(page.locator(":enabled"))).to_have_count(count - 1)


def test_the_shops_are_listed_with_a_map(pages: Pages, screenshot: Any) -> None:
    with pages.server.session() as session:
        shops = session.exec(select(Shop).where(col(Shop.active).is_(True))).all()
    for phone in (False, True):
        page = pages.open("/", phone=phone)
        cards = page.locator(".shop-card")
        expect(cards).to_have_count(len(shops))
        for shop in shops:
            link = page.get_by_role("link", name=shop.name, exact=True)
            expect(link).to_have_attribute("href", f"/shops/{shop.id}")
        bakery = next(s for s in shops if s.kind == "bakery")
        card = cards.filter(has=page.get_by_role("link", name=bakery.name, exact=True))
        expect(card).to_contain_text("Bakery")
        expect(card).to_contain_text(bakery.opening_hours)
        expect(page.locator("#shops-map .leaflet-marker-icon")).to_have_count(len(shops))
        expect(page.locator("#shops-map")).to_have_attribute("data-base", "network")
        shoot(screenshot, page, "shops-phone" if phone else "shops-desktop")
