"""Webhooks for a shop's own systems: subscribe a URL, delete it, send a test ping, read the
delivery log; operators list every shop's webhooks.

Only shop accounts manage webhooks, and only their own shop's: another shop's webhook answers
the same 404 as one that does not exist. The signing secret is in the answer to the creation
and never again (``docs/webhooks.md`` tells shops' developers how to verify it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import col, select

from dispatch import webhooks
from dispatch.api.deps import OperatorUser, SessionDep, SettingsDep, own_shop, require_roles
from dispatch.api.errors import ConflictError, NotFoundError
from dispatch.models import User, WebhookDelivery, WebhookSubscription, utc_now

router = APIRouter(tags=["webhooks"])

ShopUser = Annotated[User, Depends(require_roles("shop"))]

#: Active webhooks a shop may have at once (each event is posted to every one of them).
MAX_WEBHOOKS_PER_SHOP: Final = 10


# ── bodies and answers ─────────────────────────────────────────────────────────────────────


class WebhookCreate(BaseModel):
    """A new webhook: where to post, and which event types (all of them if left out)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[webhooks.EventType] = Field(
        default_factory=lambda: list(webhooks.EVENT_TYPES), min_length=1
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host name")
        if parts.username or parts.password:
            raise ValueError("must not carry a user name or password: the signature is the proof")
        return value


class WebhookPublic(BaseModel):
    """A webhook as its shop (and operators) see it: never with its secret."""

    id: int
    shop_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """The answer to a creation: the only time the signing secret is shown."""

    secret: str


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int


class DeliveryPublic(BaseModel):
    """One delivery and its log: every attempt's status code or error and duration."""

    id: int
    subscription_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptPublic]
    payload: dict[str, Any]


def _public(subscription: WebhookSubscription) -> WebhookPublic:
    return WebhookPublic.model_validate(subscription, from_attributes=True)


def _delivery_public(delivery: WebhookDelivery) -> DeliveryPublic:
    data = delivery.model_dump()
    data["log"] = [AttemptPublic.model_validate(entry) for entry in delivery.attempt_log]
    return DeliveryPublic.model_validate(data)


# ── ownership ──────────────────────────────────────────────────────────────────────────────


def _my_shop_id(user: User) -> int:
    if user.shop_id is None:
        raise NotFoundError("shop", "(this account has none)")
    return own_shop(user, user.shop_id)


def get_own_webhook(webhook_id: int, session: SessionDep, user: ShopUser) -> WebhookSubscription:
    """The webhook in the path if it is my shop's; any other is the plain 404."""
    subscription = session.get(WebhookSubscription, webhook_id)
    if subscription is None or subscription.shop_id != _my_shop_id(user):
        raise NotFoundError("webhook", webhook_id)
    return subscription


OwnWebhook = Annotated[WebhookSubscription, Depends(get_own_webhook)]


# ── a shop's own webhooks ──────────────────────────────────────────────────────────────────


@router.get("/shop/webhooks")
def list_my_webhooks(session: SessionDep, user: ShopUser) -> list[WebhookPublic]:
    """My shop's active webhooks (deleted ones keep their logs but are not listed)."""
    query = (
        select(WebhookSubscription)
        .where(
            col(WebhookSubscription.shop_id) == _my_shop_id(user),
            col(WebhookSubscription.active),
        )
        .order_by(col(WebhookSubscription.id))
    )
    return [_public(s) for s in session.exec(query).all()]


@router.post("/shop/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookCreate, session: SessionDep, user: ShopUser) -> WebhookCreated:
    """Subscribe a URL to my shop's events: 201 with the signing secret, shown only now."""
    shop_id = _my_shop_id(user)
    active = session.exec(
        select(WebhookSubscription.id).where(
            col(WebhookSubscription.shop_id) == shop_id, col(WebhookSubscription.active)
        )
    ).all()
    if len(active) >= MAX_WEBHOOKS_PER_SHOP:
        raise ConflictError(
            f"a shop may have at most {MAX_WEBHOOKS_PER_SHOP} webhooks: delete one first"
        )
    subscription = webhooks.create_subscription(session, shop_id, body.url, list(body.events))
    return WebhookCreated(**_public(subscription).model_dump(), secret=subscription.secret)


@router.delete("/shop/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(session: SessionDep, subscription: OwnWebhook) -> Response:
    """Stop a webhook: nothing more is sent to it, its pending deliveries fail, its log stays."""
    if subscription.active:
        webhooks.deactivate(session, subscription)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/shop/webhooks/{webhook_id}/test")
def test_webhook(
    session: SessionDep, settings: SettingsDep, subscription: OwnWebhook
) -> DeliveryPublic:
    """Send a signed ``ping`` now and answer with its delivery: what the receiver said."""
    if not subscription.active:
        raise ConflictError(f"webhook {subscription.id} was deleted: create a new one")
    now = utc_now()
    delivery_id = webhooks.add_ping(session, subscription, now=now)
    delivery = webhooks.send_now(
        session, delivery_id, now=now, timeout_s=settings.webhook_timeout_s
    )
    return _delivery_public(delivery)


@router.get("/shop/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    session: SessionDep,
    subscription: OwnWebhook,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """The webhook's delivery log, newest first: payloads, attempts, status codes, errors."""
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.subscription_id) == subscription.id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    return [_delivery_public(d) for d in session.exec(query).all()]


# ── operators ──────────────────────────────────────────────────────────────────────────────


@router.get("/webhooks")
def list_all_webhooks(
    session: SessionDep, user: OperatorUser, shop_id: int | None = None
) -> list[WebhookPublic]:
    """Every shop's webhooks, deleted ones included (``active``), without their secrets."""
    query = select(WebhookSubscription).order_by(
        col(WebhookSubscription.shop_id), col(WebhookSubscription.id)
    )
    if shop_id is not None:
        query = query.where(col(WebhookSubscription.shop_id) == shop_id)
    return [_public(s) for s in session.exec(query).all()]
