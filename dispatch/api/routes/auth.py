"""Logging in and out, the caller's own account, and changing one's password.

A login sets the browser's HttpOnly session cookie and also returns a separate bearer token for
API clients, so script-readable JSON never contains the cookie's value.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import Field
from sqlmodel import Session, SQLModel

from dispatch.api.deps import (
    SESSION_COOKIE,
    CurrentAuth,
    CurrentUser,
    PresentedTokens,
    SessionDep,
    SettingsDep,
)
from dispatch.api.errors import InvalidFieldError, UnauthorizedError
from dispatch.config import Settings
from dispatch.models import User
from dispatch.security import (
    MIN_PASSWORD_LENGTH,
    authenticate,
    issue_login_token,
    revoke_login_token,
    revoke_user_tokens,
    set_password,
    verify_password,
)

router = APIRouter(tags=["auth"])

#: Longer input is refused before hashing, so a huge "password" cannot tie up argon2.
MAX_PASSWORD_LENGTH = 1024


class UserPublic(SQLModel):
    """An account as the API shows it: never the password hash."""

    id: int
    email: str
    name: str
    role: str
    shop_id: int | None
    courier_id: int | None
    customer_id: int | None


class LoginRequest(SQLModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class LoginResult(SQLModel):
    #: Send as ``Authorization: Bearer <token>``; the browser uses the cookie instead.
    token: str
    expires_at: datetime
    user: UserPublic


class PasswordChange(SQLModel):
    old_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


WRONG_LOGIN = "wrong email or password"


def public_user(user: User) -> UserPublic:
    """The public view of an account."""
    return UserPublic.model_validate(user, from_attributes=True)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """HttpOnly (no script reads it) and SameSite=Lax (no cross-site form posts carry it)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86_400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


@router.post("/auth/login")
def login(
    body: LoginRequest, response: Response, session: SessionDep, settings: SettingsDep
) -> LoginResult:
    """Log in with email and password: a session cookie and a bearer token.

    An unknown email and a wrong password get the same 401 after the same argon2 work.
    """
    user = authenticate(session, body.email, body.password)
    if user is None:
        raise UnauthorizedError(WRONG_LOGIN)
    if not user.active:
        raise UnauthorizedError("this account is deactivated: ask the operator")
    cookie_token, _ = issue_login_token(session, user, kind="session", settings=settings)
    bearer_token, bearer_row = issue_login_token(session, user, kind="bearer", settings=settings)
    set_session_cookie(response, cookie_token, settings)
    return LoginResult(token=bearer_token, expires_at=bearer_row.expires_at, user=public_user(user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    response: Response, session: SessionDep, settings: SettingsDep, tokens: PresentedTokens
) -> None:
    """Revoke the token(s) this request carries and clear the cookie; fine to repeat."""
    for token in tokens:
        revoke_login_token(session, token)
    clear_session_cookie(response, settings)


@router.get("/me")
def read_me(user: CurrentUser) -> UserPublic:
    """The logged-in account."""
    return public_user(user)


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, session: SessionDep, auth: CurrentAuth) -> None:
    """Change one's own password; every other login of the account is logged out."""
    _change_password(session, auth.user, body)
    assert auth.user.id is not None
    revoke_user_tokens(session, auth.user.id, keep=auth.token.id)


def _change_password(session: Session, user: User, body: PasswordChange) -> None:
    if not verify_password(user.password_hash, body.old_password):
        raise InvalidFieldError("old_password", "is not the current password")
    if body.new_password == body.old_password:
        raise InvalidFieldError("new_password", "must differ from the current password")
    set_password(session, user, body.new_password)
