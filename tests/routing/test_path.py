"""Fastest paths: the matrix's numbers, a continuous polyline, and streets that add up."""

from __future__ import annotations

import functools
import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import (
    BikeGraph,
    BuildReport,
    NoPathError,
    RidePath,
    RoutingError,
    SnappedPoints,
    fastest_path,
    snap_points,
    travel_matrix,
)
from routing.geo import haversine_m

SHIFT = 2**26


def make_graph(n: int, edges: list[tuple[int, int, int, int]]) -> BikeGraph:
    """A BikeGraph from (source, target, seconds, metres) edges; each edge a straight piece."""
    edges = sorted(edges, key=lambda e: e[0])
    m = len(edges)
    sources = np.array([e[0] for e in edges], dtype=np.int64)
    targets = np.array([e[1] for e in edges], dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(sources, minlength=n), out=offsets[1:])
    node_lon = np.linspace(24.90, 24.95, n)
    node_lat = np.full(n, 60.17)
    return BikeGraph(
        name="random",
        profile="test",
        node_lon=node_lon,
        node_lat=node_lat,
        node_osm_id=np.arange(n, dtype=np.int64),
        offsets=offsets,
        targets=targets.astype(np.int32),
        length_m=np.array([e[3] for e in edges], dtype=np.int32),
        travel_time_s=np.array([e[2] for e in edges], dtype=np.int32),
        edge_piece=np.arange(m, dtype=np.int32),
        edge_reversed=np.zeros(m, dtype=bool),
        piece_shape_ptr=np.arange(0, 2 * m + 1, 2, dtype=np.int64),
        shape_lon=np.column_stack([node_lon[sources], node_lon[targets]]).ravel(),
        shape_lat=np.column_stack([node_lat[sources], node_lat[targets]]).ravel(),
        piece_name=np.zeros(m, dtype=np.int32),
        piece_highway=np.zeros(m, dtype=np.int32),
        piece_osm_way=np.arange(m, dtype=np.int64),
        names=np.array([""]),
        highways=np.array(["residential"]),
        report=BuildReport(extract="random", profile="test"),
    )


def random_points(graph: BikeGraph, n: int, seed: int) -> SnappedPoints:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, graph.shape_lon.shape[0], n)
    lon = graph.shape_lon[pick] + rng.normal(0, 0.0006, n)
    lat = graph.shape_lat[pick] + rng.normal(0, 0.0003, n)
    return snap_points(graph, lon, lat, max_distance_m=1000)


@functools.cache
def street_names(graph: BikeGraph) -> frozenset[str]:
    return frozenset(graph.names.tolist())


@functools.cache
def longest_segment_m(graph: BikeGraph) -> float:
    lon, lat = graph.shape_lon, graph.shape_lat
    return float(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:]).max())


def check_ride(
    graph: BikeGraph, ride: RidePath, start: tuple[float, float], end: tuple[float, float]
) -> None:
    """The ride's line runs from start to end without jumps; its streets add up."""
    assert ride.lon.shape == ride.lat.shape
    assert ride.lon.shape[0] >= 2
    assert haversine_m(ride.lon[0], ride.lat[0], *start) < 1.0
    assert haversine_m(ride.lon[-1], ride.lat[-1], *end) < 1.0
    steps = haversine_m(ride.lon[:-1], ride.lat[:-1], ride.lon[1:], ride.lat[1:])
    assert steps.max(initial=0) <= longest_segment_m(graph) + 1.0
    # The line is as long as the ride: each edge's metres are its shape's length, rounded.
    assert steps.sum() == pytest.approx(ride.distance_m, abs=2.0 + 0.5 * ride.edges.shape[0])
    # Full edges follow one another.
    edges = ride.edges
    np.testing.assert_array_equal(graph.targets[edges[:-1]], graph.sources[edges[1:]])
    full = int(graph.travel_time_s[edges].sum()), int(graph.length_m[edges].sum())
    assert full[0] <= ride.duration_s
    assert full[1] <= ride.distance_m
    # Street legs: merged when consecutive, adding up to the totals (legs are not rounded
    # to whole metres or seconds, the totals are).
    legs = ride.streets
    assert all(a.name != b.name for a, b in itertools.pairwise(legs))
    assert all(leg.name in street_names(graph) for leg in legs)
    tolerance = 1.01 + 0.05 * len(legs)
    assert sum(leg.distance_m for leg in legs) == pytest.approx(ride.distance_m, abs=tolerance)
    assert sum(leg.duration_s for leg in legs) == pytest.approx(ride.duration_s, abs=tolerance)


def check_geojson(ride: RidePath) -> None:
    feature = json.loads(json.dumps(ride.to_geojson()))
    assert feature["type"] == "Feature"
    geometry = feature["geometry"]
    assert geometry["type"] == "LineString"
    coordinates = geometry["coordinates"]
    assert len(coordinates) >= 2
    for position in coordinates:
        assert len(position) == 2
        lon, lat = position
        assert isinstance(lon, float)
        assert isinstance(lat, float)
        assert -180 <= lon <= 180
        assert -90 <= lat <= 90
    np.testing.assert_array_equal(np.array(coordinates), np.column_stack([ride.lon, ride.lat]))
    properties = feature["properties"]
    assert properties["duration_s"] == ride.duration_s
    assert properties["distance_m"] == ride.distance_m
    assert properties["streets"] == [leg.name for leg in ride.streets]


