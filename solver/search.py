"""The search core's public entry point: ``search(problem) -> SearchOutcome``.

A ruin-and-recreate iterated local search (SISR strings, greedy insertion with blinks,
simulated annealing) with a granular local search under penalised infeasibility, run by numba
kernels over flat arrays (``solver._core``). This wrapper validates the call, builds the
arrays, runs the kernels in chunks until the time or iteration limit, checks the best solution
against the contract in plain Python, and reports it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from solver._core import arrays as _arrays
from solver._core.arrays import (
    F_BLINK,
    F_CBAR,
    F_DEPTH,
    F_LMAX,
    F_P0,
    F_P1,
    F_SPLIT,
    F_T0,
    F_TARGET,
    F_TF,
    PENALTY_MAX,
    PENALTY_UNIT,
    S_BEST_OBJ,
    S_BEST_UN,
    S_ITER,
    S_MAX_ITER,
)
from solver._core.check import first_offender, trips_cost
from solver._core.context import new_context
from solver._core.loop import run
from solver._core.neighbours import build_neighbours
from solver.chunks import run_in_chunks
from solver.errors import ProblemError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType

#: Granular neighbourhood size, and nearest clients scanned by the string removals.
GRANULAR = 20
ADJACENCY = 64
#: SISR (Christiaens & Vanden Berghe 2020): average removed clients, longest string, split
#: string probability and depth, blink rate.
AVERAGE_REMOVED = 10.0
MAX_STRING = 10.0
SPLIT_RATE = 0.5
SPLIT_DEPTH = 0.01
BLINK_RATE = 0.01
#: Share of local search results that should be feasible before repair.
TARGET_FEASIBLE = 0.9
#: Simulated annealing temperatures, as fractions of the initial solution's average arc cost.
START_TEMPERATURE = 0.3
FINAL_TEMPERATURE = 0.01

_compiled = False


@dataclass(frozen=True)
class SearchOutcome:
    """The best solution found.

    ``vehicle_trips`` has one entry per used vehicle: its vehicle *type* index and its trips
    (lists of client indices). ``unassigned`` are clients the fleet could not fit. ``cost`` is
    the contract's cost of the trips. ``feasible`` is True when every returned trip meets every
    hard constraint (checked in plain Python; clients that did not were unassigned).
    ``compile_s`` is the JIT compile (or cache load) time paid by this call, 0 when the kernels
    were already loaded in this process.
    """

    vehicle_trips: list[tuple[int, list[list[int]]]] = field(default_factory=list)
    unassigned: list[int] = field(default_factory=list)
    cost: int = 0
    iterations: int = 0
    runtime_s: float = 0.0
    compile_s: float = 0.0
    feasible: bool = True
    #: (seconds since the search started, cost) each time the best solution improved while
    #: it left no client unassigned; the last entry is the returned cost.
    progress: list[tuple[float, int]] = field(default_factory=list)
    #: Why each unassigned client was left out, when the core can say more than "fleet full".
    reasons: dict[int, str] = field(default_factory=dict)


def _initial_penalties(problem: Problem, inst: _arrays.Inst) -> np.ndarray:
    """Load penalty per dimension ≈ longest arc / largest demand; time warp ≈ cost per second."""
    n_clients = problem.n_clients
    cost = inst.mat[_arrays.MAT_COST, :, :n_clients, :n_clients]
    finite = cost[cost < MAX_TIME]
    max_arc = float(finite.max()) if finite.size else 1.0
    weights = np.ones(problem.n_dimensions + 1)
    for k in range(problem.n_dimensions):
        largest = float(inst.dem[:n_clients, k].max(initial=0))
        weights[k] = max_arc / largest if largest > 0 else 1.0
    dur = inst.mat[_arrays.MAT_DUR, :, :n_clients, :n_clients]
    finite_dur = dur[dur < MAX_TIME]
    mean_cost = float(finite.mean()) if finite.size else 1.0
    mean_dur = float(finite_dur.mean()) if finite_dur.size else 1.0
    weights[-1] = mean_cost / mean_dur if mean_dur > 0 else 1.0
    pen = np.round(weights * PENALTY_UNIT).astype(np.int64)
    return np.clip(pen, 1, PENALTY_MAX)


def _best_routes(
    inst: _arrays.Inst, wk: _arrays.Work
) -> tuple[list[tuple[int, list[list[int]]]], list[int]]:
    n_clients = int(inst.prm[_arrays.P_C])
    routes: list[tuple[int, list[list[int]]]] = []
    for v in range(int(inst.prm[_arrays.P_V])):
        n = int(wk.rv[_arrays.RV_BESTLEN, v])
        if n <= 2:
            continue
        trips: list[list[int]] = [[]]
        for x in wk.snap[_arrays.SNAP_BEST, v, 1 : n - 1].tolist():
            if x >= n_clients:
                trips.append([])
            else:
                trips[-1].append(int(x))
        routes.append((int(inst.vh[v, _arrays.VH_TYPE]), [t for t in trips if t]))
    best_un = wk.cv[_arrays.CV_BESTUN, : int(wk.wst[S_BEST_UN])]
    unassigned = sorted(int(c) for c in best_un)
    return routes, unassigned


def _enforce_contract(
    problem: Problem, routes: list[tuple[int, list[list[int]]]], unassigned: list[int]
) -> tuple[list[tuple[int, list[list[int]]]], list[int], bool]:
    """Take out clients breaking a hard constraint; the third value says whether none did."""
    clean = True
    kept: list[tuple[int, list[list[int]]]] = []
    for vehicle_type, trips in routes:
        while True:
            offender = first_offender(problem, vehicle_type, trips)
            if offender is None:
                break
            clean = False
            trips = [[c for c in t if c != offender] for t in trips]
            trips = [t for t in trips if t]
            unassigned.append(offender)
        if trips:
            kept.append((vehicle_type, trips))
    seen = [c for _, trips in kept for t in trips for c in t]
    missing = set(range(problem.n_clients)) - set(seen) - set(unassigned)
    return kept, sorted(set(unassigned) | missing), clean and not missing


def _run(
    problem: Problem, time_limit_s: float, max_iterations: int | None, seed: int
) -> tuple[_arrays.Inst, _arrays.Work, int, list[tuple[float, int]]]:
    """Build the arrays, construct, then iterate in chunks until a limit.

    Returns the state and the anytime curve (the best cost after each chunk that improved it).
    """
    started = time.perf_counter()
    nb, adj = build_neighbours(problem, granular=GRANULAR, adjacency=ADJACENCY)
    inst = _arrays.build_instance(problem, nb, adj)
    sol = _arrays.new_solution(inst)
    wk = _arrays.new_work(inst, _initial_penalties(problem, inst))
    params = wk.fv[0]
    params[F_CBAR] = AVERAGE_REMOVED
    params[F_LMAX] = MAX_STRING
    params[F_SPLIT] = SPLIT_RATE
    params[F_DEPTH] = SPLIT_DEPTH
    params[F_BLINK] = BLINK_RATE
    params[F_TARGET] = TARGET_FEASIBLE
    wk.wst[S_MAX_ITER] = max_iterations or 0
    ctx = new_context(inst, sol, wk)
    run(ctx, 0, seed, True)
    lengths = sol.rt[:, _arrays.RT_LEN]
    used = lengths > 2
    arcs = sum(int(sol.ps[r, lengths[r] - 1, _arrays.PS_CUMC]) for r in np.flatnonzero(used))
    legs = int(lengths[used].sum()) - int(used.sum())
    average_arc = max(arcs / max(legs, 1), 1e-3)
    params[F_T0] = START_TEMPERATURE * average_arc
    params[F_TF] = FINAL_TEMPERATURE * average_arc
    progress: list[tuple[float, int]] = []
    _record_best(wk, started, progress)

    def step(chunk: int, p0: float, p1: float) -> None:
        # Progress at the chunk's start and (estimated) end, for the temperature schedule.
        params[F_P0] = p0
        params[F_P1] = p1
        run(ctx, chunk, 0, False)

    run_in_chunks(
        step,
        started=started,
        time_limit_s=time_limit_s,
        max_iterations=max_iterations,
        after_chunk=lambda: _record_best(wk, started, progress),
    )
    return inst, wk, int(wk.wst[S_ITER]), progress


def _record_best(wk: _arrays.Work, started: float, progress: list[tuple[float, int]]) -> None:
    """Append the best cost when it improved and leaves nobody out (then objective = cost)."""
    if int(wk.wst[S_BEST_UN]) > 0:
        return
    best = int(wk.wst[S_BEST_OBJ])
    if not progress or best < progress[-1][1]:
        progress.append((round(time.perf_counter() - started, 4), best))


def _validate(time_limit_s: float, max_iterations: int | None, seed: int) -> None:
    if not isinstance(time_limit_s, int | float) or math.isnan(time_limit_s) or time_limit_s < 0:
        raise ProblemError(f"time_limit_s must be a number >= 0, not {time_limit_s!r}")
    if max_iterations is not None and (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 0
    ):
        raise ProblemError(
            f"max_iterations must be None or an integer >= 0, not {max_iterations!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ProblemError(f"seed must be an integer in [0, 2**32), not {seed!r}")


def search(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    max_iterations: int | None = None,
    seed: int = 0,
) -> SearchOutcome:
    """Search for a cheap feasible solution of ``problem`` within the limits.

    Stops after ``time_limit_s`` seconds (compile time excluded) or ``max_iterations``
    ruin-and-recreate iterations, whichever comes first; with ``max_iterations`` and a time
    limit that does not bind, the result depends on ``seed`` only. Every client must be
    serviceable by some vehicle alone (``solver.solve`` removes the others first); those the
    fleet cannot fit are returned as unassigned, their number minimised before the cost.
    """
    _validate(time_limit_s, max_iterations, seed)
    compile_s = 0.0 if _compiled else warm_up()
    started = time.perf_counter()
    if problem.n_clients == 0:
        return SearchOutcome(compile_s=compile_s, runtime_s=time.perf_counter() - started)
    inst, wk, iterations, progress = _run(problem, float(time_limit_s), max_iterations, int(seed))
    routes, unassigned = _best_routes(inst, wk)
    routes, unassigned, clean = _enforce_contract(problem, routes, unassigned)
    cost = sum(trips_cost(problem, vt, trips) for vt, trips in routes)
    return SearchOutcome(
        vehicle_trips=routes,
        unassigned=unassigned,
        cost=cost,
        iterations=iterations,
        runtime_s=time.perf_counter() - started,
        compile_s=compile_s,
        feasible=clean,
        progress=progress if clean and progress and progress[-1][1] == cost else [],
    )


def _tiny_problem() -> Problem:
    """Two clients, two vehicle types (one multi-trip), windows and releases: every kernel."""
    durations = np.array([[0, 5, 7], [5, 0, 4], [7, 4, 0]])
    return Problem(
        depots=(Depot(location=0),),
        clients=(
            Client(location=1, demand=(1,), tw_early=0, tw_late=50, release=3),
            Client(location=2, demand=(2,), service=1),
        ),
        vehicle_types=(
            VehicleType(count=1, capacity=(2,), max_trips=2, reload=1),
            VehicleType(count=1, capacity=(3,), fixed_cost=5),
        ),
        durations=durations,
        distances=durations,
    )


def warm_up() -> float:
    """Compile (or load from the disk cache) every kernel; returns the seconds it took."""
    global _compiled
    started = time.perf_counter()
    _compiled = True
    _run(_tiny_problem(), 60.0, 3, 0)
    return time.perf_counter() - started


__all__ = ["SearchOutcome", "search", "warm_up"]
