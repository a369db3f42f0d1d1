"""The operator's set-up page: the town and its zone (drawn or imported), hubs, the window
schedule, the fleet, couriers and shifts, shops and accounts, and errors shown on the fields.

Tests that change the town use a town of their own (``fresh_pages``); the shared demo town
only sees forms the API refuses.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlmodel import col, select

from dispatch.models import BikeType, Courier, DeliveryWindow, Hub, Shift, Shop, Town, User
from tests.web.conftest import Pages

ZONE = ZoneInfo("Europe/Helsinki")
OPERATOR = "operator"
SECTIONS = [
    "Town",
    "Hubs",
    "Delivery windows",
    "Fleet",
    "Couriers and shifts",
    "Shops and accounts",
]


def open_setup(pages: Pages, *, phone: bool = False) -> Any:
    page = pages.open("/setup", login=pages.server.email(OPERATOR), phone=phone)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator(".setup-section .form-error").count() == 0
    return page


def success(page: Any, text: str) -> str:
    """Wait for a success message holding ``text``; return the whole message."""
    alert = page.locator("#alert[data-kind=success]", has_text=text)
    alert.wait_for()
    return str(alert.inner_text())


def local_day(offset: int) -> str:
    return (datetime.now(ZONE).date() + timedelta(days=offset)).isoformat()


def test_every_section_loads_at_desktop_and_phone(pages: Pages, screenshot: Any) -> None:
    page = open_setup(pages)
    assert [h.inner_text() for h in page.locator("section > h2").all()] == SECTIONS
    with pages.server.session() as session:
        hubs = len(session.exec(select(Hub)).all())
        shops = len(session.exec(select(Shop)).all())
        couriers = len(session.exec(select(Courier)).all())
        town = session.exec(select(Town)).one()
    assert page.get_by_label("Name", exact=True).first.input_value() == town.name
    assert page.locator("#hub-list li").count() == hubs
    assert page.locator("#shop-list > li").count() == shops
    assert page.locator("#courier-list li").count() == couriers
    assert page.locator("#window-list tr").count() >= 1
    assert page.locator("#zone-map").get_attribute("data-base") == "network"
    screenshot(page, "setup-desktop")
    phone = open_setup(pages, phone=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    screenshot(phone, "setup-phone")


def test_the_town_is_renamed_and_its_zone_drawn(fresh_pages: Pages, screenshot: Any) -> None:
    page = open_setup(fresh_pages)
    page.get_by_label("Name", exact=True).first.fill("Velo Helsinki")
    page.get_by_role("button", name="Draw a new zone").click()
    zone_map = page.locator("#zone-map")
    box = zone_map.bounding_box()
    assert box is not None
    corners = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    for fx, fy in corners:
        zone_map.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    assert page.locator("#zone-status").inner_text().startswith("Drawing: 4 points")
    page.get_by_role("button", name="Finish zone").click()
    assert zone_map.get_attribute("data-zone-points") == "4"
    page.get_by_role("button", name="Save town").click()
    assert success(page, 'Town "Velo Helsinki" saved.') == 'Town "Velo Helsinki" saved.'
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "setup-zone", full_page=False)

    with fresh_pages.server.session() as session:
        town = session.exec(select(Town)).one()
    assert town.name == "Velo Helsinki"
    assert town.zone is not None
    ring = town.zone[0]
    assert len(ring) == 5
    assert ring[0] == ring[-1]
    lons = sorted({round(p[0], 6) for p in ring})
    lats = sorted({round(p[1], 6) for p in ring})
    assert len(lons) == 2
    assert len(lats) == 2
    assert 24.8 < lons[0] < lons[1] < 25.1
    assert 60.1 < lats[0] < lats[1] < 60.3
    assert page.locator(".topbar .brand").inner_text().strip() == "Velo Helsinki"


def test_a_geojson_zone_is_imported_and_a_hub_added(fresh_pages: Pages, tmp_path: Any) -> None:
    page = open_setup(fresh_pages)
    first = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.18], [24.93, 60.18]]  # left open
    feature = {
        "type": "Feature",
        "properties": {"name": "centre"},
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": [[first], [[[25.0, 60.2], [25.1, 60.2], [25.1, 60.3], [25.0, 60.2]]]],
        },
    }
    path = tmp_path / "zone.geojson"
    path.write_text(json.dumps(feature))
    page.get_by_label("Import a GeoJSON file").set_input_files(str(path))
    # The file is read asynchronously, and the town's own zone may have four points too: wait
    # for the import's words, then check the points.
    expect(page.locator("#zone-status")).to_contain_text("Imported from file: Zone of 4 points")
    assert page.locator("#zone-map").get_attribute("data-zone-points") == "4"
    page.get_by_role("button", name="Save town").click()
    success(page, "saved.")

    page.get_by_label("…or paste GeoJSON").fill('{"type": "Point", "coordinates": [24.9, 60.1]}')
    page.get_by_role("button", name="Use the pasted GeoJSON").click()
    assert page.locator("#zone-status").inner_text() == (
        "Could not use the pasted text: the GeoJSON holds no Polygon or MultiPolygon."
    )

    hub_map = page.locator("#hub-map")
    hub_map.scroll_into_view_if_needed()
    box = hub_map.bounding_box()
    assert box is not None
    hub_map.click(position={"x": box["width"] / 3, "y": box["height"] / 2})
    hubs = page.locator("#hubs")
    picked = (
        float(hubs.get_by_label("Latitude").input_value()),
        float(hubs.get_by_label("Longitude").input_value()),
    )
    hubs.get_by_label("Name").fill("Kallio depot")
    hubs.get_by_label("Opens").fill("06:30")
    hubs.get_by_label("Closes").fill("20:00")
    before = page.locator("#hub-list li").count()
    hubs.get_by_role("button", name="Add hub").click()
    assert success(page, 'Hub "Kallio depot" added.') == 'Hub "Kallio depot" added.'
    assert page.locator("#hub-list li").count() == before + 1

    with fresh_pages.server.session() as session:
        town = session.exec(select(Town)).one()
        hub = session.exec(select(Hub).where(col(Hub.name) == "Kallio depot")).one()
    assert town.zone == [[*first, first[0]]]
    assert (hub.opens, hub.closes) == ("06:30", "20:00")
    assert (hub.lat, hub.lon) == picked
    assert 60.1 < hub.lat < 60.3
    assert 24.8 < hub.lon < 25.1


def test_windows_fleet_couriers_and_shifts_are_set_up(fresh_pages: Pages) -> None:
    page = open_setup(fresh_pages)
    windows = page.locator("#windows")
    for day in ["Sat", "Sun"]:
        windows.get_by_label(day).check()
    windows.get_by_label("Start", exact=True).fill("18:00")
    windows.get_by_label("End", exact=True).fill("20:00")
    windows.get_by_label("Orders close before the start").fill("2")
    windows.get_by_label("Unit").select_option(label="hours")
    windows.get_by_label("First day").fill(local_day(2))
    windows.get_by_label("Number of days").fill("2")
    windows.get_by_role("button", name="Create windows").click()
    assert success(page, "2 windows created.") == "2 windows created."
    rows = page.locator("#window-list tr", has_text="18:00–20:00")
    assert rows.count() == 2
    rows.first.get_by_role("button", name="Close").click()
    rows.first.locator(".badge", has_text="closed").wait_for()

    fleet = page.locator("#fleet")
    fleet.get_by_label("Name").fill("Long John")
    fleet.get_by_label("Load, kg").fill("80")
    fleet.get_by_label("Volume, litres").fill("300")
    fleet.get_by_label("Parcels").fill("12")
    fleet.get_by_label("Number of bikes").fill("3")
    fleet.get_by_label("Cooled box").check()
    fleet.get_by_role("button", name="Add bike type").click()
    assert success(page, 'Bike type "Long John" added.') == 'Bike type "Long John" added.'
    page.locator("#bike-list tr", has_text="Long John").wait_for()

    couriers = page.locator("#couriers")
    couriers.get_by_label("Name").fill("Pekka Pyöräilijä")
    couriers.get_by_label("Phone").fill("+358 40 123 4567")
    couriers.get_by_label("Bike type").select_option(label="Long John")
    couriers.get_by_role("button", name="Add courier").click()
    assert success(page, "Courier Pekka Pyöräilijä added.") == "Courier Pekka Pyöräilijä added."
    page.locator("#courier-list li", has_text="Pekka Pyöräilijä").wait_for()

    tomorrow = local_day(1)
    couriers.get_by_label("Day").fill(tomorrow)
    couriers.get_by_label("Courier").select_option(label="Pekka Pyöräilijä")
    couriers.get_by_label("Starts").fill("06:00")
    couriers.get_by_label("Ends").fill("09:30")
    couriers.get_by_role("button", name="Add shift").click()
    assert success(page, "Shift 06:00–09:30 added.") == "Shift 06:00–09:30 added."
    shift_row = page.locator("#shift-list li", has_text="Pekka Pyöräilijä")
    assert "06:00–09:30" in shift_row.inner_text()

    with fresh_pages.server.session() as session:
        made = session.exec(
            select(DeliveryWindow).where(
                col(DeliveryWindow.day) >= date.fromisoformat(local_day(2))
            )
        ).all()
        slots = [w for w in made if w.starts_at.astimezone(ZONE).strftime("%H:%M") == "18:00"]
        bike = session.exec(select(BikeType).where(col(BikeType.name) == "Long John")).one()
        courier = session.exec(select(Courier).where(col(Courier.name) == "Pekka Pyöräilijä")).one()
        shift = session.exec(select(Shift).where(col(Shift.courier_id) == courier.id)).one()
    assert len(slots) == 2
    assert sorted(w.status for w in slots) == ["closed", "open"]
    assert all(w.starts_at - w.cutoff_at == timedelta(hours=2) for w in slots)
    assert (bike.capacity_g, bike.capacity_ml, bike.capacity_parcels, bike.count) == (
        80_000,
        300_000,
        12,
        3,
    )
    assert bike.cooled
    assert not bike.trailer
    assert courier.bike_type_id == bike.id
    assert courier.phone == "+358 40 123 4567"
    start = datetime.fromisoformat(f"{tomorrow}T06:00").replace(tzinfo=ZONE)
    assert shift.starts_at == start
    assert shift.ends_at == start + timedelta(hours=3, minutes=30)


def test_a_shop_and_its_account_are_created(fresh_pages: Pages) -> None:
    page = open_setup(fresh_pages)
    shops = page.locator("#shops")
    shop_map = page.locator("#shop-map")
    shop_map.scroll_into_view_if_needed()
    box = shop_map.bounding_box()
    assert box is not None
    shop_map.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    assert shops.get_by_label("Latitude").input_value() != ""
    with fresh_pages.server.session() as session:
        near = session.exec(select(Shop).order_by(col(Shop.id))).first()
        assert near is not None
    # Right next to a demo shop, so the bikes can surely reach it.
    shops.get_by_label("Latitude").fill(str(near.lat + 0.0001))
    shops.get_by_label("Longitude").fill(str(near.lon))
    shops.get_by_label("Name", exact=True).first.fill("Pyöräkauppa Testi")
    shops.get_by_label("Kind of shop").fill("bike shop")
    shops.get_by_label("Address").fill("Testikatu 1")
    shops.get_by_label("Opening hours").fill("Mo-Fr 10:00-18:00")
    shops.get_by_role("button", name="Add shop").click()
    success(page, 'Shop "Pyöräkauppa Testi" added.')
    row = page.locator("#shop-list > li", has_text="Pyöräkauppa Testi")
    row.get_by_role("button", name="Create API token").click()
    token = page.locator("#token-value")
    token.wait_for()
    assert len(token.input_value()) >= 20
    row.get_by_role("button", name="Replace API token").wait_for()

    form = page.locator("#account-form")
    form.get_by_label("Role").select_option("shop")
    form.get_by_label("Shop").select_option(label="Pyöräkauppa Testi")
    form.get_by_label("E-mail").fill("kauppa@example.fi")
    form.get_by_label("Name").fill("Kaisa Kauppias")
    form.get_by_label("Password").fill("a long enough password")
    form.get_by_role("button", name="Create account").click()
    assert (
        success(page, "Account kauppa@example.fi created: it can log in now.")
        == "Account kauppa@example.fi created: it can log in now."
    )
    page.locator("#account-list tr", has_text="kauppa@example.fi").wait_for()

    with fresh_pages.server.session() as session:
        shop = session.exec(select(Shop).where(col(Shop.name) == "Pyöräkauppa Testi")).one()
        account = session.exec(select(User).where(col(User.email) == "kauppa@example.fi")).one()
    assert (shop.kind, shop.address, shop.opening_hours) == (
        "bike shop",
        "Testikatu 1",
        "Mo-Fr 10:00-18:00",
    )
    assert shop.api_token_hash is not None
    assert account.role == "shop"
    assert account.shop_id == shop.id

    login = fresh_pages.browser.new_context(base_url=fresh_pages.server.url)
    fresh_pages.contexts.append(login)
    answer = login.request.post(
        "/api/auth/login", data={"email": "kauppa@example.fi", "password": "a long enough password"}
    )
    assert answer.ok, answer.text()
    assert answer.json()["user"]["role"] == "shop"


def test_a_short_password_is_refused_on_its_field(pages: Pages) -> None:
    page = open_setup(pages)
    form = page.locator("#account-form")
    form.get_by_label("Role").select_option("dispatcher")
    assert form.get_by_label("Shop").is_hidden()
    form.get_by_label("E-mail").fill("short.password@example.fi")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Create account").click()
    note = form.locator("#account-password + .field-error")
    note.wait_for()
    assert note.inner_text() == "Password must be at least 10 characters"
    assert form.get_by_label("Password").get_attribute("aria-invalid") == "true"
    assert page.locator("#alert").inner_text() == (
        "Some fields need fixing: see the notes under them."
    )
    with pages.server.session() as session:
        found = session.exec(select(User).where(col(User.email) == "short.password@example.fi"))
        assert found.first() is None


def test_a_window_ending_before_it_starts_is_refused_in_words(pages: Pages) -> None:
    page = open_setup(pages)
    windows = page.locator("#windows")
    windows.get_by_role("button", name="Add a slot").click()
    windows.get_by_label("Start", exact=True).nth(1).fill("12:00")
    windows.get_by_label("End", exact=True).nth(1).fill("11:00")
    with pages.server.session() as session:
        before = len(session.exec(select(DeliveryWindow)).all())
    windows.get_by_role("button", name="Create windows").click()
    note = windows.locator(".setup-slot").nth(1).locator(".field-error")
    note.wait_for()
    assert note.inner_text() == "Slot 2 ends at 11:00, not after its start 12:00"
    assert windows.get_by_label("End", exact=True).nth(1).get_attribute("aria-invalid") == "true"
    with pages.server.session() as session:
        assert len(session.exec(select(DeliveryWindow)).all()) == before
