"""The shop's and the courier's endpoints: packing lists, ready, labels, pickup times; shifts,
today's route, pickups with the label code, deliveries and failures. Each side sees only its
own records (another's answers 404), and every other role gets a 403.

The town, planning fake and clients come from ``test_orders_api``; every test runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from dispatch.api.routes.courier import NOT_AN_IMAGE
from dispatch.models import DeliveryPhoto, Event, Order, Parcel, Stop
from tests.dispatch import test_orders_api as base
from tests.dispatch.test_orders_api import World, bearer_for, delivery_body, place, plan_route

# The shared fixtures, taken over by name (so pytest finds them in this module too).
fake_planning = base.fake_planning
app = base.app
client = base.client
world = base.world


@pytest.fixture
def order(client: TestClient, world: World) -> dict[str, Any]:
    """Ann's order: bread from the bakery, an atlas from the bookshop."""
    response = place(client, delivery_body(world))
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def heads(session: Session, world: World) -> dict[str, dict[str, str]]:
    """Login headers: each shop, each courier, a customer and a dispatcher."""
    c1, c2 = (c.id for c in world.couriers)
    return {
        "bakery": bearer_for(session, "shop", "bakery@v.fi", shop_id=world.bakery.id),
        "books": bearer_for(session, "shop", "books@v.fi", shop_id=world.books.id),
        "aino": bearer_for(session, "courier", "aino@v.fi", courier_id=c1),
        "bo": bearer_for(session, "courier", "bo@v.fi", courier_id=c2),
        "customer": bearer_for(session, "customer", "cust@v.fi"),
        "dispatcher": bearer_for(session, "dispatcher", "disp@v.fi"),
    }


def parcel_of(session: Session, order_id: int, shop_id: int | None) -> Parcel:
    query = select(Parcel).where(col(Parcel.order_id) == order_id, col(Parcel.shop_id) == shop_id)
    parcel = session.exec(query).one()
    session.refresh(parcel)
    return parcel


def mark_ready(client: TestClient, headers: dict[str, str], parcel_id: int | None) -> Any:
    body = {"count": 2, "weight_g": 1750, "volume_ml": 6000}
    return client.post(f"/api/shop/parcels/{parcel_id}/ready", json=body, headers=headers)


# ── who may call ───────────────────────────────────────────────────────────────────────────

SHOP_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/api/shop/orders", None),
    ("post", "/api/shop/parcels/1/ready", {"count": 1, "weight_g": 1, "volume_ml": 1}),
    ("get", "/api/shop/parcels/1/label", None),
    ("get", "/api/shop/pickups", None),
]
COURIER_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/api/courier/shifts", None),
    ("get", "/api/courier/route", None),
    ("post", "/api/courier/stops/1/pickup", {"label_code": "AAAAAA"}),
    ("post", "/api/courier/stops/1/deliver", {"recipient": "Ann"}),
    ("post", "/api/courier/stops/1/fail", {"reason": "nobody home"}),
]


