"""Who may call what: every endpoint of the app × every kind of caller, on one small world.

The endpoints are read from ``app.routes``, so a new endpoint without an entry in
``EXPECTED`` fails here until someone decides who may call it. Each case sends a minimal
request (path parameters filled with the "own" side's ids, an empty JSON body) and checks only
the authorization layer:

- anonymous (and an e-shop's ``X-Shop-Token``, which logs nobody in) → 401, unless public;
- a logged-in role that may not use the endpoint → 403;
- the other shop or courier asking for the own side's record → 404, worded like a missing id;
- an allowed caller → anything but 401, 403, 404 (a 409 or 422 after passing auth counts).

The world is built once per database (SQLite and PostgreSQL, module-scoped) and every case
logs in with a fresh bearer token, so logging out or changing a password leaks into no other
case. Records that operator-only calls would change for good (a shop's API token, an account's
``active``) are spares nobody else uses.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, NoReturn
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch import security
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.db import create_schema, make_engine
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryPhoto,
    DeliveryWindow,
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
    User,
    utc_now,
)
from dispatch.security import (
    create_shop_api_token,
    create_user,
    issue_login_token,
    new_label_code,
    new_tracking_token,
)
from dispatch.web import pages
from tests.dispatch.conftest import POSTGRES_URL, SCHEMA_PREFIX, _url_in_schema

#: No cutoff clock in the lifespan (whatever the environment says): the world stays as built.
SETTINGS = Settings(
    database_url="sqlite://", session_days=14, secure_cookies=False, run_scheduler=False
)
PASSWORD = "correct horse battery"
ZONE = "Europe/Helsinki"

# ── the callers ────────────────────────────────────────────────────────────────────────────

ANON: Final = "anonymous"
OPERATOR: Final = "operator"
DISPATCHER: Final = "dispatcher"
SHOP: Final = "shop_own"
SHOP_B: Final = "shop_foreign"
COURIER: Final = "courier_own"
COURIER_B: Final = "courier_foreign"
CUSTOMER: Final = "customer_own"
CUSTOMER_B: Final = "customer_foreign"
ESHOP: Final = "eshop_own"
ESHOP_B: Final = "eshop_foreign"

CALLERS: Final = (
    ANON,
    OPERATOR,
    DISPATCHER,
    SHOP,
    SHOP_B,
    COURIER,
    COURIER_B,
    CUSTOMER,
    CUSTOMER_B,
    ESHOP,
    ESHOP_B,
)
#: Callers without a login: nobody, or an e-shop with its X-Shop-Token (no login token).
NOT_LOGGED_IN: Final = frozenset({ANON, ESHOP, ESHOP_B})
EVERYONE: Final = frozenset(CALLERS)
LOGGED_IN: Final = EVERYONE - NOT_LOGGED_IN
STAFF: Final = frozenset({OPERATOR, DISPATCHER})
OPERATORS: Final = frozenset({OPERATOR})


@dataclass(frozen=True)
class Access:
    """Who gets past authorization; ``foreign_404`` are owners of other records (404)."""

    allowed: frozenset[str]
    foreign_404: frozenset[str] = field(default_factory=frozenset)

    def expect(self, caller: str) -> str:
        """ "allowed", "404", "401" or "403" for ``caller``."""
        if caller in self.allowed:
            return "allowed"
        if caller in self.foreign_404:
            return "404"
        return "401" if caller in NOT_LOGGED_IN else "403"


PUBLIC: Final = Access(EVERYONE)
ANY_LOGIN: Final = Access(LOGGED_IN)
STAFF_ONLY: Final = Access(STAFF)
OPERATOR_ONLY: Final = Access(OPERATORS)
BOTH_SHOPS: Final = Access(frozenset({SHOP, SHOP_B}))
OWN_SHOP: Final = Access(frozenset({SHOP}), foreign_404=frozenset({SHOP_B}))
BOTH_COURIERS: Final = Access(frozenset({COURIER, COURIER_B}))
OWN_COURIER: Final = Access(frozenset({COURIER}), foreign_404=frozenset({COURIER_B}))
#: Checkout: customers, anonymous buyers and e-shops; staff, shop and courier logins are 403.
CHECKOUT: Final = Access(frozenset({ANON, CUSTOMER, CUSTOMER_B, ESHOP, ESHOP_B}))

#: Every (method, path) of the app. A new endpoint fails the matrix until it is listed here.
EXPECTED: Final[dict[tuple[str, str], Access]] = {
    # documentation and health: public by design
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    # accounts
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,  # revokes whatever the request carries, if anything
    ("GET", "/api/me"): ANY_LOGIN,
    ("POST", "/api/auth/password"): ANY_LOGIN,
    # the customer's side: the catalogue, windows with room and tracking are public
    ("GET", "/api/shops"): PUBLIC,
    ("GET", "/api/shops/{shop_id}/products"): PUBLIC,
    ("GET", "/api/windows/available"): PUBLIC,
    ("GET", "/api/track/{token}"): PUBLIC,  # the unguessable token is the key
    ("POST", "/api/orders"): CHECKOUT,
    # a shop's own side
    ("GET", "/api/shop/orders"): BOTH_SHOPS,
    ("POST", "/api/shop/parcels/{parcel_id}/ready"): OWN_SHOP,
    ("GET", "/api/shop/parcels/{parcel_id}/label"): OWN_SHOP,
    ("GET", "/api/shop/parcels/{parcel_id}/label.svg"): OWN_SHOP,
    ("GET", "/api/shop/pickups"): BOTH_SHOPS,
    # a shop's webhooks for its own systems; operators see every shop's
    ("GET", "/api/shop/webhooks"): BOTH_SHOPS,
    ("POST", "/api/shop/webhooks"): BOTH_SHOPS,
    ("DELETE", "/api/shop/webhooks/{webhook_id}"): OWN_SHOP,
    ("POST", "/api/shop/webhooks/{webhook_id}/test"): OWN_SHOP,
    ("GET", "/api/shop/webhooks/{webhook_id}/deliveries"): OWN_SHOP,
    ("GET", "/api/webhooks"): OPERATOR_ONLY,
    # a courier's phone
    ("GET", "/api/courier/shifts"): BOTH_COURIERS,
    ("GET", "/api/courier/route"): BOTH_COURIERS,
    ("POST", "/api/courier/stops/{stop_id}/pickup"): OWN_COURIER,
    ("POST", "/api/courier/stops/{stop_id}/deliver"): OWN_COURIER,
    ("POST", "/api/courier/stops/{stop_id}/fail"): OWN_COURIER,
    ("POST", "/api/courier/stops/{stop_id}/load"): OWN_COURIER,
    ("POST", "/api/courier/shifts/{shift_id}/start"): OWN_COURIER,
    ("POST", "/api/courier/shifts/{shift_id}/end"): OWN_COURIER,
    # dropping out: the courier of the shift, or the board for them
    ("POST", "/api/courier/shifts/{shift_id}/drop-out"): OWN_COURIER,
    ("POST", "/api/board/shifts/{shift_id}/drop-out"): STAFF_ONLY,
    ("POST", "/api/courier/positions"): BOTH_COURIERS,
    # the operator's set-up: staff read, operators write
    ("GET", "/api/town"): STAFF_ONLY,
    ("PUT", "/api/town"): OPERATOR_ONLY,
    ("GET", "/api/hubs"): STAFF_ONLY,
    ("POST", "/api/hubs"): OPERATOR_ONLY,
    ("GET", "/api/hubs/{hub_id}"): STAFF_ONLY,
    ("PATCH", "/api/hubs/{hub_id}"): OPERATOR_ONLY,
    ("DELETE", "/api/hubs/{hub_id}"): OPERATOR_ONLY,
    ("POST", "/api/windows/schedule"): OPERATOR_ONLY,
    ("GET", "/api/windows"): STAFF_ONLY,
    ("POST", "/api/windows"): OPERATOR_ONLY,
    ("GET", "/api/windows/{window_id}"): STAFF_ONLY,
    ("PATCH", "/api/windows/{window_id}"): OPERATOR_ONLY,
    ("POST", "/api/windows/{window_id}/close"): OPERATOR_ONLY,
    ("GET", "/api/bike-types"): STAFF_ONLY,
    ("POST", "/api/bike-types"): OPERATOR_ONLY,
    ("GET", "/api/bike-types/{bike_type_id}"): STAFF_ONLY,
    ("PATCH", "/api/bike-types/{bike_type_id}"): OPERATOR_ONLY,
    ("DELETE", "/api/bike-types/{bike_type_id}"): OPERATOR_ONLY,
    ("GET", "/api/couriers"): STAFF_ONLY,
    ("POST", "/api/couriers"): OPERATOR_ONLY,
    ("GET", "/api/couriers/{courier_id}"): STAFF_ONLY,
    ("PATCH", "/api/couriers/{courier_id}"): OPERATOR_ONLY,
    ("DELETE", "/api/couriers/{courier_id}"): OPERATOR_ONLY,
    ("GET", "/api/shifts"): STAFF_ONLY,
    ("POST", "/api/shifts"): OPERATOR_ONLY,
    ("GET", "/api/shifts/{shift_id}"): STAFF_ONLY,
    ("PATCH", "/api/shifts/{shift_id}"): OPERATOR_ONLY,
    ("DELETE", "/api/shifts/{shift_id}"): OPERATOR_ONLY,
    ("GET", "/api/setup/shops"): STAFF_ONLY,
    ("POST", "/api/shops"): OPERATOR_ONLY,
    ("GET", "/api/setup/shops/{shop_id}"): STAFF_ONLY,
    ("PATCH", "/api/shops/{shop_id}"): OPERATOR_ONLY,
    ("DELETE", "/api/shops/{shop_id}"): OPERATOR_ONLY,
    ("POST", "/api/shops/{shop_id}/api-token"): OPERATOR_ONLY,
    ("GET", "/api/accounts"): STAFF_ONLY,
    ("POST", "/api/accounts"): OPERATOR_ONLY,
    ("GET", "/api/accounts/{user_id}"): STAFF_ONLY,
    ("POST", "/api/accounts/{user_id}/deactivate"): OPERATOR_ONLY,
    # the dispatcher's board
    ("GET", "/api/board/windows"): STAFF_ONLY,
    ("GET", "/api/board/windows/{window_id}/plan"): STAFF_ONLY,
    ("POST", "/api/board/windows/{window_id}/plan"): STAFF_ONLY,
    ("POST", "/api/board/stops/{stop_id}/move"): STAFF_ONLY,
    ("GET", "/api/board/stops/{stop_id}/photo"): STAFF_ONLY,
    ("GET", "/api/board/events"): STAFF_ONLY,
    ("GET", "/api/board/windows/{window_id}/paths"): STAFF_ONLY,
    ("GET", "/api/board/positions"): STAFF_ONLY,
    # live push (SSE): a plain request, like the matrix's, gets the one-shot catch-up and ends
    ("GET", "/api/live/board"): STAFF_ONLY,
    ("GET", "/api/live/track/{token}"): PUBLIC,  # the unguessable token is the key
    ("GET", "/api/board/windows/{window_id}/etas"): STAFF_ONLY,
    ("GET", "/api/board/alerts"): STAFF_ONLY,
    # the day-end report
    ("GET", "/api/report/day"): STAFF_ONLY,
    ("GET", "/api/report/day.csv"): STAFF_ONLY,
    # map data for every page: OpenStreetMap data of the town
    ("GET", "/api/town/map"): PUBLIC,
    ("GET", "/api/town/network.geojson"): PUBLIC,
    ("GET", "/api/town/addresses"): PUBLIC,
}

#: Path parameters that take another record than the default for their name: a spare where an
#: allowed call would change the shared world for good, an open window so planning is refused.
PATH_OVERRIDES: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("PATCH", "/api/shops/{shop_id}"): {"shop_id": "spare_shop"},
    ("DELETE", "/api/shops/{shop_id}"): {"shop_id": "spare_shop"},
    ("POST", "/api/shops/{shop_id}/api-token"): {"shop_id": "spare_shop"},
    ("PATCH", "/api/couriers/{courier_id}"): {"courier_id": "spare_courier"},
    ("DELETE", "/api/couriers/{courier_id}"): {"courier_id": "spare_courier"},
    ("PATCH", "/api/shifts/{shift_id}"): {"shift_id": "spare_shift"},
    ("DELETE", "/api/shifts/{shift_id}"): {"shift_id": "spare_shift"},
    ("POST", "/api/accounts/{user_id}/deactivate"): {"user_id": "spare_account"},
    ("POST", "/api/board/windows/{window_id}/plan"): {"window_id": "open_window"},
    ("GET", "/api/board/stops/{stop_id}/photo"): {"stop_id": "photo_stop"},
}

#: The HTML pages: shells whose data comes from the endpoints above (tests/dispatch/test_pages.py
#: checks who may open which).
PAGE_PATHS: Final = frozenset(route.path for route in pages.router.routes)  # type: ignore[attr-defined]

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_PARAM = re.compile(r"{(\w+)}")


def app_endpoints() -> list[tuple[str, str]]:
    """Every (method, path) the app serves (HEAD aside: Starlette adds it to every GET)."""
    app = create_app(SETTINGS)
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        if context.path is None or not context.methods or context.path in PAGE_PATHS:
            continue
        found.update((method, context.path) for method in context.methods if method != "HEAD")
    return sorted(found, key=lambda e: (e[1], e[0]))


ENDPOINTS: Final = app_endpoints()


# ── the database, once per module ──────────────────────────────────────────────────────────


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``conftest.database_url``, but one database for the whole module."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('authz')}/velocal.db"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"{SCHEMA_PREFIX}{worker}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _url_in_schema(POSTGRES_URL, schema)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def cheap_hasher() -> Iterator[None]:
    """argon2id with tiny parameters, for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(security, "PASSWORD_HASHER", hasher)
        yield


