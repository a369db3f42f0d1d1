"""The routing commands of the ``velocal`` CLI: output, files written, exit codes, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dispatch.cli import main
from routing import (
    BikeGraph,
    default_extract,
    fastest_path,
    snap_points,
    travel_matrix,
)

# Two places in central Helsinki, as "lat,lon".
ORIGIN = "60.1699,24.9384"
DESTINATION = "60.1719,24.9414"


def one_error_line(err: str) -> str:
    """The single ``velocal: error:`` line a failure must print on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("velocal: error: ")
    return lines[0]


@pytest.mark.parametrize("argv", [["graph", "build", "-q"], ["graph", "build", "helsinki", "-q"]])
def test_graph_build_default_town(
    argv: list[str], capsys: pytest.CaptureFixture[str], helsinki_graph: BikeGraph
) -> None:
    """The default town builds (or loads) and the report says what was kept and dropped."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Helsinki (cargo_bike) from ")
    assert re.search(rf"nodes kept\s+{helsinki_graph.n_nodes:,}\b", out)
    assert re.search(rf"edges kept\s+{helsinki_graph.n_edges:,}\b", out)
    dropped = helsinki_graph.report.ways_dropped
    assert dropped  # the demo town drops footways, steps, private ways...
    for reason, count in dropped.items():
        assert re.search(rf"ways dropped\s+{count:,}\s+{re.escape(reason)}", out), reason
    assert "largest component" in out


def test_graph_build_uses_its_cache_the_second_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh extract is read and a cache written beside it; the next build loads that cache."""
    extract = tmp_path / "Helsinki.osm.pbf"
    shutil.copyfile(default_extract(), extract)
    assert main(["graph", "build", str(extract), "-q"]) == 0
    first = capsys.readouterr().out
    assert "from extract" in first
    assert "cache written" in first
    caches = list(tmp_path.glob("Helsinki.osm.pbf.velocal-cargo_bike-*.npz"))
    assert len(caches) == 1
    assert main(["graph", "build", str(extract), "-q"]) == 0
    second = capsys.readouterr().out
    assert "from cache" in second
    assert "from extract" not in second
    assert "cache_load" in second
    assert "cache written" not in second
    assert re.sub(r"\s+", "", str(caches[0])) in re.sub(r"\s+", "", second)  # may wrap
    # --no-cache reads the extract again.
    assert main(["graph", "build", str(extract), "--no-cache", "-q"]) == 0
    assert "from extract" in capsys.readouterr().out


def test_graph_build_of_a_missing_file_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    assert main(["graph", "build", str(missing), "-q"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(missing) in line


def test_matrix_of_random_nodes_writes_int64_arrays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], helsinki_graph: BikeGraph
) -> None:
    """``matrix --random 20 --output x.npz``: 20×20 int64 seconds and metres, as the API says."""
    output = tmp_path / "x.npz"
    assert main(["matrix", "--random", "20", "--seed", "4", "--output", str(output), "-q"]) == 0
    out = capsys.readouterr().out
    assert "20×20 matrix" in out
    assert f"writtento{output}" in re.sub(r"\s+", "", out)  # rich wraps long lines
    with np.load(output) as data:
        duration, distance = data["duration_s"], data["distance_m"]
    assert duration.dtype == np.int64
    assert distance.dtype == np.int64
    assert duration.shape == distance.shape == (20, 20)
    np.testing.assert_array_equal(np.diag(duration), 0)
    assert np.all(duration[~np.eye(20, dtype=bool)] > 0)
    nodes = np.random.default_rng(4).choice(helsinki_graph.n_nodes, size=20, replace=False)
    expected = travel_matrix(helsinki_graph, nodes)
    np.testing.assert_array_equal(duration, expected.duration_s)
    np.testing.assert_array_equal(distance, expected.distance_m)
    # The plain Dijkstra method writes the same numbers.
    again = tmp_path / "again.npz"
    argv = ["matrix", "--random", "20", "--seed", "4", "--method", "dijkstra", "-q"]
    assert main([*argv, "--output", str(again)]) == 0
    with np.load(again) as data:
        np.testing.assert_array_equal(data["duration_s"], duration)
        np.testing.assert_array_equal(data["distance_m"], distance)


def _write_points(path: Path, points: list[tuple[float, float]]) -> None:
    lines = ["name,lat,lon"] + [f"p{i},{lat},{lon}" for i, (lat, lon) in enumerate(points)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_matrix_of_points_from_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], helsinki_graph: BikeGraph
) -> None:
    """``matrix --points`` snaps the CSV's points; the CSV output holds the durations."""
    points = [(60.1699, 24.9384), (60.1719, 24.9414), (60.1655, 24.9440), (60.1750, 24.9390)]
    csv = tmp_path / "pts.csv"
    _write_points(csv, points)
    output = tmp_path / "durations.csv"
    assert main(["matrix", "--points", str(csv), "--output", str(output), "-q"]) == 0
    assert "4×4 matrix" in capsys.readouterr().out
    lat, lon = np.array(points).T
    expected = travel_matrix(helsinki_graph, snap_points(helsinki_graph, lon, lat))
    written = np.loadtxt(output, delimiter=",", dtype=np.int64)
    np.testing.assert_array_equal(written, expected.duration_s)


