"""The solver benchmark on pickup and delivery (Li & Lim): vehicles first, then distance.

A stub stands in for the solvers (velocal's pair core and OR-Tools' pair support are being
written), so these tests pin the harness itself: rows, gaps, wins, the summary and the
visible error row. One real run with OR-Tools on two shared instances checks the CLI path.
"""

from __future__ import annotations

import csv
import importlib
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from benchmarks import peers, solver_bench
from benchmarks.solver_bench import Row, duel, gap_pct, run_benchmark, summarise
from solver.model import Problem
from solver.result import Result
from solver.schedule import build_result
from tests.conftest import SHARED_DATA
from tests.solver.test_vrplib_io import TINY_LILIM

LILIM = SHARED_DATA / "bench" / "lilim"
#: The module, not the function ``solver.solve`` (the package re-exports ``solve``).
SOLVE_MODULE = importlib.import_module("solver.solve")

#: The exact-distance optimum of TINY_LILIM: one bike, 2·√13 + √32 + 3 + 5.
TINY_BKS = 20.8680


def _ranked(
    instance: str,
    solver: str,
    vehicles: int | None,
    distance: float | None,
    *,
    bks_vehicles: int = 3,
    bks: float = 100.0,
    **kw: Any,
) -> Row:
    fields: dict[str, Any] = {
        "set": "lilim",
        "instance": instance,
        "n": 100,
        "solver": solver,
        "status": "ok",
        "objective": distance,
        "routes": vehicles,
        "feasible": True,
        "exact_feasible": True,
        "bks": bks,
        "bks_vehicles": bks_vehicles,
        "vehicles_first": True,
    }
    fields.update(kw)
    if distance is not None:
        fields.setdefault("gap_pct", gap_pct(distance, bks))
    if vehicles is not None:
        fields.setdefault("vehicle_gap", vehicles - bks_vehicles)
    return Row(**fields)


def test_wins_count_vehicles_before_distance() -> None:
    """Fewer vehicles win even with more distance; equal vehicles: less distance wins;
    feasible beats infeasible whatever the vehicles; skipped instances are left out."""
    rows = [
        _ranked("a", "velocal", 3, 120.0),
        _ranked("a", "ortools", 4, 100.0),  # win: one vehicle fewer
        _ranked("b", "velocal", 4, 90.0),
        _ranked("b", "ortools", 3, 130.0),  # loss: one vehicle more
        _ranked("c", "velocal", 3, 101.0),
        _ranked("c", "ortools", 3, 102.0),  # win: same vehicles, shorter
        _ranked("d", "velocal", 3, 101.0),
        _ranked("d", "ortools", 3, 101.0),  # tie
        _ranked("e", "velocal", 5, 150.0),
        _ranked("e", "ortools", 2, 80.0, feasible=False),  # win: feasible beats infeasible
        _ranked("f", "velocal", None, None, status="failed", note="error: x"),
        _ranked("f", "ortools", 4, 110.0),  # loss: an error against a solution
        _ranked("g", "velocal", 3, 100.0),
        _ranked("g", "pyvrp", None, None, status="skipped"),  # not counted
    ]
    record = duel(rows, "ortools")
    assert (record.wins, record.ties, record.losses) == (3, 1, 2)
    assert duel(rows, "pyvrp").played == 0


def test_the_same_objectives_without_vehicles_first_compare_on_the_objective() -> None:
    """Outside Li & Lim the vehicle count plays no part (CVRP/VRPTW wins are unchanged)."""
    rows = [
        _ranked("a", "velocal", 3, 120.0, vehicles_first=False),
        _ranked("a", "ortools", 4, 100.0, vehicles_first=False),
    ]
    assert duel(rows, "ortools").losses == 1


