"""The HTML pages. Each page is a shell: the data comes from ``/api`` in the browser, with the
same cookie, so a page can never show more than its user's API answers do.

Pages for a role check the session cookie before rendering: no login sends the browser to
``/login`` (and back afterwards); a login of another role gets a page saying whose page it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select

from dispatch.api.deps import SESSION_COOKIE, SessionDep
from dispatch.models import Town, User
from dispatch.security import verify_login_token

WEB: Final = Path(__file__).parent
STATIC: Final = WEB / "static"
templates = Jinja2Templates(directory=WEB / "templates")

router = APIRouter(include_in_schema=False)

#: Who each role's home page is.
HOME: Final = {
    "operator": "/setup",
    "dispatcher": "/board",
    "shop": "/shop",
    "courier": "/courier",
    "customer": "/",
}
ROLE_NAMES: Final = {
    "operator": "operators",
    "dispatcher": "dispatchers",
    "shop": "shop accounts",
    "courier": "couriers",
    "customer": "customers",
}


def page_user(request: Request, session: Session) -> User | None:
    """The account behind the browser's session cookie, or None (no login, expired, revoked)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = verify_login_token(session, cookie, kind="session")
    if found is None or not found[1].active:
        return None
    return found[1]


def _town_name(session: Session) -> str:
    town = session.exec(select(Town)).first()
    return town.name if town is not None else "velocal"


def _town_zone(session: Session) -> str:
    town = session.exec(select(Town)).first()
    return town.time_zone if town is not None else "UTC"


def render(
    request: Request,
    session: Session,
    template: str,
    user: User | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` with what every page shows: the town, who is logged in, the time zone."""
    base = {
        "town_name": _town_name(session),
        "time_zone": _town_zone(session),
        "user": user,
        "home": HOME.get(user.role, "/") if user is not None else "/",
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


def role_page(
    request: Request, session: Session, template: str, roles: tuple[str, ...], **context: Any
) -> Response:
    """``template`` for a logged-in user of ``roles``; a redirect to log in, or a 403 page."""
    user = page_user(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if user.role not in roles:
        who = " and ".join(ROLE_NAMES[r] for r in roles)
        return render(
            request,
            session,
            "forbidden.html",
            user,
            status_code=403,
            page_for=who,
        )
    return render(request, session, template, user, **context)


# ── customers: shop fronts, checkout, tracking ─────────────────────────────────────────────


@router.get("/", response_class=HTMLResponse)
def shop_front(request: Request, session: SessionDep) -> Response:
    return render(request, session, "shops.html", page_user(request, session))


@router.get("/shops/{shop_id}", response_class=HTMLResponse)
def shop_page(shop_id: int, request: Request, session: SessionDep) -> Response:
    return render(
        request, session, "shop_products.html", page_user(request, session), shop_id=shop_id
    )


@router.get("/checkout", response_class=HTMLResponse)
def checkout(request: Request, session: SessionDep) -> Response:
    return render(request, session, "checkout.html", page_user(request, session))


@router.get("/t/{token}", response_class=HTMLResponse)
def tracking(token: str, request: Request, session: SessionDep) -> Response:
    response = render(request, session, "tracking.html", None, token=token)
    # The token is the key: keep it out of other sites' Referer headers.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ── log in ─────────────────────────────────────────────────────────────────────────────────


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep) -> Response:
    return render(request, session, "login.html", page_user(request, session))


# ── shops, couriers, dispatchers, operators ────────────────────────────────────────────────


@router.get("/shop", response_class=HTMLResponse)
def shop_console(request: Request, session: SessionDep) -> Response:
    return role_page(request, session, "shop_console.html", ("shop",))


@router.get("/shop/labels", response_class=HTMLResponse)
def shop_labels(request: Request, session: SessionDep) -> Response:
    return role_page(request, session, "shop_labels.html", ("shop",))


@router.get("/courier", response_class=HTMLResponse)
def courier_app(request: Request, session: SessionDep) -> Response:
    return role_page(request, session, "courier.html", ("courier",))


@router.get("/courier/manifest.webmanifest")
def courier_manifest() -> Response:
    """The courier app's PWA manifest (installable on a phone's home screen)."""
    return Response(
        (STATIC / "courier" / "manifest.webmanifest").read_bytes(),
        media_type="application/manifest+json",
    )


@router.get("/courier/sw.js")
def courier_service_worker() -> Response:
    """The courier app's service worker, served from /courier/ so that is its scope."""
    return Response(
        (STATIC / "courier" / "sw.js").read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/courier/"},
    )


@router.get("/board", response_class=HTMLResponse)
def dispatcher_board(request: Request, session: SessionDep) -> Response:
    return role_page(request, session, "board.html", ("dispatcher", "operator"))


@router.get("/report", response_class=HTMLResponse)
def day_report_page(request: Request, session: SessionDep) -> Response:
    """The day-end report: figures, tables and plots from ``/api/report/day``."""
    return role_page(request, session, "report.html", ("dispatcher", "operator"))


@router.get("/setup", response_class=HTMLResponse)
def operator_setup(request: Request, session: SessionDep) -> Response:
    return role_page(request, session, "setup.html", ("operator",))
