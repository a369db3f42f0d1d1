"""Contraction hierarchy: queries equal plain Dijkstra exactly; saved ones know their graph."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from routing._kernels import INF, _many_to_many
from routing.graph import BikeGraph, BuildReport
from routing.hierarchy import (
    ContractionHierarchy,
    build_hierarchy,
    ch_goal_buckets,
    ch_many_to_many,
)
from routing.load import load_graph
from routing.matrix import combined_weights

OSM_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "osm"
LAUF = OSM_DIR / "lauf-an-der-pegnitz_2020-01-15.osm.pbf"


def make_graph(n: int, edges: list[tuple[int, int, int, int]]) -> BikeGraph:
    """A BikeGraph from (source, target, seconds, metres) edges, with dummy shapes."""
    edges = sorted(edges, key=lambda e: e[0])
    m = len(edges)
    sources = np.array([e[0] for e in edges], dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(sources, minlength=n), out=offsets[1:])
    return BikeGraph(
        name="test",
        profile="test",
        node_lon=np.linspace(0.0, 1.0, n),
        node_lat=np.zeros(n),
        node_osm_id=np.arange(n, dtype=np.int64),
        offsets=offsets,
        targets=np.array([e[1] for e in edges], dtype=np.int32),
        length_m=np.array([e[3] for e in edges], dtype=np.int32),
        travel_time_s=np.array([e[2] for e in edges], dtype=np.int32),
        edge_piece=np.arange(m, dtype=np.int32),
        edge_reversed=np.zeros(m, dtype=bool),
        piece_shape_ptr=np.arange(0, 2 * m + 1, 2, dtype=np.int64),
        shape_lon=np.zeros(2 * m),
        shape_lat=np.zeros(2 * m),
        piece_name=np.zeros(m, dtype=np.int32),
        piece_highway=np.zeros(m, dtype=np.int32),
        piece_osm_way=np.arange(m, dtype=np.int64),
        names=np.array([""]),
        highways=np.array(["residential"]),
        report=BuildReport(extract="test", profile="test"),
    )


def plain(
    graph: BikeGraph, seed_nodes: np.ndarray, seed_keys: np.ndarray, goal_nodes: np.ndarray
) -> np.ndarray:
    out = np.empty((seed_nodes.shape[0], goal_nodes.shape[0]), dtype=np.int64)
    _many_to_many(
        graph.offsets,
        graph.targets,
        combined_weights(graph),
        seed_nodes,
        seed_keys,
        goal_nodes,
        max(1, min(4, seed_nodes.shape[0])),
        out,
    )
    return out


def with_hierarchy(
    ch: ContractionHierarchy, seed_nodes: np.ndarray, seed_keys: np.ndarray, goal_nodes: np.ndarray
) -> np.ndarray:
    out = np.full((seed_nodes.shape[0], goal_nodes.shape[0]), -7, dtype=np.int64)
    ch_many_to_many(ch, seed_nodes, seed_keys, goal_nodes, out)
    return out


def random_query(
    rng: np.random.Generator, n: int, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with one or two seeds (nonzero initial keys on the second), and random goals."""
    seed_nodes = rng.integers(0, n, size=(rows, 2)).astype(np.int32)
    seed_nodes[rng.random(rows) < 0.5, 1] = -1
    seed_keys = np.zeros((rows, 2), dtype=np.int64)
    seed_keys[:, 1] = (rng.integers(0, 60, rows) << 26) | rng.integers(0, 500, rows)
    goal_nodes = rng.integers(0, n, size=cols).astype(np.int32)
    return seed_nodes, seed_keys, goal_nodes


@st.composite
def graphs(draw: st.DrawFn) -> BikeGraph:
    n = draw(st.integers(1, 25))
    node = st.integers(0, n - 1)
    # Small ranges: many ties in time, decided by metres, and zero weights.
    top = draw(st.sampled_from([2, 6, 40]))
    weight = st.integers(0, top)
    m = draw(st.integers(0, 4 * n))  # lists alone would mostly be short
    edges = draw(st.lists(st.tuples(node, node, weight, weight), min_size=m, max_size=m))
    # Parallel copies of some edges, with other weights.
    copies = draw(
        st.lists(st.tuples(st.sampled_from(edges), weight, weight), max_size=5)
        if edges
        else st.just([])
    )
    edges += [(u, v, t, d) for (u, v, _, _), t, d in copies]
    return make_graph(n, edges)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs(), data=st.data())
