"""The customer's side of the API: catalogue, checkout with every refusal worded by field,
idempotent retries, the windows checkout offers, and the public tracking page.

Planning is replaced by a small fake module (``fake_planning``): a zone that is a latitude
band, one unreachable longitude and a set of full windows, so each refusal is one test line.
Every test runs on SQLite and on PostgreSQL (``conftest.py``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import security
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import (
    BikeType,
    Courier,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Product,
    Shift,
    Shop,
    Stop,
    Town,
    utc_now,
)
from dispatch.security import create_shop_api_token, create_user, issue_login_token

PASSWORD = "correct horse battery"
UNREACHABLE_LON = 24.99
UNREACHABLE = "no cycleway or street within 300 m of 60.2, 24.99: the bike graph cannot reach it"


# ── a fake planning module ─────────────────────────────────────────────────────────────────


@dataclass
class RoomVerdict:
    ok: bool
    reason: str = ""


class UnreachableAddressError(ValueError):
    pass


@dataclass
class FakePlanning:
    """Zone: 60.0 ≤ lat ≤ 60.5; ``UNREACHABLE_LON`` is off the graph; ``full`` windows."""

    full: set[int] = field(default_factory=set)
    room_calls: list[dict[str, Any]] = field(default_factory=list)

    def module(self) -> types.ModuleType:
        module = types.ModuleType("dispatch.planning")
        module.UnreachableAddressError = UnreachableAddressError  # type: ignore[attr-defined]
        module.RoomVerdict = RoomVerdict  # type: ignore[attr-defined]
        module.get_network = lambda town: ("network", town.id)  # type: ignore[attr-defined]
        module.locate = self.locate  # type: ignore[attr-defined]
        module.in_zone = lambda town, lat, lon: 60.0 <= lat <= 60.5  # type: ignore[attr-defined]
        module.window_has_room = self.window_has_room  # type: ignore[attr-defined]
        return module

    def locate(self, network: Any, lat: float, lon: float) -> int:
        if lon == UNREACHABLE_LON:
            raise UnreachableAddressError(UNREACHABLE)
        return 1

    def window_has_room(self, session: Session, window: DeliveryWindow, **kw: Any) -> RoomVerdict:
        assert kw.pop("now").tzinfo is not None  # the order's moment, for late orders
        self.room_calls.append({"window_id": window.id, **kw})
        if window.id in self.full:
            return RoomVerdict(False, "it already has 40 orders, the most it takes")
        return RoomVerdict(True)


@pytest.fixture
def fake_planning(monkeypatch: pytest.MonkeyPatch) -> FakePlanning:
    fake = FakePlanning()
    monkeypatch.setitem(sys.modules, "dispatch.planning", fake.module())
    return fake


# ── the town ───────────────────────────────────────────────────────────────────────────────


@dataclass
class World:
    town: Town
    hub: Hub
    bakery: Shop
    books: Shop
    closed_shop: Shop
    bread: Product
    cake: Product
    sold_out: Product
    book: Product
    anvil: Product
    window: DeliveryWindow
    later: DeliveryWindow
    past_cutoff: DeliveryWindow
    past_day_before: DeliveryWindow
    bike: BikeType
    couriers: list[Courier]
    shifts: list[Shift]


def _add(session: Session, *rows: Any) -> None:
    for row in rows:
        session.add(row)
    session.commit()
    for row in rows:
        session.refresh(row)


def _window(town: Town, starts: datetime, cutoff: datetime, **kw: Any) -> DeliveryWindow:
    assert town.id is not None
    day = starts.astimezone(ZoneInfo(town.time_zone)).date()
    return DeliveryWindow(
        town_id=town.id,
        day=kw.pop("day", day),
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        cutoff_at=cutoff,
        **kw,
    )


def build_world(session: Session) -> World:
    """Two shops with products, an inactive shop, four windows, one bike type, two couriers."""
    town = Town(name="Kallio", time_zone="Europe/Helsinki", mode="hub")
    _add(session, town)
    assert town.id is not None
    hub = Hub(town_id=town.id, name="Hub", lat=60.18, lon=24.95)
    bakery = Shop(
        town_id=town.id,
        name="Bakery Kern",
        kind="bakery",
        address="Bread St 1",
        lat=60.18,
        lon=24.94,
        opening_hours="Mo-Sa 07:00-18:00",
    )
    books = Shop(town_id=town.id, name="Books Ltd", kind="books", lat=60.19, lon=24.93)
    closed = Shop(town_id=town.id, name="Gone", lat=60.2, lon=24.9, active=False)
    bike = BikeType(
        town_id=town.id,
        name="Long John",
        capacity_g=50_000,
        capacity_ml=200_000,
        capacity_parcels=8,
    )
    _add(session, hub, bakery, books, closed, bike)
    assert bakery.id is not None
    assert books.id is not None
    assert hub.id is not None
    assert bike.id is not None
    bread = Product(shop_id=bakery.id, name="Rye bread", price_cents=450, weight_g=800)
    cake = Product(shop_id=bakery.id, name="Cake", price_cents=1200, weight_g=1500, volume_ml=5000)
    sold_out = Product(shop_id=bakery.id, name="Croissant", price_cents=200, in_stock=False)
    book = Product(shop_id=books.id, name="Atlas", price_cents=3500, weight_g=1200)
    anvil = Product(shop_id=books.id, name="Anvil", price_cents=9900, weight_g=30_000)
    now = utc_now()
    tz = ZoneInfo(town.time_zone)
    in_two_days = (now.astimezone(tz) + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    window = _window(town, now + timedelta(hours=3), now + timedelta(hours=1))
    later = _window(
        town,
        in_two_days.astimezone(ZoneInfo("UTC")),
        in_two_days - timedelta(hours=2),
        day_before_cutoff_at=now + timedelta(hours=5),
    )
    past_cutoff = _window(town, now + timedelta(minutes=30), now - timedelta(minutes=1))
    past_day_before = _window(
        town,
        in_two_days + timedelta(hours=4),
        in_two_days + timedelta(hours=2),
        day_before_cutoff_at=now - timedelta(minutes=5),
    )
    c1 = Courier(town_id=town.id, name="Aino Virtanen", bike_type_id=bike.id)
    c2 = Courier(town_id=town.id, name="Bo Berg", bike_type_id=bike.id)
    _add(session, bread, cake, sold_out, book, anvil, window, later, past_cutoff, past_day_before)
    _add(session, c1, c2)
    assert c1.id is not None
    assert c2.id is not None
    shifts = [
        Shift(courier_id=c.id, hub_id=hub.id, starts_at=now, ends_at=now + timedelta(hours=6))
        for c in (c1, c2)
        if c.id is not None
    ]
    _add(session, *shifts)
    return World(
        town,
        hub,
        bakery,
        books,
        closed,
        bread,
        cake,
        sold_out,
        book,
        anvil,
        window,
        later,
        past_cutoff,
        past_day_before,
        bike,
        [c1, c2],
        shifts,
    )


def plan_route(
    session: Session, world: World, order_id: int, *, courier: int = 0
) -> dict[str, Stop]:
    """A current plan for ``world.window``: the courier picks up and delivers every parcel."""
    now = utc_now()
    assert world.window.id is not None
    plan = Plan(window_id=world.window.id)
    _add(session, plan)
    assert plan.id is not None
    shift = world.shifts[courier]
    assert shift.id is not None
    route = PlanRoute(
        plan_id=plan.id, shift_id=shift.id, starts_at=now, ends_at=now + timedelta(hours=2)
    )
    _add(session, route)
    assert route.id is not None
    trip = PlanTrip(
        route_id=route.id,
        number=1,
        departs_at=now + timedelta(minutes=10),
        returns_at=now + timedelta(hours=2),
    )
    _add(session, trip)
    assert trip.id is not None
    parcels = session.exec(select(Parcel).where(col(Parcel.order_id) == order_id)).all()
    stops: dict[str, Stop] = {}
    for i, parcel in enumerate(sorted(parcels, key=lambda p: p.id or 0)):
        assert parcel.id is not None
        for kind, minutes in (("pickup", 20 + i), ("delivery", 60 + i)):
            stop = Stop(
                trip_id=trip.id,
                sequence=len(stops),
                kind=kind,
                parcel_id=parcel.id,
                lat=60.2,
                lon=24.9,
                planned_arrival=now + timedelta(minutes=minutes),
                planned_departure=now + timedelta(minutes=minutes + 3),
            )
            _add(session, stop)
            stops[f"{kind}{i}"] = stop
    return stops


# ── app and clients ────────────────────────────────────────────────────────────────────────


@pytest.fixture
def app(engine: Engine, fake_planning: FakePlanning) -> FastAPI:
    return create_app(Settings(database_url="sqlite://"), engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def bearer_for(session: Session, role: security.Role, email: str, **links: Any) -> dict[str, str]:
    """Headers that log in a new account of ``role`` (linked to a shop, courier, customer)."""
    user = create_user(session, email, PASSWORD, role, name=links.pop("name", ""), **links)
    token, _ = issue_login_token(session, user, kind="bearer")
    return {"Authorization": f"Bearer {token}"}


def delivery_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "items": [
            {"product_id": world.bread.id, "quantity": 2},
            {"product_id": world.book.id, "quantity": 1},
        ],
        "fulfilment": "delivery",
        "address": "Harbour Rd 5 B 12",
        "lat": 60.2,
        "lon": 24.9,
        "window_id": world.window.id,
        "customer": {"name": "Ann Example", "email": "ann@example.fi"},
    }
    body.update(overrides)
    return body


def place(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/api/orders", json=body, headers=headers)


def live_headers(session: Session, world: World) -> dict[str, dict[str, str]]:
    """Login headers of both shops, both couriers and a dispatcher (the live tests' cast)."""
    c1, c2 = (c.id for c in world.couriers)
    return {
        "bakery": bearer_for(session, "shop", "bakery@v.fi", shop_id=world.bakery.id),
        "books": bearer_for(session, "shop", "books@v.fi", shop_id=world.books.id),
        "aino": bearer_for(session, "courier", "aino@v.fi", courier_id=c1),
        "bo": bearer_for(session, "courier", "bo@v.fi", courier_id=c2),
        "dispatcher": bearer_for(session, "dispatcher", "disp@v.fi"),
    }


def ready_order(client: TestClient, world: World, heads: dict[str, dict[str, str]]) -> int:
    """Ann's order placed and both its parcels marked ready by their shops; its id."""
    placed = place(client, delivery_body(world))
    assert placed.status_code == 201, placed.text
    for parcel in placed.json()["parcels"]:
        who = "bakery" if parcel["shop_id"] == world.bakery.id else "books"
        ready = client.post(
            f"/api/shop/parcels/{parcel['id']}/ready",
            json={"count": 1, "weight_g": 900, "volume_ml": 2000},
            headers=heads[who],
        )
        assert ready.status_code == 200, ready.text
    return int(placed.json()["id"])


def errors_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    return list(response.json()["errors"])


# ── catalogue ──────────────────────────────────────────────────────────────────────────────


def test_shops_lists_active_shops_without_internal_fields(
    client: TestClient, world: World, session: Session
) -> None:
    """Inactive shops are hidden; the shop's API token hash is never shown."""
    create_shop_api_token(session, world.bakery)
    shops = client.get("/api/shops").json()
    assert [s["name"] for s in shops] == ["Bakery Kern", "Books Ltd"]
    assert shops[0] == {
        "id": world.bakery.id,
        "name": "Bakery Kern",
        "kind": "bakery",
        "address": "Bread St 1",
        "opening_hours": "Mo-Sa 07:00-18:00",
        "lat": 60.18,
        "lon": 24.94,
    }


def test_products_of_a_shop(client: TestClient, world: World) -> None:
    """A shop's products with stock and size; an inactive or unknown shop is 404."""
    products = client.get(f"/api/shops/{world.bakery.id}/products").json()
    assert [(p["name"], p["in_stock"]) for p in products] == [
        ("Rye bread", True),
        ("Cake", True),
        ("Croissant", False),
    ]
    assert client.get(f"/api/shops/{world.closed_shop.id}/products").status_code == 404
    assert client.get("/api/shops/9999/products").json() == {"detail": "shop 9999 not found"}


# ── checkout ───────────────────────────────────────────────────────────────────────────────


def test_anonymous_order_from_two_shops_makes_one_parcel_per_shop(
    client: TestClient, world: World, session: Session, fake_planning: FakePlanning
) -> None:
    """201; prices and total; a parcel per shop weighing its products × quantity; an event."""
    response = place(client, delivery_body(world))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "placed"
    assert body["total_cents"] == 2 * 450 + 3500
    assert len(body["tracking_token"]) >= 32
    assert [(i["product_id"], i["quantity"], i["price_cents"]) for i in body["items"]] == [
        (world.bread.id, 2, 450),
        (world.book.id, 1, 3500),
    ]
    parcels = {p["shop_id"]: p for p in body["parcels"]}
    assert parcels[world.bakery.id]["weight_g"] == 1600
    assert parcels[world.bakery.id]["volume_ml"] == 4000
    assert parcels[world.books.id]["weight_g"] == 1200
    assert "idempotency_key" not in body
    assert all("label_code" not in p for p in body["parcels"])

    order = session.get(Order, body["id"])
    assert order is not None
    assert order.customer_id is not None
    stored = session.exec(select(Parcel).where(col(Parcel.order_id) == order.id)).all()
    assert len({p.label_code for p in stored}) == 2
    assert fake_planning.room_calls[-1] == {
        "window_id": world.window.id,
        "lat": 60.2,
        "lon": 24.9,
        "weight_g": 2800,
        "volume_ml": 6000,
        "count": 2,
        "shop_ids": sorted([world.bakery.id or 0, world.books.id or 0]),
    }
    events = session.exec(select(Event).where(col(Event.entity_id) == order.id)).all()
    assert [(e.entity, e.action, e.to_status) for e in events] == [("order", "place", "placed")]


def test_logged_in_customer_needs_no_details(
    client: TestClient, world: World, session: Session
) -> None:
    """The account's customer record is used (made on first order)."""
    headers = bearer_for(session, "customer", "cara@example.fi", name="Cara")
    response = place(client, delivery_body(world, customer=None), **headers)
    assert response.status_code == 201, response.text
    order = session.get(Order, response.json()["id"])
    assert order is not None
    second = place(client, delivery_body(world, customer=None), **headers)
    assert session.get(Order, second.json()["id"]).customer_id == order.customer_id  # type: ignore[union-attr]


def test_click_and_collect_needs_no_address(client: TestClient, world: World) -> None:
    response = place(
        client,
        {
            "items": [{"product_id": world.cake.id, "quantity": 1}],
            "fulfilment": "collect",
            "customer": {"name": "Ann", "phone": "+358 40 123"},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["fulfilment"] == "collect"
    assert response.json()["window_id"] is None


def test_shop_e_shop_orders_only_its_own_products(
    client: TestClient, world: World, session: Session
) -> None:
    """With X-Shop-Token another shop's product is a 422 on that item; own products pass."""
    token = create_shop_api_token(session, world.bakery)
    mixed = place(client, delivery_body(world), **{"X-Shop-Token": token})
    assert errors_of(mixed) == [
        {
            "field": "items[1].product_id",
            "message": f"product {world.book.id} is not one of Bakery Kern's products",
        }
    ]
    own = delivery_body(world, items=[{"product_id": world.bread.id, "quantity": 3}])
    response = place(client, own, **{"X-Shop-Token": token})
    assert response.status_code == 201, response.text
    wrong = place(client, own, **{"X-Shop-Token": "vls_nope"})
    assert wrong.status_code == 401


def test_item_refusals_name_the_item(client: TestClient, world: World) -> None:
    """Quantity < 1 is the model's 422; unknown and out-of-stock products are reported together."""
    body = delivery_body(
        world,
        items=[
            {"product_id": 9999, "quantity": 1},
            {"product_id": world.sold_out.id, "quantity": 1},
            {"product_id": world.bread.id, "quantity": 0},
        ],
    )
    assert errors_of(place(client, body)) == [
        {"field": "items[2].quantity", "message": "must be at least 1"}
    ]
    body["items"][2]["quantity"] = 1
    assert errors_of(place(client, body)) == [
        {"field": "items[0].product_id", "message": "product 9999 does not exist"},
        {
            "field": "items[1].product_id",
            "message": f"product {world.sold_out.id} (Croissant) is out of stock",
        },
    ]
    assert errors_of(place(client, delivery_body(world, items=[]))) == [
        {"field": "items", "message": "must have at least 1 items"}
    ]


def test_delivery_needs_address_place_and_window(client: TestClient, world: World) -> None:
    body = delivery_body(world)
    for name in ("address", "lat", "lon", "window_id"):
        del body[name]
    assert errors_of(place(client, body)) == [
        {"field": name, "message": "is required for delivery"}
        for name in ("address", "lat", "lon", "window_id")
    ]


def test_anonymous_order_needs_customer_details(client: TestClient, world: World) -> None:
    assert errors_of(place(client, delivery_body(world, customer=None))) == [
        {"field": "customer", "message": "is required unless you are logged in as a customer"}
    ]
    nameless = place(client, delivery_body(world, customer={"name": "Ann"}))
    assert errors_of(nameless) == [
        {"field": "customer.email", "message": "an email or a phone number is required"}
    ]


def test_address_outside_zone_or_off_the_graph(client: TestClient, world: World) -> None:
    """The zone check names lat with the place; the graph's own message is passed on."""
    outside = place(client, delivery_body(world, lat=61.5))
    assert errors_of(outside) == [
        {"field": "lat", "message": "61.5, 24.9 is outside the delivery zone of Kallio"}
    ]
    off_graph = place(client, delivery_body(world, lon=UNREACHABLE_LON))
    assert errors_of(off_graph) == [{"field": "lat", "message": UNREACHABLE}]


def test_cutoffs_close_windows(client: TestClient, world: World) -> None:
    """The same-day cutoff, and the day-before cutoff for orders before the delivery day."""
    tz = ZoneInfo("Europe/Helsinki")
    late = place(client, delivery_body(world, window_id=world.past_cutoff.id))
    cutoff = world.past_cutoff.cutoff_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    assert errors_of(late) == [
        {
            "field": "window_id",
            "message": f"window {world.past_cutoff.id} is closed: its cutoff passed at {cutoff}",
        }
    ]
    before = world.past_day_before
    assert before.day_before_cutoff_at is not None
    day_before = before.day_before_cutoff_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    response = place(client, delivery_body(world, window_id=before.id))
    assert errors_of(response) == [
        {
            "field": "window_id",
            "message": (
                f"window {before.id} is closed for orders placed before its day: the day-before "
                f"cutoff passed at {day_before}; order again on {before.day.isoformat()}"
            ),
        }
    ]
    still_open = place(client, delivery_body(world, window_id=world.later.id))
    assert still_open.status_code == 201, still_open.text


def test_closed_status_and_unknown_windows(
    client: TestClient, world: World, session: Session
) -> None:
    world.later.status = "closed"
    session.add(world.later)
    session.commit()
    response = place(client, delivery_body(world, window_id=world.later.id))
    assert errors_of(response) == [
        {
            "field": "window_id",
            "message": f"window {world.later.id} is closed and takes no more orders",
        }
    ]
    unknown = place(client, delivery_body(world, window_id=4242))
    assert errors_of(unknown) == [{"field": "window_id", "message": "window 4242 does not exist"}]


def test_full_window_says_why(
    client: TestClient, world: World, fake_planning: FakePlanning
) -> None:
    assert world.window.id is not None
    fake_planning.full.add(world.window.id)
    response = place(client, delivery_body(world))
    assert errors_of(response) == [
        {
            "field": "window_id",
            "message": f"window {world.window.id} has no room: it already has 40 orders, the "
            "most it takes",
        }
    ]


def test_parcel_larger_than_the_largest_bike(client: TestClient, world: World) -> None:
    body = delivery_body(world, items=[{"product_id": world.anvil.id, "quantity": 2}])
    assert errors_of(place(client, body)) == [
        {
            "field": "items",
            "message": "the parcel from Books Ltd weighs 60000 g, more than the largest bike "
            "carries (50000 g)",
        }
    ]


def test_idempotency_key_returns_the_first_order(
    client: TestClient, world: World, session: Session
) -> None:
    """Same key and body: 200 with the same order and no second one; another body: 409."""
    headers = {"Idempotency-Key": "checkout-123"}
    first = place(client, delivery_body(world), **headers)
    second = place(client, delivery_body(world), **headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(session.exec(select(Order)).all()) == 1
    other = place(client, delivery_body(world, address="Elsewhere 1"), **headers)
    assert other.status_code == 409
    assert other.json() == {
        "detail": "Idempotency-Key was already used for a different order: use a new key for a "
        "new order, or resend exactly the same request"
    }
    assert len(session.exec(select(Order)).all()) == 1
    fresh = place(client, delivery_body(world), **{"Idempotency-Key": "checkout-124"})
    assert fresh.status_code == 201


def test_only_customers_place_orders_when_logged_in(
    client: TestClient, world: World, session: Session
) -> None:
    """A courier's login is a 403; a bad login token is a 401 (not silently anonymous)."""
    assert world.couriers[0].id is not None
    headers = bearer_for(session, "courier", "c@v.fi", courier_id=world.couriers[0].id)
    response = place(client, delivery_body(world), **headers)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("forbidden: orders are placed by customers")
    bad = place(client, delivery_body(world), Authorization="Bearer made-up")
    assert bad.status_code == 401


def test_available_windows_have_room_and_open_cutoffs(
    client: TestClient, world: World, fake_planning: FakePlanning
) -> None:
    """Past cutoffs, the day-before cutoff and full windows are left out."""
    url = "/api/windows/available?lat=60.2&lon=24.9&weight_g=2000"
    assert [w["id"] for w in client.get(url).json()] == [world.window.id, world.later.id]
    assert world.later.id is not None
    fake_planning.full.add(world.later.id)
    assert [w["id"] for w in client.get(url).json()] == [world.window.id]
    assert fake_planning.room_calls[-1]["weight_g"] == 2000
    outside = client.get("/api/windows/available?lat=59&lon=24.9")
    assert errors_of(outside) == [
        {
            "field": "query parameter lat",
            "message": "59.0, 24.9 is outside the delivery zone of Kallio",
        }
    ]
    assert errors_of(client.get("/api/windows/available?lon=24.9")) == [
        {"field": "query parameter lat", "message": "is required"}
    ]


# ── tracking ───────────────────────────────────────────────────────────────────────────────


def test_tracking_shows_only_its_own_order(
    client: TestClient, world: World, session: Session
) -> None:
    """Timeline, window, parcels, planned arrival with the courier's first name only."""
    mine = place(client, delivery_body(world)).json()
    other = place(
        client, delivery_body(world, customer={"name": "Zed Other", "email": "z@x.fi"})
    ).json()
    stops = plan_route(session, world, mine["id"])
    response = client.get(f"/api/track/{mine['tracking_token']}")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "placed"
    assert [(s["action"], s["status"]) for s in data["timeline"]] == [("place", "placed")]
    assert [p["shop_name"] for p in data["parcels"]] == ["Bakery Kern", "Books Ltd"]
    assert data["planned"]["courier_first_name"] == "Aino"
    arrival = datetime.fromisoformat(data["planned"]["arrival_from"])
    assert arrival == stops["delivery0"].planned_arrival
    text = response.text
    for leaked in ("Virtanen", "Zed", "Ann", "ann@example.fi", other["tracking_token"], "label"):
        assert leaked not in text
    assert client.get(f"/api/track/{other['tracking_token']}").json()["planned"] is None


def test_tracking_timeline_follows_lifecycle(
    client: TestClient, world: World, session: Session
) -> None:
    """Parcels marked ready by their shops move the order; the timeline shows it."""
    from dispatch import lifecycle

    mine = place(client, delivery_body(world)).json()
    for parcel in session.exec(select(Parcel).where(col(Parcel.order_id) == mine["id"])).all():
        lifecycle.perform(session, parcel, "mark_ready", actor_role="shop")
    session.commit()
    data = client.get(f"/api/track/{mine['tracking_token']}").json()
    assert data["status"] == "ready"
    assert [s["status"] for s in data["timeline"]] == ["placed", "ready"]
    assert {p["status"] for p in data["parcels"]} == {"ready"}


def test_wrong_tracking_token_is_404(client: TestClient, world: World) -> None:
    response = client.get("/api/track/not-a-real-token")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "no order has this tracking link: check the link in your confirmation"
    }


def test_real_planning_zone_and_room(
    client: TestClient, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``dispatch.planning`` zone and room tests behind checkout, on the demo graph."""
    monkeypatch.delitem(sys.modules, "dispatch.planning")  # the fake one
    real = pytest.importorskip("dispatch.planning")
    monkeypatch.setitem(sys.modules, "dispatch.planning", real)
    monkeypatch.setattr(real, "locate", lambda network, lat, lon: (lat, lon))
    world.town.zone = [[[24.8, 60.1], [25.1, 60.1], [25.1, 60.3], [24.8, 60.3], [24.8, 60.1]]]
    world.window.max_orders = 1
    world.hub.opens = world.hub.closes = "00:00"  # open round the clock: the test runs any time
    session.add(world.town)
    session.add(world.window)
    session.add(world.hub)
    session.commit()

    # The room test routes on the town's graph (the bundled Helsinki one): a door on it.
    placed = place(client, delivery_body(world, lat=60.1705, lon=24.9452))
    assert placed.status_code == 201, placed.json()
    outside = place(client, delivery_body(world, lat=60.35))
    assert errors_of(outside) == [
        {"field": "lat", "message": "60.35, 24.9 is outside the delivery zone of Kallio"}
    ]
    full = place(client, delivery_body(world))
    assert errors_of(full) == [
        {
            "field": "window_id",
            "message": f"window {world.window.id} has no room: the window is full (1 of 1 orders)",
        }
    ]
    offered = client.get("/api/windows/available?lat=60.2&lon=24.9&weight_g=1000").json()
    assert world.window.id not in [w["id"] for w in offered]
