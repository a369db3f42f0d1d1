"""Passwords, login tokens, shop API tokens, tracking tokens and parcel label codes.

Secrets handed to people (login tokens, shop API tokens) are random and only their SHA-256 is
stored, so a copy of the database logs nobody in. Passwords are hashed with argon2id and
re-hashed on the next login whenever the hasher's parameters change. Functions that write
commit their own small unit of work, so a route can call them and return.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam
from sqlmodel import Session, col, delete, select

from dispatch.config import Settings, get_settings
from dispatch.models import AuthToken, Courier, Parcel, Shop, User, utc_now

Role = Literal["operator", "dispatcher", "shop", "courier", "customer"]
#: Every role an account may have, most powerful first.
ROLES: Final[tuple[Role, ...]] = get_args(Role)
#: Roles that see every shop's and courier's records (ownership checks let them through).
STAFF_ROLES: Final[tuple[Role, ...]] = ("operator", "dispatcher")

TokenKind = Literal["session", "bearer"]
TOKEN_KINDS: Final[tuple[TokenKind, ...]] = get_args(TokenKind)

#: A new password needs at least this many characters (the API enforces it).
MIN_PASSWORD_LENGTH: Final = 10
#: Shop API tokens start with this, so a leaked one is recognisable in logs and secret scanners.
SHOP_TOKEN_PREFIX: Final = "vls_"
#: Label codes leave out 0/O, 1/I/L and U (read as V), so they survive handwriting and phones.
LABEL_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LABEL_LENGTH: Final = 6

#: argon2id with the library's RFC 9106 low-memory profile; change it and old hashes upgrade.
#: Read at each call, so a test suite may swap in cheaper parameters.
PASSWORD_HASHER = PasswordHasher()


# ── passwords ──────────────────────────────────────────────────────────────────────────────


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash of ``password`` (salted; two calls give different hashes)."""
    return (hasher or PASSWORD_HASHER).hash(password)


def verify_password(
    password_hash: str, password: str, *, hasher: PasswordHasher | None = None
) -> bool:
    """Whether ``password`` matches; a malformed hash is a mismatch, never an error."""
    try:
        return (hasher or PASSWORD_HASHER).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Whether the hash was made with other parameters than ``hasher``'s."""
    try:
        return (hasher or PASSWORD_HASHER).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def authenticate(
    session: Session, email: str, password: str, *, hasher: PasswordHasher | None = None
) -> User | None:
    """The account for ``email`` and ``password``, or None.

    An unknown email is checked against a dummy hash, so it costs the same argon2 work as a
    wrong password and timing does not reveal which emails have accounts. A correct password
    whose hash has outdated parameters is re-hashed (and committed). Inactive accounts are
    returned: the caller decides what to tell someone who proved the password.
    """
    hasher = hasher or PASSWORD_HASHER
    dummy = _dummy_hash(hasher)  # made before the lookup, so its first cost hides nothing
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    stored = user.password_hash if user is not None else dummy
    ok = verify_password(stored, password, hasher=hasher)
    if user is None or not ok:
        return None
    if password_needs_rehash(user.password_hash, hasher=hasher):
        user.password_hash = hash_password(password, hasher=hasher)
        session.add(user)
        session.commit()
        session.refresh(user)
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Store a new password for ``user`` (commits); length rules are the caller's (the API's)."""
    user.password_hash = hash_password(password)
    session.add(user)
    session.commit()


def normalize_email(email: str) -> str:
    """Emails are compared trimmed and lower-cased, so "Ann@Shop.fi " logs in as ann@shop.fi."""
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role,
    *,
    name: str = "",
    shop_id: int | None = None,
    courier_id: int | None = None,
    customer_id: int | None = None,
    active: bool = True,
) -> User:
    """Create an account (commits), linked to the shop, courier or customer it acts for.

    For tests, the demo and operator set-up: the password length rule is the API's, not this
    helper's. An unknown role raises ``ValueError`` naming the valid ones.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    user = User(
        email=normalize_email(email),
        name=name,
        password_hash=hash_password(password),
        role=role,
        shop_id=shop_id,
        courier_id=courier_id,
        customer_id=customer_id,
        active=active,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


# ── random tokens ──────────────────────────────────────────────────────────────────────────


