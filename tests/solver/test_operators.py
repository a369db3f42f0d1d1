"""The search core's moves: predicted changes equal recomputed ones, routes equal naive.py.

On small random problems (every feature of the model) and random, possibly infeasible,
solutions: every operator's evaluation (cost change including the load and time-warp
penalties) equals the change measured after applying it and recomputing every route from
scratch; the incremental update equals that recomputation; the O(1) bounds the local search
prunes with never exceed the true change; and each route's cost, load excess and time warp
equal the contract's simulation in ``naive.schedule``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver._core import arrays as A  # noqa: N812 (the kernels' field constants)
from solver._core.context import new_context
from solver._core.neighbours import build_neighbours
from solver._core.probe import (
    INSERT,
    INSERT_RELOAD,
    MOVE_RELOAD,
    NO_MOVE,
    RELOCATE,
    REMOVE_RELOAD,
    REPLACE,
    SWAP,
    TWO_OPT,
    TWO_OPT_STAR,
    probe_apply,
    probe_bound,
    probe_eval,
    probe_refresh,
    probe_totals,
)
from solver.model import Problem
from solver.search import warm_up
from tests.solver.naive import problems, schedule

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def _kernels() -> None:
    warm_up()


class State:
    """A problem's kernel arrays holding a given (maybe infeasible) solution."""

    def __init__(self, problem: Problem, routes: list[list[int]], pen: list[int]) -> None:
        self.problem = problem
        nb, adj = build_neighbours(problem, granular=6, adjacency=6)
        self.inst = A.build_instance(problem, nb, adj)
        self.sol = A.new_solution(self.inst)
        self.wk = A.new_work(self.inst, np.array(pen, dtype=np.int64))
        routed = set()
        for v, seq in enumerate(routes):
            start, end = self.inst.vh[v, A.VH_START], self.inst.vh[v, A.VH_END]
            row = [start, *(x if x >= 0 else start for x in seq), end]
            self.sol.node[v, : len(row)] = row
            self.sol.rt[v, A.RT_LEN] = len(row)
            routed.update(x for x in seq if x >= 0)
        out = [c for c in range(problem.n_clients) if c not in routed]
        self.sol.un[: len(out)] = out
        self.sol.misc[A.M_UN] = len(out)
        self.ctx = new_context(self.inst, self.sol, self.wk)
        probe_refresh(self.ctx)

    def lengths(self) -> np.ndarray:
        return self.sol.rt[:, A.RT_LEN]

    def trips(self, v: int) -> list[list[int]]:
        n_clients = self.problem.n_clients
        trips: list[list[int]] = [[]]
        for x in self.sol.node[v, 1 : self.lengths()[v] - 1].tolist():
            if x >= n_clients:
                trips.append([])
            else:
                trips[-1].append(x)
        return [t for t in trips if t]

    def total(self) -> int:
        return int(sum(probe_totals(self.ctx)))


@st.composite
def states(draw: st.DrawFn) -> State:
    """A random problem and a random solution of it (capacities and windows ignored)."""
    problem = draw(problems(max_clients=9, min_clients=2))
    # The kernels' fleet: types expanded, counts capped at the clients a type could carry.
    fleet = A.build_instance(problem, *build_neighbours(problem, granular=1, adjacency=1)).vh
    n_vehicles = len(fleet)
    starts = fleet[:, A.VH_GROUP].tolist()
    trips_max = fleet[:, A.VH_MAXTRIPS].tolist()
    routes: list[list[int]] = [[] for _ in range(n_vehicles)]
    for c, client in enumerate(problem.clients):
        fits = [v for v in range(n_vehicles) if starts[v] == client.depot]
        choice = draw(st.sampled_from([-1, *fits]))
        if choice >= 0:
            routes[choice].insert(draw(st.integers(0, len(routes[choice]))), c)
    for v, seq in enumerate(routes):
        reloads = 0
        for q in range(len(seq) - 1, 0, -1):
            if reloads + 1 < trips_max[v] and draw(st.booleans()):
                seq.insert(q, -1)
                reloads += 1
    pen = [draw(st.integers(1, 200)) for _ in range(problem.n_dimensions + 1)]
    return State(problem, routes, pen)


def assert_routes_match_naive(state: State) -> None:
    """Each route's stored cost, excess and time warp equal the contract's simulation."""
    for v in np.flatnonzero(state.lengths() > 2):
        vehicle_type = int(state.inst.vh[v, A.VH_TYPE])
        naive = schedule(state.problem, vehicle_type, state.trips(v))
        rt = state.sol.rt[v]
        assert rt[A.RT_COST] == naive.cost
        assert list(rt[A.RT_EXC : A.RT_EXC + state.problem.n_dimensions]) == naive.excess
        assert rt[A.RT_TW] == naive.time_warp, (v, state.trips(v))


