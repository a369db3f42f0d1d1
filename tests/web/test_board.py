"""The dispatcher's live board: the day's windows, a window's plan on the map and as route
cards, planning (with the confirm dialog for an open window), moving a stop, refusals in words,
couriers' positions and routes that are done.

Read-only tests use the shared demo town; tests that plan or move take a town of their own.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from dispatch.models import (
    Courier,
    CourierPosition,
    DeliveryWindow,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    Town,
    utc_now,
)
from tests.web.conftest import LiveServer, Pages

TIMEOUT_MS = 90_000  # planning runs the solver for up to its time limit on a shared core


def current_plan(session: Session, window_id: int) -> Plan:
    plan = session.exec(
        select(Plan)
        .where(col(Plan.window_id) == window_id, col(Plan.current))
        .order_by(col(Plan.id).desc())
    ).first()
    assert plan is not None, f"window {window_id} has no current plan"
    return plan


def plan_routes(session: Session, plan_id: int) -> list[tuple[PlanRoute, Courier]]:
    rows = session.exec(
        select(PlanRoute, Courier)
        .join(Shift, col(Shift.id) == col(PlanRoute.shift_id))
        .join(Courier, col(Courier.id) == col(Shift.courier_id))
        .where(col(PlanRoute.plan_id) == plan_id)
        .order_by(col(PlanRoute.id))
    ).all()
    return [(route, courier) for route, courier in rows]


def route_stops(session: Session, route_id: int) -> list[Stop]:
    return list(
        session.exec(
            select(Stop)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .where(col(PlanTrip.route_id) == route_id)
            .order_by(col(PlanTrip.number), col(Stop.sequence))
        ).all()
    )


def board_path(server: LiveServer, window_id: int, *, poll: int | None = None) -> str:
    """``/board`` opened on ``window_id``'s day and window."""
    with server.session() as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        path = f"/board?day={window.day.isoformat()}&window={window_id}"
    return path + (f"&poll={poll}" if poll else "")


# A browser without Server-Sent Events: the board falls back to its poll.
WITHOUT_EVENT_SOURCE = "delete window.EventSource;"


def open_board(
    pages: Pages,
    window_id: int,
    *,
    poll: int | None = None,
    phone: bool = False,
    pushed: bool = True,
) -> Any:
    """The board on ``window_id``; ``pushed=False`` opens it without its live stream, so it
    updates only on its poll (first at once, then every ``poll`` ms)."""
    page = pages.open(
        board_path(pages.server, window_id, poll=poll),
        login=pages.server.email("dispatcher"),
        phone=phone,
        init_script=None if pushed else WITHOUT_EVENT_SOURCE,
    )
    page.set_default_timeout(30_000)
    page.locator(".board-route").first.wait_for()
    if not pushed:  # the first poll has answered: nothing redraws the board until the next
        expect(page.locator("#live")).to_contain_text("Live · updated", timeout=TIMEOUT_MS)
    return page


def planned_window(server: LiveServer) -> int:
    window_id = server.summary.planned_window_id
    assert window_id is not None
    return window_id


# ── read-only, on the shared demo town ─────────────────────────────────────────────────────


