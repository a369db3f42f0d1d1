"""``solve()``: unserviceable clients set aside, the backend run, indices mapped back."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from solver import check, solve
from solver.errors import BackendError
from solver.model import Client, Problem, VehicleType
from solver.result import Result
from solver.unserviceable import FLEET_FULL
from tests.solver.naive import problems, serviceable_alone
from tests.solver.tiny_problems import line_problem


def _mixed() -> Problem:
    """Client 0 is too heavy, so the backend only sees clients 1-3 (as its 0-2)."""
    return line_problem(
        [0, 10, 20, -10, -20],
        [
            Client(location=1, demand=(20,)),
            Client(location=2, demand=(3,)),
            Client(location=3, demand=(3,)),
            Client(location=4, demand=(3,)),
        ],
        [VehicleType(count=2, capacity=(6,))],
    )


def _checked(problem: Problem, result: Result) -> Result:
    report = check(problem, result)
    assert report.feasible, report.violations
    return result


@pytest.mark.parametrize("backend", ["ortools", "velocal"])
def test_unserviceable_are_set_aside_and_indices_map_back(backend: str) -> None:
    """The heavy client is unassigned with its reason; the others keep their own indices."""
    problem = _mixed()
    result = _checked(problem, solve(problem, backend=backend, time_limit_s=0.5))  # type: ignore[arg-type]
    assert result.backend == backend
    assert [(u.client, u.reason) for u in result.unassigned] == [
        (0, "demand 20 load exceeds every bike's capacity (max 6)")
    ]
    assert sorted(c for route in result.client_routes() for c in route) == [1, 2, 3]


@pytest.mark.parametrize("backend", ["ortools", "velocal"])
def test_a_small_fleet_leaves_clients_fleet_full(backend: str) -> None:
    """One bike of 6 and three parcels of 3: one is left 'fleet full'."""
    problem = _mixed().replace(vehicle_types=(VehicleType(count=1, capacity=(6,)),))
    result = _checked(problem, solve(problem, backend=backend, time_limit_s=0.5))  # type: ignore[arg-type]
    reasons = sorted(u.reason for u in result.unassigned)
    assert len(reasons) == 2
    assert FLEET_FULL in reasons


@pytest.mark.parametrize("backend", ["ortools", "velocal"])
def test_same_seed_same_result(backend: str) -> None:
    """The same seed and iteration cap give the same routes."""
    problem = _mixed()
    runs = [
        solve(problem, backend=backend, time_limit_s=5, max_iterations=20, seed=7)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert runs[0].client_routes() == runs[1].client_routes()
    assert runs[0].cost == runs[1].cost


def test_nothing_to_route_needs_no_backend() -> None:
    """When every client is unserviceable no backend runs and the result is empty."""
    problem = line_problem([0, 10], [Client(location=1, demand=(500,))])
    result = solve(problem, backend="ortools", time_limit_s=1)
    assert result.routes == ()
    assert len(result.unassigned) == 1
    assert result.feasible


def test_unknown_backend_and_bad_time_limit_are_refused() -> None:
    """Backends are named; a time limit must be positive."""
    problem = _mixed()
    with pytest.raises(BackendError, match="unknown backend 'gurobi'"):
        solve(problem, backend="gurobi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_limit_s must be > 0"):
        solve(problem, backend="ortools", time_limit_s=0)


@given(problems(max_clients=9, only_serviceable=False))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_client_is_served_once_or_unassigned_with_a_true_reason(problem: Problem) -> None:
    """Random problems with clients no bike can take: each client is on exactly one trip or
    unassigned; "fleet full" only for clients some bike could serve alone, any other reason
    only for clients none can; the checker finds the result feasible at its stated cost."""
    result = solve(problem, time_limit_s=60, max_iterations=40, seed=2)
    served = [stop.client for route in result.routes for trip in route.trips for stop in trip.stops]
    left = [u.client for u in result.unassigned]
    assert sorted(served + left) == list(range(problem.n_clients))
    for entry in result.unassigned:
        assert entry.reason
        assert serviceable_alone(problem, entry.client) == (entry.reason == FLEET_FULL), entry
    report = check(problem, result)
    assert report.feasible, report.violations
    assert report.cost == result.cost
