"""The courier's phone app (/courier): the route in order with its map, loading at the hub with
label codes, deliveries and failures, GPS fixes while on duty, the offline queue, a re-planned
route announced, other couriers' routes kept out, and the installable app (manifest, service
worker, opening offline)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import expect
from sqlmodel import col, select

from dispatch.models import (
    CourierPosition,
    DeliveryPhoto,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Position,
    Shift,
    Stop,
    User,
)
from dispatch.planning import check_move, move_stop
from tests.web.conftest import LiveServer, Pages

#: A 1×1 PNG: the delivery photo.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class PlannedStop:
    id: int
    trip: int
    parcel_id: int
    label_code: str


@dataclass
class CourierRoute:
    email: str
    courier_id: int
    shift_id: int
    stops: list[PlannedStop]

    def first_trip(self) -> list[PlannedStop]:
        return [s for s in self.stops if s.trip == self.stops[0].trip]


def planned_routes(server: LiveServer) -> list[CourierRoute]:
    """The current plan's routes, the one with the most stops in its first trip first."""
    found: list[CourierRoute] = []
    with server.session() as session:
        plans = session.exec(select(Plan).where(col(Plan.current).is_(True))).all()
        for route in session.exec(
            select(PlanRoute)
            .where(col(PlanRoute.plan_id).in_([p.id for p in plans]))
            .order_by(col(PlanRoute.id))
        ):
            shift = session.get(Shift, route.shift_id)
            assert shift is not None
            user = session.exec(select(User).where(col(User.courier_id) == shift.courier_id)).one()
            rows = session.exec(
                select(Stop, PlanTrip, Parcel)
                .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
                .join(Parcel, col(Parcel.id) == col(Stop.parcel_id))
                .where(col(PlanTrip.route_id) == route.id)
                .order_by(col(PlanTrip.number), col(Stop.sequence))
            ).all()
            stops = [
                PlannedStop(stop.id or 0, trip.number, parcel.id or 0, parcel.label_code)
                for stop, trip, parcel in rows
            ]
            if stops:
                found.append(CourierRoute(user.email, shift.courier_id, shift.id or 0, stops))
    found.sort(key=lambda r: -len(r.first_trip()))
    return found


def geolocated(lat: float, lon: float) -> dict[str, Any]:
    return {
        "geolocation": {"latitude": lat, "longitude": lon, "accuracy": 8},
        "permissions": ["geolocation"],
    }