def test_random_graphs_match_plain_dijkstra(graph: BikeGraph, data: st.DataObject) -> None:
    """On random graphs (zero weights, parallel edges, unreachable nodes) CH equals Dijkstra."""
    n = graph.n_nodes
    node = st.integers(0, n - 1)
    key = st.builds(lambda t, d: (t << 26) | d, st.integers(0, 100), st.integers(0, 1000))
    # Every node alone at key 0, then drawn rows of one or two seeds at drawn keys.
    drawn = data.draw(st.lists(st.tuples(node, st.one_of(st.just(-1), node), key, key), max_size=8))
    seed_nodes = np.array(
        [(v, -1) for v in range(n)] + [(a, b) for a, b, _, _ in drawn], dtype=np.int32
    )
    seed_keys = np.array(
        [(0, 0)] * n + [(x, y if b >= 0 else 0) for _, b, x, y in drawn], dtype=np.int64
    )
    goal_nodes = np.array(list(range(n)) + data.draw(st.lists(node, max_size=4)), dtype=np.int32)
    ch = build_hierarchy(graph)
    expected = plain(graph, seed_nodes, seed_keys, goal_nodes)
    got = with_hierarchy(ch, seed_nodes, seed_keys, goal_nodes)
    np.testing.assert_array_equal(got, expected)
    adjacency = csr_matrix((np.ones(graph.n_edges), graph.targets, graph.offsets), shape=(n, n))
    for s in range(seed_nodes.shape[0]):
        reachable = np.zeros(n, dtype=bool)
        for seed in seed_nodes[s][seed_nodes[s] >= 0]:
            reachable[breadth_first_order(adjacency, int(seed), return_predecessors=False)] = True
        np.testing.assert_array_equal(got[s] == INF, ~reachable[goal_nodes])


@settings(max_examples=50, deadline=None)
@given(graph=graphs())
def test_upward_graphs_climb_ranks(graph: BikeGraph) -> None:
    """Ranks are a permutation and every stored edge leads to a higher rank."""
    ch = build_hierarchy(graph)
    n = graph.n_nodes
    np.testing.assert_array_equal(np.sort(ch.rank), np.arange(n))
    for offsets, others in ((ch.fwd_offsets, ch.fwd_heads), (ch.bwd_offsets, ch.bwd_tails)):
        owner = np.repeat(np.arange(n), np.diff(offsets))
        assert np.all(others > owner)
    assert ch.n_shortcuts >= 0


@pytest.fixture(scope="module")
def helsinki() -> tuple[BikeGraph, ContractionHierarchy]:
    graph = load_graph()
    return graph, build_hierarchy(graph)


@pytest.fixture(scope="module")
def lauf() -> tuple[BikeGraph, ContractionHierarchy]:
    if not OSM_DIR.is_dir():
        pytest.skip(f"shared OSM extracts not found at {OSM_DIR}")
    graph = load_graph(LAUF)
    return graph, build_hierarchy(graph)


def _check_real_graph(graph: BikeGraph, ch: ContractionHierarchy) -> None:
    rng = np.random.default_rng(7)
    seed_nodes, seed_keys, goal_nodes = random_query(rng, graph.n_nodes, 100, 100)
    expected = plain(graph, seed_nodes, seed_keys, goal_nodes)
    np.testing.assert_array_equal(with_hierarchy(ch, seed_nodes, seed_keys, goal_nodes), expected)
    assert np.all(expected < INF)  # the builder keeps one strongly connected component


def test_helsinki_matrix_matches_plain_dijkstra(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
) -> None:
    """On the bundled Helsinki graph a random 100×100 matrix equals plain Dijkstra."""
    _check_real_graph(*helsinki)


@pytest.mark.shared_data
def test_lauf_matrix_matches_plain_dijkstra(
    lauf: tuple[BikeGraph, ContractionHierarchy],
) -> None:
    """On the Lauf an der Pegnitz graph a random 100×100 matrix equals plain Dijkstra."""
    _check_real_graph(*lauf)


def test_reused_buckets_give_the_same_rows(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
) -> None:
    """Goal buckets made once serve every row batch, with the same result as one call."""
    graph, ch = helsinki
    seed_nodes, seed_keys, goal_nodes = random_query(
        np.random.default_rng(3), graph.n_nodes, 50, 30
    )
    whole = with_hierarchy(ch, seed_nodes, seed_keys, goal_nodes)
    buckets = ch_goal_buckets(ch, goal_nodes)
    for start in range(0, 50, 16):
        rows = slice(start, start + 16)
        out = np.empty((seed_nodes[rows].shape[0], 30), dtype=np.int64)
        ch_many_to_many(
            ch, seed_nodes[rows], seed_keys[rows], goal_nodes, out, buckets=buckets, n_chunks=3
        )
        np.testing.assert_array_equal(out, whole[rows])
    with pytest.raises(ValueError, match="other goals"):
        ch_many_to_many(
            ch,
            seed_nodes,
            seed_keys,
            goal_nodes[::-1],
            np.empty((50, 30), np.int64),
            buckets=buckets,
        )


