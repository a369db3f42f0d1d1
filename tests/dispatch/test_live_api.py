"""What the live pages stand on: GPS fixes from couriers' phones (stored once, checked one by
one, only on shift), shift start and end, loading at the hub, the window following its stops,
ride paths, the board's positions and the tracking page's courier position (only while the
delivery is next). Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from dispatch import position_writer
from dispatch.api.routes import courier as courier_routes
from dispatch.models import CourierPosition, DeliveryWindow, Order, Parcel, Position, Stop
from dispatch.models import utc_now as now_utc
from dispatch.position_writer import Posting
from dispatch.positions import Fix, IngestResult, NotOnShiftError
from tests.dispatch import test_orders_api as base
from tests.dispatch.test_orders_api import (
    World,
    live_headers,
    plan_route,
    ready_order,
)

fake_planning = base.fake_planning
app = base.app
client = base.client
world = base.world


@pytest.fixture
def heads(session: Session, world: World) -> dict[str, dict[str, str]]:
    return live_headers(session, world)


def fix(seq: int, *, minutes_ago: float = 1, **changes: Any) -> dict[str, Any]:
    body = {
        "seq": seq,
        "lat": 60.17 + seq * 1e-4,
        "lon": 24.94,
        "accuracy_m": 8.0,
        "at": (now_utc() - timedelta(minutes=minutes_ago)).isoformat(),
    }
    return {**body, **changes}


def start(client: TestClient, world: World, heads: dict[str, dict[str, str]]) -> None:
    shift_id = world.shifts[0].id
    answer = client.post(f"/api/courier/shifts/{shift_id}/start", headers=heads["aino"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "on_duty"


def send(client: TestClient, heads: dict[str, dict[str, str]], fixes: list[dict[str, Any]]) -> Any:
    return client.post(
        "/api/courier/positions",
        json={"device_id": "phone-1", "fixes": fixes},
        headers=heads["aino"],
    )


def stored(session: Session) -> int:
    return int(session.exec(select(func.count(col(Position.id)))).one())


def test_positions_need_a_shift_on_duty(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    refused = send(client, heads, [fix(1)])
    assert refused.status_code == 409
    assert refused.json()["detail"] == "not on shift: start your shift before sending positions"
    assert stored(session) == 0


def test_a_resent_batch_is_stored_once(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    start(client, world, heads)
    batch = [fix(1, minutes_ago=3), fix(2, minutes_ago=2), fix(3, minutes_ago=1)]
    first = send(client, heads, batch)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 3, "duplicates": 0, "rejected": []}
    again = send(client, heads, [*batch, fix(4, minutes_ago=0.5)])
    assert again.json() == {"stored": 1, "duplicates": 3, "rejected": []}
    assert stored(session) == 4
    latest = session.get(CourierPosition, world.couriers[0].id)
    assert latest is not None
    assert latest.lat == pytest.approx(60.17 + 4e-4)
    # An older fix arriving late is kept, but does not move the courier back.
    late = send(client, heads, [fix(5, minutes_ago=10, lat=60.1)])
    assert late.json()["stored"] == 1
    session.refresh(latest)
    assert latest.lat == pytest.approx(60.17 + 4e-4)


def test_another_couriers_device_name_does_not_shadow_fixes(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    start(client, world, heads)
    client.post(f"/api/courier/shifts/{world.shifts[1].id}/start", headers=heads["bo"])
    assert send(client, heads, [fix(1)]).json()["stored"] == 1
    theirs = client.post(
        "/api/courier/positions",
        json={"device_id": "phone-1", "fixes": [fix(1)]},
        headers=heads["bo"],
    )
    assert theirs.json() == {"stored": 1, "duplicates": 0, "rejected": []}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"lat": 91.0}, "lat 91.0 is not between -90 and 90"),
        ({"lon": -181.0}, "lon -181.0 is not between -180 and 180"),
        ({"lat": 0.0, "lon": 0.0}, "0, 0 is a phone's 'no fix yet', not a position"),
        ({"accuracy_m": 0.0}, "accuracy_m 0 is not within 0–250 m"),
        ({"accuracy_m": 900.0}, "accuracy_m 900 is not within 0–250 m"),
        ({"minutes_ago": -5}, "is in the future"),
        ({"minutes_ago": 7 * 60}, "is more than 6 h old"),
    ],
)
def test_impossible_fixes_are_refused_with_the_reason(
    client: TestClient,
    world: World,
    heads: dict[str, dict[str, str]],
    session: Session,
    changes: dict[str, Any],
    reason: str,
) -> None:
    start(client, world, heads)
    changes = dict(changes)  # the parameter is shared by both databases' runs
    minutes = changes.pop("minutes_ago", 1)
    answer = send(client, heads, [fix(1), fix(2, minutes_ago=minutes, **changes)])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stored"] == 1
    assert len(body["rejected"]) == 1
    assert body["rejected"][0]["seq"] == 2
    assert reason in body["rejected"][0]["reason"]
    assert stored(session) == 1


def test_a_malformed_batch_names_the_field(
    client: TestClient, world: World, heads: dict[str, dict[str, str]]
) -> None:
    start(client, world, heads)
    answer = client.post(
        "/api/courier/positions",
        json={"device_id": "bad id!", "fixes": [{**fix(1), "at": "yesterday"}]},
        headers=heads["aino"],
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"device_id", "fixes[0].at"}


def test_postings_grouped_in_one_call_each_get_their_own_answer(
    client: TestClient,
    world: World,
    heads: dict[str, dict[str, str]],
    session: Session,
    engine: Engine,
) -> None:
    """Requests arriving together are authenticated and stored in one transaction
    (``position_writer.handle``): each still gets what it would alone."""
    start(client, world, heads)  # Aino is on shift, Bo is not

    def posting(who: str | None, device: str | None, *seqs: int) -> Posting:
        token = heads[who]["Authorization"].removeprefix("Bearer ") if who else "no-such-token"
        fixes = [
            Fix(s, 60.17 + s * 1e-4, 24.94, 8.0, now_utc() - timedelta(minutes=1)) for s in seqs
        ]
        return Posting(token, "bearer", "bearer", device, fixes)

    outcomes = position_writer.handle(
        engine,
        courier_routes._posting_courier,
        [
            posting("aino", "phone-1", 1, 2),
            posting(None, "phone-1", 3),  # an unknown token
            posting("bakery", "phone-1", 4),  # a shop's login
            posting("bo", "phone-2", 5),  # a courier off shift
            posting("aino", None),  # Aino's login with a body that was not a batch
            posting("aino", "phone-1", 2, 3),  # the same phone again, one fix resent
        ],
    )
    first, unknown, shop, off_shift, no_batch, again = outcomes
    assert isinstance(first, IngestResult)
    assert (first.stored, first.duplicates) == (2, 0)
    assert isinstance(unknown, HTTPException)
    assert unknown.status_code == 401
    assert isinstance(shop, HTTPException)
    assert shop.status_code == 403
    assert isinstance(off_shift, NotOnShiftError)
    assert no_batch is None
    assert isinstance(again, IngestResult)
    assert (again.stored, again.duplicates) == (1, 1)
    assert sorted(session.exec(select(Position.seq)).all()) == [1, 2, 3]
    latest = session.get(CourierPosition, world.couriers[0].id)
    assert latest is not None
    assert latest.lat == pytest.approx(60.17 + 3e-4)


def test_shift_start_and_end_only_for_ones_own_shift(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    mine, theirs = world.shifts
    assert client.post(f"/api/courier/shifts/{theirs.id}/start", headers=heads["aino"]).json() == {
        "detail": f"shift {theirs.id} not found"
    }
    assert client.post(f"/api/courier/shifts/{mine.id}/end", headers=heads["aino"]).status_code == (
        409
    )
    start(client, world, heads)
    ended = client.post(f"/api/courier/shifts/{mine.id}/end", headers=heads["aino"])
    assert ended.json()["status"] == "off_duty"
    assert send(client, heads, [fix(1)]).status_code == 409


def hub_route(session: Session, world: World, order_id: int) -> list[Stop]:
    """Delivery stops only, as planning makes them in hub mode."""
    stops = plan_route(session, world, order_id)
    for name in [n for n in stops if n.startswith("pickup")]:
        session.delete(stops.pop(name))
    session.commit()
    return list(stops.values())


def test_loading_at_the_hub_then_delivering_runs_the_window(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    order_id = ready_order(client, world, heads)
    window = session.get(DeliveryWindow, world.window.id)
    assert window is not None
    window.status = "planned"
    session.add(window)
    session.commit()
    deliveries = hub_route(session, world, order_id)
    parcel = session.get(Parcel, deliveries[0].parcel_id)
    assert parcel is not None
    url = f"/api/courier/stops/{deliveries[0].id}/load"

    wrong = client.post(url, json={"label_code": "ZZZZZZ"}, headers=heads["aino"])
    assert wrong.status_code == 409
    assert "is not the code on its label" in wrong.json()["detail"]
    other = client.post(url, json={"label_code": parcel.label_code}, headers=heads["bo"])
    assert other.status_code == 404

    for stop in deliveries:
        parcel = session.get(Parcel, stop.parcel_id)
        assert parcel is not None
        loaded = client.post(
            f"/api/courier/stops/{stop.id}/load",
            json={"label_code": parcel.label_code.lower()},
            headers=heads["aino"],
        )
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["parcel_status"] == "picked_up"
        assert loaded.json()["status"] == "planned"
    first = client.post(
        f"/api/courier/stops/{deliveries[0].id}/deliver",
        json={"recipient": "Ann"},
        headers=heads["aino"],
    )
    assert first.status_code == 200, first.text
    session.refresh(window)
    assert window.status == "running"
    last = client.post(
        f"/api/courier/stops/{deliveries[1].id}/fail",
        json={"reason": "nobody home"},
        headers=heads["aino"],
    )
    assert last.status_code == 200, last.text
    session.refresh(window)
    assert window.status == "finished"
    order = session.get(Order, order_id)
    assert order is not None
    session.refresh(order)
    assert order.status == "partly_delivered"


def test_a_parcel_with_a_shop_pickup_is_not_loaded_at_the_hub(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    order_id = ready_order(client, world, heads)
    stops = plan_route(session, world, order_id)
    answer = client.post(
        f"/api/courier/stops/{stops['delivery0'].id}/load",
        json={"label_code": "whatever"},
        headers=heads["aino"],
    )
    assert answer.status_code == 409
    assert f"(stop {stops['pickup0'].id}), not at the hub" in answer.json()["detail"]


def test_route_and_board_draw_the_ride_from_the_hub_and_back(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    order_id = ready_order(client, world, heads)
    hub_route(session, world, order_id)
    route = client.get("/api/courier/route", headers=heads["aino"]).json()
    assert route["hub"] == {"name": "Hub", "lat": 60.18, "lon": 24.95}
    assert route["shift_status"] == "scheduled"
    path = route["trips"][0]["path"]
    assert len(path) > 2
    # It starts and ends near the hub (the path runs from the hub's nearest street).
    assert abs(path[0][0] - 60.18) < 0.01
    assert abs(path[-1][1] - 24.95) < 0.01
    paths = client.get(
        f"/api/board/windows/{world.window.id}/paths", headers=heads["dispatcher"]
    ).json()
    assert [p["path"] for p in paths] == [path]


def test_board_positions_and_tracking_show_the_courier_only_while_next(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    order_id = ready_order(client, world, heads)
    second_id = ready_order(client, world, heads)
    first = hub_route(session, world, order_id)
    order = session.get(Order, order_id)
    second = session.get(Order, second_id)
    assert order is not None
    assert second is not None
    # The second order's stops go after the first's on the same trip.
    extra = plan_route(session, world, second_id)
    for stop in extra.values():
        stop.trip_id = first[0].trip_id
        stop.sequence = 100 + stop.sequence
        session.add(stop)
    session.commit()

    def tracked(token: str) -> Any:
        return client.get(f"/api/track/{token}").json()

    assert tracked(order.tracking_token)["courier"] is None  # not on shift yet
    start(client, world, heads)
    assert tracked(order.tracking_token)["courier"] is None  # on shift, no fix yet
    send(client, heads, [fix(1)])
    board = client.get("/api/board/positions", headers=heads["dispatcher"]).json()
    assert [(p["courier_id"], p["courier_name"]) for p in board] == [
        (world.couriers[0].id, "Aino Virtanen")
    ]
    seen = tracked(order.tracking_token)["courier"]
    assert seen is not None
    assert seen["lat"] == pytest.approx(60.17 + 1e-4)
    assert tracked(second.tracking_token)["courier"] is None  # not next: nothing
    assert tracked(order.tracking_token)["destination"] == [order.lat, order.lon]
