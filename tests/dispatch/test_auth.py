"""Accounts and tokens: logging in by cookie and by bearer, the 401/403/404/422 paths, shop API
tokens, and the secrets the database keeps (only hashes) or hands out (tracking, labels).

Every test taking ``engine`` or ``session`` runs on SQLite and on PostgreSQL (the shared
fixtures in ``conftest.py``)."""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch import security
from dispatch.api.deps import (
    SESSION_COOKIE,
    SessionDep,
    ShopFromApiToken,
    StaffUser,
    own_courier,
    own_customer,
    own_shop,
    require_roles,
)
from dispatch.api.errors import NotFoundError, field_name, plain_message
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.lifecycle import ForbiddenTransitionError, InvalidTransitionError
from dispatch.models import AuthToken, Customer, Order, Parcel, Shop, Town, User, utc_now
from dispatch.security import (
    LABEL_ALPHABET,
    LABEL_LENGTH,
    create_shop_api_token,
    create_user,
    hash_password,
    hash_token,
    issue_login_token,
    new_label_code,
    new_tracking_token,
    revoke_shop_api_token,
    verify_password,
)

PASSWORD = "correct horse battery"
BAD_TOKEN = {"detail": "login token is invalid, expired or revoked: log in again"}
WRONG_LOGIN = {"detail": "wrong email or password"}


# ── fixtures ───────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite://", session_days=14, secure_cookies=False)


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """The real app plus three probe routes for the role and shop-token dependencies."""
    app = create_app(settings, engine)

    @app.get("/probe/staff")
    def staff_only(user: StaffUser) -> dict[str, str]:
        return {"role": user.role}

    @app.get("/probe/couriers")
    def couriers_only(user: Annotated[User, Depends(require_roles("courier"))]) -> dict[str, str]:
        return {"role": user.role}

    @app.get("/probe/transition/{kind}")
    def refuse_transition(kind: str) -> None:
        if kind == "invalid":
            raise InvalidTransitionError("order", "delivered", "cancel", "it is delivered")
        raise ForbiddenTransitionError(
            "order", "placed", "cancel", "courier", allowed_roles=frozenset({"operator"})
        )

    @app.get("/probe/shop")
    def shop_only(shop: ShopFromApiToken) -> dict[str, Any]:
        return {"shop_id": shop.id}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def town(session: Session) -> Town:
    town = Town(name="Lauf")
    session.add(town)
    session.commit()
    session.refresh(town)
    return town


@pytest.fixture
def shop(session: Session, town: Town) -> Shop:
    assert town.id is not None
    shop = Shop(town_id=town.id, name="Bäckerei Kern", lat=49.51, lon=11.28)
    session.add(shop)
    session.commit()
    session.refresh(shop)
    return shop


def make_user(session: Session, role: security.Role = "operator", **kw: Any) -> User:
    return create_user(session, kw.pop("email", f"{role}@velocal.test"), PASSWORD, role, **kw)


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ── logging in ─────────────────────────────────────────────────────────────────────────────


def test_login_sets_httponly_lax_cookie_that_logs_in(client: TestClient, session: Session) -> None:
    """The cookie alone is a login; it is HttpOnly, SameSite=Lax, not Secure on plain HTTP."""
    user = make_user(session, "dispatcher", name="Dana")
    response = login(client, "dispatcher@velocal.test")
    assert response.status_code == 200
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie
    assert f"Max-Age={14 * 86400}" in set_cookie
    assert "Secure" not in set_cookie
    assert response.cookies[SESSION_COOKIE] != response.json()["token"]

    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "email": "dispatcher@velocal.test",
        "name": "Dana",
        "role": "dispatcher",
        "shop_id": None,
        "courier_id": None,
        "customer_id": None,
    }


