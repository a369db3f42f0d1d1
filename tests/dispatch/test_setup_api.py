"""The operator's set-up API: town, hubs, window schedule and windows, fleet, couriers, shifts,
shops and accounts; who may reach each endpoint, 404s, 422s naming the field, 409s with the
reason, and public models that leak no hashes.

Every test runs on SQLite and on PostgreSQL (``engine`` from ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.models import (
    BikeType,
    Courier,
    DeliveryWindow,
    Event,
    Hub,
    Shift,
    Shop,
    Town,
    User,
    utc_now,
)
from dispatch.security import verify_shop_api_token
from tests.dispatch.factories import add, role_headers

PASSWORD = "correct horse battery"
#: 2031-01-06 is a Monday; Helsinki is UTC+2 in January.
MONDAY = date(2031, 1, 6)
SQUARE = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.18], [24.93, 60.18], [24.93, 60.16]]


# ── fixtures ───────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(Settings(database_url="sqlite://"), engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def town(session: Session) -> Town:
    town = Town(name="Helsinki", time_zone="Europe/Helsinki")
    session.add(town)
    session.commit()
    session.refresh(town)
    return town


@pytest.fixture
def auth(session: Session) -> dict[str, dict[str, str]]:
    return role_headers(session, PASSWORD)


@pytest.fixture
def fleet(session: Session, town: Town) -> dict[str, Any]:
    """A hub, a bike type and a courier: what shifts need."""
    assert town.id is not None
    hub = add(session, Hub(town_id=town.id, name="Depot", lat=60.17, lon=24.94))
    bike = add(
        session,
        BikeType(
            town_id=town.id, name="Long John", capacity_g=80_000, capacity_ml=200_000,
            capacity_parcels=12,
        ),
    )  # fmt: skip
    courier = add(session, Courier(town_id=town.id, name="Kim", bike_type_id=bike.id))
    return {"hub": hub, "bike": bike, "courier": courier}


def soon(hours: float) -> datetime:
    """A whole-minute time ``hours`` from now (shifts must lie in the future)."""
    return (utc_now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


# ── the town ───────────────────────────────────────────────────────────────────────────────


def test_town_is_404_until_set_up_then_put_and_read(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """The operator sets the town up; a dispatcher reads it; the zone round-trips as GeoJSON."""
    missing = client.get("/api/town", headers=auth["operator"])
    assert missing.status_code == 404
    assert missing.json() == {"detail": "town (not set up yet: PUT /api/town) not found"}
    body = {
        "name": "Helsinki",
        "extract": "helsinki",
        "profile": "e_cargo_bike",
        "time_zone": "Europe/Helsinki",
        "mode": "direct",
        "zone": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    put = client.put("/api/town", json=body, headers=auth["operator"])
    assert put.status_code == 200, put.text
    read = client.get("/api/town", headers=auth["dispatcher"]).json()
    assert read == {"id": put.json()["id"], **body}
    again = client.put("/api/town", json={**body, "mode": "hub"}, headers=auth["operator"])
    assert again.json()["id"] == put.json()["id"]  # one town, changed in place
    assert again.json()["mode"] == "hub"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            {"zone": {"type": "Polygon", "coordinates": [[*SQUARE[:-1], [24.9, 60.2]]]}},
            "zone.coordinates: ring 0 is not closed: its last point must repeat the first",
        ),
        (
            {"zone": {"type": "Polygon", "coordinates": [[SQUARE[0], SQUARE[1], SQUARE[0]]]}},
            "zone.coordinates: ring 0 must be a closed ring of at least 4 [lon, lat] points",
        ),
        (
            {"zone": {"type": "Polygon", "coordinates": [[[60.1, 124.9], *SQUARE[1:]]]}},
            "zone.coordinates: ring 0, point 0 [60.1, 124.9] is not [lon, lat] on Earth",
        ),
        (
            {"zone": {"type": "Polygon", "coordinates": [[[24.9], *SQUARE[1:]]]}},
            "zone.coordinates: ring 0, point 0 must be [lon, lat] numbers",
        ),
        (
            {"zone": {"type": "Point", "coordinates": [SQUARE]}},
            "zone.type: must be one of 'Polygon'",
        ),
        (
            {"time_zone": "Mars/Olympus"},
            "time_zone: 'Mars/Olympus' is not an IANA time zone such as Europe/Helsinki",
        ),
        ({"mode": "drone"}, "mode: must be one of 'hub' or 'direct'"),
        ({"name": ""}, "name: must not be empty"),
    ],
)
def test_town_fields_are_checked_by_name(
    client: TestClient, auth: dict[str, dict[str, str]], change: dict[str, Any], detail: str
) -> None:
    """A bad zone, time zone, mode or name is a 422 naming the field."""
    body = {"name": "Helsinki", **change}
    response = client.put("/api/town", json=body, headers=auth["operator"])
    assert response.status_code == 422
    assert response.json()["detail"] == detail


# ── hubs ───────────────────────────────────────────────────────────────────────────────────


def test_hub_crud(client: TestClient, auth: dict[str, dict[str, str]], town: Town) -> None:
    """Create, list, read, change and delete a hub; hours are checked by field."""
    op = auth["operator"]
    created = client.post(
        "/api/hubs", json={"name": "Depot", "lat": 60.17, "lon": 24.94}, headers=op
    )
    assert created.status_code == 201
    hub = created.json()
    assert hub == {
        "id": hub["id"], "name": "Depot", "lat": 60.17, "lon": 24.94, "opens": "07:00",
        "closes": "21:00",
    }  # fmt: skip
    assert client.get("/api/hubs", headers=auth["dispatcher"]).json() == [hub]
    assert client.get(f"/api/hubs/{hub['id']}", headers=auth["dispatcher"]).json() == hub
    patched = client.patch(f"/api/hubs/{hub['id']}", json={"closes": "20:00"}, headers=op)
    assert patched.json()["closes"] == "20:00"
    bad = client.patch(f"/api/hubs/{hub['id']}", json={"closes": "06:00"}, headers=op)
    assert bad.status_code == 422
    assert bad.json()["detail"] == "closes: must be after opens (07:00)"
    bad = client.post(
        "/api/hubs", json={"name": "X", "lat": 91, "lon": 0, "opens": "7am"}, headers=op
    )
    assert (
        bad.json()["detail"]
        == "lat: must be at most 90.0; opens: '7am' must be a time of day as HH:MM"
    )
    assert client.delete(f"/api/hubs/{hub['id']}", headers=op).status_code == 204
    assert client.get(f"/api/hubs/{hub['id']}", headers=op).status_code == 404


def test_hub_with_shifts_is_not_deleted(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, fleet: dict[str, Any]
) -> None:
    hub, courier = fleet["hub"], fleet["courier"]
    add(session, Shift(courier_id=courier.id, hub_id=hub.id, starts_at=soon(2), ends_at=soon(6)))
    response = client.delete(f"/api/hubs/{hub.id}", headers=auth["operator"])
    assert response.status_code == 409
    assert response.json() == {"detail": f"hub {hub.id} has shifts: move or cancel them first"}


# ── windows ────────────────────────────────────────────────────────────────────────────────

SCHEDULE = {
    "weekdays": [0, 1, 2, 3, 4],
    "slots": [["10:00", "12:00"], ["14:00", "16:00"], ["17:00", "19:00"]],
    "same_day_cutoff_minutes": 90,
    "day_before_cutoff": "20:00",
    "max_orders": 40,
    "days": 7,
    "start_day": MONDAY.isoformat(),
}


def test_schedule_creates_windows_in_local_time_and_is_idempotent(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, town: Town
) -> None:
    """Five weekdays × three slots; times are Helsinki's, stored as UTC; a repeat adds nothing."""
    first = client.post("/api/windows/schedule", json=SCHEDULE, headers=auth["operator"])
    assert first.status_code == 201, first.text
    body = first.json()
    assert (len(body["created"]), body["existing"], body["past"]) == (15, 0, 0)
    monday_morning = body["created"][0]
    assert monday_morning["day"] == "2031-01-06"
    assert monday_morning["starts_at"] == "2031-01-06T08:00:00Z"
    assert monday_morning["ends_at"] == "2031-01-06T10:00:00Z"
    assert monday_morning["cutoff_at"] == "2031-01-06T06:30:00Z"
    assert monday_morning["day_before_cutoff_at"] == "2031-01-05T18:00:00Z"
    assert monday_morning["max_orders"] == 40
    assert monday_morning["status"] == "open"
    assert {w["day"] for w in body["created"]} == {
        (MONDAY + timedelta(days=n)).isoformat() for n in range(5)
    }
    rows = session.exec(select(DeliveryWindow)).all()
    assert rows[0].starts_at.tzinfo is not None

    again = client.post("/api/windows/schedule", json=SCHEDULE, headers=auth["operator"]).json()
    assert (again["created"], again["existing"]) == ([], 15)
    longer = client.post(
        "/api/windows/schedule", json={**SCHEDULE, "days": 8}, headers=auth["operator"]
    ).json()
    assert [w["day"] for w in longer["created"]] == ["2031-01-13"] * 3  # only the new Monday
    assert len(session.exec(select(DeliveryWindow)).all()) == 18
    listed = client.get("/api/windows?day=2031-01-13", headers=auth["dispatcher"]).json()
    assert [w["starts_at"][11:16] for w in listed] == ["08:00", "12:00", "15:00"]


