"""A courier's phone: my shifts, today's route, and completing or failing stops.

Only courier accounts, and only their own shifts and stops: another courier's answers the same
404 as one that does not exist. Every stop change goes through ``lifecycle.perform``, which
moves the parcel (and its order) along. A delivery's photo is kept as proof of delivery
(``DeliveryPhoto``), committed with the stop's change.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
from datetime import timedelta
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlmodel import Session, col, select

from dispatch import lifecycle, position_writer
from dispatch.api.deps import (
    BearerCredentials,
    EngineDep,
    SessionCookie,
    SessionDep,
    auth_from_login,
    ensure_role,
    own_courier,
    presented_token,
    require_roles,
)
from dispatch.api.errors import ConflictError, InvalidFieldError, NotFoundError
from dispatch.api.routes.orders import local_date, the_town
from dispatch.models import (
    DeliveryPhoto,
    Hub,
    Order,
    Parcel,
    Plan,
    PlanRoute,
    PlanTrip,
    Shift,
    Shop,
    Stop,
    User,
    utc_now,
)
from dispatch.network import get_network
from dispatch.positions import Fix, IngestResult, NotOnShiftError
from dispatch.schemas_orders import (
    DropOutBody,
    PositionBatch,
    PositionResult,
    RejectedFix,
    RouteHub,
    RouteParcel,
    RoutePublic,
    RouteStop,
    RouteTrip,
    ShiftPublic,
    StopDeliverBody,
    StopFailBody,
    StopPickupBody,
    StopPublic,
)
from dispatch.security import Login
from dispatch.town_map import ride_path

router = APIRouter(prefix="/courier", tags=["courier"])

CourierUser = Annotated[User, Depends(require_roles("courier"))]


def _my_courier_id(user: User) -> int:
    if user.courier_id is None:
        raise NotFoundError("courier", "(this account has none)")
    return own_courier(user, user.courier_id)


def get_own_stop(stop_id: int, session: SessionDep, user: CourierUser) -> Stop:
    """The stop in the path if it is on one of my shifts' routes; any other is the plain 404."""
    row = session.exec(
        select(Stop, Shift)
        .join(PlanTrip, col(PlanTrip.id) == col(Stop.trip_id))
        .join(PlanRoute, col(PlanRoute.id) == col(PlanTrip.route_id))
        .join(Shift, col(Shift.id) == col(PlanRoute.shift_id))
        .where(col(Stop.id) == stop_id)
    ).first()
    if row is None or row[1].courier_id != _my_courier_id(user):
        raise NotFoundError("stop", stop_id)
    return row[0]


OwnStop = Annotated[Stop, Depends(get_own_stop)]


@router.get("/shifts")
def list_my_shifts(session: SessionDep, user: CourierUser) -> list[ShiftPublic]:
    """My shifts from yesterday on, earliest first."""
    since = utc_now() - timedelta(days=1)
    shifts = session.exec(
        select(Shift)
        .where(col(Shift.courier_id) == _my_courier_id(user), col(Shift.ends_at) >= since)
        .order_by(col(Shift.starts_at))
    )
    return [ShiftPublic.model_validate(s, from_attributes=True) for s in shifts]


def get_own_shift(shift_id: int, session: SessionDep, user: CourierUser) -> Shift:
    """The shift in the path if it is mine; another courier's is the plain 404 (checked before
    the body, so a foreign shift id answers 404 whatever was sent)."""
    shift = session.get(Shift, shift_id)
    if shift is None or shift.courier_id != _my_courier_id(user):
        raise NotFoundError("shift", shift_id)
    return shift


OwnShift = Annotated[Shift, Depends(get_own_shift)]


def _move_my_shift(session: Session, user: User, shift: Shift, action: str) -> ShiftPublic:
    lifecycle.perform(session, shift, action, actor_user_id=user.id, actor_role=lifecycle.COURIER)
    session.commit()
    session.refresh(shift)
    return ShiftPublic.model_validate(shift, from_attributes=True)