def draw_move(data: st.DataObject, state: State) -> tuple[int, list[int]]:
    """A random move (operator and arguments), valid or not."""
    lengths = state.lengths()
    used = [int(v) for v in np.flatnonzero(lengths > 2)]
    vehicles = list(range(len(lengths)))
    op = data.draw(st.sampled_from(range(9)))
    ru = data.draw(st.sampled_from(used)) if used else 0
    rv = data.draw(st.sampled_from(vehicles))
    nu, nv = int(lengths[ru]), int(lengths[rv])

    def pos(lo: int, hi: int) -> int:
        return data.draw(st.integers(lo, max(lo, hi)))

    if op == RELOCATE:
        args = [ru, pos(1, nu - 2), pos(1, 3), pos(0, 1), rv, pos(0, nv - 2)]
    elif op == SWAP:
        args = [ru, pos(1, nu - 2), pos(1, 2), rv, pos(1, nv - 2), pos(1, 2)]
    elif op == TWO_OPT_STAR:
        args = [ru, pos(0, nu - 2), rv, pos(0, nv - 2)]
    elif op == TWO_OPT:
        i = pos(0, nu - 4)
        args = [ru, i, pos(i + 2, nu - 2)]
    elif op == INSERT_RELOAD:
        args = [ru, pos(0, nu - 2)]
    elif op in (REMOVE_RELOAD, MOVE_RELOAD):
        n_clients = state.problem.n_clients
        reloads = [
            (int(v), q)
            for v in used
            for q in range(1, int(lengths[v]) - 1)
            if state.sol.node[v, q] >= n_clients
        ]
        r, i = data.draw(st.sampled_from(reloads)) if reloads else (ru, 1)
        args = [r, i] if op == REMOVE_RELOAD else [r, i, pos(1, int(lengths[r]) - 2)]
    else:
        out = state.sol.un[: state.sol.misc[A.M_UN]].tolist()
        client = data.draw(st.sampled_from(out)) if out else 0
        args = [client, rv, pos(0, nv - 2)] if op == INSERT else [client, ru, pos(1, nu - 2)]
        if not out:
            op = TWO_OPT
            args = [ru, 0, 0]
    return op, args


def ls_would_bound(state: State, op: int, args: list[int]) -> bool:
    """The local search asks for a bound only for valid moves it would make (see try_pair)."""
    lengths = state.lengths()
    trip = state.sol.ps[:, :, A.PS_TRIP]

    def clients_only(r: int, i: int, m: int) -> bool:
        return i >= 1 and i + m - 1 <= lengths[r] - 2 and trip[r, i + m - 1] == trip[r, i - 1]

    if op == RELOCATE:
        ru, i, m, _, rv, j = args
        same_spot = ru == rv and i - 1 <= j <= i + m - 1
        return clients_only(ru, i, m) and 0 <= j <= lengths[rv] - 2 and not same_spot
    if op == SWAP:
        ru, i, m1, rv, j, m2 = args
        return clients_only(ru, i, m1) and clients_only(rv, j, m2)
    if op == TWO_OPT_STAR:
        ru, i, rv, j = args
        return ru != rv and lengths[rv] > 2
    if op == TWO_OPT:
        r, i, j = args
        return j >= i + 2 and j <= lengths[r] - 2
    return False


@given(state=states(), data=st.data())
@SETTINGS
def test_predicted_change_equals_recomputed_change(state: State, data: st.DataObject) -> None:
    """delta(move) == cost after − cost before (penalties included), for every operator."""
    assert_routes_match_naive(state)
    for _ in range(25):
        op, args = draw_move(data, state)
        packed = np.array([*args, 0, 0, 0, 0, 0, 0][:8], dtype=np.int64)
        bound = probe_bound(state.ctx, op, packed) if ls_would_bound(state, op, args) else None
        before = state.total()
        delta, r1, r2 = probe_eval(state.ctx, op, packed, True)
        if delta == NO_MOVE:
            continue
        if bound is not None and bound != -1:
            assert bound <= delta, (op, args)
        inserted = args[0] if op in (INSERT, REPLACE) else -1
        removed = int(state.sol.node[args[1], args[2]]) if op == REPLACE else -1
        assert probe_apply(state.ctx, r1, r2, inserted, removed)
        stored = state.total()
        recomputed = int(sum(probe_refresh(state.ctx)))
        assert stored == recomputed, (op, args)
        assert recomputed - before == delta, (op, args)
        assert_routes_match_naive(state)
