"""Benchmark files: reading instances with each set's rounding, writing and reading solutions.

The strongest check: a best-known solution from the shared sets, costed by our model, gives
exactly the published objective (X: integer rounding; Solomon: DIMACS tenths), or, for Li &
Lim's pickup and delivery, the published vehicles and distance within 0.01 %, feasibly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vrplib  # type: ignore[import-untyped]

from solver.checker import check
from solver.errors import InstanceFormatError
from solver.model import MAX_TIME, Problem
from solver.vrplib_io import (
    bks_table,
    bks_vehicles_table,
    format_objective,
    instance_name,
    instance_rounding,
    instance_scale,
    lilim_time_violations,
    read_instance,
    read_lilim,
    read_solution,
    result_from_solution,
    vehicle_fixed_cost,
    vehicles_first,
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


# --- Li & Lim (PDPTW) -------------------------------------------------------------------------

#: Depot (0, 0); pair task 1 (2, 3) → task 2 (4, 0) of 5, pair task 3 (0, 4) → task 4 (-3, 4)
#: of 7; two vehicles of capacity 10 (both parcels never fit at once).
TINY_LILIM = """2\t10\t1
0\t0\t0\t0\t0\t100\t0\t0\t0
1\t2\t3\t5\t0\t50\t1\t0\t2
2\t4\t0\t-5\t0\t60\t1\t1\t0
3\t0\t4\t7\t10\t40\t2\t0\t4
4\t-3\t4\t-7\t0\t70\t2\t3\t0
"""


def _lilim(tmp_path: Path, text: str = TINY_LILIM, name: str = "tiny.txt") -> Path:
    return _write(tmp_path, text, name)


def test_lilim_file_becomes_pairs_in_thousandths(tmp_path: Path) -> None:
    """Tasks become clients (task k = client k - 1 at location k) with |demand|, windows and
    service ×1000; each pickup is paired with its delivery; the header gives the fleet."""
    problem = read_instance(_lilim(tmp_path))
    assert problem.name == "tiny ×1000 (lilim)"
    assert (instance_scale(problem), instance_name(problem)) == (1000, "tiny")
    assert instance_rounding(problem) == "lilim"
    assert vehicles_first(problem)
    assert problem.pairs == ((0, 1), (2, 3))
    assert [c.location for c in problem.clients] == [1, 2, 3, 4]
    assert [c.demand for c in problem.clients] == [(5,), (5,), (7,), (7,)]
    assert [(c.tw_early, c.tw_late, c.service) for c in problem.clients] == [
        (0, 50_000, 1000),
        (0, 60_000, 1000),
        (10_000, 40_000, 2000),
        (0, 70_000, 2000),
    ]
    assert [c.name for c in problem.clients] == ["1", "2", "3", "4"]
    fleet = problem.vehicle_types[0]
    assert (fleet.count, fleet.capacity, fleet.shift_start, fleet.shift_end) == (
        2,
        (10,),
        0,
        100_000,
    )
    assert fleet.max_trips == 1
    assert problem.objective == "distance"
    _assert_same(read_instance(_lilim(tmp_path), instance_format="lilim"), problem)


def _assert_same(a: Problem, b: Problem) -> None:
    assert (a.name, a.clients, a.vehicle_types, a.pairs) == (
        b.name,
        b.clients,
        b.vehicle_types,
        b.pairs,
    )
    assert np.array_equal(a.distances, b.distances)
    assert np.array_equal(a.durations, b.durations)


def test_lilim_distances_round_to_nearest_and_durations_truncate(tmp_path: Path) -> None:
    """√13 = 3.6055…: distance 3606 thousandths, ride time 3605; whole distances are exact."""
    problem = read_instance(_lilim(tmp_path))
    distances, durations = problem.distances[0], problem.durations[0]
    assert (distances[0, 1], durations[0, 1]) == (3606, 3605)
    assert (distances[2, 3], durations[2, 3]) == (5657, 5656)  # √32 = 5.6568…
    assert (distances[1, 3], durations[1, 3]) == (2236, 2236)  # √5 = 2.2360…
    assert (distances[0, 4], durations[0, 4]) == (5000, 5000)
    assert np.all(durations <= distances)
    assert np.all(distances - durations <= 1)


def test_lilim_fixed_cost_puts_vehicles_first(tmp_path: Path) -> None:
    """Each vehicle costs more than any solution's whole distance can be: the longest leg out
    of each client (5099 + 8062 + 5657 + 8062) plus twice the depot's (2 × 5000), plus one.
    Cost = fixed × vehicles + distance; the report subtracts the fixed part."""
    from solver.schedule import build_result

    problem = read_instance(_lilim(tmp_path))
    assert vehicle_fixed_cost(problem) == 5099 + 8062 + 5657 + 8062 + 2 * 5000 + 1
    one = build_result(
        problem,
        [(0, [[0, 1, 2, 3]])],
        unassigned={},
        backend="t",
        seed=0,
        runtime_s=0,
        iterations=0,
    )
    two = build_result(
        problem,
        [(0, [[0, 1]]), (0, [[2, 3]])],
        unassigned={},
        backend="t",
        seed=0,
        runtime_s=0,
        iterations=0,
    )
    assert one.feasible, one.violations
    assert two.feasible, two.violations
    assert one.distance == 3606 + 3606 + 5657 + 3000 + 5000
    assert two.distance == 3606 + 3606 + 4000 + 4000 + 3000 + 5000
    assert one.cost == vehicle_fixed_cost(problem) + one.distance
    assert two.cost == 2 * vehicle_fixed_cost(problem) + two.distance
    path = tmp_path / "tiny.sol"
    write_solution(path, two)
    assert path.read_text().splitlines()[-1] == "Cost 23.212"  # the distance, as Li & Lim's BKS
    backwards = build_result(
        problem,
        [(0, [[1, 0, 2, 3]])],
        unassigned={},
        backend="t",
        seed=0,
        runtime_s=0,
        iterations=0,
    )
    assert not backwards.feasible
    assert any("delivered before pickup" in v for v in backwards.violations)


def test_lilim_exact_times_recheck(tmp_path: Path) -> None:
    """lilim_time_violations re-times routes in double precision: a window closed by the time
    the bike arrives is reported; an on-time route gives nothing."""
    path = _lilim(tmp_path)
    instance = read_lilim(path)
    assert instance.requests == [(1, 2), (3, 4)]
    assert (instance.vehicles, instance.capacity, instance.speed) == (2, 10, 1.0)
    assert lilim_time_violations(instance, [[0, 1, 2, 3]]) == []
    late = read_lilim(_lilim(tmp_path, TINY_LILIM.replace("0\t50\t1\t0\t2", "0\t3\t1\t0\t2")))
    (found,) = lilim_time_violations(late, [[0, 1], [2, 3]])
    assert found.startswith("route 0: task 1 served at 3.605551, after its window closes at 3")


def _replace_line(number: int, line: str) -> str:
    lines = TINY_LILIM.splitlines()
    lines[number] = line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TINY_LILIM.replace("2\t10\t1\n", "2\t10\n"), "line 1: the header must be three numbers"),
        (_replace_line(2, "1\t2\t3\t5\t0\t50\t1\t0"), "line 3: a task line is nine numbers"),
        (_replace_line(2, "2\t2\t3\t5\t0\t50\t1\t0\t2"), "line 3: task id 2, expected 1"),
        (_replace_line(2, "1\t2\t3\t5.5\t0\t50\t1\t0\t2"), "demand must be an integer, not 5.5"),
        (_replace_line(2, "1\t2\t3\t5\t60\t50\t1\t0\t2"), "time window \\[60, 50\\] is empty"),
        (_replace_line(2, "1\t2\t3\t5\t0\t50\t1\t2\t2"), "names both a pickup and a delivery"),
        (_replace_line(2, "1\t2\t3\t5\t0\t50\t1\t0\t0"), "task 1 names neither"),
        (_replace_line(2, "1\t2\t3\t5\t0\t50\t1\t0\t9"), "sibling task 9 is not another task"),
        (_replace_line(2, "1\t2\t3\t5\t0\t50\t1\t0\t4"), "pickup delivered by task 4, but"),
        (_replace_line(3, "2\t4\t0\t-6\t0\t60\t1\t1\t0"), "must be \\+q and -q"),
        (_replace_line(4, "3\t0\t4\t-5\t10\t40\t2\t1\t0"), "3 is the delivery of task 1, which"),
        (_replace_line(1, "0\t0\t0\t3\t0\t100\t0\t0\t0"), "the depot \\(task 0\\) must have"),
        ("2\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\t0\n", "1 task lines"),
        (TINY_LILIM.replace("2\t10\t1\n", "0\t10\t1\n"), "vehicles must be an integer >= 1"),
    ],
)
def test_bad_lilim_files_name_file_line_and_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    """Each broken Li & Lim file raises InstanceFormatError with its path and what is wrong."""
    path = _lilim(tmp_path, text)
    with pytest.raises(InstanceFormatError, match=message) as caught:
        read_instance(path)
    assert str(path) in str(caught.value)


def test_lilim_keeps_thousandths_whatever_the_rounding_asked(tmp_path: Path) -> None:
    """Li & Lim is read in thousandths only: 'exact' is accepted, 'round' is an error."""
    path = _lilim(tmp_path)
    _assert_same(read_instance(path, rounding="exact"), read_instance(path))
    with pytest.raises(InstanceFormatError, match="read in thousandths") as caught:
        read_instance(path, rounding="round")
    assert str(path) in str(caught.value)


def test_sintef_solution_file_gives_routes_vehicles_and_distance(tmp_path: Path) -> None:
    """A SINTEF file ``<instance>.<vehicles>_<distance>.txt``: its routes, and the vehicle
    count and distance from its name; a name disagreeing with the routes is an error."""
    text = (
        "Instance name : tiny\nAuthors : A. B.\nDate : 2003\nReference : x\nSolution\n"
        "Route 1 : 1 2\nRoute 2 : 3 4\n"
    )
    solution = read_solution(_write(tmp_path, text, "tiny.2_23.212.txt"))
    assert solution.routes == [[1, 2], [3, 4]]
    assert (solution.instance, solution.vehicles, solution.cost) == ("tiny", 2, 23.212)
    with pytest.raises(InstanceFormatError, match="2 routes, but the file name says 3 vehicles"):
        read_solution(_write(tmp_path, text, "tiny.3_23.212.txt"))


def test_bks_vehicles_table(tmp_path: Path) -> None:
    """bks_vehicles is read where the column exists; no column gives an empty table."""
    (tmp_path / "bks.csv").write_text("instance,bks_objective,bks_vehicles\nA,1.5,3\nB,2,\n")
    assert bks_vehicles_table(tmp_path) == {"A": 3}
    (tmp_path / "bks.csv").write_text("instance,bks_objective\nA,1.5\n")
    assert bks_vehicles_table(tmp_path) == {}
    (tmp_path / "bks.csv").write_text("instance,bks_objective,bks_vehicles\nA,1.5,x\n")
    with pytest.raises(InstanceFormatError, match="bks_vehicles of A is 'x'"):
        bks_vehicles_table(tmp_path)


@pytest.mark.shared_data
def test_every_lilim_bks_is_feasible_with_its_vehicles_and_distance() -> None:
    """All 56 Li & Lim best-known solutions, scheduled under velocal's contract
    (build_result), are feasible with exactly bks_vehicles routes, a distance within 0.01 %
    of bks_objective, cost = fixed × vehicles + distance, and on time in double precision."""
    folder = BENCH / "lilim"
    if not (folder / "bks.csv").is_file():
        pytest.skip(f"shared data set missing: {folder} (set VELOCAL_SHARED_DATA)")
    import csv

    with (folder / "bks.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 56
    objectives, vehicles = bks_table(folder), bks_vehicles_table(folder)
    wrong = []
    for record in records:
        name = record["instance"]
        path = folder / f"{name}.txt"
        problem = read_instance(path)
        solution = read_solution(folder / record["sol_file"])
        result = result_from_solution(problem, solution)
        distance = result.distance / instance_scale(problem)
        off = abs(distance - objectives[name]) / objectives[name]
        late = lilim_time_violations(read_lilim(path), result.trip_routes())
        if not result.feasible or result.unassigned:
            wrong.append(f"{name}: infeasible {result.violations[:2]}")
        if not len(result.routes) == vehicles[name] == solution.vehicles:
            wrong.append(f"{name}: {len(result.routes)} routes, BKS {vehicles[name]}")
        if off > 1e-4:
            wrong.append(f"{name}: distance {distance} vs {objectives[name]}")
        if result.cost != vehicle_fixed_cost(problem) * len(result.routes) + result.distance:
            wrong.append(f"{name}: cost {result.cost} is not fixed × vehicles + distance")
        if late:
            wrong.append(f"{name}: late in double precision: {late[:1]}")
    assert wrong == []