def test_schedule_skips_slots_that_have_started(
    client: TestClient, auth: dict[str, dict[str, str]], town: Town
) -> None:
    body = {**SCHEDULE, "start_day": "2020-01-06", "days": 1}
    result = client.post("/api/windows/schedule", json=body, headers=auth["operator"]).json()
    assert (result["created"], result["past"]) == ([], 3)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"slots": [["12:00", "10:00"]]}, "slots: slot 0 ends at 10:00, not after its start 12:00"),
        ({"slots": [["10:00"]]}, "slots: slot 0 must be [start, end] as HH:MM"),
        ({"slots": [["10:00", "25:00"]]}, "slots: '25:00' must be a time of day as HH:MM"),
        ({"weekdays": [0, 7]}, "weekdays: [7] are not weekdays: use 0 (Monday) to 6 (Sunday)"),
        ({"weekdays": []}, "weekdays: must have at least 1 items"),
        ({"day_before_cutoff": "8pm"}, "day_before_cutoff: '8pm' must be a time of day as HH:MM"),
        ({"days": 0}, "days: must be at least 1"),
        ({"max_orders": 0}, "max_orders: must be at least 1"),
        ({"slot": []}, "slot: is not a known field"),
    ],
)
def test_schedule_fields_are_checked_by_name(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    town: Town,
    change: dict[str, Any],
    detail: str,
) -> None:
    response = client.post(
        "/api/windows/schedule", json={**SCHEDULE, **change}, headers=auth["operator"]
    )
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_schedule_cutoffs_must_come_in_order(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, town: Town
) -> None:
    """A same-day cutoff reaching back before the day-before cutoff is refused; nothing stays."""
    body = {**SCHEDULE, "same_day_cutoff_minutes": 15 * 60}
    response = client.post("/api/windows/schedule", json=body, headers=auth["operator"])
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "day_before_cutoff: must not be after the same-day cutoff of the 10:00 slot"
    )
    assert session.exec(select(DeliveryWindow)).all() == []