def test_paths_equal_matrix_cells(helsinki_graph: BikeGraph) -> None:
    """100 random pairs of snapped points: path totals equal the matrix; lines join the points."""
    graph = helsinki_graph
    points = random_points(graph, 20, seed=2)
    matrix = travel_matrix(graph, points, method="dijkstra")
    rng = np.random.default_rng(2)
    pairs = [tuple(p) for p in rng.integers(0, 20, size=(100, 2))]
    for a, b in pairs:
        ride = fastest_path(graph, points[int(a)], points[int(b)])
        assert (ride.duration_s, ride.distance_m) == (
            matrix.duration_s[a, b],
            matrix.distance_m[a, b],
        ), (a, b)
        start = (float(points.snapped_lon[a]), float(points.snapped_lat[a]))
        end = (float(points.snapped_lon[b]), float(points.snapped_lat[b]))
        check_ride(graph, ride, start, end)
    check_geojson(fastest_path(graph, points[0], points[1]))


def test_same_piece_paths(helsinki_graph: BikeGraph) -> None:
    """Two points on one piece: the path equals the matrix, along the piece or around."""
    graph = helsinki_graph
    one_ways = np.flatnonzero(np.bincount(graph.edge_piece, minlength=graph.n_pieces) == 1)
    two_ways = np.flatnonzero(np.bincount(graph.edge_piece, minlength=graph.n_pieces) == 2)
    for piece in (*one_ways[:5], *two_ways[:5]):
        lon, lat = graph.piece_shape(int(piece))
        t = np.array([0.2, 0.7])
        points = snap_points(
            graph, lon[0] + t * (lon[-1] - lon[0]), lat[0] + t * (lat[-1] - lat[0])
        )
        if not np.all(points.piece == piece):
            continue  # a curved piece: the chord's points may land elsewhere
        matrix = travel_matrix(graph, points, method="dijkstra")
        for a, b in ((0, 1), (1, 0)):
            ride = fastest_path(graph, points[a], points[b])
            assert (ride.duration_s, ride.distance_m) == (
                matrix.duration_s[a, b],
                matrix.distance_m[a, b],
            )
            start = (float(points.snapped_lon[a]), float(points.snapped_lat[a]))
            end = (float(points.snapped_lon[b]), float(points.snapped_lat[b]))
            check_ride(graph, ride, start, end)


def test_node_paths_equal_matrix_cells(helsinki_graph: BikeGraph) -> None:
    """Paths between node indices start and end at those nodes and equal the matrix."""
    graph = helsinki_graph
    rng = np.random.default_rng(6)
    nodes = rng.choice(graph.n_nodes, size=12, replace=False)
    matrix = travel_matrix(graph, nodes, method="hierarchy")
    for a in range(12):
        for b in range(12):
            if a == b:
                continue
            u, v = int(nodes[a]), int(nodes[b])
            ride = fastest_path(graph, u, v)
            assert (ride.duration_s, ride.distance_m) == (
                matrix.duration_s[a, b],
                matrix.distance_m[a, b],
            )
            assert graph.sources[ride.edges[0]] == u
            assert graph.targets[ride.edges[-1]] == v
            assert ride.duration_s == graph.travel_time_s[ride.edges].sum()
            assert ride.distance_m == graph.length_m[ride.edges].sum()
            start = (float(graph.node_lon[u]), float(graph.node_lat[u]))
            end = (float(graph.node_lon[v]), float(graph.node_lat[v]))
            check_ride(graph, ride, start, end)


def test_path_from_a_point_to_itself_is_empty(helsinki_graph: BikeGraph) -> None:
    """A snapped point to itself: zero seconds, zero metres, a line of one place."""
    points = random_points(helsinki_graph, 3, seed=1)
    for i in range(3):
        ride = fastest_path(helsinki_graph, points[i], points[i])
        assert (ride.duration_s, ride.distance_m) == (0, 0)
        assert ride.edges.shape == (0,)
        assert sum(leg.distance_m for leg in ride.streets) == 0
        here = (float(points.snapped_lon[i]), float(points.snapped_lat[i]))
        assert haversine_m(ride.lon, ride.lat, *here).max() < 1.0
        check_geojson(ride)


def test_path_from_a_node_to_itself_is_empty(helsinki_graph: BikeGraph) -> None:
    """A node to itself: zero seconds, zero metres, no edges (as the matrix's diagonal says)."""
    node = 5
    assert travel_matrix(helsinki_graph, [node]).duration_s[0, 0] == 0
    ride = fastest_path(helsinki_graph, node, node)
    assert (ride.duration_s, ride.distance_m) == (0, 0)
    assert ride.edges.shape == (0,)
    assert ride.streets == ()
    here = (float(helsinki_graph.node_lon[node]), float(helsinki_graph.node_lat[node]))
    assert haversine_m(ride.lon, ride.lat, *here).max() < 1.0
    check_geojson(ride)  # a LineString of two equal positions, like a snapped point to itself


