"""The public tracking page's data: no login, the unguessable token in the link is the key.

It shows one order only: its status timeline, its window, when the courier is planned to come
(the current plan's delivery stops) and its parcels' statuses. Couriers appear by first name;
nothing about other orders or customers is reachable from here.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlmodel import Session, col, select

from dispatch.api.deps import SessionDep, SettingsDep
from dispatch.api.routes.live_ops import NowDep
from dispatch.eta import order_eta
from dispatch.models import (
    Courier,
    CourierPosition,
    DeliveryWindow,
    Event,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Shop,
    Stop,
)
from dispatch.schemas_orders import (
    TrackingCourier,
    TrackingParcel,
    TrackingPlanned,
    TrackingPublic,
    TrackingStep,
    TrackingWindow,
)

router = APIRouter(tags=["tracking"])

#: The same answer for every wrong token; the token itself is not echoed.
NO_SUCH_LINK = "no order has this tracking link: check the link in your confirmation"


def first_name(name: str) -> str:
    """What others see of a courier's name."""
    parts = name.split()
    return parts[0] if parts else ""


@router.get("/track/{token}")
def track_order(
    token: str, session: SessionDep, settings: SettingsDep, now: NowDep
) -> TrackingPublic:
    """One order's status, timeline, planned arrival and parcels, by its tracking token."""
    if not token or len(token) > 100:
        raise HTTPException(404, NO_SUCH_LINK)
    order = session.exec(select(Order).where(col(Order.tracking_token) == token)).first()
    if order is None:
        raise HTTPException(404, NO_SUCH_LINK)
    events = session.exec(
        select(Event)
        .where(col(Event.entity) == "order", col(Event.entity_id) == order.id)
        .order_by(col(Event.at), col(Event.id))
    )
    timeline = [TrackingStep(at=e.at, action=e.action, status=e.to_status) for e in events]
    rows = session.exec(
        select(Parcel, Shop)
        .join(Shop, col(Shop.id) == col(Parcel.shop_id))
        .where(col(Parcel.order_id) == order.id)
        .order_by(col(Parcel.id))
    ).all()
    parcels = [TrackingParcel(shop_name=shop.name, status=p.status) for p, shop in rows]
    window = session.get(DeliveryWindow, order.window_id) if order.window_id else None
    eta, close = order_eta(
        session,
        [p.id for p, _ in rows if p.id is not None],
        now=now,
        close_eta_s=settings.close_eta_s,
        close_distance_m=settings.close_distance_m,
    )
    return TrackingPublic(
        status=order.status,
        fulfilment=order.fulfilment,
        placed_at=order.created_at,
        window=(
            TrackingWindow(starts_at=window.starts_at, ends_at=window.ends_at) if window else None
        ),
        planned=_planned(session, [p.id for p, _ in rows if p.id is not None]),
        timeline=timeline,
        parcels=parcels,
        destination=[order.lat, order.lon]
        if order.fulfilment == "delivery" and order.lat is not None and order.lon is not None
        else None,
        courier=_courier_if_next(session, [p.id for p, _ in rows if p.id is not None]),
        eta=eta,
        courier_close=close,
    )


def _courier_if_next(session: Session, parcel_ids: list[int]) -> TrackingCourier | None:
    """The courier's latest position, only while one of these parcels' delivery is the next
    open stop of an on-duty courier's current route; nobody else's whereabouts otherwise."""
    if not parcel_ids:
        return None
    found = session.exec(
        select(Stop, PlanRoute, Shift)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
        .join(Shift, col(Shift.id) == col(PlanRoute.shift_id))
        .where(
            col(Plan.current).is_(True),
            col(Stop.kind) == "delivery",
            col(Stop.parcel_id).in_(parcel_ids),
            col(Stop.status).in_(["planned", "arrived"]),
            col(Shift.status) == "on_duty",
        )
    ).all()
    for stop, route, shift in found:
        next_stop = session.exec(
            select(Stop)
            .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
            .where(col(PlanTrip.route_id) == route.id, col(Stop.status).in_(["planned", "arrived"]))
            .order_by(col(PlanTrip.number), col(Stop.sequence), col(Stop.id))
        ).first()
        if next_stop is None or next_stop.id != stop.id:
            continue
        position = session.get(CourierPosition, shift.courier_id)
        if position is not None and position.shift_id == shift.id:
            return TrackingCourier(lat=position.lat, lon=position.lon, at=position.at)
    return None


def _planned(session: Session, parcel_ids: list[int]) -> TrackingPlanned | None:
    if not parcel_ids:
        return None
    rows = session.exec(
        select(Stop, Courier)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
        .join(Shift, col(Shift.id) == col(PlanRoute.shift_id))
        .join(Courier, col(Courier.id) == col(Shift.courier_id))
        .where(
            col(Plan.current).is_(True),
            col(Stop.kind) == "delivery",
            col(Stop.parcel_id).in_(parcel_ids),
            col(Stop.status).not_in(["cancelled", "skipped"]),
        )
        .order_by(col(Stop.planned_arrival))
    ).all()
    if not rows:
        return None
    return TrackingPlanned(
        arrival_from=rows[0][0].planned_arrival,
        arrival_to=rows[-1][0].planned_arrival,
        courier_first_name=first_name(rows[0][1].name),
    )