def test_schedule_needs_a_town(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    response = client.post("/api/windows/schedule", json=SCHEDULE, headers=auth["operator"])
    assert response.status_code == 404


def test_single_window_create_update_close(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, town: Town
) -> None:
    """A window outside the schedule; its times are checked; closing goes through lifecycle."""
    op = auth["operator"]
    body = {
        "starts_at": "2031-01-10T10:00:00+02:00",
        "ends_at": "2031-01-10T12:00:00+02:00",
        "cutoff_at": "2031-01-10T08:30:00+02:00",
    }
    created = client.post("/api/windows", json=body, headers=op)
    assert created.status_code == 201, created.text
    window = created.json()
    assert (window["day"], window["starts_at"]) == ("2031-01-10", "2031-01-10T08:00:00Z")
    duplicate = client.post("/api/windows", json=body, headers=op)
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == (
        f"window {window['id']} already starts at 2031-01-10T08:00:00+00:00"
    )
    bad = client.post("/api/windows", json={**body, "ends_at": body["starts_at"]}, headers=op)
    assert bad.json()["detail"] == "ends_at: must be after starts_at"
    naive = client.post("/api/windows", json={**body, "cutoff_at": "2031-01-10T08:30"}, headers=op)
    assert naive.json()["detail"] == "cutoff_at: must include a time zone"

    wid = window["id"]
    later = client.patch(
        f"/api/windows/{wid}", json={"cutoff_at": "2031-01-10T09:00:00+02:00", "max_orders": 5},
        headers=op,
    )  # fmt: skip
    assert (later.json()["cutoff_at"], later.json()["max_orders"]) == ("2031-01-10T07:00:00Z", 5)
    late = client.patch(
        f"/api/windows/{wid}", json={"cutoff_at": "2031-01-10T11:00:00+02:00"}, headers=op
    )
    assert late.status_code == 422
    assert late.json()["detail"] == "cutoff_at: must not be after starts_at"

    closed = client.post(f"/api/windows/{wid}/close", headers=op)
    assert closed.json()["status"] == "closed"
    event = session.exec(select(Event).where(Event.entity == "window")).one()
    assert (event.entity_id, event.action, event.to_status) == (wid, "close", "closed")
    twice = client.post(f"/api/windows/{wid}/close", headers=op)
    assert twice.status_code == 409
    assert twice.json()["detail"] == (
        f"window {wid}: cannot 'close' from 'closed': it is closed and not planned yet"
    )


# ── fleet, couriers, shifts ────────────────────────────────────────────────────────────────


def test_bike_type_crud(client: TestClient, auth: dict[str, dict[str, str]], town: Town) -> None:
    op = auth["operator"]
    body = {
        "name": "Bullitt", "capacity_g": 100_000, "capacity_ml": 250_000, "capacity_parcels": 10,
        "profile": "e_cargo_bike", "cooled": True, "trailer": False, "count": 3,
    }  # fmt: skip
    created = client.post("/api/bike-types", json=body, headers=op)
    assert created.status_code == 201
    bike = created.json()
    assert bike == {"id": bike["id"], **body}
    assert client.get("/api/bike-types", headers=auth["dispatcher"]).json() == [bike]
    patched = client.patch(f"/api/bike-types/{bike['id']}", json={"count": 4}, headers=op)
    assert patched.json()["count"] == 4
    bad = client.post(
        "/api/bike-types", json={**body, "profile": "car", "capacity_g": 0}, headers=op
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "capacity_g: must be at least 1; profile: must be one of 'cargo_bike' or 'e_cargo_bike'"
    )
    assert client.delete(f"/api/bike-types/{bike['id']}", headers=op).status_code == 204
    assert client.get(f"/api/bike-types/{bike['id']}", headers=op).status_code == 404


def test_courier_crud_and_bike_in_use(
    client: TestClient, auth: dict[str, dict[str, str]], fleet: dict[str, Any]
) -> None:
    op, bike = auth["operator"], fleet["bike"]
    created = client.post(
        "/api/couriers", json={"name": "Ana", "phone": "+358 40 1", "bike_type_id": bike.id},
        headers=op,
    )  # fmt: skip
    assert created.status_code == 201
    courier = created.json()
    assert courier == {
        "id": courier["id"], "name": "Ana", "phone": "+358 40 1", "bike_type_id": bike.id,
        "active": True,
    }  # fmt: skip
    unknown = client.post("/api/couriers", json={"name": "B", "bike_type_id": 999}, headers=op)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "bike_type_id: bike type 999 does not exist"
    renamed = client.patch(f"/api/couriers/{courier['id']}", json={"name": "Ana K."}, headers=op)
    assert renamed.json()["name"] == "Ana K."
    gone = client.delete(f"/api/couriers/{courier['id']}", headers=op)
    assert gone.json()["active"] is False
    in_use = client.delete(f"/api/bike-types/{bike.id}", headers=op)
    assert in_use.status_code == 409
    assert in_use.json()["detail"] == (
        f"bike type {bike.id} is ridden by couriers: change them first"
    )
    assert len(client.get("/api/couriers", headers=auth["dispatcher"]).json()) == 2


def test_shift_rules(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, fleet: dict[str, Any]
) -> None:
    """Shifts lie in the future, end after they start and never overlap the courier's others."""
    op, hub, courier = auth["operator"], fleet["hub"], fleet["courier"]

    def shift(start: datetime, end: datetime, **extra: Any) -> Any:
        body = {
            "courier_id": courier.id, "hub_id": hub.id, "starts_at": start.isoformat(),
            "ends_at": end.isoformat(), **extra,
        }  # fmt: skip
        return client.post("/api/shifts", json=body, headers=op)

    first = shift(soon(24), soon(28))
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]
    assert first.json()["status"] == "scheduled"

    past = shift(soon(-1), soon(3))
    assert past.status_code == 422
    assert past.json()["detail"] == "starts_at: must be in the future"
    backwards = shift(soon(30), soon(29))
    assert backwards.json()["detail"] == "ends_at: must be after starts_at"
    no_hub = shift(soon(30), soon(32), hub_id=999)
    assert no_hub.json()["detail"] == "hub_id: hub 999 does not exist"
    no_courier = shift(soon(30), soon(32), courier_id=999)
    assert no_courier.json()["detail"] == "courier_id: courier 999 does not exist"

    overlap = shift(soon(27), soon(30))
    assert overlap.status_code == 409
    expected = (
        f"overlaps shift {first_id} of courier {courier.id} "
        f"({soon(24).isoformat()} to {soon(28).isoformat()})"
    )
    assert overlap.json()["detail"] == expected
    adjacent = shift(soon(28), soon(30))
    assert adjacent.status_code == 201
    moved = client.patch(
        f"/api/shifts/{adjacent.json()['id']}", json={"starts_at": soon(27).isoformat()}, headers=op
    )
    assert moved.status_code == 409
    assert moved.json()["detail"] == expected
    assert session.get(Shift, adjacent.json()["id"]) is not None

    cancelled = client.delete(f"/api/shifts/{first_id}", headers=op)
    assert cancelled.json()["status"] == "cancelled"
    assert shift(soon(25), soon(27)).status_code == 201  # a cancelled shift frees the time
    listed = client.get(f"/api/shifts?courier_id={courier.id}", headers=auth["dispatcher"])
    assert [s["status"] for s in listed.json()] == ["cancelled", "scheduled", "scheduled"]
    stored = session.get(Shift, adjacent.json()["id"])
    assert stored is not None
    session.refresh(stored)
    assert stored.starts_at == soon(28)


