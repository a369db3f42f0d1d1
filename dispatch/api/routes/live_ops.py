"""Live operations on the board: each open stop's ETA from where its courier is, and the
alerts a dispatcher should act on (late, parcel not ready, off route, not moving, GPS silent).

Staff only. The clock is a dependency (``current_time``) so tests can replay a day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session, SQLModel

from dispatch.alerts import Alert, day_alerts, window_alerts
from dispatch.api.deps import SessionDep, SettingsDep, StaffUser
from dispatch.api.errors import NotFoundError
from dispatch.api.routes.orders import local_date
from dispatch.api.routes.setup import get_town
from dispatch.eta import RouteEta, window_etas
from dispatch.models import DeliveryWindow, utc_now

router = APIRouter(prefix="/board", tags=["board"])


def current_time() -> datetime:
    """Now, in UTC (a dependency: tests override it to replay a scripted ride)."""
    return utc_now()


NowDep = Annotated[datetime, Depends(current_time)]


class CourierFix(SQLModel):
    lat: float
    lon: float
    accuracy_m: float
    at: datetime
    age_s: float


class StopEtaView(SQLModel):
    stop_id: int
    parcel_id: int
    order_id: int
    kind: str
    status: str
    trip_number: int
    sequence: int
    planned_arrival: datetime
    eta: datetime
    #: Against the plan's time at the door; negative when early.
    minutes_late: float
    #: The end of the stop's window: an ETA after it is predicted late.
    latest: datetime


class RouteEtaView(SQLModel):
    route_id: int
    shift_id: int
    shift_status: str
    courier_id: int
    courier_name: str
    #: "position" when recomputed from the courier's latest fix, "plan" before any fix.
    based_on: str
    position: CourierFix | None
    stops: list[StopEtaView]


class AlertView(SQLModel):
    kind: str
    courier_id: int
    courier_name: str
    window_id: int
    route_id: int
    stop_ids: list[int]
    parcel_ids: list[int]
    since: datetime
    message: str


def _window(session: Session, window_id: int) -> DeliveryWindow:
    window = session.get(DeliveryWindow, window_id)
    if window is None or window.town_id != get_town(session).id:
        raise NotFoundError("window", window_id)
    return window


def route_view(estimate: RouteEta) -> RouteEtaView:
    """The board's shape of one route's estimate."""
    position = estimate.position
    age = estimate.position_age_s
    return RouteEtaView(
        route_id=estimate.route_id,
        shift_id=estimate.shift_id,
        shift_status=estimate.shift_status,
        courier_id=estimate.courier_id,
        courier_name=estimate.courier_name,
        based_on="plan" if position is None else "position",
        position=(
            CourierFix(
                lat=position.lat,
                lon=position.lon,
                accuracy_m=position.accuracy_m,
                at=position.at,
                age_s=round(age or 0.0, 1),
            )
            if position is not None
            else None
        ),
        stops=[
            StopEtaView(
                stop_id=s.stop_id,
                parcel_id=s.parcel_id,
                order_id=s.order_id,
                kind=s.kind,
                status=s.status,
                trip_number=s.trip_number,
                sequence=s.sequence,
                planned_arrival=s.planned_arrival,
                eta=s.eta,
                minutes_late=s.minutes_late,
                latest=s.latest,
            )
            for s in estimate.stops
        ],
    )


def alert_view(alert: Alert) -> AlertView:
    return AlertView(
        kind=alert.kind,
        courier_id=alert.courier_id,
        courier_name=alert.courier_name,
        window_id=alert.window_id,
        route_id=alert.route_id,
        stop_ids=alert.stop_ids,
        parcel_ids=alert.parcel_ids,
        since=alert.since,
        message=alert.message,
    )


@router.get("/windows/{window_id}/etas")
def read_window_etas(
    window_id: int, session: SessionDep, user: StaffUser, now: NowDep
) -> list[RouteEtaView]:
    """Per route of the window's current plan, per open stop: ETA, planned arrival, minutes
    late, and the courier's position with its age."""
    _window(session, window_id)
    return [route_view(estimate) for estimate in window_etas(session, window_id, now=now)]


@router.get("/alerts")
def read_alerts(
    session: SessionDep,
    user: StaffUser,
    settings: SettingsDep,
    now: NowDep,
    window_id: int | None = None,
) -> list[AlertView]:
    """The alerts of one window (``window_id``) or of every window of the town's today."""
    if window_id is not None:
        window = _window(session, window_id)
        alerts = window_alerts(session, window, now=now, settings=settings)
    else:
        town = get_town(session)
        alerts = day_alerts(session, town, local_date(town, now), now=now, settings=settings)
    return [alert_view(alert) for alert in alerts]
