"""The solver benchmark harness: gap arithmetic, input checks, and a real run on Augerat."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from benchmarks import peers, solver_bench
from benchmarks.solver_bench import (
    Row,
    duel,
    find_instances,
    gap_pct,
    is_pickup_delivery,
    mean_gap_curve,
    parse_solvers,
    run_benchmark,
    summarise,
)
from solver.model import Client, Depot, Problem, VehicleType
from tests.conftest import SHARED_DATA

AUGERAT = SHARED_DATA / "bench" / "augerat"


def _row(instance: str, solver: str, objective: float | None, **kw: Any) -> Row:
    fields: dict[str, Any] = {
        "set": "t",
        "instance": instance,
        "n": 10,
        "solver": solver,
        "status": "ok",
        "objective": objective,
        "feasible": True,
        "bks": 100.0,
    }
    fields.update(kw)
    if fields["objective"] is not None and fields.get("gap_pct") is None and fields["bks"]:
        fields["gap_pct"] = gap_pct(fields["objective"], fields["bks"])
    return Row(**fields)


# --- without shared data ----------------------------------------------------------------------


def test_gap_is_percent_above_bks() -> None:
    """Gap is 100·(obj − bks)/bks: above, equal and below the best-known value."""
    assert gap_pct(784, 784) == 0.0
    assert gap_pct(800, 784) == pytest.approx(100 * 16 / 784)
    assert gap_pct(110.5, 100) == pytest.approx(10.5)
    assert gap_pct(95, 100) == pytest.approx(-5.0)


def test_gap_needs_a_positive_bks() -> None:
    """A zero or negative best-known value has no gap; the error says why."""
    with pytest.raises(ValueError, match="must be positive"):
        gap_pct(10, 0)


def test_parse_solvers_keeps_order_and_drops_repeats() -> None:
    """Comma lists are split, trimmed, lower-cased and de-duplicated in order."""
    assert parse_solvers("velocal, ORTOOLS,velocal") == ("velocal", "ortools")
    assert parse_solvers(["pyvrp", "vroom,velocal"]) == ("pyvrp", "vroom", "velocal")


@pytest.mark.parametrize("text", ["velocal,gurobi", "", " , "])
def test_parse_solvers_rejects_unknown_or_empty(text: str) -> None:
    """An unknown name (or none at all) is a ValueError listing the known solvers."""
    with pytest.raises(ValueError, match="choose from velocal, ortools, pyvrp, vroom"):
        parse_solvers(text)


def test_run_benchmark_rejects_unknown_solver_before_running(tmp_path: Path) -> None:
    """An unknown solver fails at once, before any instance is read or solved."""
    (tmp_path / "a.vrp").write_text("NAME : a\n")
    with pytest.raises(ValueError, match="unknown solver 'cplex'"):
        run_benchmark(tmp_path, solvers=("velocal", "cplex"), out_dir=tmp_path / "out")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--solvers", "velocal,foo"], "unknown solver 'foo'"),
        (["--instances-missing"], "instance folder not found"),
        (["--empty"], "no instances (*.vrp, *.txt) in"),
    ],
)
def test_cli_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """`velocal bench solver` with a bad folder or solver prints one error line, exits 1."""
    from dispatch.cli.main import main

    folder = tmp_path / "set"
    if args != ["--instances-missing"]:
        folder.mkdir()
    if args[0] == "--solvers":
        (folder / "a.vrp").write_text("")
    extra = args if args[0] == "--solvers" else []
    code = main(["bench", "solver", "--instances", str(folder), "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("velocal: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_find_instances_errors(tmp_path: Path) -> None:
    """Missing folder → FileNotFoundError; folder without instances or matches → ValueError."""
    with pytest.raises(FileNotFoundError, match="not found"):
        find_instances(tmp_path / "nope")
    (tmp_path / "bks.csv").write_text("instance,bks_objective\n")
    with pytest.raises(ValueError, match="no instances"):
        find_instances(tmp_path)
    (tmp_path / "A-n32-k5.vrp").write_text("")
    with pytest.raises(ValueError, match="matches 'B-\\*'"):
        find_instances(tmp_path, pattern="B-*")


def test_find_instances_natural_order_pattern_and_limit(tmp_path: Path) -> None:
    """Names sort with numbers as numbers; the pattern matches stems; limit keeps the first."""
    for name in ("X-n1001-k43.vrp", "X-n101-k25.vrp", "X-n110-k13.vrp", "X-n101-k25.sol"):
        (tmp_path / name).write_text("")
    found = [p.name for p in find_instances(tmp_path)]
    assert found == ["X-n101-k25.vrp", "X-n110-k13.vrp", "X-n1001-k43.vrp"]
    assert [p.stem for p in find_instances(tmp_path, pattern="X-n1?1-*")] == ["X-n101-k25"]
    assert len(find_instances(tmp_path, limit=2)) == 2


def test_pickup_delivery_files_are_recognised(tmp_path: Path) -> None:
    """Li & Lim's 9-column layout and a VRPLIB PDPTW type are pickup-delivery; CVRP is not."""
    lilim = tmp_path / "lc101.txt"
    lilim.write_text(
        "25\t200\t1\n0\t40\t50\t0\t0\t1236\t0\t0\t0\n1\t45\t68\t-10\t912\t967\t90\t11\t0\n"
    )
    cvrp = tmp_path / "A.vrp"
    cvrp.write_text("NAME : A\nCOMMENT : x\nTYPE : CVRP\nDIMENSION : 3\n")
    pdptw = tmp_path / "P.vrp"
    pdptw.write_text("NAME : P\nTYPE : PDPTW\n")
    assert is_pickup_delivery(lilim)
    assert is_pickup_delivery(pdptw)
    assert not is_pickup_delivery(cvrp)


