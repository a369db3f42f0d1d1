"""The customer's side: the town's shops and products, the windows that still have room, and
checkout (``POST /api/orders``) from a customer or from a shop's own e-shop.

Checkout checks everything it can before writing, and reports every problem at once as a 422
naming the field (``items[0].product_id``, ``lat``, ``window_id``...). A retried request with
the same ``Idempotency-Key`` gets the first order back (200); the same key with another body
is a 409.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.api.deps import (
    SESSION_COOKIE,
    SessionDep,
    SettingsDep,
    get_auth,
    get_shop_from_api_token,
)
from dispatch.api.errors import ConflictError, ForbiddenError, NotFoundError
from dispatch.config import Settings
from dispatch.lifecycle import LATE_ORDER_WINDOWS
from dispatch.models import (
    BikeType,
    Customer,
    DeliveryWindow,
    Event,
    Order,
    OrderItem,
    Parcel,
    Product,
    Shop,
    Town,
    User,
    utc_now,
)
from dispatch.schemas_orders import (
    OrderCreate,
    OrderItemPublic,
    OrderParcelPublic,
    OrderPublic,
    ProductPublic,
    ShopPublic,
    WindowPublic,
)
from dispatch.security import new_label_code, new_tracking_token

router = APIRouter(tags=["orders"])

# Optional ways in: checkout works logged in, anonymous, or with a shop's API token.
_bearer = HTTPBearer(auto_error=False)
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)


# ── helpers the other routers share ────────────────────────────────────────────────────────


def planning() -> Any:
    """``dispatch.planning``, imported when first needed (it loads the town's bike graph)."""
    return importlib.import_module("dispatch.planning")


def the_town(session: Session) -> Town:
    """The one town this velocal runs (404 until the operator has set it up)."""
    town = session.exec(select(Town).order_by(col(Town.id))).first()
    if town is None:
        raise NotFoundError("town", "(not set up yet)")
    return town


def local_date(town: Town, moment: datetime) -> date:
    """The town's calendar day at ``moment`` (cutoffs and "today" are local)."""
    return moment.astimezone(ZoneInfo(town.time_zone)).date()


def takes_late_orders(window: DeliveryWindow, now: datetime, settings: Settings) -> bool:
    """Whether ``window`` is past its cutoff with its routes out and still takes late orders
    (``late_orders``; until ``late_order_last_min`` before it ends): each is then checked
    against its running routes by ``window_has_room``."""
    last = window.ends_at - timedelta(minutes=settings.late_order_last_min)
    return settings.late_orders and window.status in LATE_ORDER_WINDOWS and now < last


def window_closed_reason(
    town: Town, window: DeliveryWindow, now: datetime, settings: Settings | None = None
) -> str | None:
    """Why ``window`` takes no orders placed at ``now``, or None if it still does (with
    ``settings``, late orders count: see ``takes_late_orders``)."""
    if settings is not None and takes_late_orders(window, now, settings):
        return None
    if window.status != "open":
        return f"window {window.id} is {window.status} and takes no more orders"
    if now >= window.cutoff_at:
        return f"window {window.id} is closed: its cutoff passed at {_hhmm(town, window.cutoff_at)}"
    before = window.day_before_cutoff_at
    if before is not None and local_date(town, now) < window.day and now >= before:
        return (
            f"window {window.id} is closed for orders placed before its day: the day-before "
            f"cutoff passed at {_hhmm(town, before)}; order again on {window.day.isoformat()}"
        )
    return None


def _hhmm(town: Town, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(town.time_zone)).strftime("%Y-%m-%d %H:%M %Z")


# ── the catalogue ──────────────────────────────────────────────────────────────────────────


@router.get("/shops")
def list_shops(session: SessionDep) -> list[ShopPublic]:
    """The town's active shops: name, kind, opening hours and where they are."""
    town = the_town(session)
    query = (
        select(Shop)
        .where(col(Shop.town_id) == town.id, col(Shop.active).is_(True))
        .order_by(col(Shop.name), col(Shop.id))
    )
    return [ShopPublic.model_validate(s, from_attributes=True) for s in session.exec(query)]


@router.get("/shops/{shop_id}/products")
def list_products(shop_id: int, session: SessionDep) -> list[ProductPublic]:
    """An active shop's products (out-of-stock ones too, marked so)."""
    shop = session.get(Shop, shop_id)
    if shop is None or not shop.active:
        raise NotFoundError("shop", shop_id)
    query = select(Product).where(col(Product.shop_id) == shop_id).order_by(col(Product.id))
    return [ProductPublic.model_validate(p, from_attributes=True) for p in session.exec(query)]


@router.get("/windows/available")
def available_windows(
    session: SessionDep,
    settings: SettingsDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    weight_g: Annotated[int, Query(ge=0)] = 0,
    volume_ml: Annotated[int, Query(ge=0)] = 0,
    count: Annotated[int, Query(ge=1)] = 1,
) -> list[WindowPublic]:
    """The upcoming windows that still take an order of this size to this place (checkout),
    late ones too (a window past its cutoff whose routes can still take the order)."""
    town = the_town(session)
    plan = planning()
    if not plan.in_zone(town, lat, lon):
        _raise([(("query", "lat"), f"{lat}, {lon} is outside the delivery zone of {town.name}")])
    now = utc_now()
    query = (
        select(DeliveryWindow)
        .where(
            col(DeliveryWindow.town_id) == town.id,
            col(DeliveryWindow.status).in_(("open", *LATE_ORDER_WINDOWS)),
            col(DeliveryWindow.ends_at) > now,
        )
        .order_by(col(DeliveryWindow.starts_at))
    )
    found = []
    for window in session.exec(query).all():
        if window_closed_reason(town, window, now, settings) is not None:
            continue
        verdict = plan.window_has_room(
            session,
            window,
            lat=lat,
            lon=lon,
            weight_g=weight_g,
            volume_ml=volume_ml,
            count=count,
            shop_ids=[],
            now=now,
        )
        if verdict.ok:
            found.append(WindowPublic.model_validate(window, from_attributes=True))
    return found


# ── checkout ───────────────────────────────────────────────────────────────────────────────


def _raise(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """One 422 listing every problem, worded like the models' own validation errors."""
    raise RequestValidationError(
        [{"loc": loc, "msg": message, "type": "value_error"} for loc, message in problems]
    )


@dataclass
class _Caller:
    """Who is ordering: a logged-in account, a shop's e-shop, or nobody in particular."""

    user: User | None = None
    shop: Shop | None = None

    @property
    def scope(self) -> str:
        # Idempotency keys are only unique per caller, so two e-shops' "1" never collide.
        if self.shop is not None:
            return f"shop:{self.shop.id}"
        if self.user is not None:
            return f"user:{self.user.id}"
        return "anonymous"


def get_caller(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
    shop_token: Annotated[str | None, Header(alias="X-Shop-Token")] = None,
) -> _Caller:
    """The shop token if sent (it must be valid), else a login if sent, else anonymous."""
    if shop_token is not None:
        return _Caller(shop=get_shop_from_api_token(session, shop_token))
    if bearer is None and cookie is None:
        return _Caller()
    user = get_auth(session, bearer, cookie).user
    if user.role != "customer":
        raise ForbiddenError(
            "forbidden: orders are placed by customers (or anonymously, or by a shop's "
            "e-shop with X-Shop-Token)"
        )
    return _Caller(user=user)


@dataclass
class _ShopLoad:
    shop: Shop
    weight_g: int = 0
    volume_ml: int = 0
    lines: list[tuple[Product, int]] = field(default_factory=list)


def _fingerprint(body: OrderCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_items(
    session: Session, town: Town, body: OrderCreate, caller: _Caller
) -> tuple[dict[int, _ShopLoad], list[tuple[tuple[str | int, ...], str]]]:
    loads: dict[int, _ShopLoad] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, item in enumerate(body.items):
        loc: tuple[str | int, ...] = ("body", "items", i, "product_id")
        product = session.get(Product, item.product_id)
        shop = session.get(Shop, product.shop_id) if product is not None else None
        if product is None or shop is None or not shop.active or shop.town_id != town.id:
            problems.append((loc, f"product {item.product_id} does not exist"))
            continue
        if caller.shop is not None and shop.id != caller.shop.id:
            problems.append(
                (loc, f"product {product.id} is not one of {caller.shop.name}'s products")
            )
            continue
        if not product.in_stock:
            problems.append((loc, f"product {product.id} ({product.name}) is out of stock"))
            continue
        assert shop.id is not None
        load = loads.setdefault(shop.id, _ShopLoad(shop))
        load.weight_g += product.weight_g * item.quantity
        load.volume_ml += product.volume_ml * item.quantity
        load.lines.append((product, item.quantity))
    return loads, problems


def _check_customer(body: OrderCreate, caller: _Caller) -> list[tuple[tuple[str | int, ...], str]]:
    if caller.user is not None or body.customer is not None:
        if body.customer is not None and not (body.customer.email or body.customer.phone):
            return [(("body", "customer", "email"), "an email or a phone number is required")]
        return []
    return [(("body", "customer"), "is required unless you are logged in as a customer")]


def _check_delivery(
    session: Session,
    town: Town,
    body: OrderCreate,
    loads: dict[int, _ShopLoad],
    now: datetime,
    settings: Settings,
) -> tuple[DeliveryWindow | None, list[tuple[tuple[str | int, ...], str]]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    delivery = body.fulfilment == "delivery"
    if delivery:
        for name in ("address", "lat", "lon", "window_id"):
            if getattr(body, name) in (None, ""):
                problems.append((("body", name), "is required for delivery"))
        if problems:
            return None, problems
    window: DeliveryWindow | None = None
    if body.window_id is not None:
        window = session.get(DeliveryWindow, body.window_id)
        if window is None or window.town_id != town.id:
            return None, [(("body", "window_id"), f"window {body.window_id} does not exist")]
        reason = window_closed_reason(town, window, now, settings)
        if reason is not None:
            problems.append((("body", "window_id"), reason))
    if not delivery:
        return window, problems

    assert body.lat is not None
    assert body.lon is not None
    assert window is not None
    plan = planning()
    place_ok = False
    if not plan.in_zone(town, body.lat, body.lon):
        problems.append(
            (("body", "lat"), f"{body.lat}, {body.lon} is outside the delivery zone of {town.name}")
        )
    else:
        try:
            plan.locate(plan.get_network(town), body.lat, body.lon)
            place_ok = True
        except plan.UnreachableAddressError as error:
            problems.append((("body", "lat"), str(error)))

    problems.extend(_check_bike_size(session, town, loads))
    if place_ok and not problems:
        verdict = plan.window_has_room(
            session,
            window,
            lat=body.lat,
            lon=body.lon,
            weight_g=sum(load.weight_g for load in loads.values()),
            volume_ml=sum(load.volume_ml for load in loads.values()),
            count=len(loads),
            shop_ids=sorted(loads),
            now=now,
        )
        if not verdict.ok:
            problems.append(
                (("body", "window_id"), f"window {window.id} has no room: {verdict.reason}")
            )
    return window, problems


def largest_bike(session: Session, town: Town) -> tuple[int, int, int] | None:
    """The most grams, millilitres and parcels any of the town's bike types carries."""
    bikes = list(session.exec(select(BikeType).where(col(BikeType.town_id) == town.id)))
    if not bikes:
        return None  # no fleet yet: planning will say so
    return (
        max(b.capacity_g for b in bikes),
        max(b.capacity_ml for b in bikes),
        max(b.capacity_parcels for b in bikes),
    )


def _check_bike_size(
    session: Session, town: Town, loads: dict[int, _ShopLoad]
) -> list[tuple[tuple[str | int, ...], str]]:
    limits = largest_bike(session, town)
    if limits is None:
        return []
    max_g, max_ml, max_count = limits
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for load in loads.values():
        name = load.shop.name
        if load.weight_g > max_g:
            problems.append(
                (
                    ("body", "items"),
                    f"the parcel from {name} weighs {load.weight_g} g, more than the largest "
                    f"bike carries ({max_g} g)",
                )
            )
        if load.volume_ml > max_ml:
            problems.append(
                (
                    ("body", "items"),
                    f"the parcel from {name} is {load.volume_ml} ml, more than the largest "
                    f"bike holds ({max_ml} ml)",
                )
            )
        if max_count < 1:
            problems.append(
                (("body", "items"), f"no bike takes a parcel (the largest takes {max_count})")
            )
    return problems


def _customer_for(session: Session, body: OrderCreate, caller: _Caller) -> Customer:
    if caller.user is not None:
        user = caller.user
        customer = session.get(Customer, user.customer_id) if user.customer_id else None
        if customer is None:
            customer = Customer(name=user.name or user.email, email=user.email)
            session.add(customer)
            session.flush()
            user.customer_id = customer.id
            session.add(user)
        return customer
    assert body.customer is not None
    details = body.customer
    customer = Customer(name=details.name, email=details.email, phone=details.phone)
    session.add(customer)
    session.flush()
    return customer


def order_public(session: Session, order: Order) -> OrderPublic:
    items = session.exec(
        select(OrderItem).where(col(OrderItem.order_id) == order.id).order_by(col(OrderItem.id))
    )
    parcels = session.exec(
        select(Parcel).where(col(Parcel.order_id) == order.id).order_by(col(Parcel.id))
    )
    data = order.model_dump()
    data["items"] = [OrderItemPublic.model_validate(i, from_attributes=True) for i in items]
    data["parcels"] = [OrderParcelPublic.model_validate(p, from_attributes=True) for p in parcels]
    return OrderPublic.model_validate(data)


def _earlier_order(session: Session, key: str, fingerprint: str) -> Order | None:
    order = session.exec(select(Order).where(col(Order.idempotency_key) == key)).first()
    if order is None:
        return None
    placed = session.exec(
        select(Event).where(
            col(Event.entity) == "order",
            col(Event.entity_id) == order.id,
            col(Event.action) == "place",
        )
    ).first()
    if placed is None or placed.detail.get("request_sha256") != fingerprint:
        raise ConflictError(
            "Idempotency-Key was already used for a different order: use a new key for a new "
            "order, or resend exactly the same request"
        )
    return order


@router.post("/orders", status_code=status.HTTP_201_CREATED)
def place_order(
    body: OrderCreate,
    response: Response,
    session: SessionDep,
    caller: Annotated[_Caller, Depends(get_caller)],
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> OrderPublic:
    """Place an order: 201 with the order and its tracking token (200 for a retried request)."""
    fingerprint = _fingerprint(body)
    key = f"{caller.scope}:{idempotency_key}" if idempotency_key else None
    if key is not None and (earlier := _earlier_order(session, key, fingerprint)) is not None:
        response.status_code = status.HTTP_200_OK
        return order_public(session, earlier)

    town = the_town(session)
    now = utc_now()
    loads, problems = _check_items(session, town, body, caller)
    problems += _check_customer(body, caller)
    if not problems:
        _, problems = _check_delivery(session, town, body, loads, now, settings)
    if problems:
        _raise(problems)

    assert town.id is not None
    customer = _customer_for(session, body, caller)
    assert customer.id is not None
    delivery = body.fulfilment == "delivery"
    order = Order(
        town_id=town.id,
        customer_id=customer.id,
        window_id=body.window_id,
        fulfilment=body.fulfilment,
        address=body.address if delivery else "",
        lat=body.lat if delivery else None,
        lon=body.lon if delivery else None,
        tracking_token=new_tracking_token(),
        idempotency_key=key,
        total_cents=sum(p.price_cents * q for load in loads.values() for p, q in load.lines),
        note=body.note,
        created_at=now,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    by_shop: dict[int, list[OrderItem]] = defaultdict(list)
    for shop_id, load in loads.items():
        for product, quantity in load.lines:
            assert product.id is not None
            item = OrderItem(
                order_id=order.id,
                product_id=product.id,
                shop_id=shop_id,
                quantity=quantity,
                price_cents=product.price_cents,
            )
            session.add(item)
            by_shop[shop_id].append(item)
        session.add(
            Parcel(
                order_id=order.id,
                shop_id=shop_id,
                weight_g=load.weight_g,
                volume_ml=load.volume_ml,
                label_code=new_label_code(session),
            )
        )
    # Creation is no transition (the order starts "placed"), but its timeline starts here.
    session.add(
        Event(
            at=now,
            user_id=caller.user.id if caller.user is not None else None,
            entity="order",
            entity_id=order.id,
            action="place",
            to_status=order.status,
            detail={
                "request_sha256": fingerprint,
                "source": "e-shop" if caller.shop is not None else "checkout",
            },
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # Two retries raced: the other one stored the order first.
        session.rollback()
        if key is not None and (earlier := _earlier_order(session, key, fingerprint)) is not None:
            response.status_code = status.HTTP_200_OK
            return order_public(session, earlier)
        raise
    session.refresh(order)
    return order_public(session, order)
