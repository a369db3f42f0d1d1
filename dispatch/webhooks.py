"""Signed webhooks for shops' own systems: subscriptions, the outbox, and the sender.

**The outbox.** Whenever the session flushes an ``Event`` that a shop's e-shop wants to hear
about (``EVENT_TYPES``: an order placed, a parcel picked up, an order out for delivery,
delivered, failed...), one ``WebhookDelivery`` row per matching active subscription is written
*in the same flush*, hence in the same database transaction: a change that is rolled back
leaves no delivery, and a committed change always has its deliveries.

Why a session hook (``after_flush`` on every SQLAlchemy ``Session``) rather than a call where
events are written: events are written in four places (``lifecycle.perform``, order placement,
planning, the demo seed) and more will come; a hook cannot be forgotten by the next one. Why
``after_flush`` and not ``before_flush``: the rows are in the database by then, so new events,
orders and parcels have their ids (a payload names them) and a query sees the parcels of an
order placed in the same flush. The hook reads and writes through the flush's own connection
with Core statements, so it never touches the session's identity map mid-flush. It is
registered when this module is imported (the app's routes and the scheduler import it).

**The sender.** ``send_due`` posts every pending delivery whose ``next_attempt_at`` has come:
a JSON body ``{id, type, created_at, data}`` with ``X-Velocal-Event``, ``X-Velocal-Delivery``
and ``X-Velocal-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``. A 2xx answer marks
it delivered; anything else, a redirect or no answer within the timeout schedules the next try
after ``RETRY_DELAYS`` (30 s, 2 min, 10 min, 1 h, 6 h), and after the last one it is
``failed``. Every attempt is logged on the row (time, status code or error, duration). A row
is claimed with a conditional UPDATE before it is sent, so two schedulers (one per worker
process) never post the same attempt twice. The standard library's ``urllib`` posts: the
project's ``httpx2`` is a test-only dependency, and one POST needs nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast, get_args

from sqlalchemy import Connection, Table, event, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Session, col, select

from dispatch.models import (
    DeliveryWindow,
    Event,
    Order,
    Parcel,
    WebhookDelivery,
    WebhookSubscription,
    utc_now,
)

log = logging.getLogger("velocal.webhooks")

EventType = Literal[
    "order.accepted",
    "parcel.picked_up",
    "order.out_for_delivery",
    "order.delivered",
    "order.partly_delivered",
    "order.failed",
    "parcel.failed",
]
#: What a subscription may ask for (a new subscription gets all of them unless it says).
EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)
#: The test delivery ``POST /api/shop/webhooks/{id}/test`` sends; tried once, never retried.
PING: Final = "ping"

#: The wait before each retry; a delivery is tried once plus once per entry, then ``failed``.
RETRY_DELAYS: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
DEFAULT_TIMEOUT_S: Final = 5.0
#: How long a claimed delivery stays away from other senders beyond its timeout (a sender
#: that dies mid-post leaves the delivery to be retried after this).
CLAIM_LEASE: Final = timedelta(seconds=60)
#: Most of a receiver's answer that is read (and then dropped).
_MAX_ANSWER_BYTES: Final = 64 * 1024
USER_AGENT: Final = "velocal-webhooks/1"

_ORDER_TYPES: Final[Mapping[str, str]] = {
    "out_for_delivery": "order.out_for_delivery",
    "delivered": "order.delivered",
    "partly_delivered": "order.partly_delivered",
    "failed": "order.failed",
}
_PARCEL_TYPES: Final[Mapping[str, str]] = {
    "picked_up": "parcel.picked_up",
    "failed": "parcel.failed",
}


def webhook_type(entity: str, action: str, from_status: str, to_status: str) -> str | None:
    """The webhook event type an ``Event`` row stands for, or None if shops do not hear of it.

    Self-loops (a stop moved, a window planned again) change nothing a shop sees.
    """
    if entity == "order":
        if action == "place":
            return "order.accepted"
        return _ORDER_TYPES.get(to_status) if to_status != from_status else None
    if entity == "parcel" and to_status != from_status:
        return _PARCEL_TYPES.get(to_status)
    return None


def new_secret() -> str:
    """A signing secret: 32 random bytes, prefixed so it is recognisable in a config file."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Velocal-Signature`` value: ``t=<unix>,v1=<HMAC-SHA256("<t>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes posted (and signed) for a stored payload: compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# ── subscriptions ──────────────────────────────────────────────────────────────────────────


