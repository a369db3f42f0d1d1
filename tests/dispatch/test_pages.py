"""Who may open which page, the public map data, and the courier app's PWA files.

Pages are shells (their data comes from the API, which the authorization matrix checks); here:
logged out, a role page sends the browser to /login and back; another role's login gets a 403
page saying whose page it is; the public pages open for anyone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.api.deps import SESSION_COOKIE
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import Hub, Town
from dispatch.security import create_user, issue_login_token
from dispatch.web.pages import HOME

ROLE_PAGES = {
    "/shop": {"shop"},
    "/shop/labels": {"shop"},
    "/courier": {"courier"},
    "/board": {"dispatcher", "operator"},
    "/report": {"dispatcher", "operator"},
    "/setup": {"operator"},
}
PUBLIC_PAGES = ["/", "/shops/1", "/checkout", "/t/some-token", "/login"]


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with Session(engine) as session:
        town = Town(
            name="Testburg", zone=[[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.1]]]
        )
        session.add(town)
        session.commit()
        session.add(Hub(town_id=town.id or 0, name="Hub", lat=60.17, lon=24.94))
        session.commit()
    app = create_app(Settings(database_url="sqlite://", run_scheduler=False), engine)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def cookie_for(engine: Engine, role: str) -> dict[str, str]:
    with Session(engine) as session:
        user = create_user(session, f"{role}@pages.test", "a long password", role)  # type: ignore[arg-type]
        token, _ = issue_login_token(session, user, kind="session")
    return {SESSION_COOKIE: token}


@pytest.mark.parametrize("path", sorted(ROLE_PAGES))
def test_logged_out_role_pages_send_to_login_and_back(client: TestClient, path: str) -> None:
    answer = client.get(f"{path}?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={path.replace('/', '%2F')}%3Fx%3D1"


@pytest.mark.parametrize("role", ["operator", "dispatcher", "shop", "courier", "customer"])
def test_each_role_opens_its_pages_and_is_told_about_the_others(
    client: TestClient, engine: Engine, role: str
) -> None:
    client.cookies.update(cookie_for(engine, role))
    for path, roles in ROLE_PAGES.items():
        answer = client.get(path)
        if role in roles:
            assert answer.status_code == 200, (path, answer.text[:200])
        else:
            assert answer.status_code == 403, path
            assert "This page is for" in answer.text
            assert f'href="{HOME[role]}"' in answer.text


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_open_for_anyone(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert "<title>" in answer.text
    assert "Testburg" in answer.text


def test_tracking_page_keeps_its_token_out_of_referers(client: TestClient) -> None:
    assert client.get("/t/abc").headers["referrer-policy"] == "no-referrer"


def test_town_map_and_network_for_the_offline_base_map(client: TestClient) -> None:
    town = client.get("/api/town/map").json()
    assert town["name"] == "Testburg"
    assert town["centre"] == [60.17, 24.94]  # the hub
    assert town["zone"][0][0] == [24.9, 60.1]
    west, south, east, north = town["bounds"]
    assert west < 24.94 < east
    assert south < 60.17 < north
    answer = client.get("/api/town/network.geojson")
    assert answer.headers["content-type"] == "application/geo+json"
    collection: dict[str, Any] = json.loads(answer.content)
    kinds = {f["properties"]["kind"]: f for f in collection["features"]}
    assert set(kinds) == {"bike_path", "street"}
    pieces = sum(f["properties"]["pieces"] for f in collection["features"])
    lines = sum(len(f["geometry"]["coordinates"]) for f in collection["features"])
    assert pieces == lines > 1000  # the Helsinki centre network, one line per way piece
    again = client.get(
        "/api/town/network.geojson", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304


def test_address_suggestions_say_whether_they_are_in_the_zone(client: TestClient) -> None:
    found = client.get("/api/town/addresses", params={"q": "Mannerheimintie 5"}).json()
    assert found
    assert found[0]["label"].startswith("Mannerheimintie 5")
    assert all(isinstance(s["in_zone"], bool) for s in found)
    assert client.get("/api/town/addresses", params={"q": "x"}).json()["detail"] == (
        "query parameter q: must be at least 2 characters"
    )
