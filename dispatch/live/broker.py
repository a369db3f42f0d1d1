"""Where live messages go between the code that commits a change and the streams that push it.

A ``Broker`` takes messages from any thread (``publish``: the sync endpoints run in a thread
pool, the hooks publish right after a commit) and hands each one, with an id, to every
``Subscription`` of its process. Ids look like Redis stream ids (``<ms>-<seq>``), grow with
every message and are the streams' SSE ids, so a client that reconnects with
``Last-Event-ID`` gets what it missed (``subscribe(after=...)``) from the broker's backlog.

- ``RedisBroker``: every worker process XADDs to one stream (capped near ``MAXLEN``) and runs
  one reader task doing ``XREAD BLOCK`` that fans out to its local subscribers, so every
  client of every worker sees every message, in the stream's one order. Catch-up is XRANGE.
- ``MemoryBroker``: the same for a single process without Redis (the SQLite default), with
  the backlog in a ring buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

#: Messages kept for reconnecting clients (Redis trims near this, the ring buffer exactly).
MAXLEN: Final = 10_000
#: Messages one subscriber may have waiting; a client that falls this far behind is cut off
#: and catches up from the backlog when it reconnects.
QUEUE_SIZE: Final = 2_000
#: How long one XREAD waits for new messages (below the socket timeout, so idling is quiet).
_BLOCK_MS: Final = 5_000


class MalformedIdError(ValueError):
    """A ``Last-Event-ID`` that is not a stream id (``<ms>-<seq>``)."""


def parse_id(message_id: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` as a pair that sorts like the stream does."""
    ms, dash, seq = message_id.strip().partition("-")
    if not (ms.isdigit() and (not dash or seq.isdigit())) or len(message_id) > 40:
        raise MalformedIdError(f"{message_id[:40]!r} is not a stream id like 1718000000000-0")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Message:
    """One live message: its stream id and its JSON-able body (see ``dispatch.live.hooks``)."""

    id: str
    data: dict[str, Any]

    @property
    def key(self) -> tuple[int, int]:
        return parse_id(self.id)


class OverflowedError(Exception):
    """The subscriber fell ``QUEUE_SIZE`` messages behind and was cut off."""


