"""The operations core's entry point: ``search_operations(problem) -> SearchOutcome``.

For problems that use pickup-and-delivery pairs, parcels on board, couriers away from the
hub, breaks, ride limits, soft windows, skills, span or balance costs (see
``Problem.uses_operations``). Routes are simulated in full by the contract's rules in numba
(``solver._ops``); a warm start (``initial``) seeds the search with a previous plan so a
re-plan is fast and changes little.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from solver._jit import drop_stale_cache
from solver._ops import kernels as _k
from solver._ops.arrays import P_L, RELOAD, build_ops, vehicle_types_of
from solver.chunks import run_in_chunks
from solver.model import Client, Depot, Problem, VehicleType
from solver.search import SearchOutcome, _validate
from solver.unserviceable import FLEET_FULL

#: SISR: average removed clients, longest string; blink rate of the greedy insertion.
AVERAGE_REMOVED = 10.0
MAX_STRING = 10.0
BLINK_RATE = 0.01
#: Simulated annealing temperatures, as fractions of the first solution's average arc cost.
START_TEMPERATURE = 0.3
FINAL_TEMPERATURE = 0.01

VehicleTrips = tuple[int, Sequence[Sequence[int]]]

_compiled = False
drop_stale_cache(Path(_k.__file__).parent)


def _state(problem: Problem) -> tuple:
    ops = build_ops(problem)
    n_clients = problem.n_clients
    n_vehicles = int(ops.prm[_k.P_V])
    length = int(ops.prm[P_L]) + 4

    def sol() -> _k.Sol:
        return _k.Sol(
            route=np.zeros((n_vehicles, length), dtype=np.int64),
            rlen=np.zeros(n_vehicles, dtype=np.int64),
            rcost=np.zeros(n_vehicles, dtype=np.int64),
            rdur=np.zeros(n_vehicles, dtype=np.int64),
            where=np.full(n_clients, -1, dtype=np.int64),
        )

    scr = _k.Scratch(
        pick=np.zeros((3, n_clients + 1), dtype=np.int64),
        load=np.zeros(problem.n_dimensions, dtype=np.int64),
        buf=np.zeros(length, dtype=np.int64),
        rm=np.zeros(n_clients, dtype=np.int64),
        vmark=np.zeros(n_vehicles, dtype=np.int64),
        units=np.zeros(n_clients, dtype=np.int64),
        keys=np.zeros(n_clients, dtype=np.float64),
        prv=np.zeros(length + 1, dtype=np.int64),
        nxt=np.zeros(length + 1, dtype=np.int64),
    )
    return ops, sol(), sol(), sol(), scr, np.zeros(length, dtype=np.int64)


def _load_initial(
    problem: Problem, ops: object, cur: _k.Sol, scr: _k.Scratch, initial: Sequence[VehicleTrips]
) -> None:
    """Put a previous plan into ``cur``: each bike's trips on a vehicle of its type.

    A bike whose trips break a rule now (times moved on, a client gone) is emptied; its
    clients are inserted afresh like new orders.
    """
    types = vehicle_types_of(problem)
    free = {int(t): [int(v) for v in np.flatnonzero(types == t)] for t in set(types.tolist())}
    seen: set[int] = set()
    for vehicle_type, trips in initial:
        vehicles = free.get(int(vehicle_type), [])
        if not vehicles:
            continue
        v = vehicles.pop(0)
        row: list[int] = []
        for number, trip in enumerate(trips):
            clients = [int(c) for c in trip if 0 <= int(c) < problem.n_clients and c not in seen]
            if number:
                row.append(RELOAD)
            row.extend(clients)
            seen.update(clients)
        row = _drop_broken_pairs(problem, row)
        cur.route[v, : len(row)] = row
        cur.rlen[v] = len(row)
        for c in row:
            if c >= 0:
                cur.where[c] = v
    while True:
        bad = int(_k.evaluate_all(ops, cur, scr))
        if bad < 0:
            return
        for c in cur.route[bad, : cur.rlen[bad]]:
            if c >= 0:
                cur.where[c] = -1
        cur.rlen[bad] = 0


def _drop_broken_pairs(problem: Problem, row: list[int]) -> list[int]:
    partner = problem.partner
    present = set(row)
    return [c for c in row if c < 0 or c not in partner or partner[c] in present]


def search_operations(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    max_iterations: int | None = None,
    seed: int = 0,
    initial: Sequence[VehicleTrips] | None = None,
) -> SearchOutcome:
    """Search for a cheap feasible plan of ``problem`` within the limits.

    Every client must be serviceable alone (``solver.solve`` sets the others aside); those
    that no bike can fit are returned unassigned. ``initial`` is a previous plan as
    (vehicle type, trips of client indices) per bike, used as the starting solution.
    """
    _validate(time_limit_s, max_iterations, seed)
    compile_s = 0.0 if _compiled else warm_up()
    started = time.perf_counter()
    if problem.n_clients == 0:
        return SearchOutcome(compile_s=compile_s, runtime_s=time.perf_counter() - started)
    ops, cur, cand, best, scr, best_buf = _state(problem)
    if initial:
        _load_initial(problem, ops, cur, scr, initial)
    params = np.zeros(_k.N_F, dtype=np.float64)
    params[_k.F_CBAR] = AVERAGE_REMOVED
    params[_k.F_LMAX] = MAX_STRING
    params[_k.F_BLINK] = BLINK_RATE
    st = np.zeros(_k.N_S, dtype=np.int64)
    st[_k.S_MAX_ITER] = max_iterations or 0
    _k.run(ops, cur, cand, best, scr, best_buf, params, st, 0, seed, True)
    average_arc = _average_arc(ops, cur)
    params[_k.F_T0] = START_TEMPERATURE * average_arc
    params[_k.F_TF] = FINAL_TEMPERATURE * average_arc
    progress: list[tuple[float, int]] = []
    _record(best, st, started, progress)

    def step(chunk: int, p0: float, p1: float) -> None:
        params[_k.F_P0] = p0
        params[_k.F_P1] = p1
        _k.run(ops, cur, cand, best, scr, best_buf, params, st, chunk, 0, False)

    run_in_chunks(
        step,
        started=started,
        time_limit_s=time_limit_s,
        max_iterations=max_iterations,
        after_chunk=lambda: _record(best, st, started, progress),
    )

    routes, unassigned = _routes(problem, best)
    reasons = _diagnose(problem, ops, best, scr, unassigned)
    cost = int(_k.objective(ops, best))
    return SearchOutcome(
        vehicle_trips=routes,
        unassigned=unassigned,
        cost=cost - int(ops.prm[_k.P_BIGM]) * int(ops.ci[unassigned, _k.CI_WEIGHT].sum()),
        iterations=int(st[_k.S_ITER]),
        runtime_s=time.perf_counter() - started,
        compile_s=compile_s,
        feasible=True,
        progress=progress if progress and not unassigned else [],
        reasons=reasons,
    )


#: What each rule code of the kernels means, for the reasons of clients left out.
RULE_NAMES = {
    _k.R_CAPACITY: "capacity",
    _k.R_WINDOW: "a time window",
    _k.R_SHIFT: "the shift end or depot hours",
    _k.R_RIDE: "a ride-time limit",
    _k.R_ORDER: "pickup before delivery",
    _k.R_TRIPS: "the trip limit",
    _k.R_BREAK: "the break window",
    _k.R_AWAY: "no trip from the depot",
    _k.R_ON_BOARD: "keeping parcels on board on the first trip",
}


def _diagnose(
    problem: Problem, ops: object, sol: _k.Sol, scr: _k.Scratch, unassigned: list[int]
) -> dict[int, str]:
    """Name the rules that every insertion of a left-out client breaks, most often first."""
    reasons: dict[int, str] = {}
    partner = problem.partner
    pickups = {p for p, _ in problem.pairs}
    for c in unassigned:
        unit = c if c not in partner or c in pickups else partner[c]
        counts = np.zeros(_k.N_RULES, dtype=np.int64)
        _k.diagnose(ops, sol, scr, unit, counts)
        broken = [(int(counts[r]), name) for r, name in RULE_NAMES.items() if counts[r]]
        broken.sort(reverse=True)
        if broken:
            parts = [
                f"{name} ({count} place{'s' if count > 1 else ''})" for count, name in broken[:3]
            ]
            reasons[c] = f"{FLEET_FULL}; every insertion breaks " + ", ".join(parts)
        else:
            reasons[c] = FLEET_FULL
    return reasons


def _average_arc(ops: object, sol: _k.Sol) -> float:
    arcs = float(sol.rcost.sum())
    legs = int(sol.rlen.sum()) + int((sol.rlen > 0).sum())
    return max(arcs / max(legs, 1), 1e-3)


def _record(
    best: _k.Sol, st: np.ndarray, started: float, progress: list[tuple[float, int]]
) -> None:
    if (best.where < 0).any():
        return
    value = int(st[_k.S_BEST])
    if not progress or value < progress[-1][1]:
        progress.append((round(time.perf_counter() - started, 4), value))


def _routes(problem: Problem, sol: _k.Sol) -> tuple[list[tuple[int, list[list[int]]]], list[int]]:
    types = vehicle_types_of(problem)
    routes: list[tuple[int, list[list[int]]]] = []
    for v in range(sol.rlen.shape[0]):
        n = int(sol.rlen[v])
        if n == 0:
            continue
        trips: list[list[int]] = [[]]
        for x in sol.route[v, :n].tolist():
            if x == RELOAD:
                trips.append([])
            else:
                trips[-1].append(int(x))
        routes.append((int(types[v]), trips))
    unassigned = sorted(int(c) for c in np.flatnonzero(sol.where < 0))
    return routes, unassigned


def _tiny_problem() -> Problem:
    """A pair, a depot parcel, a break, a soft window and a bike away from the depot."""
    durations = np.array([[0, 5, 7, 4], [5, 0, 4, 3], [7, 4, 0, 6], [4, 3, 6, 0]])
    return Problem(
        depots=(Depot(location=0),),
        clients=(
            Client(location=1, demand=(1,), release=2),
            Client(location=2, demand=(1,), due=20, late_cost=2, max_ride=50),
            Client(location=3, demand=(2,), requires=("cooled",)),
        ),
        vehicle_types=(
            VehicleType(count=1, capacity=(3,), max_trips=2, break_duration=2, break_late=10),
            VehicleType(count=1, capacity=(3,), skills=("cooled",), start_location=1),
        ),
        durations=durations,
        distances=durations,
        pairs=((0, 1),),
        max_duration_cost=1,
    )


def warm_up() -> float:
    """Compile (or load from the disk cache) every kernel; returns the seconds it took."""
    global _compiled
    started = time.perf_counter()
    _compiled = True
    search_operations(_tiny_problem(), time_limit_s=60, max_iterations=3)
    return time.perf_counter() - started


__all__ = ["search_operations", "warm_up"]
