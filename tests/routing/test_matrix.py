"""Travel matrices: numba Dijkstra and the contraction hierarchy equal a reference Dijkstra.

The reference is independent of the routing kernels: scipy's Dijkstra for travel times, and
for distances either a pure-Python Dijkstra on (seconds, metres) tuples or scipy on the
combined weight ``seconds * 2**26 + metres`` (exact in float64 while sums stay below 2**53).
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing import (
    UNREACHABLE,
    BikeGraph,
    BuildReport,
    RoutingError,
    SnappedPoints,
    snap_points,
    travel_matrix,
)

SHIFT = 2**26
METHODS = ("dijkstra", "hierarchy")
#: A snapped fraction this close to 0 or 1 is at the piece's end (float sums along the shape).
AT_END = 1e-9


def make_graph(n: int, edges: list[tuple[int, int, int, int]]) -> BikeGraph:
    """A BikeGraph from (source, target, seconds, metres) edges, one dummy piece per edge."""
    edges = sorted(edges, key=lambda e: e[0])
    m = len(edges)
    sources = np.array([e[0] for e in edges], dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(sources, minlength=n), out=offsets[1:])
    return BikeGraph(
        name="random",
        profile="test",
        node_lon=np.linspace(0.0, 0.01, n),
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
        report=BuildReport(extract="random", profile="test"),
    )


def reference_lexicographic(
    n: int, edges: list[tuple[int, int, int, int]], source: int
) -> dict[int, tuple[int, int]]:
    """Pure-Python Dijkstra on (seconds, metres) tuples: the fastest, then shortest, path."""
    adjacency: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    for u, v, t, d in edges:
        adjacency[u].append((v, t, d))
    best: dict[int, tuple[int, int]] = {source: (0, 0)}
    heap = [(0, 0, source)]
    done: set[int] = set()
    while heap:
        t, d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for v, dt, dd in adjacency[u]:
            candidate = (t + dt, d + dd)
            if v not in best or candidate < best[v]:
                best[v] = candidate
                heapq.heappush(heap, (*candidate, v))
    return best


def min_csr(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> csr_matrix:
    """A scipy graph keeping the lightest of parallel edges (explicit zeros stay edges)."""
    order = np.lexsort((weight, dst, src))
    src, dst, weight = src[order], dst[order], weight[order]
    first = np.ones(src.shape[0], dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst, weight = src[first], dst[first], weight[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return csr_matrix((weight.astype(np.float64), dst, indptr), shape=(n, n))


def scipy_time(graph: BikeGraph, sources: np.ndarray) -> np.ndarray:
    """Fastest travel times from ``sources`` to every node (inf when unreachable)."""
    w = graph.travel_time_s.astype(np.float64)
    csgraph = min_csr(graph.n_nodes, graph.sources, graph.targets, w)
    return dijkstra(csgraph, directed=True, indices=sources)


def scipy_keys(graph: BikeGraph, sources: np.ndarray) -> np.ndarray:
    """Lexicographic (time, metres) keys ``time * 2**26 + metres`` as int64, -1 if unreachable."""
    w = graph.travel_time_s.astype(np.float64) * SHIFT + graph.length_m.astype(np.float64)
    csgraph = min_csr(graph.n_nodes, graph.sources, graph.targets, w)
    keys = dijkstra(csgraph, directed=True, indices=sources)
    assert np.nanmax(np.where(np.isinf(keys), np.nan, keys), initial=0) < 2**53
    return np.where(np.isinf(keys), -1, keys).astype(np.int64)


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Small directed graphs: one-ways, two-way streets, parallel edges, zero weights."""
    n = draw(st.integers(2, 40))
    node = st.integers(0, n - 1)
    top = draw(st.sampled_from([1, 3, 30, 600]))  # small tops: many ties on time
    seconds = st.integers(0, top)
    metres = st.integers(0, draw(st.sampled_from([2, 50, 5000])))
    m = draw(st.integers(0, 3 * n))
    one_ways = draw(st.lists(st.tuples(node, node, seconds, metres), min_size=m, max_size=m))
    edges = [e for e in one_ways if e[0] != e[1] or draw(st.booleans())]  # some self-loops
    two_ways = draw(st.lists(st.tuples(node, node, seconds, metres), max_size=n))
    edges += two_ways + [(v, u, t, d) for u, v, t, d in two_ways]
    if edges:
        copies = draw(st.lists(st.tuples(st.sampled_from(edges), seconds, metres), max_size=6))
        edges += [(u, v, t, d) for (u, v, _, _), t, d in copies]
    return n, edges


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=random_graphs(), data=st.data())
def test_random_graphs_match_reference_dijkstra(
    case: tuple[int, list[tuple[int, int, int, int]]], data: st.DataObject
) -> None:
    """Both methods give exactly the reference times and distances; -1 where unreachable."""
    n, edges = case
    graph = make_graph(n, edges)
    everyone = np.arange(n)
    expected_time = scipy_time(graph, everyone)
    expected_duration = np.full((n, n), UNREACHABLE, dtype=np.int64)
    expected_distance = np.full((n, n), UNREACHABLE, dtype=np.int64)
    for s in range(n):
        for v, (t, d) in reference_lexicographic(n, edges, s).items():
            expected_duration[s, v] = t
            expected_distance[s, v] = d
    np.testing.assert_array_equal(
        np.where(np.isinf(expected_time), UNREACHABLE, expected_time), expected_duration
    )
    node = st.integers(0, n - 1)
    rows = np.array(data.draw(st.lists(node, min_size=1, max_size=8)), dtype=np.int64)
    cols = np.array(data.draw(st.lists(node, min_size=1, max_size=8)), dtype=np.int64)
    for method in METHODS:
        full = travel_matrix(graph, everyone, method=method)
        assert full.duration_s.dtype == np.int64
        assert full.distance_m.dtype == np.int64
        assert full.shape == (n, n)
        np.testing.assert_array_equal(full.duration_s, expected_duration, err_msg=method)
        np.testing.assert_array_equal(full.distance_m, expected_distance, err_msg=method)
        np.testing.assert_array_equal(np.diag(full.duration_s), 0)
        np.testing.assert_array_equal(np.diag(full.distance_m), 0)
        part = travel_matrix(graph, rows, cols, method=method)
        np.testing.assert_array_equal(part.duration_s, expected_duration[np.ix_(rows, cols)])
        np.testing.assert_array_equal(part.distance_m, expected_distance[np.ix_(rows, cols)])