def test_mixed_endpoints(helsinki_graph: BikeGraph) -> None:
    """A snapped point to a node and a node to a snapped point equal the matrix too."""
    graph = helsinki_graph
    points = random_points(graph, 6, seed=12)
    nodes = np.array([10, 500, 1000])
    out = travel_matrix(graph, points, nodes, method="dijkstra")
    into = travel_matrix(graph, nodes, points, method="dijkstra")
    for i in range(6):
        for k, node in enumerate(nodes):
            ride = fastest_path(graph, points[i], int(node))
            assert (ride.duration_s, ride.distance_m) == (
                out.duration_s[i, k],
                out.distance_m[i, k],
            )
            here = (float(points.snapped_lon[i]), float(points.snapped_lat[i]))
            there = (float(graph.node_lon[node]), float(graph.node_lat[node]))
            check_ride(graph, ride, here, there)
            ride = fastest_path(graph, int(node), points[i])
            assert (ride.duration_s, ride.distance_m) == (
                into.duration_s[k, i],
                into.distance_m[k, i],
            )
            check_ride(graph, ride, there, here)


def test_more_than_one_point_is_refused(helsinki_graph: BikeGraph) -> None:
    points = random_points(helsinki_graph, 2, seed=3)
    with pytest.raises(RoutingError, match="origin must be one snapped point, got 2"):
        fastest_path(helsinki_graph, points, points[0])
    with pytest.raises(RoutingError, match="destination must be one snapped point, got 2"):
        fastest_path(helsinki_graph, points[0], points)


def test_no_path_raises() -> None:
    """Between nodes of different components there is no path: NoPathError."""
    graph = make_graph(4, [(0, 1, 5, 50), (1, 0, 5, 50), (2, 3, 5, 50)])
    with pytest.raises(NoPathError):
        fastest_path(graph, 0, 2)
    with pytest.raises(NoPathError):
        fastest_path(graph, 3, 2)
    assert fastest_path(graph, 2, 3).duration_s == 5


@st.composite
def graphs_with_a_pair(draw: st.DrawFn) -> tuple[BikeGraph, int, int]:
    """Small directed graphs (parallel edges, zero weights) and two distinct nodes."""
    n = draw(st.integers(2, 25))
    node = st.integers(0, n - 1)
    weight = st.integers(0, draw(st.sampled_from([2, 20, 400])))
    edges = draw(
        st.lists(
            st.tuples(node, node, weight, weight).filter(lambda e: e[0] != e[1]),
            min_size=1,
            max_size=4 * n,
        )
    )
    copies = draw(st.lists(st.tuples(st.sampled_from(edges), weight, weight), max_size=5))
    edges += [(u, v, t, d) for (u, v, _, _), t, d in copies]
    a = draw(node)
    b = draw(node.filter(lambda v: v != a))
    return make_graph(n, edges), a, b


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=graphs_with_a_pair())
def test_random_graph_paths_are_the_matrix_paths(case: tuple[BikeGraph, int, int]) -> None:
    """On random graphs the path's edges chain from a to b and sum to the matrix cell."""
    graph, a, b = case
    cell = travel_matrix(graph, [a], [b], method="dijkstra")
    if cell.duration_s[0, 0] < 0:
        with pytest.raises(NoPathError):
            fastest_path(graph, a, b)
        return
    ride = fastest_path(graph, a, b)
    assert (ride.duration_s, ride.distance_m) == (cell.duration_s[0, 0], cell.distance_m[0, 0])
    edges = ride.edges
    assert edges.shape[0] >= 1
    assert graph.sources[edges[0]] == a
    assert graph.targets[edges[-1]] == b
    np.testing.assert_array_equal(graph.targets[edges[:-1]], graph.sources[edges[1:]])
    assert ride.duration_s == graph.travel_time_s[edges].sum()
    assert ride.distance_m == graph.length_m[edges].sum()


@pytest.mark.shared_data
@pytest.mark.parametrize("town", ["lauf", "porto"])
def test_shared_town_paths_equal_matrix_cells(town: str, request: pytest.FixtureRequest) -> None:
    graph: BikeGraph = request.getfixturevalue(f"{town}_graph")
    points = random_points(graph, 6, seed=31)
    matrix = travel_matrix(graph, points, method="hierarchy")
    for a in range(6):
        for b in range(6):
            ride = fastest_path(graph, points[a], points[b])
            assert (ride.duration_s, ride.distance_m) == (
                matrix.duration_s[a, b],
                matrix.distance_m[a, b],
            )
            start = (float(points.snapped_lon[a]), float(points.snapped_lat[a]))
            end = (float(points.snapped_lon[b]), float(points.snapped_lat[b]))
            check_ride(graph, ride, start, end)