def test_duel_counts_wins_ties_losses() -> None:
    """Lower objective wins; feasible beats infeasible; a skipped peer's instance is left out."""
    rows = [
        _row("a", "velocal", 100),
        _row("a", "ortools", 110),  # win
        _row("b", "velocal", 105),
        _row("b", "ortools", 105),  # tie
        _row("c", "velocal", 120),
        _row("c", "ortools", 100),  # loss
        _row("d", "velocal", 130),
        _row("d", "ortools", 90, feasible=False),  # win: feasible beats infeasible
        _row("e", "velocal", 100),
        _row("e", "ortools", None, status="skipped"),  # not counted
        _row("f", "velocal", None, status="failed"),
        _row("f", "ortools", 100),  # loss: nothing against something
    ]
    record = duel(rows, "ortools")
    assert (record.wins, record.ties, record.losses) == (2, 1, 2)
    assert record.win_fraction == pytest.approx(0.4)


def test_summary_means_gaps_over_feasible_runs_only() -> None:
    """Mean gap ignores infeasible runs; counts feasible, skipped and failed runs apart."""
    rows = [
        _row("a", "velocal", 102, runtime_s=1.0),
        _row("b", "velocal", 104, runtime_s=3.0),
        _row("c", "velocal", 90, feasible=False, runtime_s=2.0),
        _row("a", "pyvrp", None, status="skipped"),
    ]
    ours, peer = summarise(rows, ("velocal", "pyvrp"))
    assert ours.mean_gap_pct == pytest.approx(3.0)
    assert ours.max_gap_pct == pytest.approx(4.0)
    assert (ours.runs, ours.feasible, ours.mean_runtime_s) == (3, 2, pytest.approx(2.0))
    assert ours.duel is None
    assert (peer.runs, peer.skipped, peer.mean_gap_pct) == (0, 1, None)


def test_mean_gap_curve_uses_best_so_far() -> None:
    """At each time the curve averages the best objective found by then, per instance."""
    rows = [
        _row("a", "pyvrp", 100, progress=((0.5, 120.0), (2.0, 110.0))),
        _row("b", "pyvrp", 100, progress=((1.0, 104.0),)),
    ]
    curve = mean_gap_curve(rows, [0.25, 0.5, 1.0, 3.0])
    assert curve == [(0.5, 20.0, 1), (1.0, pytest.approx(12.0), 2), (3.0, pytest.approx(7.0), 2)]


TINY_VRP = """NAME : tiny-n4
COMMENT : four clients, two at each of two points 10 from the depot
TYPE : CVRP
DIMENSION : 5
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 10 0
3 10 0
4 -10 0
5 -10 0
DEMAND_SECTION
1 0
2 5
3 5
4 5
5 5
DEPOT_SECTION
1
-1
EOF
"""


def _tiny_set(folder: Path) -> Path:
    folder.mkdir()
    (folder / "tiny-n4.vrp").write_text(TINY_VRP)
    (folder / "bks.csv").write_text("instance,bks_objective\ntiny-n4,40\n")
    return folder


