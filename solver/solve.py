"""``solve()``: the one entry point, whichever backend does the search.

The recipe: set aside the clients no bike can serve alone (with their reasons), let the
backend route the rest, map its client indices back, and build the timed result from the
contract. Both backends therefore report times, loads and costs computed the same way.
"""

from __future__ import annotations

import time
from typing import Literal

from solver.errors import BackendError
from solver.model import Problem
from solver.result import Result
from solver.schedule import build_result
from solver.unserviceable import FLEET_FULL, find_unserviceable

Backend = Literal["velocal", "ortools"]
BACKENDS: tuple[str, ...] = ("velocal", "ortools")


def solve(
    problem: Problem,
    *,
    backend: Backend = "velocal",
    time_limit_s: float = 10.0,
    max_iterations: int | None = None,
    seed: int = 0,
) -> Result:
    """Route ``problem`` with ``backend`` within ``time_limit_s`` seconds.

    ``runtime_s`` of the result is the wall time of the whole call; ``compile_s`` (the
    velocal core's JIT compilation, if any) is part of it. Unknown backends raise
    :class:`BackendError`.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, not {time_limit_s}")
    started = time.perf_counter()
    unassigned = find_unserviceable(problem)
    keep = [c for c in range(problem.n_clients) if c not in unassigned]
    sub = (
        problem
        if len(keep) == problem.n_clients
        else problem.replace(clients=tuple(problem.clients[c] for c in keep))
    )

    vehicle_trips: list[tuple[int, list[list[int]]]] = []
    iterations = 0
    compile_s = 0.0
    progress: list[tuple[float, int]] = []
    if keep and backend == "ortools":
        from solver.ortools_backend import solve_ortools  # OR-Tools loads slowly: on demand

        inner = solve_ortools(
            sub, time_limit_s=time_limit_s, seed=seed, max_iterations=max_iterations
        )
        vehicle_trips = [
            (route.vehicle_type, [trip.clients for trip in route.trips]) for route in inner.routes
        ]
        left_out = {u.client: u.reason for u in inner.unassigned}
        iterations = inner.iterations
    elif keep:
        from solver.search import search  # the velocal core; imported late (numba compiles)

        outcome = search(sub, time_limit_s=time_limit_s, max_iterations=max_iterations, seed=seed)
        vehicle_trips = [(t, [list(trip) for trip in trips]) for t, trips in outcome.vehicle_trips]
        left_out = dict.fromkeys(outcome.unassigned, FLEET_FULL)
        iterations = outcome.iterations
        compile_s = outcome.compile_s
        progress = outcome.progress
    else:
        left_out = {}

    mapped = [(t, [[keep[c] for c in trip] for trip in trips]) for t, trips in vehicle_trips]
    unassigned.update({keep[c]: reason for c, reason in left_out.items()})
    return build_result(
        problem,
        mapped,
        unassigned=unassigned,
        backend=backend,
        seed=seed,
        runtime_s=time.perf_counter() - started,
        iterations=iterations,
        compile_s=compile_s,
        progress=progress,
    )


__all__ = ["BACKENDS", "Backend", "solve"]
