"""Extracts that cannot be used: each fails with its own error and a message naming the file.

Also through the CLI, where every such failure is one ``velocal: error:`` line and exit code 1.
"""

from __future__ import annotations

import bz2
import gzip
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dispatch.cli.main import main
from routing import (
    CorruptExtractError,
    EmptyNetworkError,
    ExtractError,
    RoutingError,
    UnsupportedExtractError,
    default_extract,
    load_graph,
)
from routing.osm_reader import SUPPORTED_SUFFIXES
from tests.routing.osm_fixtures import NodeSpec, WaySpec, node_at, osm_xml, write_osm

RESIDENTIAL = {"highway": "residential"}


def small_town_xml() -> bytes:
    """A valid two-street town (the content the damaged files start from)."""
    nodes = [node_at(1, 0, 0), node_at(2, 100, 0), node_at(3, 100, 100)]
    ways: list[WaySpec] = [(10, [1, 2], RESIDENTIAL), (11, [2, 3], RESIDENTIAL)]
    return osm_xml(nodes, ways).encode()


def random_bytes(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def load(path: Path) -> None:
    load_graph(path, use_cache=False)


# ── missing and unsupported files ─────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", ["nowhere.osm.pbf", "nowhere.osm", "nowhere.osm.gz"])
def test_missing_file_is_file_not_found(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(FileNotFoundError) as info:
        load(path)
    assert str(path) in str(info.value)
    assert not isinstance(info.value, RoutingError)
    # No cache or anything else appears beside the missing file.
    assert list(tmp_path.iterdir()) == []


def test_missing_file_with_cache_on(tmp_path: Path) -> None:
    path = tmp_path / "gone.osm.pbf"
    with pytest.raises(FileNotFoundError, match=r"gone\.osm\.pbf"):
        load_graph(path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "name", ["town.txt", "town.geojson", "town.shp", "town.o5m", "town.osm.zip", "town"]
)
def test_unknown_file_type_is_unsupported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(small_town_xml())  # even valid OSM content: the name decides
    with pytest.raises(UnsupportedExtractError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not an OSM extract")
    assert ".osm.pbf" in message
    assert isinstance(info.value, ExtractError)


def test_unknown_file_type_is_reported_before_existence(tmp_path: Path) -> None:
    path = tmp_path / "absent.geojson"
    with pytest.raises(UnsupportedExtractError, match=r"absent\.geojson"):
        load(path)


def test_supported_suffixes_are_the_documented_ones() -> None:
    assert set(SUPPORTED_SUFFIXES) == {
        ".osm.pbf",
        ".pbf",
        ".osm",
        ".osm.bz2",
        ".osm.gz",
        ".osm.xml",
    }


# ── corrupt files ─────────────────────────────────────────────────────────────────────────


def _helsinki_half() -> bytes:
    data = default_extract().read_bytes()
    assert len(data) > 100_000
    return data[: len(data) // 2]


#: (file name, how to make its bytes, a phrase of osmium's message that the error must carry)
CORRUPT_CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("x.osm.pbf", lambda: random_bytes(5000), "PBF error"),
    ("half.osm.pbf", _helsinki_half, "PBF error: unexpected EOF"),
    ("head.osm.pbf", lambda: default_extract().read_bytes()[:10], "PBF error"),
    ("empty.osm.pbf", lambda: b"", "PBF error"),
    ("xml.osm.pbf", small_town_xml, "PBF error"),
    ("broken.osm", lambda: small_town_xml()[:-40], "XML parsing error"),
    ("tags.osm", lambda: b"<osm version='0.6'><node id='1' lat='1' lon='1'><way>", "way"),
    ("text.osm", lambda: b"hello world\n", "XML parsing error"),
    ("page.osm", lambda: b"<html><body>404 Not Found</body></html>", "html"),
    ("empty.osm", lambda: b"", "XML parsing error"),
    ("future.osm", lambda: b"<?xml version='1.0'?><osm version='0.7'></osm>", "0.7"),
    ("random.osm.gz", lambda: random_bytes(3000), "XML parsing error"),
    ("cut.osm.gz", lambda: gzip.compress(small_town_xml())[:120], "gzip error"),
    ("random.osm.bz2", lambda: random_bytes(3000), "bzip2 error"),
    ("cut.osm.bz2", lambda: bz2.compress(small_town_xml())[:100], "bzip2 error"),
]


@pytest.mark.parametrize(
    ("name", "make", "phrase"), CORRUPT_CASES, ids=[case[0] for case in CORRUPT_CASES]
)
def test_corrupt_file_is_corrupt_extract(
    tmp_path: Path, name: str, make: Callable[[], bytes], phrase: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(CorruptExtractError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot parse the OSM data (")
    assert phrase in message
    assert "\n" not in message
    assert info.value.__cause__ is None  # osmium's RuntimeError is not chained into the output
    assert isinstance(info.value, ExtractError)


def test_truncated_helsinki_with_cache_writes_no_cache(tmp_path: Path) -> None:
    path = tmp_path / "helsinki-half.osm.pbf"
    path.write_bytes(_helsinki_half())
    with pytest.raises(CorruptExtractError, match="helsinki-half"):
        load_graph(path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_valid_extract_with_upper_case_suffix_loads(tmp_path: Path) -> None:
    """check_extract_path accepts 'TOWN.OSM.PBF' (it lower-cases the name), so it must load.

    Fails today: osmium picks the format from the (case-sensitive) suffix and cannot, so a
    valid file is reported as corrupt: "cannot parse the OSM data (Could not detect file format
    for filename ...)".
    """
    nodes: list[NodeSpec] = [node_at(1, 0, 0), node_at(2, 100, 0)]
    source = write_osm(tmp_path / "town.osm.pbf", nodes, [(10, [1, 2], RESIDENTIAL)])
    upper = tmp_path / "TOWN.OSM.PBF"
    shutil.copy(source, upper)
    graph = load_graph(upper, use_cache=False)
    assert (graph.n_nodes, graph.n_edges) == (2, 2)


# ── extracts without a network ────────────────────────────────────────────────────────────


def _square(tags: dict[str, str], mid_tags: dict[str, str] | None = None) -> tuple[list, list]:
    nodes = [node_at(1, 0, 0), node_at(2, 100, 0, mid_tags), node_at(3, 200, 0)]
    return nodes, [(10, [1, 2, 3], tags)]


EMPTY_CASES = {
    "no-ways": ([node_at(1, 0, 0, {"shop": "bakery"})], []),
    "footway-only": _square({"highway": "footway"}),
    "steps-only": _square({"highway": "steps"}),
    "motorway-only": _square({"highway": "motorway"}),
    "private-only": _square({**RESIDENTIAL, "access": "private"}),
    "buildings-only": _square({"building": "yes"}),
    "all-nodes-missing": ([], [(10, [1, 2, 3], RESIDENTIAL)]),
    "one-node-inside": ([node_at(1, 0, 0)], [(10, [1, 2], RESIDENTIAL)]),
    "cut-by-barrier": (
        [node_at(1, 0, 0), node_at(2, 100, 0, {"barrier": "stile"})],
        [(10, [1, 2], RESIDENTIAL)],
    ),
    "single-node-way": ([node_at(1, 0, 0)], [(10, [1], RESIDENTIAL)]),
    "repeated-node-way": ([node_at(1, 0, 0)], [(10, [1, 1], RESIDENTIAL)]),
}


@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_no_rideable_way_is_an_empty_network(tmp_path: Path, case: str) -> None:
    nodes, ways = EMPTY_CASES[case]
    path = write_osm(tmp_path / f"{case}.osm", nodes, ways)
    with pytest.raises(EmptyNetworkError) as info:
        load(path)
    assert str(info.value).startswith(f"{case}: ")
    assert isinstance(info.value, ExtractError)


def test_empty_but_valid_osm_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.osm"
    path.write_text("<?xml version='1.0'?>\n<osm version='0.6' generator='test'></osm>\n")
    with pytest.raises(EmptyNetworkError, match=r"^blank: the extract has no way"):
        load(path)


def test_no_two_way_connection_is_an_empty_network(tmp_path: Path) -> None:
    """A network of one-way streets that never lead back holds no usable route.

    Fails today: the largest strongly connected component is a single node, and the builder
    returns a graph with 1 node and 0 edges; snapping a point onto it then crashes with
    numpy's "zero-size array to reduction operation maximum which has no identity".
    """
    nodes = [node_at(1, 0, 0), node_at(2, 100, 0), node_at(3, 200, 0)]
    ways: list[WaySpec] = [(10, [1, 2, 3], {**RESIDENTIAL, "oneway": "yes"})]
    path = write_osm(tmp_path / "oneway.osm", nodes, ways)
    with pytest.raises(EmptyNetworkError, match=r"^oneway: "):
        load_graph(path, use_cache=False)


# ── the CLI: one line on stderr, exit code 1 ──────────────────────────────────────────────


def _cli_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    corrupt = tmp_path / "x.osm.pbf"
    corrupt.write_bytes(random_bytes(4000))
    half = tmp_path / "half.osm.pbf"
    half.write_bytes(_helsinki_half())
    malformed = tmp_path / "bad.osm"
    malformed.write_bytes(small_town_xml()[:-40])
    unsupported = tmp_path / "town.geojson"
    unsupported.write_text('{"type": "FeatureCollection", "features": []}')
    empty = write_osm(tmp_path / "footways.osm", *_square({"highway": "footway"}))
    return {
        "missing": (tmp_path / "missing.osm.pbf", "OSM extract not found"),
        "unsupported": (unsupported, "not an OSM extract"),
        "corrupt": (corrupt, "cannot parse the OSM data"),
        "truncated": (half, "cannot parse the OSM data"),
        "malformed-xml": (malformed, "cannot parse the OSM data"),
        "empty-network": (empty, "no way a cargo bike may ride"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "unsupported", "corrupt", "truncated", "malformed-xml", "empty-network"]
)
def test_cli_graph_build_prints_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path, phrase = _cli_cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["graph", "build", str(path), "-q"])
    captured = capsys.readouterr()
    assert rc == 1
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("velocal: error: ")
    assert str(path) in lines[0] or path.stem in lines[0]
    assert phrase in lines[0]
    assert "Traceback" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no cache written


def test_cli_unknown_profile_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_osm(tmp_path / "town.osm", *_square(RESIDENTIAL))
    rc = main(["graph", "build", str(path), "-q", "--no-cache", "-p", "trike"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.splitlines() == [
        "velocal: error: unknown profile 'trike': use one of cargo_bike, e_cargo_bike or a "
        ".toml file"
    ]


def test_cli_graph_build_succeeds_on_a_valid_town(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_osm(tmp_path / "town.osm", *_square(RESIDENTIAL))
    rc = main(["graph", "build", str(path), "-q", "--no-cache"])
    captured = capsys.readouterr()
    assert rc == 0
    assert captured.err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["town.osm"]
