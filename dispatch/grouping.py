"""Requests that arrive together share one worker-thread call: group commit, for hot routes.

Every courier's phone posts its GPS batch every few seconds, so at busy times many requests
wait for the same kind of database work at once. A ``Grouped`` runner queues each request's
item and runs one blocking function over everything queued so far, in one worker-thread call
(one session, one transaction, one commit), then over the next group. Under light load a group
is one request (no added delay); under heavy load groups grow, so the database sees a few large
round trips instead of many small ones and Python's threads do not queue on its interpreter
lock. Each request still gets its own answer: its result, or its own error.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

import anyio.to_thread

#: Items one call takes at most (the rest wait for the next one).
MAX_GROUP: Final = 200

Item = TypeVar("Item")
Result = TypeVar("Result")


class Grouped(Generic[Item, Result]):
    """Runs ``work(items) -> outcomes`` (one outcome per item: a result, or the exception that
    request raises) for one event loop's requests, a group at a time per call in flight."""

    def __init__(
        self,
        work: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        *,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.work = work
        #: Calls at most in flight at once: while they all run, new items queue for the next.
        self.concurrency = concurrency
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: Calls made and items in them (how well requests were grouped).
        self.calls = 0
        self.items = 0

    async def run(self, item: Item) -> Result:
        """``item``'s outcome, computed with whatever else is waiting (raised if an error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        # A finished task leaves the set only when it is looked at here (not from a done
        # callback, which runs later: in between, a new item would find no task to take it).
        self._tasks = {task for task in self._tasks if not task.done()}
        if len(self._tasks) < self.concurrency:
            self._tasks.add(loop.create_task(self._drain()))
        return await future

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                outcomes = await anyio.to_thread.run_sync(self.work, [item for item, _ in group])
            except Exception as error:  # the call failed as a whole: so did each request in it
                outcomes = [error] * len(group)
            self.calls += 1
            self.items += len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():  # the client went away; the work is done all the same
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


_runners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, Grouped[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


def runner(key: object, make: Callable[[], Grouped[Item, Result]]) -> Grouped[Item, Result]:
    """The running event loop's runner for ``key`` (made by ``make`` on first use): a future
    belongs to the loop that made it, so each loop (a test client's, a worker's) has its own."""
    per_loop = _runners.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(key)
    if found is None:
        found = per_loop[key] = make()
    return found


__all__ = ["MAX_GROUP", "Grouped", "runner"]
