"""Benchmark files: reading instances with each set's rounding, writing and reading solutions.

The strongest check: a best-known solution from the shared sets, costed by our model, gives
exactly the published objective (X: integer rounding; Solomon: DIMACS tenths).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vrplib  # type: ignore[import-untyped]

from solver.checker import check
from solver.errors import InstanceFormatError
from solver.model import MAX_TIME
from solver.vrplib_io import (
    bks_table,
    format_objective,
    instance_name,
    instance_scale,
    read_instance,
    read_solution,
    result_from_solution,
    write_solution,
)
from tests.conftest import SHARED_DATA

BENCH = SHARED_DATA / "bench"

SMALL_CVRP = """NAME : tiny
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 0 5
DEMAND_SECTION
1 0
2 4
3 5
4 7
DEPOT_SECTION
1
-1
EOF
"""


def bench_file(*parts: str) -> Path:
    """A file of the shared benchmark sets, or skip saying it is missing."""
    path = BENCH.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"shared data set missing: {path} (set VELOCAL_SHARED_DATA)")
    return path


def _write(tmp_path: Path, text: str, name: str = "tiny.vrp") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_small_cvrp_rounds_half_up_and_has_a_free_fleet(tmp_path: Path) -> None:
    """floor(d + 0.5): 3-4-5 triangles give whole numbers, (3,4)→(0,5) is √10 → 3."""
    problem = read_instance(_write(tmp_path, SMALL_CVRP))
    assert problem.name == "tiny"
    assert instance_scale(problem) == 1
    assert problem.durations[0, 0, 1] == 5
    assert problem.durations[0, 1, 2] == 5
    assert problem.distances[0, 1, 3] == 3
    assert [c.demand for c in problem.clients] == [(4,), (5,), (7,)]
    assert [c.location for c in problem.clients] == [1, 2, 3]
    fleet = problem.vehicle_types[0]
    assert (fleet.count, fleet.capacity, fleet.shift_end) == (3, (10,), MAX_TIME)


def test_rounding_options_scale_the_matrix(tmp_path: Path) -> None:
    """dimacs truncates tenths (√10 → 31), exact keeps thousandths (√10 → 3162)."""
    path = _write(tmp_path, SMALL_CVRP)
    dimacs = read_instance(path, rounding="dimacs")
    exact = read_instance(path, rounding="exact")
    assert dimacs.distances[0, 1, 3] == 31
    assert exact.distances[0, 1, 3] == 3162
    assert (instance_scale(dimacs), instance_scale(exact)) == (10, 1000)
    assert instance_name(dimacs) == "tiny" == instance_name(exact)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL_CVRP.replace("DEPOT_SECTION", "PICKUP_SECTION"), "unknown VRPLIB section PICKUP"),
        ("this is not\nan instance at all\n", "not a readable vrplib instance"),
        (SMALL_CVRP.replace("DIMENSION : 4", "DIMENSION : 5"), "NODE_COORD_SECTION has 4 rows"),
        (SMALL_CVRP.replace("4 7\n", ""), "DEMAND_SECTION has 3 rows, DIMENSION is 4"),
        (
            SMALL_CVRP.split("NODE_COORD_SECTION")[0]
            + "DEMAND_SECTION"
            + SMALL_CVRP.split("DEMAND_SECTION")[1],
            "NODE_COORD_SECTION is missing",
        ),
        (SMALL_CVRP.replace("CAPACITY : 10\n", ""), "CAPACITY must be a number"),
        (SMALL_CVRP.replace("1\n-1", "1\n2\n-1"), "only one is supported"),
    ],
)
def test_bad_files_raise_naming_file_and_section(tmp_path: Path, text: str, message: str) -> None:
    """Each broken file raises InstanceFormatError with the path and what is wrong."""
    path = _write(tmp_path, text)
    with pytest.raises(InstanceFormatError, match=message) as caught:
        read_instance(path)
    assert str(path) in str(caught.value)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    """A missing instance is FileNotFoundError (the CLI prints it as one line)."""
    with pytest.raises(FileNotFoundError, match="instance file not found"):
        read_instance(tmp_path / "nope.vrp")


def test_solution_round_trip_and_multi_trip_lines(tmp_path: Path) -> None:
    """Routes are written with customers numbered from 1, one line per trip, then the cost;
    vrplib's own reader reads them back."""
    from solver.model import VehicleType
    from solver.schedule import build_result

    problem = read_instance(_write(tmp_path, SMALL_CVRP))
    problem = problem.replace(vehicle_types=(VehicleType(count=1, capacity=(10,), max_trips=None),))
    result = build_result(
        problem,
        [(0, [[0, 1], [2]])],
        unassigned={},
        backend="hand",
        seed=0,
        runtime_s=0.0,
        iterations=0,
    )
    path = tmp_path / "out.sol"
    write_solution(path, result)
    assert path.read_text().splitlines() == ["Route #1: 1 2", "Route #2: 3", f"Cost {result.cost}"]
    theirs = vrplib.read_solution(path)
    assert theirs["routes"] == [[1, 2], [3]]
    assert theirs["cost"] == result.cost
    ours = read_solution(path)
    assert ours.routes == [[1, 2], [3]]
    assert ours.cost == result.cost


