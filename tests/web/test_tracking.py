"""The customer's tracking page: status in words, window, timeline, parcels, the courier on the
map only while this delivery is the courier's next stop, and a wrong link in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlmodel import Session, col, select

from dispatch import lifecycle
from dispatch.models import (
    CourierPosition,
    DeliveryWindow,
    Event,
    Order,
    Parcel,
    PlanRoute,
    PlanTrip,
    Shift,
    Stop,
    utc_now,
)
from tests.web.conftest import Pages

ZONE = ZoneInfo("Europe/Helsinki")
HEADLINES = {"placed": "Being packed", "ready": "Packed", "out_for_delivery": "On its way"}


def order_events(session: Session, order: Order) -> int:
    query = select(Event).where(col(Event.entity) == "order", col(Event.entity_id) == order.id)
    return len(session.exec(query).all())


def route_stops(session: Session, route_id: int) -> list[Stop]:
    query = (
        select(Stop)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .where(col(PlanTrip.route_id) == route_id)
        .order_by(col(PlanTrip.number), col(Stop.sequence), col(Stop.id))
    )
    return list(session.exec(query).all())


def order_of(session: Session, stop: Stop) -> Order:
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    order = session.get(Order, parcel.order_id)
    assert order is not None
    return order


def hhmm(moment: Any) -> str:
    return str(moment.astimezone(ZONE).strftime("%H:%M"))


def test_the_status_window_timeline_and_parcels_show(pages: Pages, screenshot: Any) -> None:
    window_id = pages.server.summary.planned_window_id
    with pages.server.session() as session:
        order = session.exec(
            select(Order).where(col(Order.window_id) == window_id).order_by(col(Order.id))
        ).first()
        assert order is not None
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        events = order_events(session, order)
        parcels = session.exec(select(Parcel).where(col(Parcel.order_id) == order.id)).all()
        token, status = order.tracking_token, order.status
    page = pages.open(f"/t/{token}", phone=True)
    page.locator("#track-timeline li").first.wait_for()

    assert page.locator("#track-status").inner_text() == HEADLINES[status]
    assert page.locator("#track-timeline li").count() == events
    assert page.locator("#track-timeline li").first.inner_text().startswith("Order placed")
    assert (
        page.locator("#track-window")
        .inner_text()
        .endswith(f"{hhmm(window.starts_at)}–{hhmm(window.ends_at)}")
    )
    planned = page.locator("#track-planned").inner_text()
    assert planned.startswith("Arriving ")
    assert "is bringing it" in planned
    assert page.locator("#track-parcels li").count() == len(parcels)
    expect(page.locator("#track-map")).to_have_attribute("data-base", "network")
    assert page.locator("#track-map .pin-courier").count() == 0
    assert "Last refreshed" in page.locator("#track-refreshed").inner_text()
    screenshot(page, "tracking-phone")


def test_a_wrong_link_is_told_in_words(pages: Pages) -> None:
    page = pages.open("/t/not-a-real-token")
    page.get_by_role("heading", name="We can't find this order").wait_for()
    assert page.locator("#track-sentence").inner_text() == (
        "No order has this tracking link: check the link in your confirmation"
    )
    assert page.locator("#track-details").is_hidden()


def test_the_courier_shows_only_to_their_next_stop(fresh_pages: Pages, screenshot: Any) -> None:
    """A town of its own: this test starts a shift and moves its courier."""
    with fresh_pages.server.session() as session:
        route = session.exec(select(PlanRoute).order_by(col(PlanRoute.id))).first()
        assert route is not None
        assert route.id is not None
        shift = session.get(Shift, route.shift_id)
        assert shift is not None
        lifecycle.perform(session, shift, "start", actor_role="courier")
        stops = route_stops(session, route.id)
        # The courier loaded every parcel at the hub and has delivered the first one; the
        # next stop is the first stop of another order.
        for stop in stops:
            parcel = session.get(Parcel, stop.parcel_id)
            assert parcel is not None
            lifecycle.perform(session, parcel, "pick_up", actor_role="dispatcher")
        first = stops[0]
        lifecycle.perform(session, first, "complete", actor_role="courier")
        done_order = order_of(session, first)
        rest = [s for s in stops[1:] if order_of(session, s).id != done_order.id]
        next_order = order_of(session, rest[0])
        later = next(s for s in rest if order_of(session, s).id != next_order.id)
        later_order = order_of(session, later)
        at = utc_now() - timedelta(minutes=2)
        session.add(
            CourierPosition(
                courier_id=shift.courier_id,
                shift_id=shift.id,
                lat=first.lat,
                lon=first.lon,
                accuracy_m=8.0,
                at=at,
            )
        )
        session.commit()
        next_token, later_token = next_order.tracking_token, later_order.tracking_token
        courier_id, first_lat = shift.courier_id, first.lat
        session.refresh(next_order)
        next_status = next_order.status

    page = fresh_pages.open(f"/t/{next_token}?poll=1000")
    courier = page.locator("#track-map .pin-courier")
    courier.wait_for()
    assert page.locator("#track-status").inner_text() == HEADLINES[next_status]
    assert page.locator("#track-courier-note").inner_text().endswith(f"updated {hhmm(at)}.")
    answer = page.request.get(f"/api/track/{next_token}").json()
    assert answer["courier"]["lat"] == first_lat
    screenshot(page, "tracking-desktop")

    # The page refreshes itself: a new fix shows without reloading.
    moved = utc_now()
    with fresh_pages.server.session() as session:
        position = session.get(CourierPosition, courier_id)
        assert position is not None
        position.at = moved
        session.add(position)
        session.commit()
    page.wait_for_function(
        "text => document.getElementById('track-courier-note').textContent.endsWith(text)",
        arg=f"updated {hhmm(moved)}.",
    )

    other = fresh_pages.open(f"/t/{later_token}")
    other.locator("#track-timeline li").first.wait_for()
    other.locator("#track-map").wait_for()
    other.wait_for_function("document.getElementById('track-map').dataset.base !== undefined")
    assert other.locator("#track-map .pin-courier").count() == 0
    assert other.locator("#track-courier-note").inner_text() == (
        "The courier shows here when you are their next stop."
    )
    assert other.request.get(f"/api/track/{later_token}").json()["courier"] is None
