"""A shop's own side: its parcels per window, marking them ready, labels, and pickup times.

Only shop accounts, and only their own shop's parcels: another shop's parcel answers the same
404 as a parcel that does not exist.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from io import BytesIO
from typing import Annotated

import segno
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session, col, select

from dispatch import lifecycle
from dispatch.api.deps import SessionDep, own_shop, require_roles
from dispatch.api.errors import InvalidFieldError, NotFoundError
from dispatch.api.routes.orders import largest_bike, the_town
from dispatch.models import (
    Customer,
    DeliveryWindow,
    Order,
    OrderItem,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Product,
    Shop,
    Stop,
    User,
    utc_now,
)
from dispatch.schemas_orders import (
    LabelPublic,
    LabelWindow,
    ParcelReadyBody,
    PickupPublic,
    ShopItemLine,
    ShopParcelPublic,
)

router = APIRouter(prefix="/shop", tags=["shop"])

ShopUser = Annotated[User, Depends(require_roles("shop"))]

#: Parcels that are still the shop's to prepare or hand over.
_TO_HAND_OVER = ("awaiting", "ready")


def _my_shop_id(user: User) -> int:
    if user.shop_id is None:
        raise NotFoundError("shop", "(this account has none)")
    return own_shop(user, user.shop_id)


def get_own_parcel(parcel_id: int, session: SessionDep, user: ShopUser) -> Parcel:
    """The parcel in the path if it is my shop's; any other is the plain 404."""
    parcel = session.get(Parcel, parcel_id)
    if parcel is None or parcel.shop_id != _my_shop_id(user):
        raise NotFoundError("parcel", parcel_id)
    return parcel


OwnParcel = Annotated[Parcel, Depends(get_own_parcel)]


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def _shop_parcel(session: Session, parcel: Parcel) -> ShopParcelPublic:
    order = session.get(Order, parcel.order_id)
    assert order is not None
    customer = session.get(Customer, order.customer_id)
    lines = session.exec(
        select(OrderItem, Product)
        .join(Product, col(Product.id) == col(OrderItem.product_id))
        .where(col(OrderItem.order_id) == order.id, col(OrderItem.shop_id) == parcel.shop_id)
        .order_by(col(OrderItem.id))
    ).all()
    return ShopParcelPublic(
        id=parcel.id or 0,
        status=parcel.status,
        label_code=parcel.label_code,
        count=parcel.count,
        weight_g=parcel.weight_g,
        volume_ml=parcel.volume_ml,
        ready_at=parcel.ready_at,
        order_id=order.id or 0,
        window_id=order.window_id,
        fulfilment=order.fulfilment,
        customer_first_name=_first_name(customer.name if customer else ""),
        items=[
            ShopItemLine(product_id=p.id or 0, product_name=p.name, quantity=i.quantity)
            for i, p in lines
        ],
    )


@router.get("/orders")
def list_shop_orders(
    session: SessionDep, user: ShopUser, window_id: int | None = None
) -> list[ShopParcelPublic]:
    """My shop's parcels to pack (all of a window's, with ``window_id``), with their orders."""
    query = (
        select(Parcel)
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(col(Parcel.shop_id) == _my_shop_id(user))
        .order_by(col(Order.window_id), col(Parcel.id))
    )
    if window_id is not None:
        query = query.where(col(Order.window_id) == window_id)
    return [_shop_parcel(session, parcel) for parcel in session.exec(query).all()]


@router.post("/parcels/{parcel_id}/ready")
def mark_parcel_ready(
    parcel: OwnParcel, body: ParcelReadyBody, session: SessionDep, user: ShopUser
) -> ShopParcelPublic:
    """Mark a parcel packed, with how many pieces it has and what it weighs and measures.

    A delivery parcel no bike can carry is refused (422 naming the measure), so it is split
    before a courier comes for it.
    """
    _check_fits_a_bike(session, parcel, body)
    lifecycle.perform(
        session,
        parcel,
        "mark_ready",
        actor_user_id=user.id,
        actor_role=lifecycle.SHOP,
        detail=body.model_dump(),
    )
    # Sizes are measurements, not statuses: the packed parcel replaces the catalogue estimate.
    parcel.count = body.count
    parcel.weight_g = body.weight_g
    parcel.volume_ml = body.volume_ml
    parcel.ready_at = utc_now()
    session.add(parcel)
    session.commit()
    session.refresh(parcel)
    return _shop_parcel(session, parcel)