# ── shops and accounts ─────────────────────────────────────────────────────────────────────


def test_a_shop_the_bikes_cannot_reach_is_refused(
    client: TestClient, auth: dict[str, dict[str, str]], town: Town
) -> None:
    """A shop set up far from every street a cargo bike may ride is a 422 on ``lat``, saying
    how far; moving an existing shop there is refused the same way."""
    op = auth["operator"]
    far = client.post("/api/shops", json={"name": "Far", "lat": 60.30, "lon": 24.60}, headers=op)
    assert far.status_code == 422
    [error] = far.json()["errors"]
    assert error["field"] == "lat"
    assert "from the nearest street a cargo bike can ride" in error["message"]
    near = client.post("/api/shops", json={"name": "Near", "lat": 60.17, "lon": 24.95}, headers=op)
    assert near.status_code == 201
    moved = client.patch(f"/api/shops/{near.json()['id']}", json={"lat": 60.30}, headers=op)
    assert moved.status_code == 422


def test_shop_crud_and_api_token_shown_once(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, town: Town
) -> None:
    """The token is in the POST's answer only; shop views say whether one exists, never it."""
    op = auth["operator"]
    created = client.post(
        "/api/shops", json={"name": "Kirja", "kind": "books", "lat": 60.17, "lon": 24.95},
        headers=op,
    )  # fmt: skip
    assert created.status_code == 201
    shop = created.json()
    assert shop["has_api_token"] is False
    assert "api_token_hash" not in shop
    assert "town_id" not in shop

    issued = client.post(f"/api/shops/{shop['id']}/api-token", headers=op)
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("vls_")
    found = verify_shop_api_token(session, token)
    assert found is not None
    assert found.id == shop["id"]
    read = client.get(f"/api/setup/shops/{shop['id']}", headers=auth["dispatcher"])
    assert read.json()["has_api_token"] is True
    assert token not in read.text
    stored = session.get(Shop, shop["id"])
    assert stored is not None
    assert stored.api_token_hash is not None
    assert stored.api_token_hash not in read.text

    patched = client.patch(
        f"/api/shops/{shop['id']}", json={"address": "Iso Roobertinkatu 1"}, headers=op
    )
    assert patched.json()["address"] == "Iso Roobertinkatu 1"
    bad = client.patch(f"/api/shops/{shop['id']}", json={"lon": 200}, headers=op)
    assert bad.json()["detail"] == "lon: must be at most 180.0"
    off = client.delete(f"/api/shops/{shop['id']}", headers=op).json()
    assert (off["active"], off["has_api_token"]) == (False, False)
    session.expire_all()
    assert verify_shop_api_token(session, token) is None
    assert [s["id"] for s in client.get("/api/setup/shops", headers=op).json()] == [shop["id"]]