@dataclass(eq=False)
class Subscription:
    """One client's view of a broker: first ``backlog`` (what it missed), then ``get()``.

    ``gap`` is true when the client's ``Last-Event-ID`` is unknown to the backlog (trimmed, or
    from before a restart): it may have missed messages and should reload its whole state.
    """

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    backlog: list[Message] = field(default_factory=list)
    gap: bool = False
    overflowed: bool = False
    #: The newest id handed out so far: live messages at or before it are skipped.
    last_key: tuple[int, int] = (0, 0)

    def offer(self, message: Message) -> None:
        """Queue ``message`` (on the subscriber's own loop); cut the subscriber off if full."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the reader so it notices at once.
            self.queue.get_nowait()
            self.queue.put_nowait(message)

    async def get(self, timeout: float) -> Message | None:
        """The next live message not already handed out, or None after ``timeout`` seconds."""
        deadline = self.loop.time() + timeout
        while True:
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                return None
            try:
                message = await asyncio.wait_for(self.queue.get(), remaining)
            except TimeoutError:
                return None
            if self.overflowed:
                raise OverflowedError
            if message.key > self.last_key:
                self.last_key = message.key
                return message

    def take_backlog(self) -> list[Message]:
        """The missed messages, once; later live copies of them are skipped."""
        backlog, self.backlog = self.backlog, []
        if backlog:
            self.last_key = max(self.last_key, backlog[-1].key)
        return backlog


class Broker(ABC):
    """Publish from any thread, subscribe from the event loop; see the module's docstring."""

    name: str = "broker"

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    async def start(self) -> None:  # noqa: B027  (a broker may need no start)
        """Connect and start reading (the app's lifespan)."""

    async def stop(self) -> None:  # noqa: B027
        """Stop reading and disconnect."""

    @abstractmethod
    def publish(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """Send ``items`` to every subscriber of every process; their ids, in order."""

    @abstractmethod
    async def _backlog(self, after: str) -> tuple[list[Message], bool]:
        """Messages after ``after`` and whether ``after`` itself is unknown (a gap)."""

    @contextlib.asynccontextmanager
    async def subscribe(self, after: str | None = None) -> AsyncIterator[Subscription]:
        """A subscription for the caller's loop, with the backlog after ``after`` if given.

        It is registered before the backlog is read, so nothing falls between the two.
        """
        if after is not None:
            parse_id(after)
        sub = Subscription(loop=asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
        try:
            if after is not None:
                sub.last_key = parse_id(after)
                sub.backlog, sub.gap = await self._backlog(after)
            yield sub
        finally:
            with self._lock:
                self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _fan_out(self, messages: Sequence[Message], *, threadsafe: bool) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            for message in messages:
                if not threadsafe:
                    sub.offer(message)
                    continue
                try:
                    sub.loop.call_soon_threadsafe(sub.offer, message)
                except RuntimeError:  # that loop is closed: its app has gone
                    with self._lock:
                        self._subscribers.discard(sub)
                    break


class MemoryBroker(Broker):
    """One process, no Redis: ids from the clock, the backlog in a ring buffer."""

    name = "memory"

    def __init__(self, maxlen: int = MAXLEN) -> None:
        super().__init__()
        self._ring: deque[Message] = deque(maxlen=maxlen)
        self._last = (0, 0)
        self._publish_lock = threading.Lock()

    def publish(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """Number ``items``, keep them for catch-up and queue them for every subscriber."""
        messages = []
        with self._publish_lock:
            for item in items:
                ms = time.time_ns() // 1_000_000
                self._last = (ms, 0) if ms > self._last[0] else (self._last[0], self._last[1] + 1)
                message = Message(f"{self._last[0]}-{self._last[1]}", dict(item))
                self._ring.append(message)
                messages.append(message)
            # Fanned out under the lock, so every subscriber gets them in id order.
            self._fan_out(messages, threadsafe=True)
        return [m.id for m in messages]

    async def _backlog(self, after: str) -> tuple[list[Message], bool]:
        key = parse_id(after)
        with self._publish_lock:
            ring = list(self._ring)
        known = any(m.key == key for m in ring)
        return [m for m in ring if m.key > key], not known


class RedisBroker(Broker):
    """Many worker processes: one Redis stream, one reader task per process."""

    name = "redis"

    def __init__(self, url: str, stream: str, *, maxlen: int = MAXLEN) -> None:
        super().__init__()
        self.url, self.stream, self.maxlen = url, stream, maxlen
        # The sync client publishes from request threads (its pool is thread-safe).
        self._sync = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._async: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None

    def ping(self) -> None:
        """Raise ``redis.RedisError`` if Redis cannot be reached."""
        self._sync.ping()

    def publish(self, items: Sequence[dict[str, Any]]) -> list[str]:
        """XADD every item (one round trip), trimming the stream near ``maxlen``."""
        if not items:
            return []
        pipe = self._sync.pipeline(transaction=False)
        for item in items:
            body = json.dumps(item, separators=(",", ":"), default=str)
            pipe.xadd(self.stream, {"d": body}, maxlen=self.maxlen, approximate=True)
        ids: list[Any] = pipe.execute()
        return [_text(i) for i in ids]

    async def start(self) -> None:
        """Read from the stream's current end onwards, in a task of this process's loop."""
        self._async = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=_BLOCK_MS / 1000 + 10
        )
        newest: Any = await self._async.xrevrange(self.stream, count=1)
        start = _text(newest[0][0]) if newest else "0-0"
        self._reader = asyncio.create_task(self._read(start), name="velocal-live-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self._sync.close()

    async def _read(self, last: str) -> None:
        assert self._async is not None
        while True:
            try:
                answer: Any = await self._async.xread(
                    {self.stream: last}, count=500, block=_BLOCK_MS
                )
            except (redis.RedisError, OSError) as error:
                log.warning("live: reading %s from Redis failed (%s); retrying", self.stream, error)
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in answer or ():
                messages = [_message(entry_id, fields) for entry_id, fields in entries]
                if messages:
                    last = messages[-1].id
                    self._fan_out(messages, threadsafe=False)

    async def _backlog(self, after: str) -> tuple[list[Message], bool]:
        assert self._async is not None, "start the broker first"
        head: Any = await self._async.xrange(self.stream, min=after, max="+", count=1)
        known = bool(head) and parse_id(_text(head[0][0])) == parse_id(after)
        entries: Any = await self._async.xrange(self.stream, min=f"({after}", max="+", count=MAXLEN)
        return [_message(i, f) for i, f in entries], not known


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _message(entry_id: bytes | str, fields: dict[Any, Any]) -> Message:
    body = fields.get(b"d", fields.get("d", b"{}"))
    return Message(_text(entry_id), json.loads(body))


__all__ = [
    "MAXLEN",
    "Broker",
    "MalformedIdError",
    "MemoryBroker",
    "Message",
    "OverflowedError",
    "RedisBroker",
    "Subscription",
    "parse_id",
]