def test_the_board_shows_the_planned_window(pages: Pages, screenshot: Any) -> None:
    window_id = planned_window(pages.server)
    page = open_board(pages, window_id)
    with pages.server.session() as session:
        plan = current_plan(session, window_id)
        assert plan.id is not None
        routes = plan_routes(session, plan.id)
        stops = {route.id: route_stops(session, route.id or 0) for route, _ in routes}
        unassigned = len(plan.unassigned)

    assert page.get_by_role("heading", level=1).inner_text() == "Dispatch board"
    selected = page.locator(f'.board-window[data-window-id="{window_id}"]')
    assert selected.get_attribute("aria-pressed") == "true"
    assert "Plan ready" in selected.inner_text()
    assert page.get_by_role("button", name="Re-plan").is_visible()

    # One card per route of the current plan, with its courier and progress.
    cards = page.locator(".board-route")
    assert cards.count() == len(routes)
    for route, courier in routes:
        card = page.locator(f'.board-route[data-route-id="{route.id}"]')
        assert courier.name in card.locator("h3").inner_text()
        n = len(stops[route.id])
        assert f"0/{n} stops done" in card.inner_text()
        assert card.locator(".board-stop").count() == n
        assert card.get_attribute("data-route-state") == "planned"
        # Every stop can move to another courier of the plan, never to its own.
        first = card.get_by_label("Move stop 1 to")
        options = first.locator("option").all_inner_texts()
        assert courier.name not in options
        assert {c.name for r, c in routes if r.id != route.id} <= set(options)

    # The map: the offline base map, one numbered marker per stop, the hub.
    total = sum(len(s) for s in stops.values())
    page.locator(".leaflet-marker-icon.pin-stop").nth(total - 1).wait_for()
    assert page.locator(".leaflet-marker-icon.pin-stop").count() == total
    assert page.locator(".leaflet-marker-icon.pin-hub").count() == 1
    page.locator('#map[data-base="network"]').wait_for()
    page.locator(".leaflet-overlay-pane path").first.wait_for(state="attached")

    # Unassigned parcels in the API's words, and the summary line.
    assert page.locator("#unassigned > li").count() == unassigned
    assert page.locator("#unassigned-empty").is_visible() == (unassigned == 0)
    summary = page.locator("#plan-summary").inner_text()
    assert f"{len(routes)} route" in summary
    assert f"{total} stops" in summary
    assert f"{unassigned} unassigned" in summary

    # The recent events, newest first (the demo's planning wrote some).
    page.locator("#events > li").first.wait_for()
    assert 0 < page.locator("#events > li").count() <= 20
    assert page.locator("#events").get_by_text(f"Window {window_id} planned").count() >= 1
    screenshot(page, "board-desktop")


def test_the_board_works_on_a_phone(pages: Pages, screenshot: Any) -> None:
    window_id = planned_window(pages.server)
    page = open_board(pages, window_id, phone=True)
    page.locator('#map[data-base="network"]').wait_for()
    page.locator(".leaflet-marker-icon.pin-stop").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    # Windows first, then the map and the routes, then the events.
    windows_box = page.locator("#windows").bounding_box()
    map_box = page.locator("#map").bounding_box()
    events_box = page.locator("#events-heading").bounding_box()
    assert windows_box
    assert map_box
    assert events_box
    assert windows_box["y"] < map_box["y"] < events_box["y"]
    assert map_box["width"] > 300
    # A phone shows each route's summary; its stops open on a tap.
    first = page.locator(".board-route").first
    assert first.locator(".board-stop").first.is_hidden()
    first.locator("summary").click()
    first.get_by_label("Move stop 1 to").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first.locator("summary").click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "board-phone")


def test_another_day_without_windows_says_so(pages: Pages) -> None:
    page = pages.open("/board?day=2001-01-01", login=pages.server.email("dispatcher"))
    status = page.locator("#windows-status")
    status.get_by_text("No delivery windows on this day.").wait_for()
    assert page.locator(".board-window").count() == 0
    assert page.locator("#plan-button").is_hidden()
    # The day picker moves on by a day, and "Today" comes back to the town's today.
    page.get_by_role("button", name="Next day").click()
    page.wait_for_url(re.compile(r"day=2001-01-02"))
    page.get_by_role("button", name="Today").click()
    with pages.server.session() as session:
        town = session.exec(select(Town)).one()
        today = utc_now().astimezone(ZoneInfo(town.time_zone)).date()
    page.wait_for_url(re.compile(f"day={today.isoformat()}"))
    assert page.get_by_label("Day", exact=True).input_value() == today.isoformat()


