"""Tiny hand-made problems whose schedules can be worked out on paper.

Locations lie on a line, so every ride takes ``|x_a - x_b|`` (time and distance alike) and
the expected arrival times in a test are plain sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from solver.model import Client, Depot, Objective, Problem, VehicleType


def line_matrix(positions: Sequence[int]) -> np.ndarray:
    """Rides between points on a line: ``|a - b|``."""
    points = np.asarray(positions, dtype=np.int64)
    return np.abs(points[:, None] - points[None, :])


def line_problem(
    positions: Sequence[int],
    clients: Sequence[Client],
    vehicle_types: Sequence[VehicleType] = (VehicleType(capacity=(100,)),),
    *,
    depots: Sequence[Depot] = (Depot(location=0),),
    objective: Objective = "distance",
    dimensions: tuple[str, ...] = ("load",),
) -> Problem:
    """A problem on a line: location ``i`` sits at ``positions[i]``."""
    matrix = line_matrix(positions)
    return Problem(
        depots=tuple(depots),
        clients=tuple(clients),
        vehicle_types=tuple(vehicle_types),
        durations=matrix,
        distances=matrix,
        objective=objective,
        dimensions=dimensions,
        name="line",
    )