def test_login_returns_a_bearer_token_that_logs_in(client: TestClient, session: Session) -> None:
    """API clients log in with the returned token and no cookie."""
    make_user(session, "operator")
    body = login(client, "Operator@Velocal.test ").json()
    assert body["user"]["email"] == "operator@velocal.test"
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401
    me = client.get("/api/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["role"] == "operator"


def test_secure_cookie_when_configured(engine: Engine, session: Session) -> None:
    """Behind HTTPS the cookie is marked Secure."""
    make_user(session)
    app = create_app(Settings(database_url="sqlite://", secure_cookies=True), engine)
    with TestClient(app) as client:
        response = login(client, "operator@velocal.test")
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_email_look_the_same(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same status, body and header, and both run argon2 exactly once (same timing path)."""
    make_user(session)
    calls: list[str] = []
    real_verify = security.verify_password

    def counting_verify(password_hash: str, password: str, **kw: Any) -> bool:
        calls.append(password_hash)
        return real_verify(password_hash, password, **kw)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    wrong = login(client, "operator@velocal.test", "not the password")
    unknown = login(client, "nobody@velocal.test", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == WRONG_LOGIN
        assert response.headers["www-authenticate"] == 'Bearer realm="velocal"'
        assert "set-cookie" not in response.headers
    assert len(calls) == 2
    assert all(h.startswith("$argon2id$") for h in calls)


def test_login_fields_are_checked_by_name(client: TestClient) -> None:
    """A missing or malformed field is a 422 whose detail names it."""
    response = client.post("/api/auth/login", json={"email": "a@b.fi"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "password: is required",
        "errors": [{"field": "password", "message": "is required"}],
    }
    response = client.post("/api/auth/login", json={"email": 5, "password": ""})
    assert response.json()["detail"] == "email: must be text; password: must not be empty"
    response = client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body: is not valid JSON (at character 1)"
    response = client.post("/api/auth/login", json=["a list"])
    assert response.json()["detail"] == "body: must be an object"


def test_validation_errors_name_nested_fields_and_places() -> None:
    """Positions in lists read as [i], query and header values say where they are."""
    assert field_name(("body", "items", 0, "quantity")) == "items[0].quantity"
    assert field_name(("query", "limit")) == "query parameter limit"
    assert field_name(("header", "x-shop-token")) == "header x-shop-token"
    assert field_name(("body",)) == "body"
    assert plain_message({"type": "greater_than_equal", "ctx": {"ge": 1}, "msg": "x"}) == (
        "must be at least 1"
    )
    assert plain_message({"type": "value_error", "msg": "Value error, Shop is closed"}) == (
        "shop is closed"
    )


# ── which tokens are accepted ──────────────────────────────────────────────────────────────


def test_no_credentials_is_401_with_www_authenticate(client: TestClient) -> None:
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "not logged in: send the velocal_session cookie or a bearer token"
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="velocal"'
    assert client.get("/api/me", headers=bearer("made-up")).json() == BAD_TOKEN


def test_each_token_kind_only_works_on_its_channel(client: TestClient, session: Session) -> None:
    """The cookie's value is no bearer token, and the bearer token is no cookie."""
    make_user(session)
    response = login(client, "operator@velocal.test")
    cookie, token = response.cookies[SESSION_COOKIE], response.json()["token"]
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer(cookie)).status_code == 401
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/me").status_code == 401


def test_logout_revokes_the_token_in_use(client: TestClient, session: Session) -> None:
    """After logout the same bearer token or cookie is refused; logging out twice is fine."""
    make_user(session)
    response = login(client, "operator@velocal.test")
    token, cookie = response.json()["token"], response.cookies[SESSION_COOKIE]
    client.cookies.clear()

    out = client.post("/api/auth/logout", headers=bearer(token))
    assert out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/api/me", headers=bearer(token)).json() == BAD_TOKEN

    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/me").status_code == 200  # the other login of that POST still holds
    assert client.post("/api/auth/logout").status_code == 204
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/me").json() == BAD_TOKEN
    assert client.post("/api/auth/logout").status_code == 204


def test_expired_token_is_401(client: TestClient, session: Session, settings: Settings) -> None:
    """A token older than ``session_days`` is refused, a day younger is not."""
    user = make_user(session)
    old, _ = issue_login_token(
        session,
        user,
        kind="bearer",
        settings=settings,
        now=utc_now() - timedelta(days=14, seconds=1),
    )
    fresh, _ = issue_login_token(
        session, user, kind="bearer", settings=settings, now=utc_now() - timedelta(days=13)
    )
    assert client.get("/api/me", headers=bearer(old)).json() == BAD_TOKEN
    assert client.get("/api/me", headers=bearer(fresh)).status_code == 200


def test_inactive_user_is_401(client: TestClient, session: Session) -> None:
    """Deactivating an account ends its logins at once and blocks new ones."""
    user = make_user(session)
    token = login(client, "operator@velocal.test").json()["token"]
    user.active = False
    session.add(user)
    session.commit()
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer(token)).json() == BAD_TOKEN
    response = login(client, "operator@velocal.test")
    assert response.status_code == 401
    assert response.json() == {"detail": "this account is deactivated: ask the operator"}
    assert login(client, "operator@velocal.test", "wrong password").json() == WRONG_LOGIN