def test_a_couriers_position_appears_on_the_map(pages: Pages) -> None:
    window_id = planned_window(pages.server)
    with pages.server.session() as session:
        plan = current_plan(session, window_id)
        route, courier = plan_routes(session, plan.id or 0)[-1]
        assert courier.id is not None
        courier_id, courier_name = courier.id, courier.name
        previous = session.get(CourierPosition, courier_id)
        kept = previous.model_dump() if previous is not None else None
        stop = route_stops(session, route.id or 0)[0]
        session.merge(
            CourierPosition(
                courier_id=courier_id,
                shift_id=route.shift_id,
                lat=stop.lat,
                lon=stop.lon,
                accuracy_m=12,
                at=utc_now() - timedelta(minutes=2),
            )
        )
        session.commit()
    try:
        page = open_board(pages, window_id, poll=1000)
        marker = page.locator(f'.leaflet-marker-icon.pin-courier[data-courier-id="{courier_id}"]')
        marker.wait_for()
        initials = "".join(part[0] for part in courier_name.split()[:2]).upper()
        assert marker.inner_text() == initials
        marker.hover()
        tip = page.locator(".leaflet-tooltip", has_text=courier_name)
        tip.wait_for()
        assert "fix 2 min ago" in tip.inner_text()
        assert "±12 m" in tip.inner_text()

        # The next poll moves the marker where the courier is now.
        before = marker.bounding_box()
        with pages.server.session() as session:
            fix = session.get(CourierPosition, courier_id)
            assert fix is not None
            fix.lat += 0.004
            fix.at = utc_now()
            session.add(fix)
            session.commit()
        page.wait_for_function(
            "([id, y]) => { const m = document.querySelector("
            '`.pin-courier[data-courier-id="${id}"]`);'
            " return m && Math.abs(m.getBoundingClientRect().y - y) > 5; }",
            arg=[courier_id, before["y"] if before else 0],
        )
    finally:
        with pages.server.session() as session:
            row = session.get(CourierPosition, courier_id)
            if row is not None:
                session.delete(row)
            if kept is not None:
                session.add(CourierPosition(**kept))
            session.commit()


# ── planning, moving and finishing, each on a town of its own ──────────────────────────────


