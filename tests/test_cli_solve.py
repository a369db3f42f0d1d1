"""``velocal solve``: summary, .sol written, exit codes and one-line errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import vrplib  # type: ignore[import-untyped]

from dispatch.cli import main
from tests.conftest import SHARED_DATA

TINY = """NAME : tiny
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


def one_error_line(err: str) -> str:
    """The single ``velocal: error:`` line a failure must print on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("velocal: error: ")
    return lines[0]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.vrp"
    path.write_text(TINY)
    (tmp_path / "bks.csv").write_text("instance,bks_objective\ntiny,30\n")
    return path


@pytest.mark.parametrize("backend", ["ortools", "velocal"])
def test_solve_prints_a_summary_and_writes_the_solution(
    tiny: Path, tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0, the objective with its gap to the bks.csv beside the file, a readable .sol."""
    out_file = tmp_path / "tiny.sol"
    argv = ["solve", str(tiny), "--time-limit", "0.5", "--backend", backend, "-o", str(out_file)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    match = re.search(r"tiny: objective (\d+), gap ([+-]\d+\.\d\d)% to BKS 30", out)
    assert match, out
    assert "independent check: feasible" in out
    assert re.search(r"2 routes, 0 clients unassigned", out)
    solution = vrplib.read_solution(out_file)
    assert sorted(c for route in solution["routes"] for c in route) == [1, 2, 3]
    assert solution["cost"] == int(match[1])


def test_missing_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing instance: exit 1 and one line naming it."""
    assert main(["solve", str(tmp_path / "nope.vrp"), "--backend", "ortools"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "instance file not found" in line
    assert "nope.vrp" in line


def test_bad_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file with an unknown section: exit 1 and one line naming the file and section."""
    path = tmp_path / "bad.vrp"
    path.write_text(TINY.replace("DEPOT_SECTION", "WEIRD_SECTION"))
    assert main(["solve", str(path), "--backend", "ortools"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "bad.vrp" in line
    assert "unknown VRPLIB section WEIRD_SECTION" in line


def test_bad_option_is_a_usage_error(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown backend is a usage error: exit 2, one line."""
    assert main(["solve", str(tiny), "--backend", "gurobi"]) == 2
    assert "gurobi" in one_error_line(capsys.readouterr().err)


@pytest.mark.shared_data
def test_solomon_objective_is_scaled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """C101 is solved in tenths and reported in the BKS's unit, with its gap."""
    source = SHARED_DATA / "bench" / "solomon" / "C101.txt"
    if not source.is_file():
        pytest.skip(f"shared data set missing: {source} (set VELOCAL_SHARED_DATA)")
    instance = tmp_path / "C101.txt"
    shutil.copyfile(source, instance)
    shutil.copyfile(source.parent / "bks.csv", tmp_path / "bks.csv")
    out_file = tmp_path / "C101.sol"
    argv = [
        "solve",
        str(instance),
        "--time-limit",
        "1",
        "--backend",
        "ortools",
        "-o",
        str(out_file),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    match = re.search(r"C101: objective (\d+\.\d), gap \+\d+\.\d\d% to BKS 827\.3", out)
    assert match, out
    assert vrplib.read_solution(out_file)["cost"] == pytest.approx(float(match[1]))
