"""Webhooks for shops' systems: signed deliveries a shop can verify with the secret it got on
creation, retries with backoff (time advanced by ``now=``, never by sleeping), timeouts in the
log, only the subscribed shop's own events, 404 for another shop's webhooks, and the outbox
row written in the same transaction as the change. Receivers are tiny ``http.server``s on a
free loopback port. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from dispatch import lifecycle, webhooks
from dispatch.models import Order, Parcel, WebhookDelivery, WebhookSubscription, utc_now
from tests.dispatch import test_orders_api as base
from tests.dispatch.test_orders_api import World, bearer_for, delivery_body, place, plan_route

fake_planning = base.fake_planning
app = base.app
client = base.client
world = base.world


# ── a receiver ─────────────────────────────────────────────────────────────────────────────


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next of ``codes`` (the last one repeats); ``hang`` makes it
    wait, without answering, until the test ends."""

    codes: list[int] = field(default_factory=lambda: [200])
    hang: bool = False
    got: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.got.append(Received(dict(self.headers.items()), self.rfile.read(length)))
            if state.hang:
                state.release.wait(10)
                return
            code = state.codes.pop(0) if len(state.codes) > 1 else state.codes[0]
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/velocal-hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# ── helpers ────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def heads(session: Session, world: World) -> dict[str, dict[str, str]]:
    return {
        "bakery": bearer_for(session, "shop", "bakery@v.fi", shop_id=world.bakery.id),
        "books": bearer_for(session, "shop", "books@v.fi", shop_id=world.books.id),
        "operator": bearer_for(session, "operator", "op@v.fi"),
    }


def subscribe(
    client: TestClient, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    answer = client.post("/api/shop/webhooks", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def bread_order(client: TestClient, world: World) -> int:
    """An order of the bakery's bread only."""
    body = delivery_body(world, items=[{"product_id": world.bread.id, "quantity": 1}])
    answer = place(client, body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def deliveries(session: Session, subscription_id: int) -> list[WebhookDelivery]:
    session.expire_all()
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.subscription_id) == subscription_id)
        .order_by(col(WebhookDelivery.id))
    )
    return list(session.exec(query).all())


def soon() -> datetime:
    """A moment just after everything written so far (deliveries are due when written)."""
    return utc_now() + timedelta(seconds=1)


# ── signing ────────────────────────────────────────────────────────────────────────────────