def test_public_user_never_contains_the_hash(client: TestClient, session: Session) -> None:
    """Neither /api/me nor the login answer carries the hash or the active flag."""
    user = make_user(session, "shop", email="kern@velocal.test")
    response = login(client, "kern@velocal.test")
    me = client.get("/api/me")
    for body in (response.json()["user"], me.json()):
        assert set(body) == {"id", "email", "name", "role", "shop_id", "courier_id", "customer_id"}
    for text in (response.text, me.text):
        assert user.password_hash not in text
        assert "password" not in text
        assert "argon2" not in text


def test_tokens_are_stored_only_as_sha256(client: TestClient, session: Session) -> None:
    """The database has the hashes of the cookie and bearer tokens, never the tokens."""
    make_user(session)
    response = login(client, "operator@velocal.test")
    tokens = {response.json()["token"], response.cookies[SESSION_COOKIE]}
    rows = session.exec(select(AuthToken)).all()
    assert {row.kind for row in rows} == {"session", "bearer"}
    assert {row.token_hash for row in rows} == {
        hashlib.sha256(t.encode()).hexdigest() for t in tokens
    }
    stored = " ".join(f"{row.token_hash} {row.kind}" for row in rows)
    assert all(token not in stored for token in tokens)
    assert all(len(row.token_hash) == 64 for row in rows)


# ── roles and ownership ────────────────────────────────────────────────────────────────────


def test_require_roles_gives_403_naming_the_roles(client: TestClient, session: Session) -> None:
    make_user(session, "courier")
    make_user(session, "operator")
    courier_token = login(client, "courier@velocal.test").json()["token"]
    operator_token = login(client, "operator@velocal.test").json()["token"]
    client.cookies.clear()

    response = client.get("/probe/staff", headers=bearer(courier_token))
    assert response.status_code == 403
    assert response.json() == {"detail": "forbidden: this needs the role operator or dispatcher"}
    assert client.get("/probe/staff", headers=bearer(operator_token)).json() == {"role": "operator"}
    assert client.get("/probe/couriers", headers=bearer(operator_token)).json() == {
        "detail": "forbidden: this needs the role courier"
    }
    assert client.get("/probe/staff").status_code == 401  # not logged in comes first


def test_require_roles_refuses_unknown_roles() -> None:
    """A typo in a role fails when the route is written, not when someone is locked out."""
    with pytest.raises(ValueError, match="'boss'"):
        require_roles("boss")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="require_roles needs roles"):
        require_roles()


def test_ownership_answers_404_for_someone_elses_records(session: Session) -> None:
    """Staff pass; owners pass for their own id; anyone else gets the plain 'not found'."""
    staff = User(email="s", password_hash="-", role="dispatcher")
    shop_user = User(email="k", password_hash="-", role="shop", shop_id=1)
    courier_user = User(email="c", password_hash="-", role="courier", courier_id=7)
    customer_user = User(email="u", password_hash="-", role="customer", customer_id=3)
    assert own_shop(staff, 2) == 2
    assert own_shop(shop_user, 1) == 1
    assert own_courier(courier_user, 7) == 7
    assert own_customer(customer_user, 3) == 3
    with pytest.raises(NotFoundError) as caught:
        own_shop(shop_user, 2)
    assert (caught.value.status_code, caught.value.detail) == (404, "shop 2 not found")
    with pytest.raises(NotFoundError):
        own_shop(courier_user, 1)
    with pytest.raises(NotFoundError) as caught:
        own_courier(courier_user, 8)
    assert caught.value.detail == "courier 8 not found"
    with pytest.raises(NotFoundError):
        own_courier(shop_user, 7)
    with pytest.raises(NotFoundError):
        own_customer(customer_user, 4)


# ── shop API tokens ────────────────────────────────────────────────────────────────────────