def test_save_load_round_trip(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
    tmp_path: Path,
) -> None:
    """A saved hierarchy loads back with equal arrays and answers queries the same."""
    graph, ch = helsinki
    path = tmp_path / "helsinki.ch.npz"
    ch.save(path)
    loaded = ContractionHierarchy.load(path, graph)
    for name in (
        "rank",
        "fwd_offsets",
        "fwd_heads",
        "fwd_weights",
        "bwd_offsets",
        "bwd_tails",
        "bwd_weights",
    ):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(ch, name))
    assert (loaded.n_nodes, loaded.n_edges, loaded.fingerprint, loaded.n_shortcuts) == (
        ch.n_nodes,
        ch.n_edges,
        ch.fingerprint,
        ch.n_shortcuts,
    )
    query = random_query(np.random.default_rng(1), graph.n_nodes, 20, 20)
    np.testing.assert_array_equal(with_hierarchy(loaded, *query), with_hierarchy(ch, *query))


def test_hierarchy_of_another_graph_is_refused(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
    tmp_path: Path,
) -> None:
    """Loading or checking a hierarchy against another graph raises ValueError."""
    graph, ch = helsinki
    path = tmp_path / "helsinki.ch.npz"
    ch.save(path)
    smaller = make_graph(3, [(0, 1, 1, 1), (1, 2, 1, 1)])
    with pytest.raises(ValueError, match="nodes"):
        ContractionHierarchy.load(path, smaller)
    slower = replace(graph, travel_time_s=graph.travel_time_s + 1)  # same counts, other keys
    with pytest.raises(ValueError, match="another graph"):
        ContractionHierarchy.load(path, slower)
    with pytest.raises(ValueError, match="another graph"):
        ch.check_graph(slower)


@pytest.mark.shared_data
def test_hierarchy_of_lauf_is_refused_for_helsinki(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
    lauf: tuple[BikeGraph, ContractionHierarchy],
    tmp_path: Path,
) -> None:
    """A saved Lauf hierarchy is refused for the Helsinki graph."""
    path = tmp_path / "lauf.ch.npz"
    lauf[1].save(path)
    with pytest.raises(ValueError, match="hierarchy is of a graph"):
        ContractionHierarchy.load(path, helsinki[0])


def test_other_format_is_refused(
    helsinki: tuple[BikeGraph, ContractionHierarchy],
    tmp_path: Path,
) -> None:
    """A file of another format version is refused with ValueError."""
    _, ch = helsinki
    path = tmp_path / "old.ch.npz"
    ch.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "format": 0}))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="format"):
        ContractionHierarchy.load(path)


def test_bad_query_arrays_are_refused(helsinki: tuple[BikeGraph, ContractionHierarchy]) -> None:
    """Wrong shapes, dtypes, node indices or keys raise ValueError before any kernel runs."""
    graph, ch = helsinki
    seeds = np.array([[0, -1]], dtype=np.int32)
    keys = np.zeros((1, 2), dtype=np.int64)
    goals = np.array([1, 2], dtype=np.int32)
    good_out = np.empty((1, 2), dtype=np.int64)
    bad_calls = [
        (seeds[0], keys, goals, good_out),
        (seeds, keys[:, :1], goals, good_out),
        (seeds, keys, goals, np.empty((1, 3), dtype=np.int64)),
        (seeds, keys, goals, np.empty((1, 2), dtype=np.float64)),
        (np.array([[graph.n_nodes, -1]], dtype=np.int32), keys, goals, good_out),
        (seeds, keys, np.array([-1], dtype=np.int32), np.empty((1, 1), dtype=np.int64)),
        (seeds, np.array([[-5, 0]], dtype=np.int64), goals, good_out),
        (seeds.astype(np.float64), keys, goals, good_out),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError, match="must"):
            ch_many_to_many(ch, *call)


def test_progress_reports_every_node_contracted() -> None:
    """Progress calls count up to the node count under the "hierarchy" stage."""
    graph = make_graph(4, [(0, 1, 1, 1), (1, 2, 1, 1), (2, 3, 1, 1), (3, 0, 1, 1)])
    calls: list[tuple[str, int, int]] = []
    build_hierarchy(graph, progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert calls[0] == ("hierarchy", 0, 4)
    assert calls[-1] == ("hierarchy", 4, 4)
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