def test_signature_verifies_with_the_secret_from_creation(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """The shop recomputes HMAC-SHA256("<t>.<body>") with its secret and gets ``v1``; the body
    is {id, type, created_at, data} with the shop's parcel and no customer e-mail."""
    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    listed = client.get("/api/shop/webhooks", headers=heads["bakery"]).json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    order_id = bread_order(client, world)
    now = soon()

    sent = webhooks.send_due(session, now=now)

    (delivery,) = deliveries(session, created["id"])
    assert sent == [delivery.id]
    assert delivery.status == "delivered"
    (got,) = receiver.got
    assert got.headers["X-Velocal-Event"] == "order.accepted"
    assert got.headers["X-Velocal-Delivery"] == str(delivery.id)
    stamp, v1 = (part.split("=", 1)[1] for part in got.headers["X-Velocal-Signature"].split(","))
    assert int(stamp) == int(now.timestamp())
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + got.body, hashlib.sha256)
    assert hmac.compare_digest(v1, expected.hexdigest())
    wrong = hmac.new(b"another secret", f"{stamp}.".encode() + got.body, hashlib.sha256)
    assert not hmac.compare_digest(v1, wrong.hexdigest())
    body = json.loads(got.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "order.accepted"
    assert body["id"].startswith("evt_")
    assert body["data"]["order"]["id"] == order_id
    assert body["data"]["order"]["status"] == "placed"
    order = session.get(Order, order_id)
    assert order is not None
    assert body["data"]["order"]["tracking_path"] == f"/t/{order.tracking_token}"
    assert [p["status"] for p in body["data"]["parcels"]] == ["awaiting"]
    assert b"ann@example.fi" not in got.body


# ── retries ────────────────────────────────────────────────────────────────────────────────


def test_a_failing_receiver_is_retried_with_backoff_until_delivered(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """500, 500, then 200: tried again after 30 s and after 2 more minutes (not before), then
    delivered; the log shows each attempt's status code; every attempt posts the same event."""
    receiver.codes = [500, 500, 200]
    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    bread_order(client, world)
    t0 = soon()

    assert len(webhooks.send_due(session, now=t0)) == 1
    (delivery,) = deliveries(session, created["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    assert delivery.last_error == "the receiver answered HTTP 500"

    assert webhooks.send_due(session, now=t0 + timedelta(seconds=29)) == []
    assert len(receiver.got) == 1

    t1 = t0 + timedelta(seconds=30)
    assert webhooks.send_due(session, now=t1) == [delivery.id]
    (delivery,) = deliveries(session, created["id"])
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at == t1 + timedelta(minutes=2)
    assert webhooks.send_due(session, now=t1 + timedelta(seconds=119)) == []

    t2 = t1 + timedelta(minutes=2)
    assert webhooks.send_due(session, now=t2) == [delivery.id]
    (delivery,) = deliveries(session, created["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.delivered_at == t2
    assert delivery.next_attempt_at is None
    assert delivery.last_error == ""
    assert webhooks.send_due(session, now=t2 + timedelta(days=1)) == []
    assert len(receiver.got) == 3
    assert len({json.loads(r.body)["id"] for r in receiver.got}) == 1

    log = client.get(f"/api/shop/webhooks/{created['id']}/deliveries", headers=heads["bakery"])
    assert log.status_code == 200, log.text
    (entry,) = log.json()
    assert entry["status"] == "delivered"
    assert [a["status_code"] for a in entry["log"]] == [500, 500, 200]
    assert [datetime.fromisoformat(a["at"]) for a in entry["log"]] == [t0, t1, t2]
    assert all(a["duration_ms"] >= 0 for a in entry["log"])


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_backoff(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """Tried at 0, +30 s, +2 min, +10 min, +1 h, +6 h, then ``failed`` and never sent again."""
    receiver.codes = [503]
    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    bread_order(client, world)
    moment = soon()
    gaps: list[timedelta] = []
    for _ in range(6):
        assert len(webhooks.send_due(session, now=moment)) == 1
        (delivery,) = deliveries(session, created["id"])
        if delivery.next_attempt_at is not None:
            gaps.append(delivery.next_attempt_at - moment)
            moment = delivery.next_attempt_at

    assert gaps == list(webhooks.RETRY_DELAYS)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 6, 503)
    assert webhooks.send_due(session, now=moment + timedelta(days=2)) == []
    assert len(receiver.got) == 6


def test_a_receiver_that_never_answers_is_logged_as_timed_out(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """No answer within the timeout: no status code, the error says so, a retry in 30 s."""
    receiver.hang = True
    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    bread_order(client, world)
    t0 = soon()

    webhooks.send_due(session, now=t0, timeout_s=0.3)

    (delivery,) = deliveries(session, created["id"])
    assert len(receiver.got) == 1
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "no answer within 0.3 s"
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    (entry,) = delivery.attempt_log
    assert entry["status_code"] is None
    assert entry["error"] == "no answer within 0.3 s"
    assert entry["duration_ms"] >= 300


def test_a_refused_connection_is_logged_with_its_error(
    client: TestClient, session: Session, world: World, heads: dict[str, dict[str, str]]
) -> None:
    """Nobody listening on the port: the error names the failed connection."""
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_address[1]}/hook"
    created = subscribe(client, heads["bakery"], url, ["order.accepted"])
    bread_order(client, world)

    webhooks.send_due(session, now=soon())

    (delivery,) = deliveries(session, created["id"])
    assert delivery.last_error.startswith("could not connect:")
    assert (delivery.status, delivery.last_status_code) == ("pending", None)


# ── whose events ───────────────────────────────────────────────────────────────────────────


def test_only_the_subscribed_shops_own_events_are_delivered(
    client: TestClient, session: Session, world: World, heads: dict[str, dict[str, str]]
) -> None:
    """An order from both shops: the bakery (subscribed) gets one delivery holding only its
    parcel; the books shop, subscribed to other types, gets none; an order without bakery
    parcels gives the bakery nothing."""
    bakery = subscribe(client, heads["bakery"], "http://127.0.0.1:9/a", ["order.accepted"])
    books = subscribe(client, heads["books"], "http://127.0.0.1:9/b", ["order.delivered"])
    answer = place(client, delivery_body(world))
    assert answer.status_code == 201, answer.text
    order = answer.json()
    parcel_of = {p["shop_id"]: p["id"] for p in order["parcels"]}
    book_only = delivery_body(world, items=[{"product_id": world.book.id, "quantity": 1}])
    assert place(client, book_only).status_code == 201

    (delivery,) = deliveries(session, bakery["id"])
    assert deliveries(session, books["id"]) == []
    data = delivery.payload["data"]
    assert data["order"]["id"] == order["id"]
    assert [p["id"] for p in data["parcels"]] == [parcel_of[world.bakery.id]]
    text = json.dumps(delivery.payload)
    assert f'"id": {parcel_of[world.books.id]}' not in text
    assert "ann@example.fi" not in text


def test_a_shop_cannot_see_or_touch_another_shops_webhooks(
    client: TestClient, session: Session, world: World, heads: dict[str, dict[str, str]]
) -> None:
    """Another shop's webhook answers the words of a missing one; operators list them all,
    without secrets; shops may not use the operators' list."""
    created = subscribe(client, heads["bakery"], "http://127.0.0.1:9/a")
    assert created["events"] == list(webhooks.EVENT_TYPES)
    hook = created["id"]
    missing = {"detail": "webhook 987654 not found"}
    assert client.get("/api/shop/webhooks/987654/deliveries", headers=heads["books"]).json() == (
        missing
    )
    for method, path in (
        ("GET", f"/api/shop/webhooks/{hook}/deliveries"),
        ("DELETE", f"/api/shop/webhooks/{hook}"),
        ("POST", f"/api/shop/webhooks/{hook}/test"),
    ):
        answer = client.request(method, path, headers=heads["books"])
        assert answer.status_code == 404, (method, answer.text)
        assert answer.json() == {"detail": f"webhook {hook} not found"}
    assert client.get("/api/shop/webhooks", headers=heads["books"]).json() == []
    stored = session.get(WebhookSubscription, hook)
    assert stored is not None
    assert stored.active

    everyone = client.get("/api/webhooks", headers=heads["operator"])
    assert everyone.status_code == 200, everyone.text
    assert [(w["id"], w["shop_id"]) for w in everyone.json()] == [(hook, world.bakery.id)]
    assert all("secret" not in w for w in everyone.json())
    assert client.get("/api/webhooks", headers=heads["bakery"]).status_code == 403


def test_new_webhooks_are_checked_field_by_field(
    client: TestClient, heads: dict[str, dict[str, str]]
) -> None:
    """A URL that is not http(s) and an unknown event type are refused naming the field."""
    answer = client.post(
        "/api/shop/webhooks",
        json={"url": "ftp://shop.example/hook", "events": ["order.accepted", "order.eaten"]},
        headers=heads["bakery"],
    )
    assert answer.status_code == 422, answer.text
    fields = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert fields["url"] == "must be an http:// or https:// URL with a host name"
    assert fields["events[1]"].startswith("must be one of")


# ── the test ping and deleting ─────────────────────────────────────────────────────────────


def test_ping_and_delete(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """The test button posts a signed ping now; deleting stops the webhook, fails what was
    pending, keeps the log, and a deleted webhook cannot be pinged."""
    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    hook = created["id"]
    ping = client.post(f"/api/shop/webhooks/{hook}/test", headers=heads["bakery"])
    assert ping.status_code == 200, ping.text
    assert (ping.json()["event_type"], ping.json()["status"]) == ("ping", "delivered")
    (got,) = receiver.got
    assert got.headers["X-Velocal-Event"] == "ping"
    bread_order(client, world)  # a pending delivery

    answer = client.delete(f"/api/shop/webhooks/{hook}", headers=heads["bakery"])

    assert answer.status_code == 204, answer.text
    assert client.get("/api/shop/webhooks", headers=heads["bakery"]).json() == []
    statuses = [(d.event_type, d.status, d.last_error) for d in deliveries(session, hook)]
    assert statuses == [
        ("ping", "delivered", ""),
        ("order.accepted", "failed", "the webhook was deleted"),
    ]
    assert webhooks.send_due(session, now=soon()) == []
    bread_order(client, world)
    assert len(deliveries(session, hook)) == 2  # nothing new for a deleted webhook
    again = client.post(f"/api/shop/webhooks/{hook}/test", headers=heads["bakery"])
    assert again.status_code == 409, again.text
    log = client.get(f"/api/shop/webhooks/{hook}/deliveries", headers=heads["bakery"])
    assert [d["event_type"] for d in log.json()] == ["order.accepted", "ping"]
    assert len(receiver.got) == 1


# ── the outbox and the lifecycle ───────────────────────────────────────────────────────────


def _parcel_of(session: Session, order_id: int) -> Parcel:
    parcel = session.exec(select(Parcel).where(col(Parcel.order_id) == order_id)).one()
    return parcel


def test_the_delivery_is_written_in_the_same_transaction_as_the_change(
    client: TestClient,
    session: Session,
    engine: Any,
    world: World,
    heads: dict[str, dict[str, str]],
) -> None:
    """Flushed with the pickup, gone with its rollback; committed with it when it commits;
    nothing for a refused change."""
    created = subscribe(
        client, heads["bakery"], "http://127.0.0.1:9/a", ["parcel.picked_up", "order.failed"]
    )
    order_id = bread_order(client, world)
    parcel = _parcel_of(session, order_id)
    lifecycle.perform(session, parcel, "mark_ready", actor_role="shop")
    session.commit()
    assert deliveries(session, created["id"]) == []

    lifecycle.perform(session, parcel, "pick_up", actor_role="dispatcher")
    session.flush()
    inside = session.exec(
        select(WebhookDelivery.event_type).where(
            col(WebhookDelivery.subscription_id) == created["id"]
        )
    ).all()
    assert list(inside) == ["parcel.picked_up"]
    session.rollback()
    with Session(engine) as other:
        assert deliveries(other, created["id"]) == []
    assert deliveries(session, created["id"]) == []

    with pytest.raises(lifecycle.InvalidTransitionError):
        lifecycle.perform(session, parcel, "deliver", actor_role="dispatcher")
    session.commit()
    assert deliveries(session, created["id"]) == []

    parcel = _parcel_of(session, order_id)
    lifecycle.perform(session, parcel, "pick_up", actor_role="dispatcher")
    session.commit()
    with Session(engine) as other:
        (delivery,) = deliveries(other, created["id"])
    assert delivery.event_type == "parcel.picked_up"
    assert delivery.payload["data"]["parcel"]["status"] == "picked_up"
    assert delivery.payload["data"]["order"]["status"] == "out_for_delivery"


def test_a_courier_round_reports_pickup_out_for_delivery_and_failure(
    client: TestClient,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
) -> None:
    """Stops completed and failed through the lifecycle become the shop's event types, in
    order, with the failure's reason."""
    created = subscribe(client, heads["bakery"], "http://127.0.0.1:9/a")
    order_id = bread_order(client, world)
    parcel = _parcel_of(session, order_id)
    lifecycle.perform(session, parcel, "mark_ready", actor_role="shop")
    session.commit()
    stops = plan_route(session, world, order_id)

    lifecycle.perform(session, stops["pickup0"], "complete", actor_role="dispatcher")
    session.commit()
    lifecycle.perform(
        session,
        stops["delivery0"],
        "fail",
        actor_role="dispatcher",
        detail={"reason": "nobody at home"},
    )
    session.commit()

    found = deliveries(session, created["id"])
    assert [d.event_type for d in found] == [
        "order.accepted",
        "parcel.picked_up",
        "order.out_for_delivery",
        "parcel.failed",
        "order.failed",
    ]
    assert found[3].payload["data"]["reason"] == "nobody at home"
    assert found[4].payload["data"]["order"]["status"] == "failed"


def test_the_scheduler_tick_sends_due_deliveries(
    client: TestClient,
    session: Session,
    engine: Any,
    world: World,
    heads: dict[str, dict[str, str]],
    receiver: Receiver,
) -> None:
    """The cutoff clock's tick also posts what is due, after closing and planning windows."""
    from dispatch.scheduler import tick

    created = subscribe(client, heads["bakery"], receiver.url, ["order.accepted"])
    bread_order(client, world)

    tick(engine, now=soon())

    (delivery,) = deliveries(session, created["id"])
    assert delivery.status == "delivered"
    assert len(receiver.got) == 1
