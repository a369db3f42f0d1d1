"""The day-end report page: the day's figures as big numbers, plots as inline SVG with a bar
per courier and window, the tables, the factor's footnote and the CSV download.

The demo town's planned window gets a scripted afternoon (one delivery on time, one late,
one failed) in a town of the test's own, so the shared demo town stays untouched; the figures
the page shows are checked against ``dispatch.report.day_report`` on the same database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from dispatch.models import DeliveryWindow, Plan, PlanRoute, PlanTrip, Stop, Town
from dispatch.report import CSV_HEADER, DayReport, day_report
from tests.web.conftest import LiveServer, Pages


def script_the_day(server: LiveServer) -> tuple[str, DayReport]:
    """Deliveries of the planned window's first route: on time, late, failed."""
    window_id = server.summary.planned_window_id
    assert window_id is not None
    with server.session() as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        plan = session.exec(
            select(Plan).where(col(Plan.window_id) == window_id, col(Plan.current))
        ).first()
        assert plan is not None
        route = session.exec(
            select(PlanRoute).where(col(PlanRoute.plan_id) == plan.id).order_by(col(PlanRoute.id))
        ).first()
        assert route is not None
        stops = session.exec(
            select(Stop)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .where(col(PlanTrip.route_id) == route.id, col(Stop.kind) == "delivery")
            .order_by(col(PlanTrip.number), col(Stop.sequence))
        ).all()
        assert len(stops) >= 3, "the demo's first route has fewer than three deliveries"
        outcomes = [
            ("done", window.starts_at + timedelta(minutes=20)),
            ("done", window.ends_at + timedelta(minutes=15)),
            ("failed", window.starts_at + timedelta(minutes=40)),
        ]
        for stop, (status, at) in zip(stops, outcomes, strict=False):
            stop.status, stop.done_at = status, at
            session.add(stop)
        session.commit()
        day = window.day.isoformat()
        report = report_for(session, window.day)
    return day, report


def report_for(session: Session, day: Any) -> DayReport:
    town = session.exec(select(Town)).first()
    assert town is not None
    return day_report(session, town, day)


def open_report(pages: Pages, day: str, *, phone: bool = False) -> Any:
    page = pages.open(f"/report?day={day}", login=pages.server.email("dispatcher"), phone=phone)
    page.set_default_timeout(30_000)
    page.wait_for_function(f"document.body.dataset.reportDay === '{day}'")
    return page


def test_the_report_page_shows_the_days_figures_plots_and_csv(
    fresh_pages: Pages, screenshot: Any, tmp_path: Any
) -> None:
    day, report = script_the_day(fresh_pages.server)
    totals = report.totals
    assert (totals.done, totals.failed) == (2, 1)
    page = open_report(fresh_pages, day)

    assert page.get_by_role("heading", level=1).inner_text() == "Day-end report"
    assert page.locator("#day").input_value() == day
    figures = page.locator("#figures")
    rate = totals.on_time_rate
    assert rate is not None
    assert f"{round(rate * 100)} %" in figures.inner_text()
    assert f"{totals.on_time} of {totals.due} due" in figures.inner_text()
    assert f"{totals.ridden_m / 1000:.1f} km" in figures.inner_text()
    assert f"{totals.van_kg_co2e:.2f} kg" in figures.inner_text()

    # Plots: a bar per courier for the on-time rate and the CO₂, stacked bars per window.
    couriers = len(report.couriers)
    assert couriers >= 1
    rated = [c for c in report.couriers if c.figures.on_time_rate is not None]
    assert len(rated) >= 1
    assert page.locator("#plot-ontime rect.bar").count() == len(rated)
    assert page.locator("#plot-co2 rect.bar").count() == couriers
    done_bars = page.locator("#plot-windows rect.bar-done")
    assert done_bars.count() == len(report.windows)
    first_window = next(w for w in report.windows if w.planned)
    bar = page.locator(
        f'#plot-windows g[data-label] rect.bar-done[data-value="{first_window.figures.done}"]'
    )
    assert bar.count() >= 1
    km_bars = page.locator("#plot-km rect.bar-bike")
    assert km_bars.count() == couriers
    widths = [float(km_bars.nth(i).get_attribute("width") or 0) for i in range(couriers)]
    assert max(widths) > 0

    # Tables: a row per window and per courier, and the detailed rows.
    assert page.locator("#windows-table tbody tr").count() == len(report.windows)
    assert page.locator("#couriers-table tbody tr").count() == couriers
    assert page.locator("#rows-table tbody tr").count() == len(report.rows)
    assert "Day total" in page.locator("#windows-table tfoot").inner_text()
    footnotes = page.locator("#footnotes").inner_text()
    assert "0.25023" in footnotes
    assert "2024" in footnotes
    assert "DESNZ" in footnotes
    assert "approximation" in footnotes

    # The CSV link downloads the same day's report.
    link = page.get_by_role("link", name="Download CSV")
    assert link.get_attribute("href") == f"/api/report/day.csv?day={day}"
    with page.expect_download() as waiting:
        link.click()
    download = waiting.value
    path = tmp_path / "report.csv"
    download.save_as(str(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) == 1 + len(report.rows) + len(report.windows) + couriers + 1
    screenshot(page, "report-desktop")

    phone = open_report(fresh_pages, day, phone=True)
    assert phone.locator("#plot-ontime rect.bar").count() == len(rated)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, "the report scrolls sideways on a phone"
    screenshot(phone, "report-phone")


def test_another_day_says_there_is_nothing_to_report(pages: Pages) -> None:
    page = pages.open("/report?day=2001-01-01", login=pages.server.email("operator"))
    page.wait_for_function("document.body.dataset.reportDay === '2001-01-01'")
    assert "nothing to report" in page.locator("#report-status").inner_text()
    assert page.locator("#plot-ontime rect.bar").count() == 0
    assert "No deliveries due" in page.locator("#plot-ontime").inner_html()
    page.locator("#day-next").click()
    page.wait_for_function("document.body.dataset.reportDay === '2001-01-02'")
    assert "day=2001-01-02" in page.url