def test_shop_api_token(client: TestClient, session: Session, shop: Shop) -> None:
    """Shown once, stored as its SHA-256, accepted in X-Shop-Token until revoked."""
    token = create_shop_api_token(session, shop)
    assert token.startswith("vls_")
    assert shop.api_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (shop.api_token_hash or "")

    ok = client.get("/probe/shop", headers={"X-Shop-Token": token})
    assert ok.json() == {"shop_id": shop.id}

    missing = client.get("/probe/shop")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "send the shop's API token in X-Shop-Token"}
    assert "X-Shop-Token" in missing.headers["www-authenticate"]
    wrong = client.get("/probe/shop", headers={"X-Shop-Token": "vls_" + "x" * 43})
    assert wrong.json() == {"detail": "X-Shop-Token is invalid or revoked: create a new shop token"}

    rotated = create_shop_api_token(session, shop)
    assert client.get("/probe/shop", headers={"X-Shop-Token": token}).status_code == 401
    assert client.get("/probe/shop", headers={"X-Shop-Token": rotated}).status_code == 200
    revoke_shop_api_token(session, shop)
    assert client.get("/probe/shop", headers={"X-Shop-Token": rotated}).status_code == 401


def test_inactive_shop_token_is_401(client: TestClient, session: Session, shop: Shop) -> None:
    token = create_shop_api_token(session, shop)
    shop.active = False
    session.add(shop)
    session.commit()
    assert client.get("/probe/shop", headers={"X-Shop-Token": token}).status_code == 401


# ── changing one's password ────────────────────────────────────────────────────────────────


def test_password_change_rules(client: TestClient, session: Session) -> None:
    """Too short, missing, wrong old or unchanged: 422 naming the field."""
    make_user(session)
    login(client, "operator@velocal.test")

    def change(**body: Any) -> Any:
        return client.post("/api/auth/password", json=body)

    short = change(old_password=PASSWORD, new_password="short")
    assert short.status_code == 422
    assert short.json() == {
        "detail": "new_password: must be at least 10 characters",
        "errors": [{"field": "new_password", "message": "must be at least 10 characters"}],
    }
    assert change(old_password=PASSWORD).json()["detail"] == "new_password: is required"
    wrong = change(old_password="not my password", new_password="a long new password")
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == "old_password: is not the current password"
    same = change(old_password=PASSWORD, new_password=PASSWORD)
    assert same.json()["detail"] == "new_password: must differ from the current password"
    client.cookies.clear()
    assert change(old_password=PASSWORD, new_password="a long new password").status_code == 401


def test_password_change_logs_out_other_logins(client: TestClient, session: Session) -> None:
    """The new password works, the old does not, and only the login in use survives."""
    make_user(session)
    other = login(client, "operator@velocal.test").json()["token"]
    client.cookies.clear()
    current = login(client, "operator@velocal.test").json()["token"]
    client.cookies.clear()

    response = client.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "a long new password"},
        headers=bearer(current),
    )
    assert response.status_code == 204
    assert client.get("/api/me", headers=bearer(current)).status_code == 200
    assert client.get("/api/me", headers=bearer(other)).json() == BAD_TOKEN
    assert login(client, "operator@velocal.test").json() == WRONG_LOGIN
    assert login(client, "operator@velocal.test", "a long new password").status_code == 200


# ── passwords, tracking tokens, label codes ────────────────────────────────────────────────


def test_argon2_hashes_verify_and_wrong_passwords_do_not() -> None:
    """Real default parameters: salted argon2id, mismatches and garbage are just False."""
    hasher = PasswordHasher()
    first = hash_password(PASSWORD, hasher=hasher)
    assert first.startswith("$argon2id$")
    assert first != hash_password(PASSWORD, hasher=hasher)
    assert verify_password(first, PASSWORD, hasher=hasher)
    assert not verify_password(first, PASSWORD + "!", hasher=hasher)
    assert not verify_password("not a hash", PASSWORD, hasher=hasher)


def test_login_rehashes_when_parameters_change(
    client: TestClient, session: Session, cheap_hasher: PasswordHasher
) -> None:
    """A hash made with older parameters is replaced by one with the current ones."""
    older = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    user = create_user(session, "old@velocal.test", "placeholder", "customer")
    user.password_hash = older.hash(PASSWORD)
    session.add(user)
    session.commit()
    assert cheap_hasher.check_needs_rehash(user.password_hash)

    assert login(client, "old@velocal.test").status_code == 200
    session.refresh(user)
    assert not cheap_hasher.check_needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, PASSWORD)


def test_create_user_refuses_unknown_roles(session: Session) -> None:
    with pytest.raises(ValueError, match="role 'admin' is not one of operator, dispatcher"):
        create_user(session, "a@b.fi", PASSWORD, "admin")  # type: ignore[arg-type]