@router.post("/shifts/{shift_id}/start")
def start_my_shift(shift: OwnShift, session: SessionDep, user: CourierUser) -> ShiftPublic:
    """Start my shift: I am on duty, my phone may send positions."""
    return _move_my_shift(session, user, shift, "start")


@router.post("/shifts/{shift_id}/end")
def end_my_shift(shift: OwnShift, session: SessionDep, user: CourierUser) -> ShiftPublic:
    """End my shift (positions stop being taken)."""
    return _move_my_shift(session, user, shift, "end")


@router.post("/shifts/{shift_id}/drop-out")
def drop_out_of_my_shift(
    shift: OwnShift, body: DropOutBody, session: SessionDep, user: CourierUser
) -> dict[str, object]:
    """I cannot go on (``{"reason": ...}``): my shift ends and my windows are re-planned
    without me; parcels on my bike are listed for a hand-over (see the board's drop-out)."""
    from dispatch import replanning  # the solver stack loads only when it is needed

    return replanning.drop_out_answer(
        session, shift, reason=body.reason, actor_role=lifecycle.COURIER, actor_user_id=user.id
    )


def _posting_courier(login: Login | None, via: Literal["cookie", "bearer"]) -> int:
    """The courier id of a login posting positions, or ``CourierUser``'s 401/403/404."""
    user = auth_from_login(login, via).user
    return _my_courier_id(ensure_role(user, "courier"))