class StubbedPlanningError(Exception):
    """What the stand-in planning module raises: no solver runs in an authorization test."""


def _no_planning(*args: Any, **kwargs: Any) -> NoReturn:
    raise StubbedPlanningError("planning is stubbed out in the authorization matrix")


@pytest.fixture(scope="module", autouse=True)
def no_planning() -> Iterator[None]:
    """A stand-in for ``dispatch.planning``: any planning call is a quick 409, never a solve."""
    module = types.ModuleType("dispatch.planning")
    module.PlanningError = StubbedPlanningError  # type: ignore[attr-defined]
    module.__getattr__ = lambda name: _no_planning  # type: ignore[method-assign]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "dispatch.planning", module)
        yield


# ── the world ──────────────────────────────────────────────────────────────────────────────


@dataclass
class World:
    #: The login account of each logged-in caller.
    users: dict[str, int]
    #: The X-Shop-Token of each e-shop caller.
    shop_tokens: dict[str, str]
    #: Records by role in the world: "parcel" (shop A's), "stop" (courier A's), ...
    ids: dict[str, int | str]


def _add(session: Session, *rows: Any) -> None:
    for row in rows:
        session.add(row)
    session.commit()
    for row in rows:
        session.refresh(row)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def build_world(session: Session) -> World:
    """A town with a hub and a bike type; shops A and B (and a spare) with products; couriers
    A and B with today's shifts (and a spare with a later shift); customers A and B with one
    order and parcel each in a planned window; a current plan whose route of courier A picks
    up and delivers A's parcel (courier B's route does B's), with a photo at A's delivery; an
    open window for later."""
    zone = ZoneInfo(ZONE)
    now = utc_now()
    today = now.astimezone(zone).date()
    morning = datetime.combine(today, time(8), zone).astimezone(UTC)
    later = datetime.combine(today + timedelta(days=7), time(10), zone).astimezone(UTC)

    town = Town(name="Helsinki", time_zone=ZONE)
    _add(session, town)
    hub = Hub(town_id=_id(town), name="Hub", lat=60.17, lon=24.94)
    bike = BikeType(
        town_id=_id(town),
        name="Long John",
        capacity_g=80_000,
        capacity_ml=200_000,
        capacity_parcels=20,
    )
    _add(session, hub, bike)
    shop_a = Shop(town_id=_id(town), name="Bakery A", lat=60.168, lon=24.941)
    shop_b = Shop(town_id=_id(town), name="Books B", lat=60.169, lon=24.942)
    spare_shop = Shop(town_id=_id(town), name="Spare C", lat=60.17, lon=24.943)
    _add(session, shop_a, shop_b, spare_shop)
    _add(
        session,
        Product(shop_id=_id(shop_a), name="Rye bread", price_cents=450),
        Product(shop_id=_id(shop_b), name="Atlas", price_cents=3900),
    )
    couriers = [Courier(town_id=_id(town), name=n, bike_type_id=_id(bike)) for n in "ABC"]
    _add(session, *couriers)
    shifts = [
        Shift(
            courier_id=_id(c),
            hub_id=_id(hub),
            starts_at=morning,
            ends_at=morning + timedelta(hours=8),
        )
        for c in couriers[:2]
    ]
    spare_shift = Shift(
        courier_id=_id(couriers[2]),
        hub_id=_id(hub),
        starts_at=later,
        ends_at=later + timedelta(hours=4),
    )
    _add(session, *shifts, spare_shift)
    planned = DeliveryWindow(
        town_id=_id(town),
        day=today,
        starts_at=morning + timedelta(hours=2),
        ends_at=morning + timedelta(hours=4),
        cutoff_at=morning + timedelta(hours=1),
        status="planned",
    )
    open_window = DeliveryWindow(
        town_id=_id(town),
        day=today + timedelta(days=7),
        starts_at=later,
        ends_at=later + timedelta(hours=2),
        cutoff_at=later - timedelta(minutes=90),
    )
    _add(session, planned, open_window)
    customers = [Customer(name=f"Customer {n}", email=f"c{n}@v.test") for n in "AB"]
    _add(session, *customers)
    orders = [
        Order(
            town_id=_id(town),
            customer_id=_id(c),
            window_id=_id(planned),
            address="Mannerheimintie 1",
            lat=60.17,
            lon=24.94,
            tracking_token=new_tracking_token(),
        )
        for c in customers
    ]
    _add(session, *orders)
    parcels = []
    for order, shop in zip(orders, (shop_a, shop_b), strict=True):
        parcel = Parcel(
            order_id=_id(order),
            shop_id=_id(shop),
            weight_g=500,
            volume_ml=2000,
            label_code=new_label_code(session),
        )
        _add(session, parcel)
        parcels.append(parcel)
    plan = Plan(window_id=_id(planned))
    _add(session, plan)
    stops: list[Stop] = []
    for shift, parcel in zip(shifts, parcels, strict=True):
        route = PlanRoute(
            plan_id=_id(plan),
            shift_id=_id(shift),
            starts_at=morning,
            ends_at=morning + timedelta(hours=4),
        )
        _add(session, route)
        trip = PlanTrip(
            route_id=_id(route),
            number=1,
            departs_at=morning + timedelta(hours=2),
            returns_at=morning + timedelta(hours=4),
        )
        _add(session, trip)
        for sequence, kind in enumerate(("pickup", "delivery")):
            at = morning + timedelta(hours=2, minutes=20 * (sequence + 1))
            stop = Stop(
                trip_id=_id(trip),
                sequence=sequence,
                kind=kind,
                parcel_id=_id(parcel),
                lat=60.17,
                lon=24.94,
                planned_arrival=at,
                planned_departure=at + timedelta(minutes=3),
            )
            _add(session, stop)
            stops.append(stop)

    def account(
        email: str,
        role: security.Role,
        *,
        shop_id: int | None = None,
        courier_id: int | None = None,
        customer_id: int | None = None,
    ) -> int:
        user = create_user(
            session,
            email,
            PASSWORD,
            role,
            shop_id=shop_id,
            courier_id=courier_id,
            customer_id=customer_id,
        )
        return _id(user)

    users = {
        OPERATOR: account("op@v.test", "operator"),
        DISPATCHER: account("disp@v.test", "dispatcher"),
        SHOP: account("shop-a@v.test", "shop", shop_id=_id(shop_a)),
        SHOP_B: account("shop-b@v.test", "shop", shop_id=_id(shop_b)),
        COURIER: account("courier-a@v.test", "courier", courier_id=_id(couriers[0])),
        COURIER_B: account("courier-b@v.test", "courier", courier_id=_id(couriers[1])),
        CUSTOMER: account("cust-a@v.test", "customer", customer_id=_id(customers[0])),
        CUSTOMER_B: account("cust-b@v.test", "customer", customer_id=_id(customers[1])),
    }
    spare_account = account("spare@v.test", "customer")
    # Courier A's delivery stop has a proof-of-delivery photo (the board serves it).
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    _add(
        session,
        DeliveryPhoto(
            stop_id=_id(stops[1]),
            content_type="image/png",
            data=png,
            sha256=hashlib.sha256(png).hexdigest(),
            size_bytes=len(png),
            uploaded_by=users[COURIER],
        ),
    )
    shop_tokens = {
        ESHOP: create_shop_api_token(session, shop_a),
        ESHOP_B: create_shop_api_token(session, shop_b),
    }
    # Shop A's webhook; nothing listens on port 9, so its test ping fails fast.
    from dispatch.models import WebhookSubscription

    webhook = WebhookSubscription(
        shop_id=_id(shop_a), url="http://127.0.0.1:9/hook", secret="whsec_test", events=[]
    )
    _add(session, webhook)
    ids: dict[str, int | str] = {
        "shop_id": _id(shop_a),
        "webhook_id": _id(webhook),
        "parcel_id": _id(parcels[0]),
        "stop_id": _id(stops[0]),
        "token": orders[0].tracking_token,
        "hub_id": _id(hub),
        "window_id": _id(planned),
        "bike_type_id": _id(bike),
        "courier_id": _id(couriers[0]),
        "shift_id": _id(shifts[0]),
        "user_id": users[CUSTOMER],
        "spare_shop": _id(spare_shop),
        "spare_courier": _id(couriers[2]),
        "spare_shift": _id(spare_shift),
        "spare_account": spare_account,
        "open_window": _id(open_window),
        "photo_stop": _id(stops[1]),
    }
    return World(users=users, shop_tokens=shop_tokens, ids=ids)


