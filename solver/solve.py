"""``solve()``: the one entry point, whichever backend does the search.

The recipe: set aside the clients no bike can serve alone (with their reasons), let the
backend route the rest, map its client indices back, and build the timed result from the
contract. Both backends therefore report times, loads and costs computed the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

from solver.errors import BackendError, ProblemError
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
    initial: Sequence[tuple[int, Sequence[Sequence[int]]]] | None = None,
) -> Result:
    """Route ``problem`` with ``backend`` within ``time_limit_s`` seconds.

    ``runtime_s`` of the result is the wall time of the whole call; ``compile_s`` (the
    velocal core's JIT compilation, if any) is part of it. Unknown backends raise
    :class:`BackendError`. Problems that use operations features (pairs, breaks, re-plan
    state, ...) go to velocal's operations core; ``initial`` (a previous plan: vehicle type
    and trips of client indices per bike) warm-starts it, so a re-plan is quick and stable.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, not {time_limit_s}")
    if initial is not None:
        check_initial(problem, initial)
    started = time.perf_counter()
    unassigned = find_unserviceable(problem)
    partner = problem.partner
    for c in list(unassigned):  # a pair is served whole or not at all
        other = partner.get(c)
        if other is not None and other not in unassigned:
            unassigned[other] = f"its pair partner {c} cannot be served: {unassigned[c]}"
    keep = [c for c in range(problem.n_clients) if c not in unassigned]
    sub = problem if len(keep) == problem.n_clients else _subproblem(problem, keep)
    position = {c: i for i, c in enumerate(keep)}

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
        if sub.uses_operations or initial:
            from solver.operations import search_operations  # numba compiles: imported late

            warm = [
                (t, [[position[c] for c in trip if c in position] for trip in trips])
                for t, trips in (initial or ())
            ]
            outcome = search_operations(
                sub,
                time_limit_s=time_limit_s,
                max_iterations=max_iterations,
                seed=seed,
                initial=warm,
            )
        else:
            from solver.search import search  # the velocal core; imported late (numba compiles)

            outcome = search(
                sub, time_limit_s=time_limit_s, max_iterations=max_iterations, seed=seed
            )
        vehicle_trips = [(t, [list(trip) for trip in trips]) for t, trips in outcome.vehicle_trips]
        left_out = {c: outcome.reasons.get(c, FLEET_FULL) for c in outcome.unassigned}
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


def check_initial(problem: Problem, initial: Sequence[tuple[int, Sequence[Sequence[int]]]]) -> None:
    """Refuse a warm start that names vehicle types or clients the problem does not have."""
    for vehicle_type, trips in initial:
        if not 0 <= vehicle_type < len(problem.vehicle_types):
            raise ProblemError(f"initial: vehicle type {vehicle_type} is not in the problem")
        for trip in trips:
            for c in trip:
                if not 0 <= c < problem.n_clients:
                    raise ProblemError(f"initial: client {c} is not in the problem")


def _subproblem(problem: Problem, keep: list[int]) -> Problem:
    """The problem restricted to ``keep`` (pairs renumbered; pairs with a member gone dropped)."""
    position = {c: i for i, c in enumerate(keep)}
    pairs = tuple(
        (position[p], position[d]) for p, d in problem.pairs if p in position and d in position
    )
    return problem.replace(clients=tuple(problem.clients[c] for c in keep), pairs=pairs)


__all__ = ["BACKENDS", "Backend", "solve"]