def test_re_plan_and_plan_an_open_window(fresh_pages: Pages, screenshot: Any) -> None:
    server = fresh_pages.server
    window_id = planned_window(server)
    page = open_board(fresh_pages, window_id)

    page.get_by_role("button", name="Re-plan").click()
    button = page.locator("#plan-button")
    assert button.inner_text() == "Planning…"
    assert button.is_disabled()
    message = page.locator("#plan-message")
    message.get_by_text(re.compile(r"^Planned: \d+ routes?")).wait_for(timeout=TIMEOUT_MS)
    assert "solved in" in message.inner_text()
    with server.session() as session:
        plan = current_plan(session, window_id)
        old = session.get(Plan, server.summary.plan_id)
        assert old is not None
        assert not old.current
        assert plan.id != server.summary.plan_id
        routes = plan_routes(session, plan.id or 0)
    page.wait_for_function(f"document.querySelectorAll('.board-route').length === {len(routes)}")
    assert button.inner_text() == "Re-plan"

    # An open window before its cutoff: the dialog says planning closes it; Cancel keeps it open.
    with server.session() as session:
        window = session.exec(
            select(DeliveryWindow)
            .where(col(DeliveryWindow.status) == "open", col(DeliveryWindow.cutoff_at) > utc_now())
            .order_by(col(DeliveryWindow.starts_at))
        ).first()
        assert window is not None
        assert window.id is not None
        open_id = window.id
    page.goto(board_path(server, open_id))
    entry = page.locator(f'.board-window[data-window-id="{open_id}"]')
    entry.wait_for()
    assert entry.get_attribute("aria-pressed") == "true"
    assert "Not planned" in entry.inner_text()
    page.get_by_role("button", name="Plan now").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "closes it" in dialog.inner_text()
    screenshot(page, "board-close-dialog", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.is_hidden()
    with server.session() as session:
        window = session.get(DeliveryWindow, open_id)
        assert window is not None
        assert window.status == "open"

    page.get_by_role("button", name="Plan now").click()
    dialog.get_by_role("button", name="Close and plan").click()
    message.get_by_text(re.compile(r"^Planned: ")).wait_for(timeout=TIMEOUT_MS)
    with server.session() as session:
        window = session.get(DeliveryWindow, open_id)
        assert window is not None
        assert window.status == "planned"
        plan = current_plan(session, open_id)
    entry.get_by_text("Plan ready", exact=True).wait_for()
    assert page.get_by_role("button", name="Re-plan").is_visible()
    assert f"{len(plan.unassigned)} unassigned" in page.locator("#plan-summary").inner_text()
    assert page.locator("#unassigned > li").count() == len(plan.unassigned)


def a_move_the_planner_accepts(
    session: Session, routes: list[tuple[PlanRoute, Courier]]
) -> tuple[int, int, int, int, str] | None:
    """(route id, stop number on it, stop id, target shift id, target courier's name) of a
    move ``check_move`` accepts, as the API checks it; None if there is none."""
    from dispatch.planning import check_move

    for route, _ in routes:
        for number, stop in enumerate(route_stops(session, route.id or 0), start=1):
            for other, courier in routes:
                if other.id == route.id:
                    continue
                if check_move(session, stop.id or 0, other.shift_id).ok:
                    return route.id or 0, number, stop.id or 0, other.shift_id, courier.name
    return None


def test_move_a_stop_and_a_refusal_in_words(fresh_pages: Pages) -> None:
    server = fresh_pages.server
    window_id = planned_window(server)
    with server.session() as session:
        plan = current_plan(session, window_id)
        plan_id = plan.id or 0
        routes = plan_routes(session, plan_id)
        found = a_move_the_planner_accepts(session, routes)
        session.rollback()
    assert found is not None, "no stop of the demo plan can move to another courier"
    route_id, number, stop_id, target_shift, target_name = found

    # Without the live stream and with a ten-minute poll, nothing redraws the board while the
    # test changes a stop behind its back below (a pushed update would show it arrived).
    page = open_board(fresh_pages, window_id, poll=600_000, pushed=False)
    card = page.locator(f'.board-route[data-route-id="{route_id}"]')
    card.get_by_label(f"Move stop {number} to").select_option(label=target_name)
    card.locator(f'.board-stop[data-stop-id="{stop_id}"]').get_by_role(
        "button", name="Move"
    ).click()
    message = page.locator("#plan-message")
    message.get_by_text(f"to {target_name}.").wait_for(timeout=TIMEOUT_MS)
    assert message.inner_text().startswith("Moved the delivery for order")
    with server.session() as session:
        moved = session.get(Stop, stop_id)
        assert moved is not None
        trip = session.get(PlanTrip, moved.trip_id)
        assert trip is not None
        now_on = session.get(PlanRoute, trip.route_id)
        assert now_on is not None
        assert now_on.shift_id == target_shift
    target_card = page.locator(f'.board-route[data-shift-id="{target_shift}"]')
    target_card.locator(f'.board-stop[data-stop-id="{stop_id}"]').wait_for()

    # The courier reaches another stop while the board still shows it as planned: the move
    # is refused, in the API's words, and nothing changes.
    with server.session() as session:
        other = next(
            s
            for r, _ in plan_routes(session, plan_id)
            for s in route_stops(session, r.id or 0)
            if s.status == "planned" and r.shift_id != target_shift
        )
        other_id, other_trip = other.id, other.trip_id
        other.status = "arrived"
        session.add(other)
        session.commit()
    row = page.locator(f'.board-stop[data-stop-id="{other_id}"]')
    row.locator("select").select_option(label=target_name)
    row.get_by_role("button", name="Move").click()
    refusal = row.locator(".board-message")
    refusal.wait_for()
    assert refusal.inner_text() == f"Not moved: Stop {other_id} is arrived"
    assert not re.search(r"\b(409|422)\b", message.inner_text())
    assert f"Stop {other_id} is arrived" in message.inner_text()
    with server.session() as session:
        unchanged = session.get(Stop, other_id)
        assert unchanged is not None
        assert unchanged.trip_id == other_trip


def test_a_route_with_every_stop_done_says_route_done(fresh_pages: Pages) -> None:
    server = fresh_pages.server
    window_id = planned_window(server)
    page = open_board(fresh_pages, window_id, poll=1000)
    with server.session() as session:
        plan = current_plan(session, window_id)
        route, _ = plan_routes(session, plan.id or 0)[0]
        route_id = route.id
        stops = route_stops(session, route.id or 0)
        for stop in stops:
            stop.status = "done"
            stop.done_at = utc_now()
            session.add(stop)
        session.commit()
    card = page.locator(f'.board-route[data-route-id="{route_id}"]')
    page.locator(f'.board-route[data-route-id="{route_id}"][data-route-state="done"]').wait_for()
    assert card.locator(".badge").first.inner_text() == "Route done"
    assert f"{len(stops)}/{len(stops)} stops done" in card.inner_text()
    assert card.get_by_role("button", name="Move").count() == 0
    # The other routes are still planned; their stops on the map are not faded.
    others = page.locator('.board-route:not([data-route-state="done"])')
    assert others.count() == page.locator(".board-route").count() - 1
    faded = page.locator(".leaflet-marker-icon.pin-stop.pin-done")
    page.wait_for_function(
        "n => document.querySelectorAll('.leaflet-marker-icon.pin-stop.pin-done').length === n",
        arg=len(stops),
    )
    assert faded.count() == len(stops)