def test_ties_on_time_are_broken_by_distance() -> None:
    """Two equally fast paths: the matrix reports the shorter one's metres, not the first."""
    # 0→1→3 takes 10 s over 900 m; 0→2→3 takes 10 s over 300 m; 0→3 direct takes 11 s, 1 m.
    graph = make_graph(
        4,
        [(0, 1, 5, 400), (1, 3, 5, 500), (0, 2, 4, 100), (2, 3, 6, 200), (0, 3, 11, 1)],
    )
    for method in METHODS:
        result = travel_matrix(graph, [0], [3], method=method)
        assert (result.duration_s[0, 0], result.distance_m[0, 0]) == (10, 300)


def test_unreachable_cells_are_minus_one() -> None:
    """A one-way pair: 0 reaches 1 but 1 does not reach 0; an isolated node reaches nothing."""
    graph = make_graph(3, [(0, 1, 7, 70)])
    for method in METHODS:
        result = travel_matrix(graph, [0, 1, 2], method=method)
        np.testing.assert_array_equal(result.duration_s, [[0, 7, -1], [-1, 0, -1], [-1, -1, 0]])
        np.testing.assert_array_equal(result.distance_m, [[0, 70, -1], [-1, 0, -1], [-1, -1, 0]])


def _check_real_sample(graph: BikeGraph, n_sources: int, n_targets: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sources = rng.choice(graph.n_nodes, size=n_sources, replace=False)
    targets = rng.choice(graph.n_nodes, size=n_targets, replace=False)
    expected_time = scipy_time(graph, sources)[:, targets]
    assert np.all(np.isfinite(expected_time))  # one strongly connected component
    keys = scipy_keys(graph, sources)[:, targets]
    # The lexicographic reference agrees with scipy on time alone.
    np.testing.assert_array_equal(keys // SHIFT, expected_time.astype(np.int64))
    for method in (*METHODS, "auto"):
        result = travel_matrix(graph, sources, targets, method=method)
        np.testing.assert_array_equal(result.duration_s, expected_time.astype(np.int64), method)
        np.testing.assert_array_equal(result.distance_m, keys % SHIFT, method)


def test_helsinki_sample_matches_scipy(helsinki_graph: BikeGraph) -> None:
    """30 random sources × 200 targets of the default town equal scipy, for every method."""
    _check_real_sample(helsinki_graph, 30, 200, seed=11)


@pytest.mark.shared_data
def test_lauf_sample_matches_scipy(lauf_graph: BikeGraph) -> None:
    _check_real_sample(lauf_graph, 15, 150, seed=12)


@pytest.mark.shared_data
def test_porto_sample_matches_scipy(porto_graph: BikeGraph) -> None:
    _check_real_sample(porto_graph, 6, 100, seed=13)


def test_bad_endpoints_and_method_are_refused(helsinki_graph: BikeGraph) -> None:
    """Out-of-range nodes, non-integer arrays and unknown methods raise RoutingError."""
    n = helsinki_graph.n_nodes
    with pytest.raises(RoutingError, match=rf"destinations\[1\] = {n} is not a node"):
        travel_matrix(helsinki_graph, [0], [1, n])
    with pytest.raises(RoutingError, match=r"origins\[0\] = -1"):
        travel_matrix(helsinki_graph, [-1])
    with pytest.raises(RoutingError, match="node indices"):
        travel_matrix(helsinki_graph, np.array([0.5, 1.5]))
    with pytest.raises(RoutingError, match="method"):
        travel_matrix(helsinki_graph, [0, 1], method="astar")  # type: ignore[arg-type]


def test_empty_endpoints_give_empty_matrices(helsinki_graph: BikeGraph) -> None:
    for method in METHODS:
        assert travel_matrix(helsinki_graph, [], [1, 2], method=method).shape == (0, 2)
        assert travel_matrix(helsinki_graph, [1], [], method=method).shape == (1, 0)
        assert travel_matrix(helsinki_graph, [], method=method).shape == (0, 0)


# --- snapped points ---------------------------------------------------------------------


def _piece_edges(graph: BikeGraph, piece: int) -> tuple[int, int]:
    """The forward and backward edge of a piece (-1 where that direction is not allowed)."""
    along = np.flatnonzero((graph.edge_piece == piece) & ~graph.edge_reversed)
    against = np.flatnonzero((graph.edge_piece == piece) & graph.edge_reversed)
    return (int(along[0]) if along.size else -1, int(against[0]) if against.size else -1)


def _share(graph: BikeGraph, edge: int, share: float) -> int:
    t = int(np.rint(share * graph.travel_time_s[edge]))
    d = int(np.rint(share * graph.length_m[edge]))
    return t * SHIFT + d


def _piece_ends(graph: BikeGraph, piece: int) -> tuple[int, int]:
    """The piece's first and last node (in its shape order)."""
    fwd, bwd = _piece_edges(graph, piece)
    if fwd >= 0:
        return int(graph.sources[fwd]), int(graph.targets[fwd])
    return int(graph.targets[bwd]), int(graph.sources[bwd])


def ways_off(graph: BikeGraph, piece: int, f: float) -> list[tuple[int, int]]:
    """(node, key) pairs: how a point at fraction f of a piece reaches the network's nodes.

    Along each allowed direction of the piece to its end; and a point lying at an end of the
    piece (fraction 0 or 1, up to float error) *is* at that junction, whatever the one-ways.
    """
    fwd, bwd = _piece_edges(graph, piece)
    first, last = _piece_ends(graph, piece)
    options = []
    if fwd >= 0:
        options.append((last, _share(graph, fwd, 1 - f)))
    if bwd >= 0:
        options.append((first, _share(graph, bwd, f)))
    if f <= AT_END:
        options.append((first, 0))
    if f >= 1 - AT_END:
        options.append((last, 0))
    return options


def ways_onto(graph: BikeGraph, piece: int, f: float) -> list[tuple[int, int]]:
    """(node, key) pairs: from which nodes, at what key still to ride, a point is reached."""
    fwd, bwd = _piece_edges(graph, piece)
    first, last = _piece_ends(graph, piece)
    options = []
    if fwd >= 0:
        options.append((first, _share(graph, fwd, f)))
    if bwd >= 0:
        options.append((last, _share(graph, bwd, 1 - f)))
    if f <= AT_END:
        options.append((first, 0))
    if f >= 1 - AT_END:
        options.append((last, 0))
    return options


def brute_force_keys(graph: BikeGraph, a: SnappedPoints, b: SnappedPoints) -> np.ndarray:
    """Min over every way off a's piece, node-to-node path, way onto b's piece, or a direct ride."""
    exits = [ways_off(graph, int(a.piece[i]), float(a.fraction[i])) for i in range(len(a))]
    entries = [ways_onto(graph, int(b.piece[j]), float(b.fraction[j])) for j in range(len(b))]
    exit_nodes = sorted({node for options in exits for node, _ in options})
    node_keys = scipy_keys(graph, np.array(exit_nodes))
    row_of = {node: k for k, node in enumerate(exit_nodes)}
    out = np.full((len(a), len(b)), -1, dtype=np.int64)
    for i in range(len(a)):
        for j in range(len(b)):
            candidates = [
                key_out + int(node_keys[row_of[x], y]) + key_in
                for x, key_out in exits[i]
                for y, key_in in entries[j]
                if node_keys[row_of[x], y] >= 0
            ]
            if a.piece[i] == b.piece[j]:
                fwd, bwd = _piece_edges(graph, int(a.piece[i]))
                f_from, f_to = float(a.fraction[i]), float(b.fraction[j])
                if f_to >= f_from and fwd >= 0:
                    candidates.append(_share(graph, fwd, f_to - f_from))
                if f_to <= f_from and bwd >= 0:
                    candidates.append(_share(graph, bwd, f_from - f_to))
            out[i, j] = min(candidates)
    return out


def random_points(graph: BikeGraph, n: int, seed: int) -> SnappedPoints:
    """Points scattered around the town, up to ~60 m off the network, snapped."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, graph.shape_lon.shape[0], n)
    lon = graph.shape_lon[pick] + rng.normal(0, 0.0006, n)
    lat = graph.shape_lat[pick] + rng.normal(0, 0.0003, n)
    return snap_points(graph, lon, lat, max_distance_m=1000)


def test_snapped_matrix_equals_brute_force(helsinki_graph: BikeGraph) -> None:
    """Between snapped points, each cell is the best combination of partial edges and paths."""
    points = random_points(helsinki_graph, 40, seed=5)
    # A few pairs on one piece, so the direct ride along it is exercised too.
    lon, lat = helsinki_graph.piece_shape(int(points.piece[0]))
    step = np.array([0.0, 2e-5, -2e-5])
    extra = snap_points(helsinki_graph, lon[:2].mean() + step, lat[:2].mean() + step / 2)
    fields = points.__dict__
    points = SnappedPoints(**{k: np.concatenate([v, extra.__dict__[k]]) for k, v in fields.items()})
    expected = brute_force_keys(helsinki_graph, points, points)
    assert np.all(expected >= 0)
    for method in METHODS:
        result = travel_matrix(helsinki_graph, points, method=method)
        np.testing.assert_array_equal(result.duration_s, expected // SHIFT, method)
        np.testing.assert_array_equal(result.distance_m, expected % SHIFT, method)
        np.testing.assert_array_equal(np.diag(result.duration_s), 0)


def test_snapped_and_node_endpoints_mix(helsinki_graph: BikeGraph) -> None:
    """Snapped points to nodes: best way off the point's piece + node path; and nodes to points."""
    graph = helsinki_graph
    points = random_points(graph, 10, seed=8)
    nodes = np.array([3, 300, 900])
    node_keys = scipy_keys(graph, np.arange(graph.n_nodes))
    expected_out = np.empty((len(points), nodes.size), dtype=np.int64)
    expected_in = np.empty((nodes.size, len(points)), dtype=np.int64)
    for i in range(len(points)):
        piece, f = int(points.piece[i]), float(points.fraction[i])
        off = [key + node_keys[x, nodes] for x, key in ways_off(graph, piece, f)]
        onto = [node_keys[nodes, y] + key for y, key in ways_onto(graph, piece, f)]
        expected_out[i] = np.min(off, axis=0)
        expected_in[:, i] = np.min(onto, axis=0)
    for method in METHODS:
        out = travel_matrix(graph, points, nodes, method=method)
        np.testing.assert_array_equal(out.duration_s, expected_out // SHIFT, method)
        np.testing.assert_array_equal(out.distance_m, expected_out % SHIFT, method)
        into = travel_matrix(graph, nodes, points, method=method)
        np.testing.assert_array_equal(into.duration_s, expected_in // SHIFT, method)
        np.testing.assert_array_equal(into.distance_m, expected_in % SHIFT, method)


def _points_on_nodes(graph: BikeGraph) -> SnappedPoints:
    on_nodes = snap_points(graph, graph.node_lon, graph.node_lat)
    assert np.all(on_nodes.distance_m < 0.01)
    return on_nodes


def test_point_on_a_node_rides_off_like_the_node(helsinki_graph: BikeGraph) -> None:
    """A point exactly on a junction has the junction's matrix row (±1 s / m rounding).

    Such a point snaps onto one of the pieces meeting there, at fraction 0 or 1. When that
    piece is a one-way leading *away* from the junction, the point must still be able to leave
    by the junction's other edges (and not first ride the whole one-way piece).
    """
    graph = helsinki_graph
    nodes = np.arange(graph.n_nodes)
    by_node = travel_matrix(graph, nodes, method="hierarchy")
    from_points = travel_matrix(graph, _points_on_nodes(graph), nodes, method="hierarchy")
    worst = np.abs(from_points.duration_s - by_node.duration_s).max(axis=1)
    bad = np.flatnonzero(worst > 1)
    assert bad.size == 0, (
        f"{bad.size} of {graph.n_nodes} points on nodes have a worse row than their node, "
        f"e.g. node {bad[0]}: up to {worst[bad[0]]} s more"
    )
    np.testing.assert_allclose(from_points.distance_m, by_node.distance_m, atol=1)


def test_point_on_a_node_is_reached_like_the_node(helsinki_graph: BikeGraph) -> None:
    """A point exactly on a junction has the junction's matrix column (±1 s / m rounding).

    When the piece it snapped onto is a one-way leading *into* the junction, the point must
    still be reachable by the junction's other edges.
    """
    graph = helsinki_graph
    nodes = np.arange(graph.n_nodes)
    by_node = travel_matrix(graph, nodes, method="hierarchy")
    to_points = travel_matrix(graph, nodes, _points_on_nodes(graph), method="hierarchy")
    worst = np.abs(to_points.duration_s - by_node.duration_s).max(axis=0)
    bad = np.flatnonzero(worst > 1)
    assert bad.size == 0, (
        f"{bad.size} of {graph.n_nodes} points on nodes have a worse column than their node, "
        f"e.g. node {bad[0]}: up to {worst[bad[0]]} s more"
    )
    np.testing.assert_allclose(to_points.distance_m, by_node.distance_m, atol=1)


def test_triangle_inequality_up_to_rounding(helsinki_graph: BikeGraph) -> None:
    """t(a, b) ≤ t(a, c) + t(c, b) + 2 s: riding via c is a path too (partial edges round).

    Only for times: the distance is that of the fastest path, so it need not be a metric.
    """
    points = random_points(helsinki_graph, 60, seed=21)
    for method in METHODS:
        t = travel_matrix(helsinki_graph, points, method=method).duration_s
        via = t[:, None, :] + t.T[None, :, :]  # via[a, b, c] = t(a, c) + t(c, b)
        assert np.all(t <= via.min(axis=2) + 2), method


def test_row_batches_and_progress(helsinki_graph: BikeGraph) -> None:
    """Small row batches give the same matrix; progress counts rows up to the total."""
    points = random_points(helsinki_graph, 30, seed=1)
    whole = travel_matrix(helsinki_graph, points, method="dijkstra")
    for method in METHODS:
        calls: list[tuple[str, int, int]] = []

        def progress(
            stage: str, done: int, total: int, calls: list[tuple[str, int, int]] = calls
        ) -> None:
            calls.append((stage, done, total))

        batched = travel_matrix(
            helsinki_graph, points, rows_per_batch=7, method=method, progress=progress
        )
        np.testing.assert_array_equal(batched.duration_s, whole.duration_s)
        np.testing.assert_array_equal(batched.distance_m, whole.distance_m)
        matrix_calls = [c for c in calls if c[0] == "matrix"]
        assert matrix_calls == [("matrix", done, 30) for done in (7, 14, 21, 28, 30)]
