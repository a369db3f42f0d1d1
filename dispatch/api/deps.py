"""Typed dependencies every router uses: the database session, who is calling, what they may do.

A route states its needs in its signature (``session: SessionDep``, ``user: CurrentUser``,
``user: StaffUser``, ``shop: ShopFromApiToken``) and never parses a header itself. Ownership
helpers answer 404, not 403, for another owner's records, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.api.errors import ForbiddenError, NotFoundError, UnauthorizedError
from dispatch.config import Settings, get_settings
from dispatch.models import AuthToken, Shop, User
from dispatch.security import (
    ROLES,
    STAFF_ROLES,
    Login,
    Role,
    TokenKind,
    find_login,
    verify_shop_api_token,
)

SESSION_COOKIE: Final = "velocal_session"
SHOP_TOKEN_HEADER: Final = "X-Shop-Token"

# auto_error=False: the dependencies below decide, so both ways in are tried and every 401
# carries the same detail and WWW-Authenticate header. They also document auth in /docs.
_bearer = HTTPBearer(auto_error=False, description="A bearer token from POST /api/auth/login")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The browser session cookie"
)
_shop_header = APIKeyHeader(
    name=SHOP_TOKEN_HEADER, auto_error=False, description="A shop's API token for its e-shop"
)


async def get_engine(request: Request) -> Engine:
    """The engine the app's lifespan made (or was given).

    Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` one in a worker
    thread, a hop that costs more than the work itself on every request."""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        raise RuntimeError("no engine on app.state: build the app with dispatch.app.create_app")
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One session per request, closed (and rolled back if uncommitted) afterwards."""
    with Session(engine) as session:
        yield session


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with (tests pass their own to ``create_app``)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings or get_settings()


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
#: The credentials as sent, unchecked: for a route that checks them itself (``get_auth``).
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
SessionCookie = Annotated[str | None, Depends(_cookie)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@dataclass(frozen=True)
class Auth:
    """Who is calling, with the token row they used and how they sent it."""

    user: User
    token: AuthToken
    via: Literal["cookie", "bearer"]


_NOT_LOGGED_IN: Final = "not logged in: send the velocal_session cookie or a bearer token"
_BAD_TOKEN: Final = "login token is invalid, expired or revoked: log in again"


#: A login token as presented: the token, its kind, and the channel it came by.
Presented = tuple[str, TokenKind, Literal["cookie", "bearer"]]


def presented_token(bearer: HTTPAuthorizationCredentials | None, cookie: str | None) -> Presented:
    """The login token the request carries (401 if none). A bearer header wins when both are
    sent. Each token kind is only accepted on its own channel, so a cookie value pasted into
    a header (or the reverse) does not log in."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials, "bearer", "bearer"
    if cookie:
        return cookie, "session", "cookie"
    raise UnauthorizedError(_NOT_LOGGED_IN)


def auth_from_login(login: Login | None, via: Literal["cookie", "bearer"]) -> Auth:
    """The caller of a login found by ``find_login`` (or ``find_logins``), or the 401."""
    if login is None:
        raise UnauthorizedError(_BAD_TOKEN)
    # A shop's or courier's login ends with the shop or courier it belongs to.
    if not login.linked_active:
        raise UnauthorizedError("this account's shop or courier is deactivated: ask the operator")
    return Auth(user=login.user, token=login.token, via=via)


def get_auth(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Auth:
    """The caller from ``Authorization: Bearer`` (API clients) or the session cookie (browser)."""
    token, kind, via = presented_token(bearer, cookie)
    return auth_from_login(find_login(session, token, kind=kind), via)


CurrentAuth = Annotated[Auth, Depends(get_auth)]


def get_presented_tokens(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> list[str]:
    """Every login token the request carries, valid or not (logout revokes them all)."""
    tokens = [bearer.credentials] if bearer is not None and bearer.credentials else []
    return [*tokens, cookie] if cookie else tokens


PresentedTokens = Annotated[list[str], Depends(get_presented_tokens)]


async def get_current_user(auth: CurrentAuth) -> User:
    """The logged-in, active account."""
    return auth.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    """A dependency that lets only ``roles`` through (403 naming them), giving the user.

    ``Annotated[User, Depends(require_roles("operator", "dispatcher"))]``; an unknown role
    name fails when the route is defined, not when it is first called.
    """
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise ValueError(f"require_roles needs roles among {', '.join(ROLES)}, got {roles!r}")

    async def check_role(user: CurrentUser) -> User:
        return ensure_role(user, *roles)

    check_role.__name__ = f"require_{'_or_'.join(roles)}"
    return check_role  # type: ignore[return-value]  # FastAPI awaits it


def ensure_role(user: User, *roles: Role) -> User:
    """``user`` if their role is one of ``roles``, else the 403 naming them (``require_roles``
    as a plain call, for a route that authenticates inside its own worker thread)."""
    if user.role not in roles:
        raise ForbiddenError(f"forbidden: this needs the role {' or '.join(roles)}")
    return user


#: Operators and dispatchers: the people who run the service.
StaffUser = Annotated[User, Depends(require_roles(*STAFF_ROLES))]
OperatorUser = Annotated[User, Depends(require_roles("operator"))]


def get_shop_from_api_token(
    session: SessionDep, token: Annotated[str | None, Depends(_shop_header)]
) -> Shop:
    """The shop whose e-shop is calling, from its ``X-Shop-Token`` header."""
    challenge = f'ShopToken realm="velocal", header="{SHOP_TOKEN_HEADER}"'
    if not token:
        raise UnauthorizedError(
            f"send the shop's API token in {SHOP_TOKEN_HEADER}", challenge=challenge
        )
    shop = verify_shop_api_token(session, token)
    if shop is None:
        raise UnauthorizedError(
            f"{SHOP_TOKEN_HEADER} is invalid or revoked: create a new shop token",
            challenge=challenge,
        )
    return shop


ShopFromApiToken = Annotated[Shop, Depends(get_shop_from_api_token)]


# ── ownership ──────────────────────────────────────────────────────────────────────────────


def is_staff(user: User) -> bool:
    """Operators and dispatchers see every shop's and courier's records."""
    return user.role in STAFF_ROLES


def own_shop(user: User, shop_id: int) -> int:
    """``shop_id`` if ``user`` may act for that shop (staff, or its own shop account).

    Anyone else gets the 404 a missing shop gets, so shop ids cannot be probed.
    """
    if is_staff(user) or (user.role == "shop" and user.shop_id == shop_id):
        return shop_id
    raise NotFoundError("shop", shop_id)


def own_courier(user: User, courier_id: int) -> int:
    """``courier_id`` if ``user`` may act for that courier (staff, or the courier themself)."""
    if is_staff(user) or (user.role == "courier" and user.courier_id == courier_id):
        return courier_id
    raise NotFoundError("courier", courier_id)


def own_customer(user: User, customer_id: int) -> int:
    """``customer_id`` if ``user`` may see that customer's records (staff, or the customer)."""
    if is_staff(user) or (user.role == "customer" and user.customer_id == customer_id):
        return customer_id
    raise NotFoundError("customer", customer_id)