def test_accounts(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    session: Session,
    town: Town,
    fleet: dict[str, Any],
) -> None:
    """Accounts of any role, linked to their shop or courier; deactivated ones cannot log in."""
    op = auth["operator"]
    assert town.id is not None
    shop = add(session, Shop(town_id=town.id, name="Leipä", lat=60.17, lon=24.95))
    body = {"email": "Kirsi@Leipa.fi", "password": PASSWORD, "role": "shop", "shop_id": shop.id}
    created = client.post("/api/accounts", json=body, headers=op)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account == {
        "id": account["id"], "email": "kirsi@leipa.fi", "name": "", "role": "shop",
        "shop_id": shop.id, "courier_id": None, "customer_id": None, "active": True,
    }  # fmt: skip
    assert "password" not in created.text

    duplicate = client.post("/api/accounts", json=body, headers=op)
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == "an account with email kirsi@leipa.fi already exists"
    no_shop = client.post(
        "/api/accounts", json={**body, "email": "x@y.fi", "shop_id": None}, headers=op
    )
    assert no_shop.json()["detail"] == "shop_id: is required for a shop account"
    courier_body = {
        "email": "kim@velocal.fi", "password": PASSWORD, "role": "courier",
        "courier_id": fleet["courier"].id,
    }  # fmt: skip
    courier = client.post("/api/accounts", json=courier_body, headers=op)
    assert courier.json()["courier_id"] == fleet["courier"].id
    wrong = client.post(
        "/api/accounts", json={**courier_body, "email": "k2@v.fi", "courier_id": 999}, headers=op
    )
    assert wrong.json()["detail"] == "courier_id: courier 999 does not exist"
    customer = client.post(
        "/api/accounts",
        json={"email": "asiakas@x.fi", "password": PASSWORD, "role": "customer", "name": "Aino"},
        headers=op,
    ).json()
    assert customer["customer_id"] is not None
    short = client.post(
        "/api/accounts", json={**body, "email": "a@b.fi", "password": "short"}, headers=op
    )
    assert short.json()["detail"] == "password: must be at least 10 characters"
    bad_role = client.post("/api/accounts", json={**body, "role": "admin"}, headers=op)
    assert bad_role.json()["detail"].startswith("role: must be one of 'operator', 'dispatcher'")

    login = client.post("/api/auth/login", json={"email": "kirsi@leipa.fi", "password": PASSWORD})
    assert login.status_code == 200
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    off = client.post(f"/api/accounts/{account['id']}/deactivate", headers=op)
    assert off.json()["active"] is False
    assert client.get("/api/me", headers=bearer).status_code == 401
    refused = client.post("/api/auth/login", json={"email": "kirsi@leipa.fi", "password": PASSWORD})
    assert refused.json() == {"detail": "this account is deactivated: ask the operator"}

    me = session.exec(select(User).where(User.email == "operator@velocal.test")).one()
    self_off = client.post(f"/api/accounts/{me.id}/deactivate", headers=op)
    assert self_off.status_code == 409
    listed = client.get("/api/accounts?role=shop", headers=auth["dispatcher"])
    assert [a["email"] for a in listed.json()] == ["shop@velocal.test", "kirsi@leipa.fi"]
    assert "password_hash" not in listed.text