def _json_body(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of ``content_type`` as JSON (none given, or
    ``application/json`` and ``application/*+json``)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def store_posted_positions(
    request: Request, engine: EngineDep, bearer: BearerCredentials, cookie: SessionCookie
) -> IngestResult | None:
    """The caller checked and their batch stored, in one grouped call (``position_writer``):
    what became of the fixes, or None when the body is not a valid batch (the route's body
    validation then answers 422 naming the field). Runs before that validation, so a stranger
    gets the 401 (or a shop the 403) whatever the body, and 409 when not on shift."""
    token, kind, via = presented_token(bearer, cookie)
    body: PositionBatch | None = None
    if _json_body(request.headers.get("content-type")):
        try:
            body = PositionBatch.model_validate_json(await request.body())
        except ValidationError:
            body = None
    posting = position_writer.Posting(
        token,
        kind,
        via,
        body.device_id if body is not None else None,
        [Fix(f.seq, f.lat, f.lon, f.accuracy_m, f.at) for f in body.fixes] if body else [],
    )
    try:
        return await position_writer.post(engine, posting, _posting_courier)
    except NotOnShiftError as error:
        raise ConflictError(str(error)) from None


@router.post("/positions")
async def report_positions(
    body: PositionBatch,
    result: Annotated[IngestResult | None, Depends(store_posted_positions)],
) -> PositionResult:
    """A batch of my phone's GPS fixes: stored once each, bad ones refused with the reason.

    409 when I am not on shift; sending the same batch again stores nothing twice.
    """
    # Every phone posts every few seconds: the login check and the write of the requests
    # arriving together share one worker-thread call and transaction (the dependency), and
    # the body declared here is what the API documents and validates.
    if result is None:  # the body passed FastAPI's validation but not the dependency's
        raise InvalidFieldError("body", "is not a batch of fixes")
    return PositionResult(
        stored=result.stored,
        duplicates=result.duplicates,
        rejected=[RejectedFix(seq=seq, reason=reason) for seq, reason in result.rejected],
    )


@router.get("/route")
def my_route(session: SessionDep, user: CourierUser, shift_id: int | None = None) -> RoutePublic:
    """The current plan's route of my shift today (or of ``shift_id``): trips and stops in
    order; parcels show only the last two characters of their label code."""
    courier_id = _my_courier_id(user)
    town = the_town(session)
    shifts = session.exec(
        select(Shift).where(col(Shift.courier_id) == courier_id).order_by(col(Shift.starts_at))
    ).all()
    if shift_id is not None:
        shifts = [s for s in shifts if s.id == shift_id]
        if not shifts:
            raise NotFoundError("shift", shift_id)
    else:
        today = local_date(town, utc_now())
        shifts = [s for s in shifts if local_date(town, s.starts_at) == today]
    for shift in shifts:
        route = session.exec(
            select(PlanRoute)
            .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
            .where(col(PlanRoute.shift_id) == shift.id, col(Plan.current).is_(True))
            .order_by(col(Plan.created_at).desc(), col(Plan.id).desc())
        ).first()
        if route is not None:
            return _route_public(session, shift, route)
    raise NotFoundError("route", "for your shift today (not planned yet)")


def _route_public(session: Session, shift: Shift, route: PlanRoute) -> RoutePublic:
    hub = session.get(Hub, shift.hub_id)
    assert hub is not None
    network = get_network(the_town(session))
    trips = session.exec(
        select(PlanTrip).where(col(PlanTrip.route_id) == route.id).order_by(col(PlanTrip.number))
    ).all()
    out: list[RouteTrip] = []
    for trip in trips:
        stops = session.exec(
            select(Stop).where(col(Stop.trip_id) == trip.id).order_by(col(Stop.sequence))
        ).all()
        points = [(hub.lat, hub.lon), *((s.lat, s.lon) for s in stops), (hub.lat, hub.lon)]
        out.append(
            RouteTrip(
                number=trip.number,
                departs_at=trip.departs_at,
                returns_at=trip.returns_at,
                stops=[_route_stop(session, stop) for stop in stops],
                path=ride_path(network, points),
            )
        )
    return RoutePublic(
        shift_id=shift.id or 0,
        route_id=route.id or 0,
        plan_id=route.plan_id,
        shift_status=shift.status,
        hub=RouteHub(name=hub.name, lat=hub.lat, lon=hub.lon),
        starts_at=route.starts_at,
        ends_at=route.ends_at,
        distance_m=route.distance_m,
        trips=out,
    )


def _route_stop(session: Session, stop: Stop) -> RouteStop:
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    if stop.kind == "pickup":
        shop = session.get(Shop, parcel.shop_id)
        name, address = (shop.name, shop.address) if shop else ("", "")
    else:
        order = session.get(Order, parcel.order_id)
        # The recipient's full name is on the label; the list shows where to ride.
        name, address = ("Delivery", order.address if order else "")
    return RouteStop(
        id=stop.id or 0,
        sequence=stop.sequence,
        kind=stop.kind,
        status=stop.status,
        name=name,
        address=address,
        lat=stop.lat,
        lon=stop.lon,
        planned_arrival=stop.planned_arrival,
        planned_departure=stop.planned_departure,
        parcel=RouteParcel(
            id=parcel.id or 0,
            count=parcel.count,
            weight_g=parcel.weight_g,
            volume_ml=parcel.volume_ml,
            label_hint=parcel.label_code[-2:],
            status=parcel.status,
        ),
    )


def _stop_public(session: Session, stop: Stop) -> StopPublic:
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    return StopPublic(
        id=stop.id or 0,
        kind=stop.kind,
        status=stop.status,
        parcel_id=parcel.id or 0,
        parcel_status=parcel.status,
        done_at=stop.done_at,
    )


def _expect_kind(stop: Stop, kind: str, action: str) -> None:
    if stop.kind != kind:
        raise ConflictError(f"stop {stop.id} is a {stop.kind} stop: it cannot be {action}")


@router.post("/stops/{stop_id}/pickup")
def pick_up_at_stop(
    stop: OwnStop, body: StopPickupBody, session: SessionDep, user: CourierUser
) -> StopPublic:
    """Confirm a pickup with the code on the parcel's label (a wrong code is a 409)."""
    _expect_kind(stop, "pickup", "picked up at")
    lifecycle.perform(
        session,
        stop,
        "complete",
        actor_user_id=user.id,
        actor_role=lifecycle.COURIER,
        detail={"label_code": body.label_code.strip()},
    )
    stop.done_at = utc_now()
    session.add(stop)
    session.commit()
    session.refresh(stop)
    return _stop_public(session, stop)


@router.post("/stops/{stop_id}/load")
def load_at_hub(
    stop: OwnStop, body: StopPickupBody, session: SessionDep, user: CourierUser
) -> StopPublic:
    """Confirm a delivery stop's parcel is on my bike, loaded at the hub (hub mode), with the
    code on its label. Where the route has a pickup stop at the shop, that stop confirms it."""
    _expect_kind(stop, "delivery", "loaded for")
    pickup = session.exec(
        select(Stop).where(
            col(Stop.parcel_id) == stop.parcel_id,
            col(Stop.kind) == "pickup",
            col(Stop.status).in_(["planned", "arrived"]),
        )
    ).first()
    if pickup is not None:
        raise ConflictError(
            f"parcel {stop.parcel_id} is picked up at its shop (stop {pickup.id}), not at the hub"
        )
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    lifecycle.perform(
        session,
        parcel,
        "pick_up",
        actor_user_id=user.id,
        actor_role=lifecycle.COURIER,
        detail={"label_code": body.label_code.strip(), "at": "hub", "stop_id": stop.id},
    )
    session.commit()
    session.refresh(stop)
    return _stop_public(session, stop)


#: Why a photo that is no image is refused (its type is told by its first bytes, never by
#: what the client declares).
NOT_AN_IMAGE: Final = "is not a JPEG, PNG or WebP image (judged by its bytes)"


def sniff_image_type(raw: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/webp`` from the magic bytes; None otherwise."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(raw) >= 12 and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


@router.post("/stops/{stop_id}/deliver")
def deliver_at_stop(
    stop: OwnStop, body: StopDeliverBody, session: SessionDep, user: CourierUser
) -> StopPublic:
    """Complete a delivery with the recipient's name and, if taken, a photo (JPEG, PNG or
    WebP, at most 2 MB), which is kept as proof of delivery."""
    _expect_kind(stop, "delivery", "delivered at")
    assert user.id is not None
    detail: dict[str, object] = {"recipient": body.recipient}
    photo: DeliveryPhoto | None = None
    if body.photo is not None:
        # The body's validator has checked the base64 and the 2 MB limit.
        raw = base64.b64decode(body.photo, validate=True)
        content_type = sniff_image_type(raw)
        if content_type is None:
            raise InvalidFieldError("photo", NOT_AN_IMAGE)
        digest = hashlib.sha256(raw).hexdigest()
        photo = DeliveryPhoto(
            stop_id=stop.id or 0,
            content_type=content_type,
            data=raw,
            sha256=digest,
            size_bytes=len(raw),
            uploaded_by=user.id,
        )
        detail["photo_sha256"] = digest
        detail["photo_bytes"] = len(raw)
    lifecycle.perform(
        session,
        stop,
        "complete",
        actor_user_id=user.id,
        actor_role=lifecycle.COURIER,
        detail=detail,
    )
    stop.recipient = body.recipient
    stop.done_at = utc_now()
    session.add(stop)
    if photo is not None:
        # One commit: the photo is stored with the stop's change, or neither is.
        session.add(photo)
    session.commit()
    session.refresh(stop)
    return _stop_public(session, stop)


@router.post("/stops/{stop_id}/fail")
def fail_stop(
    stop: OwnStop, body: StopFailBody, session: SessionDep, user: CourierUser
) -> StopPublic:
    """Fail a stop, saying why (nobody home, shop closed...)."""
    lifecycle.perform(
        session,
        stop,
        "fail",
        actor_user_id=user.id,
        actor_role=lifecycle.COURIER,
        detail={"reason": body.reason},
    )
    stop.failure_reason = body.reason
    stop.done_at = utc_now()
    session.add(stop)
    session.commit()
    session.refresh(stop)
    return _stop_public(session, stop)
