"""``dispatch.grouping``: every request gets its own outcome, however requests are grouped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.grouping import MAX_GROUP, Grouped, runner


class RefusedError(Exception):
    pass


def _doubles(calls: list[list[int]]):  # type: ignore[no-untyped-def]  # a test double
    lock = threading.Lock()

    def work(items: Sequence[int]) -> list[int | Exception]:
        with lock:
            calls.append(list(items))
        return [RefusedError(f"{item} is odd") if item % 2 else item * 2 for item in items]

    return work


async def _run_all(grouped: Grouped[int, int], items: list[int]) -> list[object]:
    async def one(item: int) -> object:
        await asyncio.sleep(0)
        try:
            return await grouped.run(item)
        except RefusedError as error:
            return str(error)

    return await asyncio.gather(*(one(item) for item in items))


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(0, 10_000), max_size=450),
    concurrency=st.integers(1, 3),
)
def test_each_item_gets_its_own_outcome_once(items: list[int], concurrency: int) -> None:
    calls: list[list[int]] = []
    grouped: Grouped[int, int] = Grouped(_doubles(calls), concurrency=concurrency)
    answers = asyncio.run(_run_all(grouped, items))
    assert answers == [f"{i} is odd" if i % 2 else i * 2 for i in items]
    assert sorted(i for call in calls for i in call) == sorted(items)  # each item once
    assert all(1 <= len(call) <= MAX_GROUP for call in calls)
    assert (grouped.calls, grouped.items) == (len(calls), len(items))


def test_items_arriving_together_share_a_call() -> None:
    calls: list[list[int]] = []
    grouped: Grouped[int, int] = Grouped(_doubles(calls))
    asyncio.run(_run_all(grouped, list(range(0, 100, 2))))
    assert len(calls) < 50  # the first call runs alone, the others wait and go together


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_items_queued_while_a_task_ends_are_still_run(concurrency: int) -> None:
    """A new item that arrives just as a call finishes is not left waiting forever."""

    async def stream(grouped: Grouped[int, int], start: int) -> list[int]:
        # One at a time, awaited directly: each item comes as the task that ran the previous
        # one is ending.
        return [await grouped.run(i) for i in range(start, 40, 2)]

    async def scenario() -> list[list[int]]:
        grouped: Grouped[int, int] = Grouped(_doubles([]), concurrency=concurrency)
        streams = asyncio.gather(*(stream(grouped, s) for s in range(0, 2 * concurrency, 2)))
        return await asyncio.wait_for(streams, 10)

    for start, answers in zip(range(0, 6, 2), asyncio.run(scenario()), strict=False):
        assert answers == [2 * i for i in range(start, 40, 2)]


def test_a_failing_call_fails_each_of_its_items() -> None:
    def broken(items: Sequence[int]) -> list[int | Exception]:
        raise RuntimeError("the database went away")

    async def scenario() -> list[str]:
        grouped: Grouped[int, int] = Grouped(broken)
        outcomes = await asyncio.gather(*(grouped.run(i) for i in range(5)), return_exceptions=True)
        return [str(outcome) for outcome in outcomes]

    assert asyncio.run(scenario()) == ["the database went away"] * 5


def test_a_runner_belongs_to_its_event_loop() -> None:
    async def made() -> Grouped[int, int]:
        return runner("key", lambda: Grouped(_doubles([])))

    first, second = asyncio.run(made()), asyncio.run(made())
    assert first is not second


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Grouped(_doubles([]), concurrency=0)