def create_subscription(
    session: Session, shop_id: int, url: str, events: Sequence[str]
) -> WebhookSubscription:
    """Store a shop's webhook with a fresh secret and commit; the caller shows the secret once."""
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown or not events:
        raise ValueError(f"events must be among {', '.join(EVENT_TYPES)}, got {list(events)}")
    subscription = WebhookSubscription(
        shop_id=shop_id, url=url, secret=new_secret(), events=list(dict.fromkeys(events))
    )
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription


def deactivate(session: Session, subscription: WebhookSubscription) -> int:
    """Stop a webhook (the shop deleted it): it gets nothing new and its pending deliveries
    are failed, but the row and its log stay. Commits; returns how many deliveries it failed.
    """
    subscription.active = False
    session.add(subscription)
    result = session.exec(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription.id,
            col(WebhookDelivery.status) == "pending",
        )
        .values(status="failed", next_attempt_at=None, last_error="the webhook was deleted")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount or 0)


def add_ping(session: Session, subscription: WebhookSubscription, *, now: datetime) -> int:
    """Queue a ``ping`` delivery for ``subscription``, due at ``now``; commit, return its id."""
    assert subscription.id is not None
    payload = {
        "id": f"ping_{secrets.token_hex(8)}",
        "type": PING,
        "created_at": now.isoformat(),
        "data": {
            "webhook_id": subscription.id,
            "shop_id": subscription.shop_id,
            "message": "a test delivery from velocal: answer 2xx to acknowledge it",
        },
    }
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_type=PING,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.commit()
    assert delivery.id is not None
    return delivery.id


# ── the outbox: deliveries written with the events ─────────────────────────────────────────


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parcel_data(row: Any, status: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": status or row.status,
        "label_code": row.label_code,
        "count": row.count,
        "weight_g": row.weight_g,
        "volume_ml": row.volume_ml,
        "ready_at": _iso(row.ready_at),
    }


def _order_data(connection: Connection, row: Any, status: str | None = None) -> dict[str, Any]:
    """What a shop may know of an order: no customer details, only the tracking link path."""
    data: dict[str, Any] = {
        "id": row.id,
        "status": status or row.status,
        "fulfilment": row.fulfilment,
        "placed_at": _iso(row.created_at),
        "tracking_path": f"/t/{row.tracking_token}",
        "window": None,
    }
    if row.window_id is not None:
        windows = _table(DeliveryWindow)
        window = connection.execute(
            core_select(windows.c.id, windows.c.starts_at, windows.c.ends_at).where(
                windows.c.id == row.window_id
            )
        ).first()
        if window is not None:
            data["window"] = {
                "id": window.id,
                "starts_at": _iso(window.starts_at),
                "ends_at": _iso(window.ends_at),
            }
    return data


def _order_row(connection: Connection, order_id: int) -> Any:
    orders = _table(Order)
    return connection.execute(core_select(orders).where(orders.c.id == order_id)).first()


def _payloads(connection: Connection, found: Event, kind: str) -> dict[int, dict[str, Any]]:
    """Shop id → the ``data`` that shop gets for one event (its own parcels only)."""
    parcels = _table(Parcel)
    event_data = {
        "action": found.action,
        "from_status": found.from_status,
        "to_status": found.to_status,
        "at": _iso(found.at),
    }
    by_shop: dict[int, dict[str, Any]] = {}
    if found.entity == "order":
        order = _order_row(connection, found.entity_id)
        if order is None:
            return {}
        rows = connection.execute(
            core_select(parcels).where(parcels.c.order_id == order.id).order_by(parcels.c.id)
        ).all()
        order_data = _order_data(connection, order, found.to_status)
        for shop_id in dict.fromkeys(r.shop_id for r in rows):
            by_shop[shop_id] = {
                "event": event_data,
                "order": order_data,
                "parcels": [_parcel_data(r) for r in rows if r.shop_id == shop_id],
            }
    else:
        parcel = connection.execute(
            core_select(parcels).where(parcels.c.id == found.entity_id)
        ).first()
        order = None if parcel is None else _order_row(connection, parcel.order_id)
        if parcel is None or order is None:
            return {}
        data: dict[str, Any] = {
            "event": event_data,
            "order": _order_data(connection, order),
            "parcel": _parcel_data(parcel, found.to_status),
        }
        if kind == "parcel.failed":
            data["reason"] = str((found.detail or {}).get("reason", ""))
        by_shop[parcel.shop_id] = data
    return by_shop


