"""What each live channel may see of a message (``dispatch.live.hooks`` builds the messages).

- The board (staff only) sees everything: each event as ``GET /api/board/events`` shows it,
  each courier's fix as ``GET /api/board/positions`` does (without the name).
- A tracking link sees its own order only: the order's, its parcels' and its delivery stops'
  status changes (entity, action, status, time; no ids, people or details), and its
  courier's position (lat, lon, at) only while its delivery is that courier's next stop.
  Anything else, for another order, customer or courier, is never sent on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

#: A message's SSE event name and data, or None when the channel must not send it.
View: TypeAlias = tuple[str, dict[str, Any]] | None
Channel: TypeAlias = Callable[[dict[str, Any]], View]

#: Entities whose changes a customer sees on their own order.
_TRACKED = frozenset({"order", "parcel"})


def board(message: dict[str, Any]) -> View:
    """Every change and every position, as the board's REST endpoints show them."""
    kind = message.get("kind")
    if kind in ("change", "position") and isinstance(message.get("board"), dict):
        return kind, message["board"]
    return None


def tracking(order_id: int) -> Channel:
    """The channel of one order's tracking link."""

    def view(message: dict[str, Any]) -> View:
        kind = message.get("kind")
        body = message.get("board")
        if not isinstance(body, dict):
            return None
        if kind == "change" and message.get("order_id") == order_id:
            entity = body.get("entity")
            if entity in _TRACKED or (entity == "stop" and message.get("stop_kind") == "delivery"):
                return "change", {
                    "entity": entity,
                    "action": body.get("action"),
                    "status": body.get("to_status"),
                    "at": body.get("at"),
                }
            return None
        if kind == "position" and message.get("next_order_id") == order_id:
            return "position", {
                "lat": body.get("lat"),
                "lon": body.get("lon"),
                "at": body.get("at"),
            }
        return None

    return view


__all__ = ["Channel", "View", "board", "tracking"]