def test_objective_formatting_is_exact() -> None:
    """Scaled integers are printed back exactly, without float noise."""
    assert format_objective(8273, 10) == "827.3"
    assert format_objective(828937, 1000) == "828.937"
    assert format_objective(784, 1) == "784"


def test_bks_table_reads_the_objective_column(tmp_path: Path) -> None:
    """bks.csv rows become {instance: objective}; blank objectives are skipped."""
    (tmp_path / "bks.csv").write_text("instance,bks_objective,source\nA,12.5,x\nB,,y\n")
    assert bks_table(tmp_path) == {"A": 12.5}
    (tmp_path / "bks.csv").write_text("name,value\nA,1\n")
    with pytest.raises(InstanceFormatError, match="instance and bks_objective"):
        bks_table(tmp_path)


@pytest.mark.shared_data
def test_x_instance_bks_costs_exactly_its_published_value() -> None:
    """X-n106-k14's best-known routes cost exactly the bks.csv value under floor(d + 0.5)."""
    path = bench_file("cvrp_x", "X-n106-k14.vrp")
    problem = read_instance(path)
    assert problem.n_clients == 105
    assert problem.vehicle_types[0].count == 105
    result = result_from_solution(problem, read_solution(path.with_suffix(".sol")))
    report = check(problem, result)
    assert report.feasible, report.violations[:3]
    assert report.cost == bks_table(path.parent)["X-n106-k14"] == 26362


@pytest.mark.shared_data
def test_solomon_bks_costs_its_value_in_dimacs_tenths() -> None:
    """C101's optimal routes cost 8273 tenths = 827.3, feasible with truncated times."""
    path = bench_file("solomon", "C101.txt")
    problem = read_instance(path)
    assert instance_scale(problem) == 10
    assert instance_name(problem) == "C101"
    fleet = problem.vehicle_types[0]
    assert (fleet.count, fleet.capacity, fleet.shift_end) == (25, (200,), 12360)
    first = problem.clients[0]
    assert (first.tw_early, first.tw_late, first.service) == (9120, 9670, 900)
    result = result_from_solution(problem, read_solution(bench_file("solomon", "C101.sol")))
    report = check(problem, result)
    assert report.feasible, report.violations[:3]
    assert report.cost == 8273
    assert report.cost / 10 == pytest.approx(bks_table(path.parent)["C101"])


@pytest.mark.shared_data
def test_solomon_text_and_vrplib_layouts_give_the_same_problem() -> None:
    """The .txt and the vrplib/ .vrp of C101 read into identical data."""
    text = read_instance(bench_file("solomon", "C101.txt"))
    laid_out = read_instance(bench_file("solomon", "vrplib", "C101.vrp"))
    assert text.clients == laid_out.clients
    assert text.vehicle_types == laid_out.vehicle_types
    assert np.array_equal(text.distances, laid_out.distances)