# ── who may call what ──────────────────────────────────────────────────────────────────────

#: (method, path) of every set-up endpoint that changes something: operators only.
WRITES = [
    ("PUT", "/api/town"),
    ("POST", "/api/hubs"),
    ("PATCH", "/api/hubs/1"),
    ("DELETE", "/api/hubs/1"),
    ("POST", "/api/windows/schedule"),
    ("POST", "/api/windows"),
    ("PATCH", "/api/windows/1"),
    ("POST", "/api/windows/1/close"),
    ("POST", "/api/bike-types"),
    ("PATCH", "/api/bike-types/1"),
    ("DELETE", "/api/bike-types/1"),
    ("POST", "/api/couriers"),
    ("PATCH", "/api/couriers/1"),
    ("DELETE", "/api/couriers/1"),
    ("POST", "/api/shifts"),
    ("PATCH", "/api/shifts/1"),
    ("DELETE", "/api/shifts/1"),
    ("POST", "/api/shops"),
    ("PATCH", "/api/shops/1"),
    ("DELETE", "/api/shops/1"),
    ("POST", "/api/shops/1/api-token"),
    ("POST", "/api/accounts"),
    ("POST", "/api/accounts/1/deactivate"),
]
#: Set-up endpoints that only read: operators and dispatchers.
READS = [
    "/api/town",
    "/api/hubs",
    "/api/hubs/1",
    "/api/windows",
    "/api/windows/1",
    "/api/bike-types",
    "/api/bike-types/1",
    "/api/couriers",
    "/api/couriers/1",
    "/api/shifts",
    "/api/shifts/1",
    "/api/setup/shops",
    "/api/setup/shops/1",
    "/api/accounts",
    "/api/accounts/1",
]
OPERATOR_ONLY = "forbidden: this needs the role operator"
STAFF_ONLY = "forbidden: this needs the role operator or dispatcher"