def test_missing_peer_is_skipped_visibly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that is not installed is named with the install hint, and its rows say skipped."""
    from rich.console import Console

    monkeypatch.setattr(solver_bench, "peer_missing", lambda name: f"{name} not installed (hint)")
    console = Console(record=True, width=200)
    rows = run_benchmark(
        _tiny_set(tmp_path / "set"), solvers=("pyvrp",), out_dir=tmp_path / "out", console=console
    )
    assert [(r.solver, r.status, r.note, r.bks) for r in rows] == [
        ("pyvrp", "skipped", "pyvrp not installed (hint)", 40.0)
    ]
    assert "pyvrp not installed (hint): skipping pyvrp" in console.export_text()


def _square(**client: Any) -> Problem:
    distances = [[0, 10, 10], [10, 0, 20], [10, 20, 0]]
    return Problem(
        depots=(Depot(location=0),),
        clients=(Client(location=1, demand=(1,), **client), Client(location=2, demand=(1,))),
        vehicle_types=(VehicleType(count=2, capacity=(1,)),),
        durations=distances,
        distances=distances,
    )


def test_peers_refuse_what_they_cannot_model() -> None:
    """VROOM has no release times; PyVRP cannot tie a client to a depot no bike starts from."""
    with pytest.raises(peers.UnsupportedByPeerError, match="vroom: release times"):
        peers.check_vroom_support(_square(release=5))
    peers.check_vroom_support(_square())
    problem = _square()
    two_depots = problem.replace(
        depots=(Depot(location=0), Depot(location=0)),
        clients=(problem.clients[0].replace(depot=1), problem.clients[1]),
    )
    with pytest.raises(peers.UnsupportedByPeerError, match="waits at depot 1"):
        peers.check_pyvrp_support(two_depots)


@pytest.mark.parametrize("name", ["pyvrp", "vroom"])
def test_peer_routes_are_checked_by_velocal(name: str) -> None:
    """Installed, a peer solves the square and its routes pass velocal's checker at cost 40;
    not installed, peer_missing gives the install hint instead (no skip: CI needs no peers)."""
    missing = peers.peer_missing(name)
    if missing is not None:
        assert missing == f"{name} not installed (pip install velocal[bench-peers])"
        return
    from solver.checker import check

    problem = _square()
    peer = peers.PEERS[name](problem, 0.2, 0)
    result = solver_bench._peer_result(problem, peer, 0)
    report = check(problem, result)
    assert report.feasible, report.violations
    assert (report.cost, len(result.routes), result.unassigned) == (40, 2, ())


def test_anytime_keeps_improvements_of_feasible_bests() -> None:
    """The peer's curve keeps only feasible bests that improve, at cumulative times."""
    best = [(9, False), (8, True), (8, True), (7, True)]
    curve = peers._anytime(0.5, [0.1, 0.1, 0.1, 0.1], best)
    assert curve == ((pytest.approx(0.7), 8), (pytest.approx(0.9), 7))


# --- with the shared Augerat set ---------------------------------------------------------------


def _read_bks(path: Path) -> dict[str, float]:
    with path.open() as handle:
        return {r["instance"]: float(r["bks_objective"]) for r in csv.DictReader(handle)}


@pytest.mark.shared_data
def test_two_augerat_instances_with_ortools_and_velocal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run: every (instance, solver) is solved, checked by the checker, gapped against
    bks.csv and written to the CSV; the plots are written too."""
    if not (AUGERAT / "bks.csv").is_file():
        pytest.skip(f"shared data set missing: {AUGERAT} (set VELOCAL_SHARED_DATA)")
    import solver.checker

    checked: list[str] = []
    real_check = solver.checker.check

    def spy(problem: Any, result: Any) -> Any:
        checked.append(result.backend)
        return real_check(problem, result)

    monkeypatch.setattr(solver.checker, "check", spy)
    out = tmp_path / "results"
    rows = run_benchmark(
        AUGERAT,
        solvers=("ortools", "velocal"),
        time_limit_s=1,
        pattern="A-n3[23]-k5",
        out_dir=out,
    )

    assert [(r.instance, r.solver) for r in rows] == [
        ("A-n32-k5", "ortools"),
        ("A-n32-k5", "velocal"),
        ("A-n33-k5", "ortools"),
        ("A-n33-k5", "velocal"),
    ]
    assert sorted(checked) == ["ortools", "ortools", "velocal", "velocal"]
    bks = _read_bks(AUGERAT / "bks.csv")
    for row in rows:
        assert row.status == "ok", row.note
        assert row.n == int(row.instance.split("-n")[1].split("-")[0]) - 1
        assert row.bks == bks[row.instance]
        assert row.objective is not None
        assert row.gap_pct == pytest.approx(100 * (row.objective - row.bks) / row.bks)
        assert row.objective == row.cost  # Augerat: scale 1
        assert row.feasible, row.note

    (csv_path,) = out.glob("solver-augerat-*.csv")
    with csv_path.open() as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 4
    for record, row in zip(written, rows, strict=True):
        assert record["instance"] == row.instance
        assert record["solver"] == row.solver
        assert float(record["gap_pct"]) == pytest.approx(row.gap_pct, abs=1e-6)
        assert float(record["bks"]) == bks[row.instance]
    assert len(list(out.glob("solver-augerat-*.png"))) == 2
