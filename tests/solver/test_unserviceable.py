"""Clients no bike can serve alone are found before the search, each with a usable reason."""

from __future__ import annotations

import numpy as np

from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.unserviceable import find_unserviceable
from tests.solver.tiny_problems import line_problem


def test_a_servable_client_has_no_reason() -> None:
    """Nothing to report when one bike can do the client alone."""
    problem = line_problem([0, 10], [Client(location=1, demand=(5,))])
    assert find_unserviceable(problem) == {}


def test_too_heavy_names_the_dimension_and_the_largest_capacity() -> None:
    """12 kg against bikes of 8 and 10 kg: the reason quotes the 10."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, demand=(12, 1))],
        [VehicleType(capacity=(8, 5)), VehicleType(capacity=(10, 5))],
        dimensions=("kg", "boxes"),
    )
    assert find_unserviceable(problem) == {0: "demand 12 kg exceeds every bike's capacity (max 10)"}


def test_no_bike_at_the_clients_depot() -> None:
    """A parcel at depot 1 when every bike starts at depot 0."""
    problem = line_problem([0, 10, 20], [Client(location=1, depot=1)], depots=[Depot(0), Depot(2)])
    assert find_unserviceable(problem) == {0: "no vehicle starts at its depot (depot 1)"}


def test_no_path_from_or_to_the_depot() -> None:
    """A matrix entry of MAX_TIME means no path; one direction is enough to fail."""
    matrix = np.array([[0, 10], [MAX_TIME, 0]])
    problem = Problem(
        depots=(Depot(0),),
        clients=(Client(location=1),),
        vehicle_types=(VehicleType(),),
        durations=matrix,
        distances=matrix,
    )
    assert find_unserviceable(problem) == {0: "no path from/to depot 0"}


def test_window_that_no_shift_reaches() -> None:
    """Shift starts at 50, the ride takes 10, the window closes at 40."""
    problem = line_problem([0, 10], [Client(location=1, tw_late=40)], [VehicleType(shift_start=50)])
    reason = find_unserviceable(problem)[0]
    assert reason.startswith("time window 0–40 cannot be reached from depot 0")
    assert "earliest service start 60" in reason


def test_release_counts_when_reaching_the_window() -> None:
    """Ready at 35, ten minutes' ride: too late for a window closing at 40."""
    problem = line_problem([0, 10], [Client(location=1, tw_late=40, release=35)])
    assert "cannot be reached" in find_unserviceable(problem)[0]


def test_no_time_to_ride_back_before_the_shift_ends() -> None:
    """Served at 10 for 30, the ride back ends at 50, the shift at 45."""
    problem = line_problem([0, 10], [Client(location=1, service=30)], [VehicleType(shift_end=45)])
    assert "leaves no time to ride back" in find_unserviceable(problem)[0]


def test_one_capable_type_is_enough() -> None:
    """A small bike fails on weight, a big slow one still serves: no reason."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, demand=(9,), tw_late=30)],
        [VehicleType(capacity=(5,)), VehicleType(capacity=(10,), shift_start=15)],
    )
    assert find_unserviceable(problem) == {}
