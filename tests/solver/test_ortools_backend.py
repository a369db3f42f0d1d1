"""The OR-Tools backend: feasible per the checker, every constraint kept, nothing lost.

The last test solves random tiny problems (multi-trip, release times, two bike types, two
depots) and compares with a brute force over every solution: the routing model must be
neither looser (infeasible results) nor stricter (worse optimum) than the contract.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from solver.checker import check
from solver.errors import BackendError
from solver.model import Client, Depot, Problem, VehicleType
from solver.ortools_backend import solve_ortools
from solver.result import Result
from solver.unserviceable import FLEET_FULL
from tests.solver.naive import brute_force
from tests.solver.tiny_problems import line_problem

LIMIT_S = 0.3


def _solve(problem: Problem, **options: object) -> Result:
    result = solve_ortools(problem, time_limit_s=LIMIT_S, **options)  # type: ignore[arg-type]
    report = check(problem, result)
    assert report.feasible, report.violations
    assert result.feasible
    assert report.cost == result.cost
    return result


def test_capacity_splits_the_clients_over_bikes() -> None:
    """Four parcels of 4 on bikes carrying 8: two full routes, none overloaded."""
    problem = line_problem(
        [0, 10, 12, -10, -12],
        [Client(location=i, demand=(4,)) for i in range(1, 5)],
        [VehicleType(count=3, capacity=(8,))],
    )
    result = _solve(problem)
    assert not result.unassigned
    assert sorted(sorted(r.clients) for r in result.routes) == [[0, 1], [2, 3]]
    assert result.cost == 48


def test_time_windows_decide_the_order() -> None:
    """The far client closes early, the near one opens late: far first, then near."""
    problem = line_problem(
        [0, 10, 20],
        [Client(location=1, tw_early=60, tw_late=70), Client(location=2, tw_late=25)],
    )
    result = _solve(problem)
    assert result.client_routes() == [[1, 0]]
    assert [s.service_start for s in result.routes[0].trips[0].stops] == [20, 60]


def test_release_time_is_respected_by_the_trip_carrying_it() -> None:
    """A parcel ready at 50 cannot go out at 0: its trip leaves at 50 or later."""
    problem = line_problem(
        [0, 10, -10],
        [Client(location=1, release=50), Client(location=2, tw_late=15)],
        [VehicleType(count=2)],
    )
    result = _solve(problem)
    for route in result.routes:
        for trip in route.trips:
            if 0 in trip.clients:
                assert trip.departure >= 50
    assert not result.unassigned


def test_multi_trip_reloads_one_bike() -> None:
    """One bike carrying 5 and three parcels of 4: three trips with reloads between."""
    problem = line_problem(
        [0, 10, 20, 30],
        [Client(location=i, demand=(4,)) for i in range(1, 4)],
        [VehicleType(count=1, capacity=(5,), max_trips=3, reload=5)],
    )
    result = _solve(problem)
    assert not result.unassigned
    assert result.n_routes == 1
    assert result.n_trips == 3
    trips = result.routes[0].trips
    for before, after in itertools.pairwise(trips):
        assert after.departure >= before.return_time + 5


def test_release_times_on_later_trips() -> None:
    """The parcel released late rides on the second trip, the early one on the first."""
    problem = line_problem(
        [0, 10, -10],
        [Client(location=1, demand=(4,), release=100), Client(location=2, demand=(4,))],
        [VehicleType(count=1, capacity=(5,), max_trips=2, reload=3)],
    )
    result = _solve(problem)
    assert [t.clients for t in result.routes[0].trips] == [[1], [0]]
    assert result.routes[0].trips[1].departure == 100


def test_reload_must_be_back_before_the_start_depot_closes() -> None:
    """The bike ends at another depot, so only the reload visit checks depot 0's hours.

    Serving client 1 first is cheaper (distance 4 against 22) but brings the bike back to
    depot 0 at 29, after it closes at 25; client 0 first is back at 20.
    """
    durations = line_problem([0, 0, 10, 12], []).durations[0]
    distances = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [10, 1, 0, 5], [1, 10, 5, 0]])
    problem = Problem(
        depots=(Depot(location=0, closes=25), Depot(location=1)),
        clients=(Client(location=2, demand=(4,)), Client(location=3, demand=(4,), service=5)),
        vehicle_types=(VehicleType(capacity=(5,), max_trips=2, end_depot=1),),
        durations=durations,
        distances=distances,
    )
    result = _solve(problem)
    assert [t.clients for t in result.routes[0].trips] == [[0], [1]]
    assert result.cost == 22


def test_unserviceable_clients_come_back_with_reasons() -> None:
    """Too heavy and unreachable windows are reported; the rest is served."""
    problem = line_problem(
        [0, 10, 20, 30],
        [
            Client(location=1, demand=(50,)),
            Client(location=2, tw_late=5),
            Client(location=3, demand=(2,)),
        ],
        [VehicleType(capacity=(10,))],
    )
    result = _solve(problem)
    reasons = {u.client: u.reason for u in result.unassigned}
    assert set(reasons) == {0, 1}
    assert "exceeds every bike's capacity" in reasons[0]
    assert "cannot be reached" in reasons[1]
    assert result.client_routes() == [[2]]


def test_too_small_a_fleet_leaves_clients_fleet_full() -> None:
    """One bike of 8 and three parcels of 4: one parcel waits, 'fleet full'."""
    problem = line_problem(
        [0, 10, 20, 30],
        [Client(location=i, demand=(4,)) for i in range(1, 4)],
        [VehicleType(count=1, capacity=(8,))],
    )
    result = _solve(problem)
    assert [u.reason for u in result.unassigned] == [FLEET_FULL]
    assert len(result.routes[0].clients) == 2


def test_cheaper_bike_type_and_own_depot_are_used() -> None:
    """Fixed costs pick the cheap type; a parcel at depot 1 rides a depot-1 bike."""
    problem = line_problem(
        [0, 100, 10, 110],
        [Client(location=2), Client(location=3, depot=1)],
        [
            VehicleType(fixed_cost=500),
            VehicleType(fixed_cost=10),
            VehicleType(start_depot=1, fixed_cost=10),
        ],
        depots=[Depot(location=0), Depot(location=1)],
    )
    result = _solve(problem)
    assert sorted((r.vehicle_type, r.clients) for r in result.routes) == [(1, [0]), (2, [1])]


def test_same_seed_and_iterations_give_the_same_routes() -> None:
    """Repeatable: the same seed and iteration cap give identical results."""
    rng = np.random.default_rng(3)
    positions = [0, *rng.integers(-50, 50, size=12).tolist()]
    problem = line_problem(
        positions,
        [Client(location=i, demand=(int(rng.integers(1, 5)),)) for i in range(1, 13)],
        [VehicleType(count=4, capacity=(10,))],
    )
    first = solve_ortools(problem, time_limit_s=5, seed=4, max_iterations=30)
    second = solve_ortools(problem, time_limit_s=5, seed=4, max_iterations=30)
    assert first.client_routes() == second.client_routes()
    assert first.cost == second.cost
    assert first.iterations == second.iterations <= 30


def test_a_non_positive_time_limit_is_refused() -> None:
    """A time limit must be positive."""
    problem = line_problem([0, 10], [Client(location=1)])
    with pytest.raises(BackendError, match="time_limit_s must be > 0"):
        solve_ortools(problem, time_limit_s=0)


# --- exact agreement with a brute force on random tiny problems ---------------------------


def _random_problem(rng: random.Random, n: int) -> Problem:
    points = [(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(n + 2)]
    ride = np.array([[round(np.hypot(a[0] - b[0], a[1] - b[1])) for b in points] for a in points])
    clients = []
    for location in range(2, n + 2):
        early = rng.choice([0, 0, rng.randint(0, 60)])
        clients.append(
            Client(
                location=location,
                demand=(rng.randint(0, 5), rng.randint(0, 3)),
                service=rng.randint(0, 5),
                tw_early=early,
                tw_late=rng.choice([10**6, early + rng.randint(5, 60)]),
                release=rng.choice([0, 0, rng.randint(0, 50)]),
                depot=rng.choice([0, 0, 1]),
            )
        )
    types = tuple(
        VehicleType(
            capacity=(rng.randint(5, 12), rng.randint(2, 6)),
            max_trips=rng.choice([1, 2, None]),
            reload=rng.randint(0, 10),
            shift_start=rng.randint(0, 10),
            shift_end=rng.choice([10**6, rng.randint(60, 200)]),
            fixed_cost=rng.choice([0, 10]),
            profile=profile,
            start_depot=rng.choice([0, 1]) if profile else 0,
            end_depot=rng.choice([None, 0, 1]),
        )
        for profile in range(2)
    )
    matrices = np.stack([ride, 2 * ride])
    return Problem(
        depots=(Depot(0, closes=rng.choice([10**6, rng.randint(80, 200)])), Depot(1)),
        clients=tuple(clients),
        vehicle_types=types,
        durations=matrices,
        distances=matrices,
        objective=rng.choice(["distance", "duration"]),
        dimensions=("kg", "boxes"),
    )


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_on_tiny_problems(seed: int) -> None:
    """The best the routing model finds is the true optimum: as many served, same cost."""
    problem = _random_problem(random.Random(seed), n=3)
    result = _solve(problem)
    assert (len(result.unassigned), result.cost) == brute_force(problem)


def test_anytime_curve_ends_at_the_returned_cost() -> None:
    """OR-Tools' improving solutions form a falling curve that ends at the result's cost."""
    problem = line_problem(
        [0, 10, 20, 30, -10, -20, -30],
        [Client(location=i, demand=(2,)) for i in range(1, 7)],
        [VehicleType(count=3, capacity=(4,))],
    )
    result = solve_ortools(problem, time_limit_s=1, seed=0)
    costs = [cost for _, cost in result.progress]
    assert costs, "OR-Tools reports at least its first solution"
    assert costs == sorted(costs, reverse=True)
    assert costs[-1] == result.cost
