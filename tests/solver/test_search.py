"""``solver.search``: feasible answers, exact costs, optimal on tiny problems, deterministic.

Random small problems use every feature of the model (naive.problems); the answers are
checked with the contract's simulation (naive.schedule), and on problems of up to seven clients
compared with the brute-force optimum (naive.brute_force). Iteration limits, not time limits,
keep the runs deterministic.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from solver.errors import ProblemError
from solver.model import Client, Depot, Problem, VehicleType
from solver.search import SearchOutcome, search, warm_up
from tests.solver.naive import brute_force, check_outcome, problems

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _kernels() -> None:
    warm_up()


def grid_problem(n_clients: int, *, seed: int, windows: bool) -> Problem:
    """A random Euclidean problem with a free fleet (the shape of the benchmark sets)."""
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 100, size=(n_clients + 1, 2))
    matrix = np.floor(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + 0.5).astype(np.int64)
    clients = []
    for i in range(1, n_clients + 1):
        early = int(rng.integers(0, 300)) if windows else 0
        clients.append(
            Client(
                location=i,
                demand=(int(rng.integers(1, 10)),),
                service=5 if windows else 0,
                tw_early=early,
                tw_late=early + 200 if windows else Client(location=0).tw_late,
            )
        )
    return Problem(
        depots=(Depot(location=0),),
        clients=tuple(clients),
        vehicle_types=(VehicleType(count=n_clients, capacity=(30,)),),
        durations=matrix,
        distances=matrix,
    )


@given(problems(max_clients=12))
@SETTINGS
def test_answers_are_feasible_with_exact_cost(problem: Problem) -> None:
    """Every client routed once or unassigned; every trip feasible; cost as the contract."""
    outcome = search(problem, time_limit_s=60, max_iterations=40, seed=3)
    check_outcome(problem, outcome)


@given(problems(max_clients=7))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # a heuristic: a fixed set of examples keeps CI stable
)
def test_tiny_problems_are_solved_to_optimality(problem: Problem) -> None:
    """Up to seven clients: fewest unassigned, then least cost, as brute force finds."""
    outcome = search(problem, time_limit_s=60, max_iterations=2000, seed=1)
    check_outcome(problem, outcome)
    assert (len(outcome.unassigned), outcome.cost) == brute_force(problem)


@pytest.mark.parametrize("windows", [False, True])
def test_same_seed_gives_same_routes(windows: bool) -> None:
    """With an iteration limit the answer depends on the seed only."""
    problem = grid_problem(40, seed=7, windows=windows)
    first = search(problem, time_limit_s=60, max_iterations=300, seed=11)
    second = search(problem, time_limit_s=60, max_iterations=300, seed=11)
    assert first.vehicle_trips == second.vehicle_trips
    assert first.unassigned == second.unassigned
    assert first.cost == second.cost
    assert first.iterations == second.iterations == 300
    check_outcome(problem, first)


def test_too_small_fleet_leaves_the_fewest_clients_out() -> None:
    """Three clients, one bike that takes one parcel: two are reported unassigned."""
    matrix = np.array([[0, 3, 5, 9], [3, 0, 4, 8], [5, 4, 0, 6], [9, 8, 6, 0]])
    problem = Problem(
        depots=(Depot(location=0),),
        clients=tuple(Client(location=i, demand=(6,)) for i in (1, 2, 3)),
        vehicle_types=(VehicleType(count=1, capacity=(10,)),),
        durations=matrix,
        distances=matrix,
    )
    outcome = search(problem, time_limit_s=60, max_iterations=50)
    check_outcome(problem, outcome)
    assert outcome.vehicle_trips == [(0, [[0]])]
    assert outcome.unassigned == [1, 2]
    assert outcome.cost == 6


def test_reloading_serves_more_than_one_load() -> None:
    """One bike, capacity for one parcel, three trips allowed: all three delivered."""
    matrix = np.array([[0, 3, 5, 9], [3, 0, 4, 8], [5, 4, 0, 6], [9, 8, 6, 0]])
    problem = Problem(
        depots=(Depot(location=0),),
        clients=tuple(Client(location=i, demand=(6,)) for i in (1, 2, 3)),
        vehicle_types=(VehicleType(count=1, capacity=(10,), max_trips=3, reload=2),),
        durations=matrix,
        distances=matrix,
    )
    outcome = search(problem, time_limit_s=60, max_iterations=50)
    check_outcome(problem, outcome)
    assert outcome.unassigned == []
    assert outcome.cost == 2 * (3 + 5 + 9)


def test_no_clients_gives_an_empty_answer() -> None:
    """Nothing to deliver: no vehicle used, cost 0."""
    problem = grid_problem(1, seed=0, windows=False).replace(clients=())
    outcome = search(problem, max_iterations=5)
    assert outcome == SearchOutcome(
        runtime_s=outcome.runtime_s, compile_s=outcome.compile_s, iterations=0
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"time_limit_s": -1.0}, {"max_iterations": -2}, {"seed": -1}, {"max_iterations": 1.5}],
)
def test_bad_limits_are_refused(kwargs: dict) -> None:
    """Limits are validated before any work, with the field named."""
    with pytest.raises(ProblemError, match=next(iter(kwargs))):
        search(grid_problem(3, seed=0, windows=False), **kwargs)


def test_time_limit_is_kept() -> None:
    """Without an iteration limit the search stops near its time limit."""
    outcome = search(grid_problem(60, seed=2, windows=True), time_limit_s=0.5)
    assert outcome.runtime_s < 1.5
    assert outcome.iterations > 0


def test_anytime_curve_improves_and_ends_at_the_returned_cost() -> None:
    """The best-so-far curve only goes down, in time order, and ends at the answer's cost."""
    problem = grid_problem(60, seed=5, windows=False)
    outcome = search(problem, time_limit_s=60, max_iterations=500, seed=4)
    times = [t for t, _ in outcome.progress]
    costs = [c for _, c in outcome.progress]
    assert len(costs) >= 2, "500 iterations improve on the first solution"
    assert times == sorted(times)
    assert all(later < earlier for earlier, later in itertools.pairwise(costs))
    assert costs[-1] == outcome.cost
    assert times[-1] <= outcome.runtime_s