def test_matrix_with_a_point_too_far_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A point 5 km out of town: exit 1, one stderr line naming that point and the limit."""
    csv = tmp_path / "pts.csv"
    _write_points(csv, [(60.1699, 24.9384), (60.1719, 24.9414), (60.17, 24.85)])
    output = tmp_path / "never.npz"
    assert main(["matrix", "--points", str(csv), "--output", str(output), "-q"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "point 2 (60.170000, 24.850000)" in line
    assert "limit is 250 m" in line
    assert not output.exists()
    # A larger limit lets it through.
    assert main(["matrix", "--points", str(csv), "--max-snap-m", "10000", "-q"]) == 0


def test_matrix_points_without_lat_lon_header_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "pts.csv"
    csv.write_text("x,y\n1,2\n", encoding="utf-8")
    assert main(["matrix", "--points", str(csv), "-q"]) == 1
    assert "'lat' and 'lon'" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [
        ["matrix", "--bogus"],
        ["matrix", "-q"],  # neither --points nor --random
        ["matrix", "--random", "5", "--method", "fastest", "-q"],
        ["route", ORIGIN],  # no destination
        ["route", "60.1699;24.9384", DESTINATION, "-q"],
        ["graph", "build", "--frobnicate"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    one_error_line(captured.err)
    assert "Traceback" not in captured.out + captured.err


def test_unknown_option_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--bogus"]) == 2
    assert "--bogus" in one_error_line(capsys.readouterr().err)


def test_route_prints_streets_and_totals(
    capsys: pytest.CaptureFixture[str], helsinki_graph: BikeGraph
) -> None:
    """``route`` prints the totals, then each street with its metres, as the API computes."""
    assert main(["route", ORIGIN, DESTINATION, "-q"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    (o_lat, o_lon), (d_lat, d_lon) = (map(float, p.split(",")) for p in (ORIGIN, DESTINATION))
    points = snap_points(helsinki_graph, [o_lon, d_lon], [o_lat, d_lat])
    ride = fastest_path(helsinki_graph, points[0], points[1])
    assert ride.streets
    assert lines[0] == f"{ride.distance_m / 1000:.2f} km in {ride.duration_s / 60:.1f} min"
    assert len(lines) == 1 + len(ride.streets)
    for line, leg in zip(lines[1:], ride.streets, strict=True):
        metres, name = line.split(" m  ", 1)
        assert float(metres) == pytest.approx(leg.distance_m, abs=0.5)
        assert name == (leg.name or "(unnamed way)")
    assert any(leg.name for leg in ride.streets)  # real street names, not only unnamed ways


def test_route_writes_geojson(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], helsinki_graph: BikeGraph
) -> None:
    path = tmp_path / "ride.geojson"
    assert main(["route", ORIGIN, DESTINATION, "--geojson", str(path), "-q"]) == 0
    assert "written to" in capsys.readouterr().out
    feature = json.loads(path.read_text(encoding="utf-8"))
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    coordinates = np.array(feature["geometry"]["coordinates"])
    assert coordinates.ndim == 2
    assert coordinates.shape[1] == 2
    assert coordinates.shape[0] >= 2
    west, south, east, north = helsinki_graph.bounds
    assert np.all((coordinates[:, 0] > west - 0.01) & (coordinates[:, 0] < east + 0.01))
    assert np.all((coordinates[:, 1] > south - 0.01) & (coordinates[:, 1] < north + 0.01))
    # Starts and ends near the requested places (within the snapping distance).
    assert abs(coordinates[0, 1] - 60.1699) < 0.002
    assert abs(coordinates[-1, 1] - 60.1719) < 0.002
    assert feature["properties"]["distance_m"] > 0
    assert feature["properties"]["duration_s"] > 0


def test_route_from_too_far_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "60.17,24.85", DESTINATION, "-q"]) == 1
    assert "point 0 (60.170000, 24.850000)" in one_error_line(capsys.readouterr().err)


def test_route_with_invalid_latitude_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "95,24.94", DESTINATION, "-q"]) == 1
    assert "point 0" in one_error_line(capsys.readouterr().err)


def test_address_finds_a_street(capsys: pytest.CaptureFixture[str]) -> None:
    """``address Mannerheimintie`` lists matches with their coordinates."""
    assert main(["address", "Mannerheimintie", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert "Mannerheimintie" in line
        lat, lon = map(float, re.search(r"\(([-\d.]+), ([-\d.]+)\)$", line).groups())  # type: ignore[union-attr]
        assert 60.1 < lat < 60.25
        assert 24.85 < lon < 25.05


def test_address_without_match_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["address", "qqqzzzxx"]) == 1
    assert "qqqzzzxx" in one_error_line(capsys.readouterr().err)


def test_console_script_is_installed() -> None:
    """The ``velocal`` entry point exists in the venv and runs."""
    script = Path(sys.executable).parent / "velocal"
    assert script.is_file(), f"{script} missing: is the package installed (pip install -e .)?"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in ("graph", "matrix", "route", "address"):
        assert command in done.stdout