def test_every_setup_endpoint_needs_a_login(client: TestClient) -> None:
    for method, path in [*WRITES, *(("GET", p) for p in READS)]:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == 'Bearer realm="velocal"'


def test_only_operators_change_the_setup(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """Dispatchers, shops, couriers and customers get 403 naming the role, before validation."""
    for role in ("dispatcher", "shop", "courier", "customer"):
        for method, path in WRITES:
            response = client.request(method, path, json={}, headers=auth[role])
            assert response.status_code == 403, (role, method, path)
            assert response.json() == {"detail": OPERATOR_ONLY}


def test_only_staff_read_the_setup(
    client: TestClient, auth: dict[str, dict[str, str]], town: Town
) -> None:
    for role in ("shop", "courier", "customer"):
        for path in READS:
            response = client.get(path, headers=auth[role])
            assert response.status_code == 403, (role, path)
            assert response.json() == {"detail": STAFF_ONLY}
    for role in ("operator", "dispatcher"):
        for path in READS:
            assert client.get(path, headers=auth[role]).status_code in (200, 404), (role, path)


def test_unknown_ids_are_404(
    client: TestClient, auth: dict[str, dict[str, str]], town: Town
) -> None:
    """Every id route answers 404 naming the thing, for reads and changes alike."""
    op = auth["operator"]
    cases = [
        ("GET", "/api/hubs/999", None, "hub 999 not found"),
        ("PATCH", "/api/hubs/999", {"name": "x"}, "hub 999 not found"),
        ("DELETE", "/api/hubs/999", None, "hub 999 not found"),
        ("GET", "/api/windows/999", None, "window 999 not found"),
        ("PATCH", "/api/windows/999", {"max_orders": 3}, "window 999 not found"),
        ("POST", "/api/windows/999/close", None, "window 999 not found"),
        ("GET", "/api/bike-types/999", None, "bike type 999 not found"),
        ("PATCH", "/api/bike-types/999", {"count": 1}, "bike type 999 not found"),
        ("DELETE", "/api/bike-types/999", None, "bike type 999 not found"),
        ("GET", "/api/couriers/999", None, "courier 999 not found"),
        ("PATCH", "/api/couriers/999", {"name": "x"}, "courier 999 not found"),
        ("DELETE", "/api/couriers/999", None, "courier 999 not found"),
        ("GET", "/api/shifts/999", None, "shift 999 not found"),
        ("PATCH", "/api/shifts/999", {}, "shift 999 not found"),
        ("DELETE", "/api/shifts/999", None, "shift 999 not found"),
        ("GET", "/api/setup/shops/999", None, "shop 999 not found"),
        ("PATCH", "/api/shops/999", {"name": "x"}, "shop 999 not found"),
        ("DELETE", "/api/shops/999", None, "shop 999 not found"),
        ("POST", "/api/shops/999/api-token", None, "shop 999 not found"),
        ("GET", "/api/accounts/999", None, "account 999 not found"),
        ("POST", "/api/accounts/999/deactivate", None, "account 999 not found"),
    ]
    for method, path, body, detail in cases:
        response = client.request(method, path, json=body, headers=op)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"detail": detail}, (method, path)


def test_another_towns_records_are_404(
    client: TestClient, auth: dict[str, dict[str, str]], session: Session, town: Town
) -> None:
    """Records of a second town row are not the town's: they answer like missing ones."""
    other = add(session, Town(name="Elsewhere"))
    hub = add(session, Hub(town_id=other.id, name="Far", lat=0, lon=0))
    response = client.get(f"/api/hubs/{hub.id}", headers=auth["operator"])
    assert response.json() == {"detail": f"hub {hub.id} not found"}
    assert client.get("/api/hubs", headers=auth["operator"]).json() == []
    assert utc_now().tzinfo is UTC
