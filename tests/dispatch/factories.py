"""Small helpers the dispatch API tests share: saving a row, a bearer header per role."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dispatch.security import ROLES, create_user, issue_login_token


def add(session: Session, obj: Any) -> Any:
    """Save one row and return it with its id."""
    session.add(obj)
    session.commit()
    session.refresh(obj)
    return obj


def role_headers(session: Session, password: str) -> dict[str, dict[str, str]]:
    """A bearer header per role (accounts made directly, no login round trip)."""
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES:
        user = create_user(session, f"{role}@velocal.test", password, role)
        token, _ = issue_login_token(session, user, kind="bearer")
        headers[role] = {"Authorization": f"Bearer {token}"}
    return headers