def test_ranked_summary_means_vehicle_and_distance_gaps() -> None:
    """Mean vehicle gap and distance gap over feasible runs; the distance gap again over the
    runs with exactly the BKS's vehicles; exact-time feasible runs counted apart."""
    rows = [
        _ranked("a", "velocal", 3, 102.0, runtime_s=1.0),  # veh +0, gap 2 %
        _ranked("b", "velocal", 4, 96.0, runtime_s=2.0),  # veh +1, gap -4 %
        _ranked("c", "velocal", 3, 110.0, exact_feasible=False, runtime_s=3.0),  # +0, 10 %
        _ranked("d", "velocal", 2, 50.0, feasible=False, runtime_s=4.0),  # not in the means
        _ranked("e", "velocal", None, None, status="failed", note="error: boom"),
    ]
    (ours,) = summarise(rows, ("velocal",))
    assert (ours.runs, ours.feasible, ours.failed) == (4, 3, 1)
    assert ours.mean_vehicle_gap == pytest.approx(1 / 3)
    assert ours.mean_gap_pct == pytest.approx((2 - 4 + 10) / 3)
    assert ours.mean_gap_same_vehicles_pct == pytest.approx(6.0)
    assert ours.same_vehicles == 2
    assert ours.exact_feasible == 2
    assert ours.mean_runtime_s == pytest.approx(2.5)


def _tiny_lilim_set(folder: Path) -> Path:
    folder.mkdir()
    (folder / "tiny.txt").write_text(TINY_LILIM)
    (folder / "bks.csv").write_text(
        f"instance,bks_objective,bks_vehicles\ntiny,{TINY_BKS},1\n", encoding="utf-8"
    )
    return folder


def _fake_solve(routes: dict[str, list[list[int]]]) -> Any:
    """solver.solve.solve for the test: each backend's routes, or an error for velocal."""

    def solve(problem: Problem, *, backend: str, time_limit_s: float, seed: int) -> Result:
        if backend not in routes:
            raise NotImplementedError(f"{backend}: pairs are not supported yet")
        return build_result(
            problem,
            [(0, [route]) for route in routes[backend]],
            unassigned={},
            backend=backend,
            seed=seed,
            runtime_s=0.01,
            iterations=1,
        )

    return solve


def test_lilim_set_runs_with_an_error_row_a_skip_and_a_ranked_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a Li & Lim folder every (instance, solver) gives a row: a solver that raises is a
    visible 'error:' row, PyVRP is skipped (it cannot model pairs), OR-Tools' solution is
    checked and reported as vehicles, distance, both gaps and exact-time feasibility."""
    monkeypatch.setattr(SOLVE_MODULE, "solve", _fake_solve({"ortools": [[0, 1], [2, 3]]}))
    monkeypatch.setattr(solver_bench, "warm_up_velocal", lambda: None)
    monkeypatch.setattr(solver_bench, "preload", lambda solvers: {})
    monkeypatch.setattr(solver_bench, "peer_missing", lambda name: None)
    refuse = lambda problem, limit, seed: peers._pyvrp_data(problem)  # noqa: E731
    monkeypatch.setitem(solver_bench.PEERS, "pyvrp", refuse)

    console = Console(record=True, width=250)
    out = tmp_path / "out"
    rows = run_benchmark(
        _tiny_lilim_set(tmp_path / "lilim"),
        solvers=("velocal", "ortools", "pyvrp"),
        time_limit_s=1,
        out_dir=out,
        console=console,
    )
    velocal, ortools, pyvrp = rows
    assert (velocal.status, velocal.vehicles_first, velocal.bks_vehicles) == ("failed", True, 1)
    assert velocal.note == "error: NotImplementedError: velocal: pairs are not supported yet"
    assert pyvrp.status == "skipped"
    assert pyvrp.note.startswith("pyvrp: pickup-and-delivery pairs (2) cannot be modelled")

    assert ortools.status == "ok", ortools.note
    assert (ortools.routes, ortools.bks_vehicles, ortools.vehicle_gap) == (2, 1, 1)
    distance = (3606 + 3606 + 4000 + 4000 + 3000 + 5000) / 1000
    assert ortools.objective == pytest.approx(distance)  # the fixed costs are left out
    assert ortools.gap_pct == pytest.approx(100 * (distance - TINY_BKS) / TINY_BKS)
    assert ortools.feasible
    assert ortools.exact_feasible
    assert ortools.cost is not None
    assert ortools.cost > 2 * 20_000  # the checker's cost does carry them

    text = console.export_text()
    assert "ranked by vehicles, then distance" in text
    assert "error: NotImplementedError: velocal: pairs are not supported yet" in text
    assert "2 vehicles (BKS 1), distance 23.21" in text
    assert "summary per solver (vehicles first, then distance)" in text
    assert "1 runs ended in an error" in text

    (csv_path,) = out.glob("solver-lilim-*.csv")
    with csv_path.open() as handle:
        written = list(csv.DictReader(handle))
    assert [r["status"] for r in written] == ["failed", "ok", "skipped"]
    assert written[1]["vehicle_gap"] == "1"
    assert written[1]["bks_vehicles"] == "1"
    assert written[1]["exact_feasible"] == "True"
    assert sorted(p.name.rsplit("-", 1)[1] for p in out.glob("*.png")) == [
        "gaps.png",
        "vehicles.png",
    ]


def test_late_in_double_precision_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A solution feasible with truncated ride times but late with exact ones is feasible for
    the checker and flagged 'exact: no' with the late task in the note."""
    folder = _tiny_lilim_set(tmp_path / "lilim")
    # Task 1's window closes at 3.6055 (3605 thousandths); √13 = 3.60555… exactly.
    (folder / "tiny.txt").write_text(TINY_LILIM.replace("0\t50\t1\t0\t2", "0\t3.6055\t1\t0\t2"))
    monkeypatch.setattr(SOLVE_MODULE, "solve", _fake_solve({"ortools": [[0, 1, 2, 3]]}))
    monkeypatch.setattr(solver_bench, "preload", lambda solvers: {})
    (row,) = run_benchmark(
        folder,
        solvers=("ortools",),
        time_limit_s=1,
        out_dir=tmp_path / "out",
        console=Console(record=True, width=250),
    )
    assert row.feasible
    assert row.exact_feasible is False
    assert "late with exact times, e.g. route 0: task 1 served at 3.605551" in row.note
    assert row.vehicle_gap == 0
    assert "better than the BKS" not in row.note