def _check_fits_a_bike(session: Session, parcel: Parcel, body: ParcelReadyBody) -> None:
    order = session.get(Order, parcel.order_id)
    limits = largest_bike(session, the_town(session))
    if order is None or order.fulfilment != "delivery" or limits is None:
        return
    max_g, max_ml, max_count = limits
    if body.weight_g > max_g:
        raise InvalidFieldError("weight_g", f"is more than the largest bike carries ({max_g} g)")
    if body.volume_ml > max_ml:
        raise InvalidFieldError("volume_ml", f"is more than the largest bike holds ({max_ml} ml)")
    if body.count > max_count:
        raise InvalidFieldError(
            "count", f"is more parcels than the largest bike takes ({max_count})"
        )


@router.get("/parcels/{parcel_id}/label")
def parcel_label(parcel: OwnParcel, session: SessionDep) -> LabelPublic:
    """What to print on a parcel's label; its QR code encodes the label code."""
    order = session.get(Order, parcel.order_id)
    shop = session.get(Shop, parcel.shop_id)
    assert order is not None
    assert shop is not None
    customer = session.get(Customer, order.customer_id)
    window = session.get(DeliveryWindow, order.window_id) if order.window_id else None
    return LabelPublic(
        label_code=parcel.label_code,
        qr_payload=parcel.label_code,
        parcel_id=parcel.id or 0,
        order_id=order.id or 0,
        fulfilment=order.fulfilment,
        customer_name=customer.name if customer else "",
        address=order.address if order.fulfilment == "delivery" else "",
        window=(
            LabelWindow(id=window.id or 0, starts_at=window.starts_at, ends_at=window.ends_at)
            if window
            else None
        ),
        shop_name=shop.name,
        shop_address=shop.address,
        count=parcel.count,
    )


@router.get(
    "/parcels/{parcel_id}/label.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The QR code (SVG)"}},
)
def parcel_label_qr(parcel: OwnParcel) -> Response:
    """The QR code of a parcel's label code, as an SVG image for the printed label."""
    buffer = BytesIO()
    segno.make(parcel.label_code, error="m").save(
        buffer, kind="svg", scale=8, border=2, xmldecl=False, title=f"Label {parcel.label_code}"
    )
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get("/pickups")
def list_pickups(session: SessionDep, user: ShopUser) -> list[PickupPublic]:
    """When my parcels leave: the planned pickup stops (direct mode), or the hand-over at the
    hub (hub mode: before the first trip that carries them, else the window's start)."""
    shop_id = _my_shop_id(user)
    town = the_town(session)
    parcels = session.exec(
        select(Parcel, Order)
        .join(Order, col(Order.id) == col(Parcel.order_id))
        .where(
            col(Parcel.shop_id) == shop_id,
            col(Parcel.status).in_(_TO_HAND_OVER),
            col(Order.fulfilment) == "delivery",
            col(Order.window_id).is_not(None),
        )
    ).all()
    if not parcels:
        return []
    window_of = {p.id: o.window_id for p, o in parcels if o.window_id is not None}
    stops = session.exec(
        select(Stop, PlanTrip)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
        .where(
            col(Plan.current).is_(True),
            col(Stop.parcel_id).in_(list(window_of)),
            col(Stop.status).in_(["planned", "arrived"]),
        )
    ).all()
    # (window, kind, time) → parcels
    groups: dict[tuple[int, str, datetime, bool], list[int]] = defaultdict(list)
    planned_parcels: set[int] = set()
    for stop, trip in stops:
        window_id = window_of[stop.parcel_id]
        if town.mode == "hub" and stop.kind == "delivery":
            groups[window_id, "hub_handover", trip.departs_at, True].append(stop.parcel_id)
            planned_parcels.add(stop.parcel_id)
        elif town.mode != "hub" and stop.kind == "pickup":
            groups[window_id, "pickup", stop.planned_arrival, True].append(stop.parcel_id)
            planned_parcels.add(stop.parcel_id)
    fallback = "hub_handover" if town.mode == "hub" else "pickup"
    for parcel, order in parcels:
        if parcel.id in planned_parcels or order.window_id is None or parcel.id is None:
            continue
        window = session.get(DeliveryWindow, order.window_id)
        assert window is not None
        groups[window.id or 0, fallback, window.starts_at, False].append(parcel.id)
    return [
        PickupPublic(
            window_id=window_id,
            kind="hub_handover" if kind == "hub_handover" else "pickup",
            at=at,
            planned=planned,
            parcel_ids=sorted(set(ids)),
        )
        for (window_id, kind, at, planned), ids in sorted(groups.items(), key=lambda g: g[0][2])
    ]
