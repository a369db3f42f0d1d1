"""The problem model rejects bad data when it is built, with a message naming the field."""

from __future__ import annotations

import re

import numpy as np
import pytest

from solver.errors import ProblemError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType, describe


def _problem(**changes: object) -> Problem:
    fields: dict[str, object] = {
        "depots": (Depot(location=0),),
        "clients": (Client(location=1, demand=(3,)), Client(location=2, demand=(4,))),
        "vehicle_types": (VehicleType(capacity=(10,)),),
        "durations": np.ones((3, 3), dtype=np.int64),
        "distances": np.ones((3, 3), dtype=np.int64),
    }
    fields.update(changes)
    return Problem(**fields)  # type: ignore[arg-type]


def test_a_valid_problem_is_frozen_and_counts_itself() -> None:
    """A good problem builds, counts clients and vehicles, and cannot be changed in place."""
    problem = _problem()
    assert (problem.n_clients, problem.n_vehicles, problem.n_dimensions) == (2, 1, 1)
    assert problem.durations.shape == (1, 3, 3)
    with pytest.raises(AttributeError):
        problem.name = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        problem.durations[0, 0, 1] = 5
    assert "2 clients" in describe(problem)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Client(location=1, demand=(-1,)), "demand[0]"),
        (lambda: Client(location=1, tw_early=10, tw_late=5), "tw_early"),
        (lambda: Client(location=-1), "location"),
        (lambda: Client(location=1, service=-3), "service"),
        (lambda: Client(location=1, release=1.5), "release"),  # type: ignore[arg-type]
        (lambda: Depot(location=0, opens=9, closes=8), "opens"),
        (lambda: VehicleType(count=0), "count"),
        (lambda: VehicleType(shift_start=10, shift_end=1), "shift_start"),
        (lambda: VehicleType(max_trips=0), "max_trips"),
        (lambda: VehicleType(capacity=(5, -2)), "capacity[1]"),
    ],
)
def test_bad_fields_raise_naming_the_field(build: object, field: str) -> None:
    """Each invalid value raises ProblemError whose message names the offending field."""
    with pytest.raises(ProblemError, match=re.escape(field)):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"durations": np.ones((3, 4))}, r"Problem\.durations must be one square matrix"),
        ({"distances": np.ones((2, 2))}, r"Problem\.distances must be 3 × 3"),
        ({"durations": -np.ones((3, 3))}, r"Problem\.durations\[.*\] is negative \(-1\)"),
        ({"durations": np.full((3, 3), 0.5)}, r"Problem\.durations must hold integers"),
        (
            {"clients": (Client(location=1, demand=(1, 2)),)},
            r"Problem\.clients\[0\]\.demand has 2 values",
        ),
        (
            {"vehicle_types": (VehicleType(capacity=(1, 2)),)},
            r"Problem\.vehicle_types\[0\]\.capacity has 2 values",
        ),
        ({"clients": (Client(location=1, depot=3),)}, r"Problem\.clients\[0\]\.depot 3"),
        ({"clients": (Client(location=7),)}, r"Problem\.clients\[0\]\.location 7"),
        (
            {"vehicle_types": (VehicleType(start_depot=2),)},
            r"Problem\.vehicle_types\[0\]\.start_depot 2",
        ),
        ({"vehicle_types": (VehicleType(profile=1),)}, r"Problem\.vehicle_types\[0\]\.profile"),
        ({"depots": ()}, r"Problem\.depots must hold at least one"),
        ({"objective": "time"}, r"Problem\.objective must be"),
    ],
)
def test_bad_problems_raise_naming_the_field(changes: dict[str, object], pattern: str) -> None:
    """Shape, sign, dimension and index errors of the whole problem name the field."""
    with pytest.raises(ProblemError, match=pattern):
        _problem(**changes)


def test_problem_errors_are_value_errors() -> None:
    """The CLI prints ValueErrors as one line, so a ProblemError must be one."""
    assert issubclass(ProblemError, ValueError)


def test_defaults_mean_open_windows_and_return_to_start() -> None:
    """Unset windows are open up to MAX_TIME and a bike returns to its start depot."""
    client = Client(location=1)
    vehicle = VehicleType(start_depot=0)
    assert (client.tw_early, client.tw_late) == (0, MAX_TIME)
    assert vehicle.end_depot == 0 == vehicle.return_depot
    assert client.replace(service=5).service == 5


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"pairs": ((0, 5),)}, r"Problem\.pairs\[0\]: client 5 is not in the problem"),
        ({"pairs": ((0, 0),)}, r"pickup and delivery are the same client 0"),
        ({"pairs": ((0, 1),)}, r"the pickup's demand \(3,\) differs from the delivery's \(4,\)"),
        (
            {"clients": (Client(location=1, on_board=3),)},
            r"Problem\.clients\[0\]\.on_board 3 is not a vehicle type index",
        ),
        (
            {
                "clients": (Client(location=1, on_board=0),),
                "vehicle_types": (VehicleType(count=2, capacity=(10,)),),
            },
            r"on_board: vehicle type 0 must be one bike \(count 1\), not 2",
        ),
        (
            {"vehicle_types": (VehicleType(capacity=(10,), start_location=7),)},
            r"vehicle_types\[0\]\.start_location 7 is outside the matrices",
        ),
        ({"max_duration_cost": -1}, r"Problem\.max_duration_cost must be >= 0"),
    ],
)
def test_bad_operations_fields_raise_naming_the_field(
    changes: dict[str, object], pattern: str
) -> None:
    """Pairs, on-board parcels and re-plan starts are checked against the problem."""
    with pytest.raises(ProblemError, match=pattern):
        _problem(**changes)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Client(location=1, requires="cooled"), "requires"),
        (lambda: Client(location=1, late_cost=-2), "late_cost"),
        (lambda: Client(location=1, max_ride=-1), "max_ride"),
        (lambda: VehicleType(break_early=10, break_late=5), "break_early"),
        (lambda: VehicleType(skills=("",)), "skills"),
        (lambda: VehicleType(duration_cost=-1), "duration_cost"),
    ],
)
def test_bad_operations_values_raise_naming_the_field(build: object, field: str) -> None:
    """A string for a list of skills, a negative cost or an inverted break window is refused."""
    with pytest.raises(ProblemError, match=rf"\.{field}"):
        build()  # type: ignore[operator]


def test_uses_operations_says_which_core_a_problem_needs() -> None:
    """Classic problems stay on the fast core; any operations field moves them."""
    assert not _problem().uses_operations
    assert _problem(
        pairs=((0, 1),), clients=(Client(location=1), Client(location=2))
    ).uses_operations
    assert _problem(max_duration_cost=1).uses_operations
    soft = (Client(location=1, due=5, late_cost=1), Client(location=2))
    assert _problem(clients=soft).uses_operations