def wait_until(page: Any, check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` (e.g. a database query) until it answers something truthy.

    It waits with the page's clock, not ``time.sleep``: the tests' request routing runs on
    this thread, so a sleeping test would hold up the page's requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        page.wait_for_timeout(200)
    raise AssertionError(
        f"timed out waiting for {what} (GPS line: {page.locator('#gps-status').inner_text()!r})"
    )


def stop_row(server: LiveServer, stop_id: int) -> Stop:
    with server.session() as session:
        stop = session.get(Stop, stop_id)
        assert stop is not None
        return stop


def parcel_status(server: LiveServer, parcel_id: int) -> str:
    with server.session() as session:
        parcel = session.get(Parcel, parcel_id)
        assert parcel is not None
        return parcel.status


def open_route(pages: Pages, route: CourierRoute, path: str = "/courier") -> Any:
    hub = pages.server.summary.message.split("hub at ")[1].split(";")[0].split(",")
    page = pages.open(
        path,
        login=route.email,
        phone=True,
        context_options=geolocated(float(hub[0]), float(hub[1])),
    )
    page.locator("body[data-courier-ready]").wait_for()
    return page


def shown_stop_ids(page: Any) -> list[int]:
    return [
        int(i)
        for i in page.locator("li[data-stop-id]").evaluate_all(
            "items => items.map(li => li.dataset.stopId)"
        )
    ]


# ── read-only, on the shared demo town ─────────────────────────────────────────────────────


def test_the_route_lists_every_stop_in_order_with_its_map(pages: Pages, screenshot: Any) -> None:
    route = planned_routes(pages.server)[0]
    page = open_route(pages, route)
    assert shown_stop_ids(page) == [s.id for s in route.stops]
    assert page.locator("#shift-info").inner_text().endswith("km")
    expect(page.get_by_role("button", name="Start shift")).to_be_visible()

    first = page.locator(f'li[data-stop-id="{route.stops[0].id}"]')
    expect(first).to_have_class("courier-stop next")
    assert first.get_attribute("aria-current") == "step"
    expect(first.get_by_text("Next stop")).to_be_visible()
    href = first.get_by_role("link", name="Navigate").get_attribute("href") or ""
    with pages.server.session() as session:
        stop = session.get(Stop, route.stops[0].id)
        assert stop is not None
        assert href.endswith(f"to={stop.lat},{stop.lon}")
    hint = route.stops[0].label_code[-2:]
    expect(first).to_contain_text(f"label …{hint}")
    # Hub mode: deliveries wait for their parcel to be loaded at the hub.
    expect(first.get_by_text("Load this parcel at the hub first")).to_be_visible()
    expect(first.get_by_role("button", name="Confirm delivery")).to_have_count(0)
    load = page.locator(".courier-load").first
    expect(load.get_by_role("heading", name="Load at the hub")).to_be_visible()
    assert load.locator("li[data-parcel-for]").count() == len(route.first_trip())

    # The map: one line per trip, a numbered marker per stop and the hub.
    page.locator("#map[data-base]").wait_for()
    trips = len({s.trip for s in route.stops})
    expect(page.locator("#map path.courier-path")).to_have_count(trips)
    expect(page.locator("#map .leaflet-marker-pane .pin")).to_have_count(len(route.stops) + 1)
    screenshot(page, "courier-route", full_page=False)
    screenshot(page, "courier-phone")

    desktop = pages.open("/courier", login=route.email)
    desktop.locator("body[data-courier-ready]").wait_for()
    desktop.locator("#map .leaflet-marker-pane .pin").first.wait_for()
    # Not full page: the map is as tall as the window.
    screenshot(desktop, "courier-desktop", full_page=False)


def test_a_wrong_label_code_is_refused_in_words(pages: Pages) -> None:
    route = planned_routes(pages.server)[-1]
    stop = route.stops[0]
    page = open_route(pages, route)
    row = page.locator(f'li[data-parcel-for="{stop.id}"]')
    row.get_by_label("Label code").fill("NOT-IT")
    row.get_by_role("button", name="Confirm loaded").click()
    expect(row.get_by_role("alert")).to_contain_text("'NOT-IT' is not the code on its label")
    expect(row.get_by_label("Label code")).to_have_value("NOT-IT")
    assert parcel_status(pages.server, stop.parcel_id) == "ready"


def test_another_courier_cannot_open_this_couriers_route(pages: Pages) -> None:
    routes = planned_routes(pages.server)
    mine = routes[0]
    with pages.server.session() as session:
        other = session.exec(
            select(User).where(col(User.role) == "courier", col(User.courier_id) != mine.courier_id)
        ).first()
        assert other is not None
    page = pages.open(f"/courier?shift={mine.shift_id}", login=other.email, phone=True)
    page.locator("body[data-courier-ready]").wait_for()
    expect(page.locator("#route-state")).to_have_text(f"Shift {mine.shift_id} not found")
    assert page.locator("li[data-stop-id]").count() == 0
    html = page.content()
    for stop in mine.stops:
        assert f'data-stop-id="{stop.id}"' not in html
        assert stop.label_code[-2:] not in page.locator("#stops").inner_text()


def test_the_app_is_installable_and_opens_offline(pages: Pages) -> None:
    route = planned_routes(pages.server)[0]
    page = open_route(pages, route)
    manifest = page.request.get("/courier/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    data = json.loads(manifest.text())
    assert data["display"] == "standalone"
    assert data["scope"] == "/courier/"
    assert data["start_url"].startswith("/courier")
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in data["icons"]}
    for icon in data["icons"]:
        assert page.request.get(icon["src"]).ok
    assert page.locator('link[rel="manifest"]').get_attribute("href") == (
        "/courier/manifest.webmanifest"
    )
    worker = page.request.get("/courier/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    # /courier is where the server answers; the worker's scope is /courier/, the installed
    # app's start page (the worker answers it with /courier's page).
    page.wait_for_function(
        "navigator.serviceWorker.getRegistration('/courier/').then(r => !!(r && r.active))"
    )
    scope = page.evaluate("navigator.serviceWorker.getRegistration('/courier/').then(r => r.scope)")
    assert scope.endswith("/courier/")
    # The shell is cached: with no connection the installed app (/courier/) still opens,
    # with the route as last loaded.
    page.wait_for_function(
        "caches.open('velocal-courier-v1').then(c => c.keys()).then(k => k.length >= 10)"
    )
    page.context.set_offline(True)
    page.goto("/courier/")
    page.locator("body[data-courier-ready]").wait_for()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert shown_stop_ids(page) == [s.id for s in route.stops]
    expect(page.locator("#alert")).to_contain_text("You are offline")
    page.context.set_offline(False)


# ── walking a route, in a town of the test's own (SQLite and PostgreSQL) ───────────────────


def test_a_courier_starts_the_shift_reports_gps_loads_delivers_and_fails(
    fresh_pages: Pages, screenshot: Any
) -> None:
    server = fresh_pages.server
    route = planned_routes(server)[0]
    first, second = route.first_trip()[:2]
    page = open_route(fresh_pages, route)
    page.evaluate("window.velocalGpsMs = 500")
    expect(page.locator("#gps-status")).to_have_text("GPS: off duty")

    page.get_by_role("button", name="Start shift").click()
    expect(page.get_by_role("button", name="End shift")).to_be_visible()
    expect(page.locator("#shift-status")).to_have_text("on duty")
    with server.session() as session:
        shift = session.get(Shift, route.shift_id)
        assert shift is not None
        assert shift.status == "on_duty"

    def positions() -> list[Position]:
        with server.session() as session:
            return list(
                session.exec(
                    select(Position)
                    .where(col(Position.courier_id) == route.courier_id)
                    .order_by(col(Position.seq))
                )
            )

    expect(page.locator("#gps-status")).to_contain_text("GPS: last fix")
    fixes = wait_until(page, positions, "the first GPS fix")
    assert fixes[0].shift_id == route.shift_id
    assert fixes[0].accuracy_m == 8
    # Moved, and the app opened again (it goes on with the same phone's numbering).
    page.context.set_geolocation({"latitude": 60.1699, "longitude": 24.9384, "accuracy": 12})
    page.reload()
    page.locator("body[data-courier-ready]").wait_for()
    page.evaluate("window.velocalGpsMs = 500")
    moved = wait_until(page, lambda: [p for p in positions() if p.lat == 60.1699], "the moved fix")
    assert moved[0].seq > fixes[0].seq
    assert moved[0].device_id == fixes[0].device_id
    with server.session() as session:
        latest = session.get(CourierPosition, route.courier_id)
        assert latest is not None
        assert (latest.lat, latest.lon) == (60.1699, 24.9384)
    expect(page.locator("#gps-status")).to_contain_text(", sent")

    # Load the first parcel at the hub with its label code.
    row = page.locator(f'li[data-parcel-for="{first.id}"]')
    row.get_by_label("Label code").fill(first.label_code.lower())
    row.get_by_role("button", name="Confirm loaded").click()
    expect(row.get_by_text("Loaded", exact=True)).to_be_visible()
    assert parcel_status(server, first.parcel_id) == "picked_up"

    # Deliver it, with a photo.
    stop = page.locator(f'li[data-stop-id="{first.id}"]')
    stop.get_by_label("Recipient's name").fill("Helmi Korhonen")
    stop.get_by_label("Photo (optional)").set_input_files(
        {"name": "door.png", "mimeType": "image/png", "buffer": PNG}
    )
    screenshot(page, "courier-stop")
    stop.get_by_role("button", name="Confirm delivery").click()
    expect(stop).to_have_attribute("data-status", "done")
    done = stop_row(server, first.id)
    assert (done.status, done.recipient) == ("done", "Helmi Korhonen")
    assert parcel_status(server, first.parcel_id) == "delivered"
    with server.session() as session:
        photo = session.exec(
            select(DeliveryPhoto).where(col(DeliveryPhoto.stop_id) == first.id)
        ).one()
        assert photo.data == PNG
        assert photo.content_type == "image/png"
    # The delivered stop has collapsed; the next one is highlighted.
    expect(stop.locator("details")).to_be_visible()
    expect(page.locator(f'li[data-stop-id="{second.id}"]')).to_have_class("courier-stop next")

    # Load the second and report that it could not be delivered.
    row = page.locator(f'li[data-parcel-for="{second.id}"]')
    row.get_by_label("Label code").fill(second.label_code)
    row.get_by_role("button", name="Confirm loaded").click()
    expect(row.get_by_text("Loaded", exact=True)).to_be_visible()
    stop = page.locator(f'li[data-stop-id="{second.id}"]')
    stop.get_by_role("button", name="Could not deliver").click()
    stop.get_by_label("Reason").select_option("Nobody home")
    stop.get_by_label("Details (optional)").fill("rang twice")
    stop.get_by_role("button", name="Report failure").click()
    expect(stop).to_have_attribute("data-status", "failed")
    failed = stop_row(server, second.id)
    assert (failed.status, failed.failure_reason) == ("failed", "Nobody home: rang twice")

    page.get_by_role("button", name="End shift").click()
    expect(page.locator("#shift-status")).to_have_text("off duty")
    expect(page.locator("#gps-status")).to_have_text("GPS: off duty")


def test_a_changed_route_is_announced_and_offline_actions_wait(
    fresh_pages: Pages, screenshot: Any
) -> None:
    server = fresh_pages.server
    route = planned_routes(server)[0]
    page = open_route(fresh_pages, route)

    # The dispatcher moves one of this courier's stops to another courier: the open page
    # announces it and shows the route as it is now.
    expect(page.locator("#route-banner")).to_be_hidden()
    page.evaluate("window.velocalPollMs = 500")
    moved = move_a_stop_away(server, route)
    banner = page.get_by_role("status").filter(has_text="Your route has changed")
    expect(banner).to_be_visible(timeout=15000)
    route = next(r for r in planned_routes(server) if r.shift_id == route.shift_id)
    assert moved not in [s.id for s in route.stops]
    wait_until(
        page,
        lambda: shown_stop_ids(page) == [s.id for s in route.stops],
        "the changed route's stops",
    )
    page.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#route-banner")).to_be_hidden()

    first, second = route.first_trip()[:2]
    row = page.locator(f'li[data-parcel-for="{first.id}"]')
    row.get_by_label("Label code").fill(first.label_code)
    row.get_by_role("button", name="Confirm loaded").click()
    expect(row.get_by_text("Loaded", exact=True)).to_be_visible()

    page.context.set_offline(True)
    stop = page.locator(f'li[data-stop-id="{first.id}"]')
    stop.get_by_label("Recipient's name").fill("Oskari Laine")
    stop.get_by_role("button", name="Confirm delivery").click()
    # A load with a wrong code also waits; the API refuses it once back online.
    wrong = page.locator(f'li[data-parcel-for="{second.id}"]')
    wrong.get_by_label("Label code").fill("WRONG-CODE")
    wrong.get_by_role("button", name="Confirm loaded").click()
    expect(page.locator("#queue-status")).to_have_text("Waiting to send (2) · offline")
    expect(stop).to_have_attribute("data-status", "done")
    expect(stop.locator(".badge")).to_have_text("done · waiting to send")
    expect(wrong).to_contain_text("Loaded · waiting to send")
    screenshot(page, "courier-offline")
    assert stop_row(server, first.id).status == "planned"

    page.context.set_offline(False)
    expect(page.locator("#queue-status")).to_be_hidden()
    wait_until(page, lambda: stop_row(server, first.id).status == "done", "the queued delivery")
    assert stop_row(server, first.id).recipient == "Oskari Laine"
    refusal = wrong.get_by_role("alert")
    expect(refusal).to_contain_text("Not sent: ")
    expect(refusal).to_contain_text("'WRONG-CODE' is not the code on its label")
    expect(wrong.get_by_role("button", name="Confirm loaded")).to_be_visible()
    assert parcel_status(server, second.parcel_id) == "ready"


def move_a_stop_away(server: LiveServer, route: CourierRoute) -> int:
    """Move one of ``route``'s open stops to another courier's shift; the stop's id."""
    others = [r.shift_id for r in planned_routes(server) if r.shift_id != route.shift_id]
    with server.session() as session:
        shifts = session.exec(select(Shift.id).where(col(Shift.id).not_in([route.shift_id]))).all()
        candidates = others + [s for s in shifts if s is not None and s not in others]
        for stop in reversed(route.stops):
            if stop_row(server, stop.id).status != "planned":
                continue
            for shift_id in candidates[:6]:
                if check_move(session, stop.id, shift_id).ok:
                    move_stop(session, stop.id, shift_id, actor_user_id=None)
                    return stop.id
    raise AssertionError("no stop of the route could be moved")
