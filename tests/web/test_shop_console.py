"""The shop console and its printable labels: packing a parcel, refusals in words, the QR code,
and one shop never seeing another's parcels.

The shared demo town's shop accounts 2–4 are this file's: the tests mark at most one parcel
ready and leave the other shops' parcels as seeded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from dispatch.models import BikeType, DeliveryWindow, Order, Parcel, Shop, Town, User
from tests.web.conftest import LiveServer, Pages

#: The demo shop accounts these tests use (shop1 and shop5+ belong to other page tests).
OUR_SHOPS = (2, 3, 4)


def shop_id_of(server: LiveServer, n: int) -> int:
    with server.session() as session:
        user = session.exec(select(User).where(User.email == server.email("shop", n))).one()
        assert user.shop_id is not None
        return user.shop_id


def parcel_ids_of(server: LiveServer, n: int) -> list[int]:
    with server.session() as session:
        query = select(Parcel.id).where(Parcel.shop_id == shop_id_of(server, n))
        return sorted(i for i in session.exec(query).all() if i is not None)


def awaiting_parcel(server: LiveServer, prefer: tuple[int, ...]) -> tuple[int, Parcel]:
    """(shop account number, parcel) of the first of ``prefer`` with a delivery parcel still
    to pack in an open window."""
    with server.session() as session:
        for n in prefer:
            parcel = session.exec(
                select(Parcel)
                .join(Order, col(Order.id) == col(Parcel.order_id))
                .join(DeliveryWindow, col(DeliveryWindow.id) == col(Order.window_id))
                .where(
                    col(Parcel.shop_id) == shop_id_of(server, n),
                    col(Parcel.status) == "awaiting",
                    col(Order.fulfilment) == "delivery",
                    col(DeliveryWindow.status) == "open",
                )
                .order_by(col(Parcel.id))
            ).first()
            if parcel is not None:
                return n, parcel
    raise AssertionError(f"no shop of {prefer} has a parcel to pack in the demo town")


def local_time(server: LiveServer, moment: datetime) -> str:
    with server.session() as session:
        zone = ZoneInfo(session.exec(select(Town)).one().time_zone)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime("%H:%M")


def listed_parcel_ids(page: Any) -> set[int]:
    page.get_by_label("All").check()
    page.locator(".shop-parcel").first.wait_for()
    ids = page.locator(".shop-parcel").evaluate_all("rows => rows.map(r => r.dataset.parcelId)")
    return {int(i) for i in ids}


def test_a_parcel_too_heavy_for_any_bike_is_refused_in_words(pages: Pages, screenshot: Any) -> None:
    n, parcel = awaiting_parcel(pages.server, (3, 4, 2))
    page = pages.open("/shop", login=pages.server.email("shop", n), phone=True)
    row = page.locator(f'[data-parcel-id="{parcel.id}"]')
    row.get_by_role("button", name="Mark ready").click()
    with pages.server.session() as session:
        largest_g = max(b.capacity_g for b in session.exec(select(BikeType)).all())
    assert largest_g < 900_000  # a weight over it, under the schema's own limit of 1000 kg
    row.get_by_label("Weight (kg)").fill(str(largest_g / 1000 + 50))
    row.get_by_role("button", name="Confirm ready").click()
    error = row.locator(".form-error")
    error.wait_for()
    assert error.inner_text() == (
        f"Weight (kg) is more than the largest bike carries ({largest_g / 1000:g} kg)."
    )
    assert row.get_by_label("Weight (kg)").get_attribute("aria-invalid") == "true"
    assert row.locator(".badge").inner_text() == "awaiting"
    with pages.server.session() as session:
        stored = session.get(Parcel, parcel.id)
        assert stored is not None
        assert (stored.status, stored.weight_g) == ("awaiting", parcel.weight_g)
    screenshot(page, "shop-console-phone")


def test_a_shop_marks_a_parcel_ready_without_a_reload(pages: Pages, screenshot: Any) -> None:
    n, parcel = awaiting_parcel(pages.server, (2, 4, 3))
    page = pages.open("/shop", login=pages.server.email("shop", n))
    row = page.locator(f'[data-parcel-id="{parcel.id}"]')
    assert row.locator(".badge").inner_text() == "awaiting"
    # the window's heading: when the parcels go to the hub, and that it is not planned yet
    section = page.locator(".shop-window", has=row)
    assert "Hand over at the hub by" in section.locator(".shop-handover").inner_text()
    assert "not planned yet" in section.locator(".shop-handover").inner_text()
    all_labels = section.get_by_role("link", name="Print all labels").get_attribute("href")
    assert all_labels is not None
    assert str(parcel.id) in all_labels.split("=")[1].split(",")
    assert row.get_by_role("link", name="Print label").get_attribute("href") == (
        f"/shop/labels?parcels={parcel.id}"
    )

    page.evaluate("window.stillTheSamePage = true")
    row.get_by_role("button", name="Mark ready").click()
    assert not row.get_by_role("button", name="Mark ready").is_visible()
    assert float(row.get_by_label("Weight (kg)").input_value()) == parcel.weight_g / 1000
    row.get_by_label("Pieces").fill("2")
    row.get_by_label("Weight (kg)").fill("1.25")
    row.get_by_label("Volume (litres)").fill("3.5")
    screenshot(page, "shop-console-form")
    row.get_by_role("button", name="Confirm ready").click()
    page.locator(f'[data-parcel-id="{parcel.id}"] .badge[data-status="ready"]').wait_for()
    assert page.evaluate("window.stillTheSamePage") is True
    row = page.locator(f'[data-parcel-id="{parcel.id}"]')
    assert row.get_by_role("button", name="Mark ready").count() == 0
    assert "2 pieces · 1.3 kg · 3.5 l" in row.inner_text()
    with pages.server.session() as session:
        stored = session.get(Parcel, parcel.id)
        assert stored is not None
        assert (stored.status, stored.count, stored.weight_g, stored.volume_ml) == (
            "ready",
            2,
            1250,
            3500,
        )
        assert stored.ready_at is not None
    screenshot(page, "shop-console-desktop")

    # "Waiting to pack" drops it at the next refresh; "All" still has it
    page.get_by_role("button", name="Refresh").click()
    row.wait_for(state="detached")
    page.get_by_label("All").check()
    row.wait_for()


def test_the_planned_window_shows_its_hub_hand_over_time(pages: Pages) -> None:
    n = 4
    summary = pages.server.summary
    page = pages.open("/shop", login=pages.server.email("shop", n))
    page.get_by_label("All").check()
    section = page.locator(f'.shop-window[data-window-id="{summary.planned_window_id}"]')
    section.wait_for()
    answer = page.request.get("/api/shop/pickups").json()
    mine = [p for p in answer if p["window_id"] == summary.planned_window_id]
    assert mine
    assert all(p["planned"] for p in mine)
    first = min(datetime.fromisoformat(p["at"]) for p in mine)
    expected = f"Hand over at the hub by {local_time(pages.server, first)}"
    assert section.locator(".shop-handover").inner_text() == f"{expected} planned"
    # the planned window's parcels are packed already, so "Waiting to pack" leaves them out
    page.get_by_label("Waiting to pack").check()
    section.wait_for(state="detached")


def test_the_label_shows_the_code_and_its_qr_code(pages: Pages, screenshot: Any) -> None:
    n = 4
    ids = parcel_ids_of(pages.server, n)[:2]
    with pages.server.session() as session:
        parcels = [session.get(Parcel, i) for i in ids]
        order_of = {p.id: session.get(Order, p.order_id) for p in parcels if p is not None}
        shop = session.get(Shop, shop_id_of(pages.server, n))
        assert shop is not None
    page = pages.open(
        f"/shop/labels?parcels={','.join(map(str, ids))}", login=pages.server.email("shop", n)
    )
    labels = page.locator(".parcel-label")
    labels.nth(len(ids) - 1).wait_for()
    assert labels.count() == len(ids)
    for label, parcel in zip(labels.all(), parcels, strict=True):
        assert parcel is not None
        assert label.locator(".parcel-label-code").inner_text() == parcel.label_code
        qr = label.get_by_role("img", name=f"QR code of label {parcel.label_code}")
        assert qr.get_attribute("src") == f"/api/shop/parcels/{parcel.id}/label.svg"
        qr.evaluate("img => img.complete || new Promise(done => img.onload = done)")
        assert qr.evaluate("img => img.naturalWidth") > 0
        svg = page.request.get(f"/api/shop/parcels/{parcel.id}/label.svg")
        assert svg.status == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in svg.text()[:200]
        assert label.locator(".parcel-label-address").inner_text() == order_of[parcel.id].address
        assert label.locator(".parcel-label-shop").inner_text() == shop.name
    print_button = page.get_by_role("button", name="Print")
    assert print_button.is_enabled()
    screenshot(page, "shop-labels")
    # on paper: only the labels, one per page
    page.emulate_media(media="print")
    assert not print_button.is_visible()
    assert not page.locator(".topbar").is_visible()
    assert labels.first.evaluate("node => getComputedStyle(node).breakAfter") == "page"
    assert labels.last.evaluate("node => getComputedStyle(node).breakAfter") == "auto"


def test_a_shop_cannot_see_another_shops_parcels(pages: Pages) -> None:
    shop_a, shop_b = 3, 4
    a_ids, b_ids = parcel_ids_of(pages.server, shop_a), parcel_ids_of(pages.server, shop_b)
    assert a_ids
    assert b_ids
    page = pages.open("/shop", login=pages.server.email("shop", shop_b))
    listed = listed_parcel_ids(page)
    assert listed == set(b_ids)
    assert not listed & set(a_ids)

    foreign = a_ids[0]
    page.goto(f"/shop/labels?parcels={foreign},{b_ids[0]}")
    missing = page.locator(".parcel-label-missing")
    missing.wait_for()
    assert missing.inner_text() == f"Parcel {foreign} not found"
    assert page.locator(".parcel-label").count() == 1
    assert page.locator(".parcel-label").get_attribute("data-parcel-id") == str(b_ids[0])

    assert page.request.get(f"/api/shop/parcels/{foreign}/label.svg").status == 404
    assert page.request.get(f"/api/shop/parcels/{foreign}/label").status == 404
    assert page.request.get(f"/api/shop/parcels/{b_ids[0]}/label.svg").status == 200