def new_token() -> str:
    """A fresh random secret: 256 bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token: what the database keeps instead of the token.

    A fast hash is enough here (unlike passwords): the token has 256 random bits, so there is
    nothing to guess, and lookups by hash stay a plain index search.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ── login tokens ───────────────────────────────────────────────────────────────────────────


def issue_login_token(
    session: Session,
    user: User,
    *,
    kind: TokenKind = "session",
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[str, AuthToken]:
    """A new login token for ``user`` (commits): the token, shown once, and its stored row.

    ``kind`` is "session" for the browser cookie or "bearer" for API clients; each is only
    accepted on its own channel. It expires after ``Settings.session_days``.
    """
    if kind not in TOKEN_KINDS:
        raise ValueError(f"token kind {kind!r} is not one of {', '.join(TOKEN_KINDS)}")
    if user.id is None:
        raise ValueError("user has no id: add and commit it before issuing a token")
    days = (settings or get_settings()).session_days
    created = now or utc_now()
    token = new_token()
    row = AuthToken(
        user_id=user.id,
        token_hash=hash_token(token),
        kind=kind,
        created_at=created,
        expires_at=created + timedelta(days=days),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return token, row


@dataclass(frozen=True)
class Login:
    """A valid login token's row, its active user, and whether the shop or courier the account
    belongs to (if any) is still active."""

    token: AuthToken
    user: User
    linked_active: bool


def find_login(
    session: Session,
    token: str,
    *,
    kind: TokenKind | None = None,
    now: datetime | None = None,
) -> Login | None:
    """The token's login (one query), or None if unknown, revoked, expired, of another
    ``kind`` or belonging to an inactive account."""
    (login,) = find_logins(session, [(token, kind)], now=now)
    return login


def find_logins(
    session: Session,
    tokens: Sequence[tuple[str, TokenKind | None]],
    *,
    now: datetime | None = None,
) -> list[Login | None]:
    """Each ``(token, kind)``'s login as ``find_login`` finds it, all in one query (requests
    that arrive together are authenticated together)."""
    if not tokens:
        return []
    hashes = [hash_token(token) for token, _ in tokens]
    found = {
        row.token_hash: (row, user, courier_active, shop_active)
        for row, user, courier_active, shop_active in session.exec(
            _LOGINS, params={"token_hashes": sorted(set(hashes))}
        )
    }
    moment = now or utc_now()
    logins: list[Login | None] = []
    for token_hash, (_, kind) in zip(hashes, tokens, strict=True):
        match = found.get(token_hash)
        if match is None:
            logins.append(None)
            continue
        row, user, courier_active, shop_active = match
        if (kind is not None and row.kind != kind) or row.expires_at <= moment or not user.active:
            logins.append(None)
            continue
        linked_active = (user.courier_id is None or bool(courier_active)) and (
            user.shop_id is None or bool(shop_active)
        )
        logins.append(Login(row, user, linked_active))
    return logins


def verify_login_token(
    session: Session,
    token: str,
    *,
    kind: TokenKind | None = None,
    now: datetime | None = None,
) -> tuple[AuthToken, User] | None:
    """The token's row and active user, or None if unknown, revoked, expired, of another
    ``kind`` or belonging to an inactive account."""
    login = find_login(session, token, kind=kind, now=now)
    return None if login is None else (login.token, login.user)


#: Built once: every authenticated request runs it (a GPS batch every few seconds per phone).
_LOGINS: Final = (
    select(AuthToken, User, col(Courier.active), col(Shop.active))
    .join(User, col(User.id) == col(AuthToken.user_id))
    .outerjoin(Courier, col(Courier.id) == col(User.courier_id))
    .outerjoin(Shop, col(Shop.id) == col(User.shop_id))
    .where(col(AuthToken.token_hash).in_(bindparam("token_hashes", expanding=True)))
)


def revoke_login_token(session: Session, token: str) -> bool:
    """Forget a login token (commits); whether it existed. Revoked means deleted."""
    result = session.exec(delete(AuthToken).where(col(AuthToken.token_hash) == hash_token(token)))
    session.commit()
    return bool(result.rowcount)


def revoke_user_tokens(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """Log a user out everywhere (commits), except the token row ``keep``; how many went."""
    statement = delete(AuthToken).where(col(AuthToken.user_id) == user_id)
    if keep is not None:
        statement = statement.where(col(AuthToken.id) != keep)
    result = session.exec(statement)
    session.commit()
    return int(result.rowcount)


def purge_expired_tokens(session: Session, *, now: datetime | None = None) -> int:
    """Delete expired login tokens (commits); how many. Expired ones are refused anyway."""
    result = session.exec(delete(AuthToken).where(col(AuthToken.expires_at) <= (now or utc_now())))
    session.commit()
    return int(result.rowcount)


# ── shop API tokens ────────────────────────────────────────────────────────────────────────


def create_shop_api_token(session: Session, shop: Shop) -> str:
    """A new API token for a shop's own e-shop (commits); shown once, replaces any old one."""
    token = SHOP_TOKEN_PREFIX + new_token()
    shop.api_token_hash = hash_token(token)
    session.add(shop)
    session.commit()
    session.refresh(shop)
    return token


def verify_shop_api_token(session: Session, token: str) -> Shop | None:
    """The active shop this API token belongs to, or None."""
    if not token.startswith(SHOP_TOKEN_PREFIX):
        return None
    shop = session.exec(select(Shop).where(Shop.api_token_hash == hash_token(token))).first()
    if shop is None or not shop.active:
        return None
    return shop


def revoke_shop_api_token(session: Session, shop: Shop) -> None:
    """Switch off a shop's API access until a new token is created (commits)."""
    shop.api_token_hash = None
    session.add(shop)
    session.commit()


# ── order tracking and parcel labels ───────────────────────────────────────────────────────


def new_tracking_token() -> str:
    """The secret in an order's public tracking link: 192 random bits (32 characters).

    Stored as is (the link must be rebuildable for the customer's e-mail); being unguessable
    is what keeps other people's deliveries private.
    """
    return secrets.token_urlsafe(24)


def normalize_label_code(text: str) -> str:
    """A label code as typed or scanned: upper case, without spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


def new_label_code(session: Session, *, length: int = LABEL_LENGTH, attempts: int = 32) -> str:
    """A short parcel label code no stored or pending parcel has.

    Six characters of a 30-letter alphabet (7 × 10⁸ codes): short enough to read out at a
    shop's counter, checked against the database, and the unique index catches the rare race.
    """
    with session.no_autoflush:
        pending = {obj.label_code for obj in session.new if isinstance(obj, Parcel)}
        for _ in range(attempts):
            code = "".join(secrets.choice(LABEL_ALPHABET) for _ in range(length))
            if code in pending:
                continue
            taken = session.exec(select(Parcel.id).where(Parcel.label_code == code)).first()
            if taken is None:
                return code
    raise RuntimeError(f"no free label code after {attempts} attempts: use longer codes")