def outbox_rows(
    connection: Connection, events: Iterable[Event], *, now: datetime
) -> list[dict[str, Any]]:
    """The ``webhookdelivery`` rows for ``events`` (already in the database, with ids): one
    per event and active subscription of a concerned shop that asked for its type."""
    typed = [
        (e, kind)
        for e in sorted(events, key=lambda e: e.id or 0)
        if (kind := webhook_type(e.entity, e.action, e.from_status, e.to_status)) is not None
    ]
    if not typed:
        return []
    subs = _table(WebhookSubscription)
    subscriptions = connection.execute(
        core_select(subs.c.id, subs.c.shop_id, subs.c.events)
        .where(subs.c.active.is_(True))
        .order_by(subs.c.id)
    ).all()
    if not subscriptions:
        return []
    rows: list[dict[str, Any]] = []
    for found, kind in typed:
        wanted = [s for s in subscriptions if kind in (s.events or [])]
        if not wanted:
            continue
        for shop_id, data in _payloads(connection, found, kind).items():
            payload = {
                "id": f"evt_{found.id}",
                "type": kind,
                "created_at": _iso(found.at),
                "data": data,
            }
            rows.extend(
                {
                    "subscription_id": s.id,
                    "event_type": kind,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_status_code": None,
                    "last_error": "",
                    "attempt_log": [],
                    "created_at": now,
                    "delivered_at": None,
                }
                for s in wanted
                if s.shop_id == shop_id
            )
    return rows


@event.listens_for(OrmSession, "after_flush")
def _write_outbox(session: OrmSession, flush_context: UOWTransaction) -> None:
    # ``session.new`` still lists what this flush inserted; their rows are in the database.
    events = [obj for obj in session.new if isinstance(obj, Event)]
    if not events:
        return
    connection = session.connection()
    rows = outbox_rows(connection, events, now=utc_now())
    if rows:
        connection.execute(insert(_table(WebhookDelivery)), rows)


