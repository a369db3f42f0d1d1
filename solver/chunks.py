"""Run a numba search in short chunks so Python can keep the time limit and an anytime curve.

A kernel cannot look at the clock cheaply, so the search runs ``chunk`` iterations per call,
sized to last about ``CHUNK_SECONDS``; between calls the wrapper checks the deadline, tells the
kernel how far along the time budget it is (for the annealing temperature) and records the
best cost so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Kernel calls in time-limited mode last about this long.
CHUNK_SECONDS = 0.02


def run_in_chunks(
    step: Callable[[int, float, float], None],
    *,
    started: float,
    time_limit_s: float,
    max_iterations: int | None,
    after_chunk: Callable[[], None],
) -> None:
    """Call ``step(n, progress_at_start, progress_at_end)`` until a limit is reached.

    The progress values are the share of the time budget used at the chunk's start and its
    estimated end; ``after_chunk`` runs after each call (to record the anytime curve).
    """
    deadline = started + time_limit_s
    span = max(time_limit_s, 1e-9)
    done = 0
    chunk = 1
    per_iteration = 0.0
    while max_iterations is None or done < max_iterations:
        now = time.perf_counter()
        if now >= deadline:
            break
        if max_iterations is not None:
            chunk = min(chunk, max_iterations - done)
        p0 = min(1.0, (now - started) / span)
        p1 = min(1.0, (now - started + chunk * per_iteration) / span)
        step(chunk, p0, p1)
        after_chunk()
        spent = time.perf_counter() - now
        done += chunk
        per_iteration = spent / chunk
        remaining = deadline - time.perf_counter()
        target = min(CHUNK_SECONDS, max(remaining, 0.0) / 2)
        chunk = max(1, min(int(target / max(per_iteration, 1e-7)), 100_000))


__all__ = ["CHUNK_SECONDS", "run_in_chunks"]