@pytest.fixture(scope="module")
def world(engine: Engine, cheap_hasher: None) -> World:
    with Session(engine) as session:
        return build_world(session)


@pytest.fixture(scope="module")
def client(engine: Engine, no_planning: None) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, engine), raise_server_exceptions=False) as client:
        yield client


# ── calling ────────────────────────────────────────────────────────────────────────────────


def url_for(world: World, method: str, path: str, **replace: int | str) -> str:
    """``path`` with the own side's ids (or the overrides', or ``replace``'s) filled in."""
    overrides = PATH_OVERRIDES.get((method, path), {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in replace:
            return str(replace[name])
        key = overrides.get(name, name)
        if key not in world.ids:
            pytest.fail(f"no value for path parameter {{{name}}} of {method} {path}: add one")
        return str(world.ids[key])

    return _PARAM.sub(fill, path)


def headers_for(engine: Engine, world: World, caller: str) -> dict[str, str]:
    """A fresh bearer token per call, so a logout or password change spoils no other case."""
    if caller in world.shop_tokens:
        return {"X-Shop-Token": world.shop_tokens[caller]}
    if caller not in world.users:
        return {}
    with Session(engine) as session:
        user = session.get(User, world.users[caller])
        assert user is not None
        token, _ = issue_login_token(session, user, kind="bearer", settings=SETTINGS)
    return {"Authorization": f"Bearer {token}"}


def send(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in _BODY_METHODS else None
    return client.request(method, url, json=body, headers=headers)


# ── the matrix ─────────────────────────────────────────────────────────────────────────────


def test_every_endpoint_has_an_expectation() -> None:
    """The table lists exactly the app's endpoints: none missing, none stale."""
    served = set(ENDPOINTS)
    listed = set(EXPECTED)
    assert sorted(served - listed) == [], "endpoints without an entry in EXPECTED"
    assert sorted(listed - served) == [], "entries in EXPECTED for endpoints that are gone"
    assert set(PATH_OVERRIDES) <= listed


def test_the_table_is_consistent() -> None:
    """Nobody is both allowed and a foreign owner; only logged-in callers can be foreign."""
    for endpoint, access in EXPECTED.items():
        assert not access.allowed & access.foreign_404, endpoint
        assert access.foreign_404 <= LOGGED_IN, endpoint
        assert access.allowed <= EVERYONE, endpoint


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path"), ENDPOINTS, ids=[f"{method} {path}" for method, path in ENDPOINTS]
)
def test_authorization(
    client: TestClient, engine: Engine, world: World, method: str, path: str, caller: str
) -> None:
    access = EXPECTED.get((method, path))
    if access is None:
        pytest.fail(f"{method} {path} has no entry in EXPECTED: decide who may call it")
    expected = access.expect(caller)
    url = url_for(world, method, path)
    response = send(client, method, url, headers_for(engine, world, caller))
    got = response.status_code
    what = f"{method} {url} as {caller}: {got} {response.text[:300]}"
    if expected == "allowed":
        assert got not in (401, 403, 404), f"expected to pass authorization; {what}"
        assert got < 500, f"server error; {what}"
    else:
        assert got == int(expected), f"expected {expected}; {what}"
    if expected == "401":
        assert "www-authenticate" in response.headers, what
    if expected == "404":
        _assert_same_as_missing(client, engine, world, method, path, caller, response.json())


def _assert_same_as_missing(
    client: TestClient,
    engine: Engine,
    world: World,
    method: str,
    path: str,
    caller: str,
    foreign: dict[str, Any],
) -> None:
    """The foreign 404 says what a missing id says (with that id): nothing shows it exists."""
    (name,) = _PARAM.findall(path)
    real = str(world.ids[PATH_OVERRIDES.get((method, path), {}).get(name, name)])
    missing_id = 987_654_321
    url = url_for(world, method, path, **{name: missing_id})
    missing = send(client, method, url, headers_for(engine, world, caller))
    assert missing.status_code == 404, missing.text
    assert foreign["detail"] == missing.json()["detail"].replace(str(missing_id), real)


# ── lists and query parameters: filtered to one's own records ──────────────────────────────


def _ids_in(payload: Any, key: str) -> set[int]:
    """Every ``key`` value anywhere in a JSON payload (ids of parcels, stops, shifts...)."""
    found: set[int] = set()
    if isinstance(payload, dict):
        for name, value in payload.items():
            if name == key and isinstance(value, int):
                found.add(value)
            elif name == key and isinstance(value, list):
                found.update(v for v in value if isinstance(v, int))
            else:
                found |= _ids_in(value, key)
    elif isinstance(payload, list):
        for value in payload:
            found |= _ids_in(value, key)
    return found


#: (URL, own caller, foreign caller, JSON key, world record): the own caller's answer holds
#: the record's id under that key, the foreign caller's does not.
LIST_CASES: Final = [
    ("/api/shop/orders", SHOP, SHOP_B, "id", "parcel_id"),
    ("/api/shop/orders?window_id={window_id}", SHOP, SHOP_B, "id", "parcel_id"),
    ("/api/shop/pickups", SHOP, SHOP_B, "parcel_ids", "parcel_id"),
    ("/api/courier/shifts", COURIER, COURIER_B, "id", "shift_id"),
    ("/api/courier/route", COURIER, COURIER_B, "id", "stop_id"),
]


@pytest.mark.parametrize(
    ("template", "own", "foreign", "key", "record"), LIST_CASES, ids=[c[0] for c in LIST_CASES]
)
def test_lists_show_only_ones_own_records(
    client: TestClient,
    engine: Engine,
    world: World,
    template: str,
    own: str,
    foreign: str,
    key: str,
    record: str,
) -> None:
    url = template.format(**world.ids)
    wanted = world.ids[record]
    mine = client.get(url, headers=headers_for(engine, world, own))
    assert mine.status_code == 200, mine.text
    assert wanted in _ids_in(mine.json(), key), f"{own} should see {record} {wanted}"
    theirs = client.get(url, headers=headers_for(engine, world, foreign))
    assert theirs.status_code in (200, 404), theirs.text
    assert wanted not in _ids_in(theirs.json(), key), f"{foreign} sees {record} {wanted}"


def test_another_couriers_shift_is_a_plain_404(
    client: TestClient, engine: Engine, world: World
) -> None:
    """``/api/courier/route?shift_id=`` of courier A's shift: courier B gets the missing 404."""
    shift_id = world.ids["shift_id"]
    own = client.get(
        f"/api/courier/route?shift_id={shift_id}", headers=headers_for(engine, world, COURIER)
    )
    assert own.status_code == 200, own.text
    foreign = client.get(
        f"/api/courier/route?shift_id={shift_id}", headers=headers_for(engine, world, COURIER_B)
    )
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["detail"] == f"shift {shift_id} not found"