def call(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    if method == "get":
        return client.get(url, headers=headers)
    return client.post(url, json=body, headers=headers)


def test_not_logged_in_is_401_everywhere(client: TestClient, world: World) -> None:
    for method, url, body in SHOP_CALLS + COURIER_CALLS:
        response = call(client, method, url, body, {})
        assert response.status_code == 401, url
        assert response.headers["www-authenticate"] == 'Bearer realm="velocal"'


def test_wrong_roles_are_403(client: TestClient, heads: dict[str, dict[str, str]]) -> None:
    """Couriers, customers and dispatchers are no shop; shops and customers are no courier."""
    for who in ("aino", "customer", "dispatcher"):
        for method, url, body in SHOP_CALLS:
            response = call(client, method, url, body, heads[who])
            assert response.status_code == 403, (who, url)
            assert response.json() == {"detail": "forbidden: this needs the role shop"}
    for who in ("bakery", "customer", "dispatcher"):
        for method, url, body in COURIER_CALLS:
            response = call(client, method, url, body, heads[who])
            assert response.status_code == 403, (who, url)
            assert response.json() == {"detail": "forbidden: this needs the role courier"}


# ── shops ──────────────────────────────────────────────────────────────────────────────────


def test_shop_sees_its_own_parcels_per_window(
    client: TestClient, world: World, order: dict[str, Any], heads: dict[str, dict[str, str]]
) -> None:
    """Only its own items, the customer's first name, the delivery kind; filter by window."""
    rows = client.get("/api/shop/orders", headers=heads["bakery"]).json()
    assert len(rows) == 1
    row = rows[0]
    assert row["order_id"] == order["id"]
    assert row["customer_first_name"] == "Ann"
    assert row["fulfilment"] == "delivery"
    assert row["window_id"] == world.window.id
    assert [(i["product_name"], i["quantity"]) for i in row["items"]] == [("Rye bread", 2)]
    assert "Example" not in str(rows)
    books = client.get("/api/shop/orders", headers=heads["books"]).json()
    assert [i["product_name"] for i in books[0]["items"]] == ["Atlas"]
    assert books[0]["id"] != row["id"]
    other_window = f"/api/shop/orders?window_id={world.later.id}"
    assert client.get(other_window, headers=heads["bakery"]).json() == []
    same_window = f"/api/shop/orders?window_id={world.window.id}"
    assert len(client.get(same_window, headers=heads["bakery"]).json()) == 1


def test_mark_ready_goes_through_lifecycle(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Sizes are stored, the parcel is ready with an event; twice is a 409."""
    parcel = parcel_of(session, order["id"], world.bakery.id)
    response = mark_ready(client, heads["bakery"], parcel.id)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["status"], data["count"], data["weight_g"], data["volume_ml"]) == (
        "ready",
        2,
        1750,
        6000,
    )
    assert data["ready_at"] is not None
    events = session.exec(
        select(Event).where(col(Event.entity) == "parcel", col(Event.entity_id) == parcel.id)
    ).all()
    assert [(e.action, e.to_status) for e in events] == [("mark_ready", "ready")]
    again = mark_ready(client, heads["bakery"], parcel.id)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"parcel {parcel.id}: cannot 'mark_ready' from 'ready': it is ready and nobody has "
        "picked it up yet"
    )
    bad = client.post(
        f"/api/shop/parcels/{parcel.id}/ready",
        json={"count": 0, "weight_g": 10},
        headers=heads["bakery"],
    )
    assert bad.json()["errors"] == [
        {"field": "count", "message": "must be at least 1"},
        {"field": "volume_ml", "message": "is required"},
    ]
    other = parcel_of(session, order["id"], world.books.id)
    heavy = client.post(
        f"/api/shop/parcels/{other.id}/ready",
        json={"count": 1, "weight_g": 60_000, "volume_ml": 1000},
        headers=heads["books"],
    )
    assert heavy.json() == {
        "detail": "weight_g: is more than the largest bike carries (50000 g)",
        "errors": [
            {"field": "weight_g", "message": "is more than the largest bike carries (50000 g)"}
        ],
    }
    assert parcel_of(session, order["id"], world.books.id).status == "awaiting"


def test_shop_cannot_touch_another_shops_parcel(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """The bookshop's parcel is 404 for the bakery: not ready-able, no label; unchanged."""
    theirs = parcel_of(session, order["id"], world.books.id)
    response = mark_ready(client, heads["bakery"], theirs.id)
    assert response.status_code == 404
    assert response.json() == {"detail": f"parcel {theirs.id} not found"}
    label = client.get(f"/api/shop/parcels/{theirs.id}/label", headers=heads["bakery"])
    assert label.json() == {"detail": f"parcel {theirs.id} not found"}
    assert client.get("/api/shop/parcels/99999/label", headers=heads["bakery"]).status_code == 404
    assert parcel_of(session, order["id"], world.books.id).status == "awaiting"


def test_label_has_code_order_customer_window_and_shop(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    parcel = parcel_of(session, order["id"], world.bakery.id)
    label = client.get(f"/api/shop/parcels/{parcel.id}/label", headers=heads["bakery"]).json()
    assert label["label_code"] == label["qr_payload"] == parcel.label_code
    assert label["order_id"] == order["id"]
    assert label["customer_name"] == "Ann Example"
    assert label["address"] == "Harbour Rd 5 B 12"
    assert label["window"]["id"] == world.window.id
    assert label["shop_name"] == "Bakery Kern"


def test_pickups_hub_handover_then_planned(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Hub mode: the window's start until planned, then the trip's departure; direct mode:
    the planned pickup stop."""
    parcel = parcel_of(session, order["id"], world.bakery.id)
    before = client.get("/api/shop/pickups", headers=heads["bakery"]).json()
    assert before == [
        {
            "window_id": world.window.id,
            "kind": "hub_handover",
            "at": world.window.starts_at.isoformat().replace("+00:00", "Z"),
            "planned": False,
            "parcel_ids": [parcel.id],
        }
    ]
    stops = plan_route(session, world, order["id"])
    planned = client.get("/api/shop/pickups", headers=heads["bakery"]).json()
    assert [(p["kind"], p["planned"], p["parcel_ids"]) for p in planned] == [
        ("hub_handover", True, [parcel.id])
    ]
    world.town.mode = "direct"
    session.add(world.town)
    session.commit()
    direct = client.get("/api/shop/pickups", headers=heads["bakery"]).json()
    assert [(p["kind"], p["planned"]) for p in direct] == [("pickup", True)]
    assert datetime.fromisoformat(direct[0]["at"]) == stops["pickup0"].planned_arrival


# ── couriers ───────────────────────────────────────────────────────────────────────────────


def test_courier_sees_only_own_shifts(
    client: TestClient, world: World, heads: dict[str, dict[str, str]]
) -> None:
    shifts = client.get("/api/courier/shifts", headers=heads["aino"]).json()
    assert [s["id"] for s in shifts] == [world.shifts[0].id]
    assert "courier_id" not in shifts[0]


def test_route_lists_trips_and_stops_with_label_hints(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Stops in order with address and times; parcels show only 2 characters of the code."""
    stops = plan_route(session, world, order["id"])
    response = client.get("/api/courier/route", headers=heads["aino"])
    assert response.status_code == 200, response.text
    route = response.json()
    assert route["shift_id"] == world.shifts[0].id
    (trip,) = route["trips"]
    assert [(s["kind"], s["sequence"]) for s in trip["stops"]] == [
        ("pickup", 0),
        ("delivery", 1),
        ("pickup", 2),
        ("delivery", 3),
    ]
    first = trip["stops"][0]
    assert first["id"] == stops["pickup0"].id
    assert (first["name"], first["address"]) == ("Bakery Kern", "Bread St 1")
    assert trip["stops"][1]["address"] == "Harbour Rd 5 B 12"
    codes = {p.label_code for p in session.exec(select(Parcel)).all()}
    for stop in trip["stops"]:
        assert len(stop["parcel"]["label_hint"]) == 2
    for code in codes:
        assert code not in response.text
    assert "Ann" not in response.text


def test_courier_cannot_read_or_complete_another_couriers_route(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Bo has no planned route; Aino's shift and stops are 404 for him and stay untouched."""
    stops = plan_route(session, world, order["id"])
    assert client.get("/api/courier/route", headers=heads["bo"]).status_code == 404
    theirs = f"/api/courier/route?shift_id={world.shifts[0].id}"
    assert client.get(theirs, headers=heads["bo"]).json() == {
        "detail": f"shift {world.shifts[0].id} not found"
    }
    pickup = stops["pickup0"]
    parcel = session.get(Parcel, pickup.parcel_id)
    assert parcel is not None
    for action, body in (
        ("pickup", {"label_code": parcel.label_code}),
        ("deliver", {"recipient": "Ann"}),
        ("fail", {"reason": "nobody home"}),
    ):
        url = f"/api/courier/stops/{pickup.id}/{action}"
        response = client.post(url, json=body, headers=heads["bo"])
        assert response.status_code == 404, action
        assert response.json() == {"detail": f"stop {pickup.id} not found"}
    session.refresh(pickup)
    assert pickup.status == "planned"


def test_pickup_needs_the_label_code_then_delivery_completes_the_order(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Wrong code: 409 saying so; right code (any case): picked up; delivered with a name and
    a photo; the order follows its parcels, and tracking shows it."""
    for shop in (world.bakery, world.books):
        parcel = parcel_of(session, order["id"], shop.id)
        who = "bakery" if shop is world.bakery else "books"
        assert mark_ready(client, heads[who], parcel.id).status_code == 200
    stops = plan_route(session, world, order["id"])
    parcel = parcel_of(session, order["id"], world.bakery.id)
    pickup_url = f"/api/courier/stops/{stops['pickup0'].id}/pickup"

    wrong = client.post(pickup_url, json={"label_code": "ZZZZZZ"}, headers=heads["aino"])
    assert wrong.status_code == 409
    assert wrong.json() == {
        "detail": f"stop {stops['pickup0'].id}: cannot 'complete' from 'planned': 'ZZZZZZ' is "
        f"not the code on parcel {parcel.id}'s label"
    }
    right = client.post(
        pickup_url, json={"label_code": parcel.label_code.lower()}, headers=heads["aino"]
    )
    assert right.status_code == 200, right.text
    assert (right.json()["status"], right.json()["parcel_status"]) == ("done", "picked_up")
    assert session.get(Order, order["id"]).status == "out_for_delivery"  # type: ignore[union-attr]

    wrong_kind = client.post(
        f"/api/courier/stops/{stops['delivery0'].id}/pickup",
        json={"label_code": parcel.label_code},
        headers=heads["aino"],
    )
    assert wrong_kind.status_code == 409
    assert wrong_kind.json()["detail"].endswith("is a delivery stop: it cannot be picked up at")

    photo = base64.b64encode(b"\xff\xd8\xff\xe0 a tiny jpeg").decode()
    delivered = client.post(
        f"/api/courier/stops/{stops['delivery0'].id}/deliver",
        json={"recipient": "Ann", "photo": photo},
        headers=heads["aino"],
    )
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["parcel_status"] == "delivered"
    stop = session.get(Stop, stops["delivery0"].id)
    assert stop is not None
    session.refresh(stop)
    assert stop.recipient == "Ann"
    event = session.exec(
        select(Event).where(
            col(Event.entity) == "stop",
            col(Event.entity_id) == stop.id,
            col(Event.action) == "complete",
        )
    ).one()
    assert event.detail["photo_bytes"] == len(b"\xff\xd8\xff\xe0 a tiny jpeg")
    tracking = client.get(f"/api/track/{order['tracking_token']}").json()
    assert tracking["status"] == "out_for_delivery"
    assert {p["status"] for p in tracking["parcels"]} == {"delivered", "ready"}


def test_failing_a_delivery_needs_a_reason(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    parcel = parcel_of(session, order["id"], world.bakery.id)
    mark_ready(client, heads["bakery"], parcel.id)
    stops = plan_route(session, world, order["id"])
    client.post(
        f"/api/courier/stops/{stops['pickup0'].id}/pickup",
        json={"label_code": parcel.label_code},
        headers=heads["aino"],
    )
    url = f"/api/courier/stops/{stops['delivery0'].id}/fail"
    empty = client.post(url, json={"reason": ""}, headers=heads["aino"])
    assert empty.json()["errors"] == [{"field": "reason", "message": "must not be empty"}]
    failed = client.post(url, json={"reason": "nobody home"}, headers=heads["aino"])
    assert failed.status_code == 200, failed.text
    assert (failed.json()["status"], failed.json()["parcel_status"]) == ("failed", "failed")
    again = client.post(url, json={"reason": "still nobody"}, headers=heads["aino"])
    assert again.status_code == 409


def test_delivery_photo_must_be_base64_and_at_most_2_mb(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    stops = plan_route(session, world, order["id"])
    url = f"/api/courier/stops/{stops['delivery0'].id}/deliver"
    garbage = client.post(url, json={"recipient": "Ann", "photo": "***"}, headers=heads["aino"])
    assert garbage.json()["errors"] == [{"field": "photo", "message": "is not valid base64"}]
    big = base64.b64encode(b"x" * (2 * 1024 * 1024 + 3)).decode()
    too_big = client.post(url, json={"recipient": "Ann", "photo": big}, headers=heads["aino"])
    assert too_big.json()["errors"] == [
        {"field": "photo", "message": "must be at most 2 MB decoded (got 2097155 bytes)"}
    ]
    nameless = client.post(url, json={"recipient": ""}, headers=heads["aino"])
    assert nameless.json()["errors"] == [{"field": "recipient", "message": "must not be empty"}]


# ── proof of delivery ──────────────────────────────────────────────────────────────────────

#: A tiny image of each accepted kind, told apart by its first bytes (the rest is filler).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00\x01\x02\xfe\xff" * 20


def picked_up_delivery(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> Stop:
    """The bakery's parcel ready and on Aino's bike: its delivery stop, ready to deliver."""
    parcel = parcel_of(session, order["id"], world.bakery.id)
    assert mark_ready(client, heads["bakery"], parcel.id).status_code == 200
    stops = plan_route(session, world, order["id"])
    picked = client.post(
        f"/api/courier/stops/{stops['pickup0'].id}/pickup",
        json={"label_code": parcel.label_code},
        headers=heads["aino"],
    )
    assert picked.status_code == 200, picked.text
    return stops["delivery0"]


def photo_url(stop_id: int | None) -> str:
    return f"/api/board/stops/{stop_id}/photo"


@pytest.mark.parametrize(
    ("image", "content_type"),
    [(JPEG, "image/jpeg"), (PNG, "image/png"), (WEBP, "image/webp")],
    ids=["jpeg", "png", "webp"],
)
def test_delivered_photo_round_trips_byte_for_byte(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
    image: bytes,
    content_type: str,
) -> None:
    """The photo is stored with the delivery; the board serves the same bytes with the type
    its bytes show, to dispatchers and operators; the event keeps its hash and size."""
    stop = picked_up_delivery(client, world, order, heads, session)
    assert client.get(photo_url(stop.id), headers=heads["dispatcher"]).json() == {
        "detail": f"photo of stop {stop.id} not found"
    }
    delivered = client.post(
        f"/api/courier/stops/{stop.id}/deliver",
        json={"recipient": "Ann", "photo": base64.b64encode(image).decode()},
        headers=heads["aino"],
    )
    assert delivered.status_code == 200, delivered.text
    operator = bearer_for(session, "operator", "op@v.fi")
    for who in (heads["dispatcher"], operator):
        response = client.get(photo_url(stop.id), headers=who)
        assert response.status_code == 200, response.text
        assert response.content == image
        assert response.headers["content-type"] == content_type
        assert "no-store" in response.headers["cache-control"]
    digest = hashlib.sha256(image).hexdigest()
    (row,) = session.exec(select(DeliveryPhoto)).all()
    assert (row.stop_id, row.sha256, row.size_bytes) == (stop.id, digest, len(image))
    assert row.created_at.tzinfo is not None
    event = session.exec(
        select(Event).where(
            col(Event.entity) == "stop",
            col(Event.entity_id) == stop.id,
            col(Event.action) == "complete",
        )
    ).one()
    assert (event.detail["photo_sha256"], event.detail["photo_bytes"]) == (digest, len(image))
    assert row.uploaded_by == event.user_id


def test_invalid_photo_is_422_and_the_stop_stays_undelivered(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Not an image (whatever it claims to be), or over 2 MB: 422 naming ``photo``, and
    nothing changes; the same delivery with no photo then goes through."""
    stop = picked_up_delivery(client, world, order, heads, session)
    url = f"/api/courier/stops/{stop.id}/deliver"
    too_big = b"\xff\xd8\xff" + b"x" * (2 * 1024 * 1024)
    for raw, message in (
        (b"GIF89a not accepted", NOT_AN_IMAGE),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", NOT_AN_IMAGE),
        (b"\xff\xd8 almost a jpeg", NOT_AN_IMAGE),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", NOT_AN_IMAGE),
        (b"", NOT_AN_IMAGE),
        (too_big, f"must be at most 2 MB decoded (got {len(too_big)} bytes)"),
    ):
        body = {"recipient": "Ann", "photo": base64.b64encode(raw).decode()}
        response = client.post(url, json=body, headers=heads["aino"])
        assert response.status_code == 422, (raw[:12], response.text)
        assert response.json()["errors"] == [{"field": "photo", "message": message}]
        assert response.json()["detail"] == f"photo: {message}"
    session.refresh(stop)
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    session.refresh(parcel)
    assert (stop.status, stop.recipient, stop.done_at) == ("planned", "", None)
    assert parcel.status == "picked_up"
    assert session.exec(select(DeliveryPhoto)).all() == []
    completions = select(Event).where(col(Event.entity) == "stop", col(Event.entity_id) == stop.id)
    assert session.exec(completions).all() == []
    assert client.get(photo_url(stop.id), headers=heads["dispatcher"]).status_code == 404

    plain = client.post(url, json={"recipient": "Ann"}, headers=heads["aino"])
    assert plain.status_code == 200, plain.text
    assert client.get(photo_url(stop.id), headers=heads["dispatcher"]).json() == {
        "detail": f"photo of stop {stop.id} not found"
    }


def test_photo_is_for_staff_only(
    client: TestClient,
    world: World,
    order: dict[str, Any],
    heads: dict[str, dict[str, str]],
    session: Session,
) -> None:
    """Shops, couriers (the one who took it too) and customers get 403, nobody logged in a
    401; a stop that does not exist is a 404."""
    stop = picked_up_delivery(client, world, order, heads, session)
    body = {"recipient": "Ann", "photo": base64.b64encode(PNG).decode()}
    delivered = client.post(
        f"/api/courier/stops/{stop.id}/deliver", json=body, headers=heads["aino"]
    )
    assert delivered.status_code == 200, delivered.text
    for who in ("aino", "bo", "bakery", "books", "customer"):
        response = client.get(photo_url(stop.id), headers=heads[who])
        assert response.status_code == 403, who
        assert response.json() == {
            "detail": "forbidden: this needs the role operator or dispatcher"
        }
    anonymous = client.get(photo_url(stop.id))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="velocal"'
    missing = client.get(photo_url(987654), headers=heads["dispatcher"])
    assert missing.json() == {"detail": "stop 987654 not found"}