def test_vroom_models_pairs_as_shipments() -> None:
    """Installed, VROOM serves both pairs of the tiny instance, pickups first, feasibly for
    velocal's schedule; not installed, there is nothing to check."""
    if peers.peer_missing("vroom") is not None:
        return
    from solver.vrplib_io import lilim_problem

    problem = lilim_problem(_tiny_instance())
    peer = peers.solve_vroom(problem, 1.0, 0)
    result = solver_bench._peer_result(problem, peer, 0)
    assert result.feasible, result.violations
    assert result.unassigned == ()
    assert len(result.routes) == 1  # one vehicle fewer always wins


def _tiny_instance() -> Any:
    from solver.vrplib_io import _parse_lilim

    return _parse_lilim(Path("tiny.txt"), TINY_LILIM)


def test_pyvrp_refuses_pairs() -> None:
    """PyVRP has no paired requests: the adapter refuses before importing anything."""
    from solver.vrplib_io import lilim_problem

    with pytest.raises(peers.UnsupportedByPeerError, match="pyvrp: pickup-and-delivery pairs"):
        peers.check_pyvrp_support(lilim_problem(_tiny_instance()))


@pytest.mark.shared_data
def test_cli_runs_two_lilim_instances_with_ortools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`velocal bench solver --instances lilim --solvers ortools` on two instances: every run
    is read, solved, checked and reported (vehicles, distance, gaps) and the CSV written,
    whether or not OR-Tools honours the pairs yet (an infeasible row is still a row)."""
    if not (LILIM / "bks.csv").is_file():
        pytest.skip(f"shared data set missing: {LILIM} (set VELOCAL_SHARED_DATA)")
    from dispatch.cli.main import main

    out = tmp_path / "results"
    code = main(
        [
            "bench",
            "solver",
            "--instances",
            str(LILIM),
            "--solvers",
            "ortools",
            "--pattern",
            "lr20[24]",
            "--time-limit",
            "1",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "summary per solver (vehicles first, then distance)" in text
    (csv_path,) = out.glob("solver-lilim-*.csv")
    with csv_path.open() as handle:
        written = list(csv.DictReader(handle))
    assert [(r["instance"], r["solver"]) for r in written] == [
        ("lr202", "ortools"),
        ("lr204", "ortools"),
    ]
    bks = {"lr202": (1197.6655, 3), "lr204": (849.0504, 2)}
    for record in written:
        assert record["status"] == "ok", record["note"]
        objective, vehicles = bks[record["instance"]]
        assert float(record["bks"]) == objective
        assert int(record["bks_vehicles"]) == vehicles
        assert record["vehicles_first"] == "True"
        assert int(record["vehicle_gap"]) == int(record["routes"]) - vehicles
        distance = float(record["objective"])
        assert float(record["gap_pct"]) == pytest.approx(100 * (distance - objective) / objective)
        assert distance < int(record["cost"]) / 1000  # fixed costs left out of the objective