# ── sending ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Attempt:
    """What one POST got: a status code (None without an answer), an error, how long it took."""

    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: the shop fixes its URL, velocal does not
    re-post the signed body somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float) -> Attempt:
    """POST ``body`` to ``url``; never raises for the receiver's faults, it reports them."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    started = time.monotonic()
    code: int | None = None
    error = ""
    try:
        with _OPENER.open(request, timeout=timeout_s) as answer:
            code = int(answer.status)
            answer.read(_MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as refused:
        code = int(refused.code)
        error = f"the receiver answered HTTP {refused.code}"
        if 300 <= refused.code < 400:
            error += " (a redirect: velocal does not follow them, give the final URL)"
    except urllib.error.URLError as failed:
        if isinstance(failed.reason, TimeoutError | socket.timeout):
            error = f"no answer within {timeout_s:g} s"
        else:
            error = f"could not connect: {failed.reason}"
    except TimeoutError:
        error = f"no answer within {timeout_s:g} s"
    except (http.client.HTTPException, OSError, ValueError) as broken:
        error = f"bad answer or connection: {type(broken).__name__}: {broken}"
    duration_ms = round((time.monotonic() - started) * 1000)
    return Attempt(code, error, duration_ms)


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    event_type: str
    payload: dict[str, Any]
    url: str
    secret: str
    active: bool


def _claim(
    session: Session, delivery_id: int, due_at: datetime, moment: datetime, timeout_s: float
) -> _Claimed | None:
    """Take the delivery for this attempt (None if another sender took it first) and commit,
    so no transaction stays open while the receiver is called."""
    taken = session.exec(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == delivery_id,
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at) == due_at,
        )
        .values(next_attempt_at=moment + timedelta(seconds=timeout_s) + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        session.rollback()
        return None
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    assert subscription is not None
    claimed = _Claimed(
        delivery_id,
        delivery.event_type,
        dict(delivery.payload),
        subscription.url,
        subscription.secret,
        subscription.active,
    )
    session.commit()
    return claimed


def _record(session: Session, delivery_id: int, attempt: Attempt, moment: datetime) -> None:
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    delivery.attempts += 1
    entry = {
        "at": moment.isoformat(),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }
    delivery.attempt_log = [*delivery.attempt_log, entry]
    delivery.last_status_code = attempt.status_code
    delivery.last_error = attempt.error
    if attempt.ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", moment, None
    elif delivery.event_type == PING or delivery.attempts > len(RETRY_DELAYS):
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = moment + RETRY_DELAYS[delivery.attempts - 1]
    session.add(delivery)
    session.commit()


def _attempt(
    session: Session, delivery_id: int, due_at: datetime, moment: datetime, timeout_s: float
) -> bool:
    claimed = _claim(session, delivery_id, due_at, moment, timeout_s)
    if claimed is None:
        return False
    if not claimed.active:
        attempt = Attempt(None, "the webhook was deleted", 0)
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.status, delivery.next_attempt_at = "failed", None
        delivery.last_error = attempt.error
        session.add(delivery)
        session.commit()
        return True
    body = body_bytes(claimed.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Velocal-Event": claimed.event_type,
        "X-Velocal-Delivery": str(delivery_id),
        "X-Velocal-Signature": sign(claimed.secret, int(moment.timestamp()), body),
    }
    attempt = post(claimed.url, body, headers, timeout_s=timeout_s)
    _record(session, delivery_id, attempt, moment)
    if not attempt.ok:
        log.info("webhook delivery %s to %s: %s", delivery_id, claimed.url, attempt.error)
    return True


def _timeout(timeout_s: float | None) -> float:
    if timeout_s is not None:
        return timeout_s
    from dispatch.config import get_settings

    return get_settings().webhook_timeout_s


def send_due(
    session: Session,
    *,
    now: datetime | None = None,
    timeout_s: float | None = None,
    limit: int = 100,
    budget_s: float | None = None,
) -> list[int]:
    """Post every pending delivery due at ``now`` (oldest first, at most ``limit``); return the
    ids attempted. ``budget_s`` stops taking new ones after that many seconds, so a tick of the
    scheduler ends even when receivers are slow. Commits in ``session`` (give it its own)."""
    moment = now or utc_now()
    timeout = _timeout(timeout_s)
    due = session.exec(
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(
            col(WebhookDelivery.status) == "pending",
            col(WebhookDelivery.next_attempt_at) <= moment,
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    ).all()
    session.rollback()  # end the read; each delivery gets its own short transactions
    started = time.monotonic()
    sent: list[int] = []
    for delivery_id, due_at in due:
        if budget_s is not None and time.monotonic() - started > budget_s:
            break
        if delivery_id is None or due_at is None:
            continue
        if _attempt(session, delivery_id, due_at, moment, timeout):
            sent.append(delivery_id)
    return sent


def send_now(
    session: Session, delivery_id: int, *, now: datetime | None = None, timeout_s: float | None
) -> WebhookDelivery:
    """Post one pending delivery now, whenever it was due (the test ping); return it."""
    moment = now or utc_now()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise LookupError(f"webhook delivery {delivery_id} does not exist")
    if delivery.status == "pending" and delivery.next_attempt_at is not None:
        _attempt(session, delivery_id, delivery.next_attempt_at, moment, _timeout(timeout_s))
    session.expire_all()
    found = session.get(WebhookDelivery, delivery_id)
    assert found is not None
    return found


__all__ = [
    "EVENT_TYPES",
    "PING",
    "RETRY_DELAYS",
    "Attempt",
    "EventType",
    "add_ping",
    "body_bytes",
    "create_subscription",
    "deactivate",
    "new_secret",
    "outbox_rows",
    "post",
    "send_due",
    "send_now",
    "sign",
    "webhook_type",
]