def test_tracking_tokens_are_unique_and_at_least_128_bits() -> None:
    tokens = [new_tracking_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens[:50]:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
        assert set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_label_codes_are_short_unambiguous_and_unique(session: Session, town: Town) -> None:
    codes = {new_label_code(session) for _ in range(500)}
    assert len(codes) == 500
    assert all(len(code) == LABEL_LENGTH == 6 for code in codes)
    assert all(set(code) <= set(LABEL_ALPHABET) for code in codes)
    assert not set(LABEL_ALPHABET) & set("01OILU")


def test_label_codes_skip_taken_ones(
    session: Session, shop: Shop, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code already on a stored or pending parcel is drawn again."""
    assert town.id is not None
    assert shop.id is not None
    customer = Customer(name="Ann")
    session.add(customer)
    session.commit()
    assert customer.id is not None
    order = Order(town_id=town.id, customer_id=customer.id, tracking_token=new_tracking_token())
    session.add(order)
    session.commit()
    assert order.id is not None
    parcel = dict(order_id=order.id, shop_id=shop.id, weight_g=500, volume_ml=1000)
    session.add(Parcel(label_code="AAAAAA", **parcel))
    session.commit()
    session.add(Parcel(label_code="BBBBBB", **parcel))  # pending, not flushed

    draws = iter("AAAAAA" + "BBBBBB" + "CCCCCC")

    class Scripted:
        @staticmethod
        def choice(_alphabet: str) -> str:
            return next(draws)

    monkeypatch.setattr(security, "secrets", Scripted)
    assert new_label_code(session) == "CCCCCC"


# ── the app around it ──────────────────────────────────────────────────────────────────────


def test_health_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/auth/login", "/api/auth/logout", "/api/me", "/api/auth/password"} <= set(paths)


def test_lifecycle_errors_are_409_and_403(client: TestClient) -> None:
    """Refused status changes keep the transition table's own words."""
    invalid = client.get("/probe/transition/invalid")
    assert invalid.status_code == 409
    assert invalid.json() == {"detail": "order: cannot 'cancel' from 'delivered': it is delivered"}
    forbidden = client.get("/probe/transition/forbidden")
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "detail": "order: a courier may not 'cancel' from 'placed' (allowed: operator)"
    }


def test_unique_violations_are_409(client: TestClient, app: FastAPI, session: Session) -> None:
    """A taken unique value answers 409 without the database's own message."""
    make_user(session)

    @app.post("/probe/duplicate")
    def duplicate(db: SessionDep) -> None:
        db.add(User(email="operator@velocal.test", password_hash="-", role="operator"))
        db.commit()

    response = client.post("/probe/duplicate")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "conflicts with an existing record (a value that must be unique is taken)"
    }


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_a_deactivated_shop_or_courier_logs_its_accounts_out(engine: Engine) -> None:
    """Deactivating a shop or a courier ends its logins: their tokens are then 401."""
    from dispatch.models import BikeType, Courier, Shop, Town
    from dispatch.security import create_user, issue_login_token

    with Session(engine) as session:
        town = Town(name="t")
        session.add(town)
        session.commit()
        assert town.id is not None
        shop = Shop(town_id=town.id, name="Bakery", lat=60.17, lon=24.94)
        bike = BikeType(town_id=town.id, name="b", capacity_g=1, capacity_ml=1, capacity_parcels=1)
        session.add_all([shop, bike])
        session.commit()
        assert shop.id is not None
        assert bike.id is not None
        courier = Courier(town_id=town.id, name="c", bike_type_id=bike.id)
        session.add(courier)
        session.commit()
        shop_user = create_user(session, "s@x.test", "long enough pw", "shop", shop_id=shop.id)
        courier_user = create_user(
            session, "c@x.test", "long enough pw", "courier", courier_id=courier.id
        )
        shop_token, _ = issue_login_token(session, shop_user, kind="bearer")
        courier_token, _ = issue_login_token(session, courier_user, kind="bearer")
        shop_id, courier_id = shop.id, courier.id
    client = TestClient(create_app(engine=engine))
    for token in (shop_token, courier_token):
        assert (
            client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    with Session(engine) as session:
        shop_row = session.get(Shop, shop_id)
        courier_row = session.get(Courier, courier_id)
        assert shop_row is not None
        assert courier_row is not None
        shop_row.active = False
        courier_row.active = False
        session.add_all([shop_row, courier_row])
        session.commit()
    for token in (shop_token, courier_token):
        answer = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert "deactivated" in answer.json()["detail"]
