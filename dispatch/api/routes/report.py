"""The day-end report for dispatchers and operators: JSON for the page, CSV for a spreadsheet.

The figures and what they mean are in ``dispatch.report``. Staff only: the report names every
courier and sums every shop's deliveries.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from dispatch.api.deps import SessionDep, StaffUser
from dispatch.api.routes.setup import get_town
from dispatch.report import day_report, report_csv

router = APIRouter(prefix="/report", tags=["report"])

DayQuery = Annotated[date, Query(description="The town's local day, YYYY-MM-DD")]


@router.get("/day")
def read_day_report(session: SessionDep, user: StaffUser, day: DayQuery) -> dict[str, Any]:
    """Per window and per courier: deliveries done and failed, on-time rate, parcels, km
    ridden (planned path and GPS), and the CO₂ a diesel van would have emitted."""
    return day_report(session, get_town(session), day).to_dict()


@router.get("/day.csv")
def read_day_report_csv(session: SessionDep, user: StaffUser, day: DayQuery) -> Response:
    """The same report as CSV: a header, a row per courier per window, then the totals."""
    text = report_csv(day_report(session, get_town(session), day))
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="velocal-report-{day}.csv"'},
    )
