"""Live push as Server-Sent Events: the board's stream (staff) and a tracking link's (public).

Each stream sends ``retry:`` and a ``: ready`` comment once it is subscribed (a change made
after that reaches it), then one SSE event per message the channel may see (``event:
change`` or ``event: position``, ``id:`` the broker's id, ``data:`` JSON), a ``: ping``
heartbeat after ``live_heartbeat_s`` of silence, and ``event: resync`` when the client's
``Last-Event-ID`` is unknown (trimmed from the backlog, or from before a restart): it may have
missed messages and should reload its state. A reconnecting ``EventSource`` sends
``Last-Event-ID`` itself and first gets what it missed.

Only a client that asks for a stream (``Accept: text/event-stream``, as ``EventSource``
does) gets one; any other request, or ``?once=1``, gets the catch-up after ``Last-Event-ID``
(or nothing) in the same format and the response ends: a poller's or a script's one-shot
read, and what lets a plain request (the authorization matrix's) return at once.

A plain ``StreamingResponse`` rather than ``sse-starlette``: the frames are four lines of
code, the heartbeat, catch-up and one-shot mode are ours either way, and it is one dependency
less to keep in step with Starlette (which already leaves ``text/event-stream`` uncompressed
in its gzip middleware and stops the body when the client disconnects).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, select

from dispatch.api.deps import (
    BearerCredentials,
    EngineDep,
    SessionCookie,
    auth_from_login,
    ensure_role,
    presented_token,
)
from dispatch.api.errors import InvalidFieldError
from dispatch.api.routes.tracking import NO_SUCH_LINK
from dispatch.live import channels
from dispatch.live.broker import Broker, MalformedIdError, OverflowedError, parse_id
from dispatch.models import Order
from dispatch.security import STAFF_ROLES, find_login

router = APIRouter(prefix="/live", tags=["live"])

MEDIA_TYPE: Final = "text/event-stream"
#: How long a disconnected EventSource waits before it reconnects (ms).
RETRY_MS: Final = 3000
_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

LastEventId = Annotated[
    str | None,
    Header(description="The last id received: the stream starts with what came after it"),
]


def frame(event: str, data: dict[str, Any], message_id: str | None = None) -> bytes:
    """One SSE event (JSON data on one line, so no field can break the framing)."""
    head = f"id: {message_id}\n" if message_id else ""
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


def _broker(request: Request) -> Broker:
    broker: Broker | None = getattr(request.app.state, "live_broker", None)
    if broker is None:
        raise HTTPException(503, "live updates are not running: reload the page to poll instead")
    return broker


def _after(last_event_id: str | None) -> str | None:
    if not last_event_id:
        return None
    try:
        parse_id(last_event_id)
    except MalformedIdError as error:
        raise InvalidFieldError("Last-Event-ID header", str(error)) from None
    return last_event_id.strip()


def _wants_stream(request: Request, once: bool) -> bool:
    return not once and MEDIA_TYPE in request.headers.get("accept", "")


async def _events(
    broker: Broker,
    channel: channels.Channel,
    after: str | None,
    *,
    stream: bool,
    heartbeat_s: float,
) -> AsyncIterator[bytes]:
    async with broker.subscribe(after) as sub:
        yield f"retry: {RETRY_MS}\n: ready\n\n".encode()
        if sub.gap:
            yield frame("resync", {"reason": "missed messages: reload the whole state"})
        for message in sub.take_backlog():
            view = channel(message.data)
            if view is not None:
                yield frame(view[0], view[1], message.id)
        while stream:
            try:
                live = await sub.get(heartbeat_s)
            except OverflowedError:
                return  # too far behind: the client reconnects and catches up
            if live is None:
                yield b": ping\n\n"
                continue
            view = channel(live.data)
            if view is not None:
                yield frame(view[0], view[1], live.id)


def _respond(
    request: Request, channel: channels.Channel, last_event_id: str | None, once: bool
) -> StreamingResponse:
    broker = _broker(request)
    after = _after(last_event_id)
    heartbeat_s = float(request.app.state.settings.live_heartbeat_s)
    body = _events(
        broker, channel, after, stream=_wants_stream(request, once), heartbeat_s=heartbeat_s
    )
    return StreamingResponse(body, media_type=MEDIA_TYPE, headers=_HEADERS)


# A stream's checks run in one worker-thread call with a session of their own, closed before
# the stream starts: when every board reconnects at once (a restart), no request holds a pooled
# connection while it waits for a thread, which had left both pool and threads exhausted.


def _staff_stream_login(
    engine: EngineDep, bearer: BearerCredentials, cookie: SessionCookie
) -> None:
    """401 unless logged in, 403 unless staff (``StaffUser``'s answers)."""
    token, kind, via = presented_token(bearer, cookie)
    with Session(engine) as session:
        user = auth_from_login(find_login(session, token, kind=kind), via).user
        ensure_role(user, *STAFF_ROLES)


def _tracked_order(token: str, engine: EngineDep) -> int:
    """The order of a tracking token, or the 404 of a link that does not exist."""
    if not token or len(token) > 100:
        raise HTTPException(404, NO_SUCH_LINK)
    with Session(engine) as session:
        order_id = session.exec(select(Order.id).where(col(Order.tracking_token) == token)).first()
    if order_id is None:
        raise HTTPException(404, NO_SUCH_LINK)
    return int(order_id)


@router.get("/board", response_class=StreamingResponse)
async def board_stream(
    request: Request,
    _staff: Annotated[None, Depends(_staff_stream_login)],
    last_event_id: LastEventId = None,
    once: bool = False,
) -> StreamingResponse:
    """Every courier's moves and every state change, as they happen (the dispatcher's board)."""
    return _respond(request, channels.board, last_event_id, once)


@router.get("/track/{token}", response_class=StreamingResponse)
async def tracking_stream(
    request: Request,
    order_id: Annotated[int, Depends(_tracked_order)],
    last_event_id: LastEventId = None,
    once: bool = False,
) -> StreamingResponse:
    """One order's changes, and its courier's position while its delivery is next (public by
    its unguessable tracking token, like ``GET /api/track/{token}``)."""
    return _respond(request, channels.tracking(order_id), last_event_id, once)
