"""Snapping: points land on the nearest way piece, as a brute force over every segment says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import (
    DEFAULT_MAX_SNAP_M,
    BikeGraph,
    InvalidPointError,
    PointTooFarError,
    snap_points,
)
from routing.geo import EARTH_RADIUS_M, LocalProjection, haversine_m

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def segments(graph: BikeGraph) -> tuple[np.ndarray, np.ndarray]:
    """Start index (into shape_*) and piece of every shape segment of the graph."""
    ptr = graph.piece_shape_ptr
    is_last = np.zeros(graph.shape_lon.shape[0], dtype=bool)
    is_last[ptr[1:] - 1] = True
    start = np.flatnonzero(~is_last)
    return start, np.searchsorted(ptr, start, side="right") - 1


def nearest_by_brute_force(graph: BikeGraph, lon: float, lat: float) -> tuple[float, np.ndarray]:
    """The distance (m) from a point to the nearest segment, and each piece's distance.

    Computed in a projection centred on the point itself (not the snapper's), then measured
    with the haversine formula.
    """
    start, piece = segments(graph)
    projection = LocalProjection(lon, lat)
    ax, ay = projection.to_xy(graph.shape_lon[start], graph.shape_lat[start])
    bx, by = projection.to_xy(graph.shape_lon[start + 1], graph.shape_lat[start + 1])
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.clip(-(ax * dx + ay * dy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    q_lon, q_lat = projection.to_lonlat(ax + t * dx, ay + t * dy)
    distance = haversine_m(lon, lat, q_lon, q_lat)
    per_piece = np.full(graph.n_pieces, np.inf)
    np.minimum.at(per_piece, piece, distance)
    return float(distance.min()), per_piece


def metres_to_degrees(lat: float) -> tuple[float, float]:
    """Degrees of longitude and latitude per metre at a latitude."""
    per_degree = np.radians(1.0) * EARTH_RADIUS_M
    return 1.0 / (per_degree * np.cos(np.radians(lat))), 1.0 / per_degree


@st.composite
def points_on_shapes(draw: st.DrawFn, graph: BikeGraph) -> tuple[int, int, float]:
    """(piece, shape segment start, t in [0, 1]) for a point somewhere on a piece's shape."""
    start, piece = segments(graph)
    k = draw(st.integers(0, start.shape[0] - 1))
    t = draw(st.floats(0.0, 1.0))
    return int(piece[k]), int(start[k]), t


def _on_segment(graph: BikeGraph, start: int, t: float) -> tuple[float, float]:
    lon = graph.shape_lon[start] + t * (graph.shape_lon[start + 1] - graph.shape_lon[start])
    lat = graph.shape_lat[start] + t * (graph.shape_lat[start + 1] - graph.shape_lat[start])
    return float(lon), float(lat)


@SETTINGS
@given(data=st.data())
def test_point_on_a_shape_snaps_onto_it(helsinki_graph: BikeGraph, data: st.DataObject) -> None:
    """A point on a piece's shape snaps less than 1 m away, onto that piece or one as near."""
    graph = helsinki_graph
    piece, start, t = data.draw(points_on_shapes(graph))
    lon, lat = _on_segment(graph, start, t)
    snapped = snap_points(graph, [lon], [lat])
    assert snapped.distance_m[0] < 1.0
    assert haversine_m(lon, lat, snapped.snapped_lon[0], snapped.snapped_lat[0]) < 1.0
    if snapped.piece[0] == piece:
        # The offset along the piece is where the point lies on it.
        shape_lon, shape_lat = graph.piece_shape(piece)
        seg = haversine_m(shape_lon[:-1], shape_lat[:-1], shape_lon[1:], shape_lat[1:])
        k = start - int(graph.piece_shape_ptr[piece])
        expected = seg[:k].sum() + t * seg[k]
        assert snapped.offset_m[0] == pytest.approx(expected, abs=1.0)
        assert snapped.fraction[0] == pytest.approx(expected / seg.sum(), abs=1.0 / seg.sum())
    else:
        _, per_piece = nearest_by_brute_force(graph, lon, lat)
        assert per_piece[snapped.piece[0]] < 1.0


@SETTINGS
@given(data=st.data(), offset_m=st.floats(2.0, 200.0))
def test_point_moved_off_a_shape_snaps_at_that_distance(
    helsinki_graph: BikeGraph, data: st.DataObject, offset_m: float
) -> None:
    """A point moved d m square off a segment snaps d m away when nothing else is nearer."""
    graph = helsinki_graph
    piece, start, t = data.draw(points_on_shapes(graph))
    lon, lat = _on_segment(graph, start, t)
    per_lon, per_lat = metres_to_degrees(lat)
    east = (graph.shape_lon[start + 1] - graph.shape_lon[start]) / per_lon
    north = (graph.shape_lat[start + 1] - graph.shape_lat[start]) / per_lat
    norm = float(np.hypot(east, north))
    if norm < 1.0:
        return  # a degenerate segment has no direction to move square from
    side = data.draw(st.sampled_from([1.0, -1.0]))
    lon += side * -north / norm * offset_m * per_lon
    lat += side * east / norm * offset_m * per_lat
    nearest, per_piece = nearest_by_brute_force(graph, lon, lat)
    snapped = snap_points(graph, [lon], [lat], max_distance_m=1000)
    assert snapped.distance_m[0] == pytest.approx(nearest, abs=0.5)
    assert snapped.distance_m[0] <= offset_m + 0.5
    assert per_piece[snapped.piece[0]] == pytest.approx(nearest, abs=0.5)
    if nearest >= offset_m - 0.5:  # nothing nearer than the segment moved away from
        assert snapped.distance_m[0] == pytest.approx(offset_m, abs=1.0)
    if per_piece[piece] < np.partition(per_piece, 1)[1] - 1.0:  # no other piece as near
        assert snapped.piece[0] == piece


@SETTINGS
@given(data=st.data())
def test_snap_distance_is_the_true_nearest_distance(
    helsinki_graph: BikeGraph, data: st.DataObject
) -> None:
    """Anywhere around the town, the snap distance is the brute-force nearest distance."""
    graph = helsinki_graph
    west, south, east, north = graph.bounds
    lon = data.draw(st.floats(west - 0.005, east + 0.005))
    lat = data.draw(st.floats(south - 0.003, north + 0.003))
    nearest, per_piece = nearest_by_brute_force(graph, lon, lat)
    snapped = snap_points(graph, [lon], [lat], max_distance_m=10_000)
    assert snapped.distance_m[0] >= nearest - 0.05
    assert snapped.distance_m[0] <= nearest + 0.5
    assert per_piece[snapped.piece[0]] <= nearest + 0.5
    # The nearest node is the nearest node.
    node_d = haversine_m(lon, lat, graph.node_lon, graph.node_lat)
    assert snapped.nearest_node_m[0] == pytest.approx(node_d.min(), abs=0.5)
    assert node_d[snapped.nearest_node[0]] == pytest.approx(node_d.min(), abs=0.5)


def test_snapped_points_are_consistent(helsinki_graph: BikeGraph) -> None:
    """Every field agrees with the graph: edges of the piece, fraction = offset / length."""
    graph = helsinki_graph
    rng = np.random.default_rng(4)
    pick = rng.integers(0, graph.shape_lon.shape[0], 300)
    lon = graph.shape_lon[pick] + rng.normal(0, 0.0005, 300)
    lat = graph.shape_lat[pick] + rng.normal(0, 0.0003, 300)
    snapped = snap_points(graph, lon, lat, max_distance_m=1000)
    assert len(snapped) == 300
    np.testing.assert_array_equal(snapped.lon, lon)
    np.testing.assert_array_equal(snapped.lat, lat)
    np.testing.assert_allclose(
        snapped.distance_m,
        haversine_m(lon, lat, snapped.snapped_lon, snapped.snapped_lat),
        atol=1e-6,
    )
    assert np.all((snapped.fraction >= 0) & (snapped.fraction <= 1))
    for i in range(300):
        piece = int(snapped.piece[i])
        shape_lon, shape_lat = graph.piece_shape(piece)
        length = haversine_m(shape_lon[:-1], shape_lat[:-1], shape_lon[1:], shape_lat[1:]).sum()
        assert snapped.offset_m[i] == pytest.approx(snapped.fraction[i] * length, abs=1e-6)
        fwd, bwd = int(snapped.forward_edge[i]), int(snapped.backward_edge[i])
        assert fwd >= 0 or bwd >= 0
        for edge, reverse in ((fwd, False), (bwd, True)):
            if edge >= 0:
                assert graph.edge_piece[edge] == piece
                assert graph.edge_reversed[edge] == reverse
            else:
                assert not np.any((graph.edge_piece == piece) & (graph.edge_reversed == reverse))
    # Indexing one point keeps every field of that point.
    one = snapped[7]
    assert len(one) == 1
    assert one.piece[0] == snapped.piece[7]
    assert one.offset_m[0] == snapped.offset_m[7]


def _west_of_the_network(graph: BikeGraph, metres: float) -> tuple[float, float]:
    """A point ``metres`` due west of the network's westernmost shape point."""
    k = int(np.argmin(graph.shape_lon))
    lat = float(graph.shape_lat[k])
    per_lon, _ = metres_to_degrees(lat)
    return float(graph.shape_lon[k]) - metres * per_lon, lat


def test_point_far_outside_is_refused_by_index(helsinki_graph: BikeGraph) -> None:
    """A point 5 km outside the town raises PointTooFarError naming its index and place."""
    graph = helsinki_graph
    far_lon, far_lat = _west_of_the_network(graph, 5000)
    lon = [float(graph.node_lon[0]), float(graph.node_lon[1]), far_lon, far_lon]
    lat = [float(graph.node_lat[0]), float(graph.node_lat[1]), far_lat, far_lat]
    with pytest.raises(PointTooFarError) as caught:
        snap_points(graph, lon, lat)
    error = caught.value
    assert error.index == 2  # the first of the two far points
    assert (error.lon, error.lat) == (far_lon, far_lat)
    assert error.distance_m == pytest.approx(5000, abs=5)
    assert error.limit_m == DEFAULT_MAX_SNAP_M
    message = str(error)
    assert message.startswith("point 2 ")
    assert f"{far_lat:.6f}" in message
    assert f"{far_lon:.6f}" in message
    assert "250 m" in message


def test_snapping_limit_is_configurable(helsinki_graph: BikeGraph) -> None:
    """A point 50 m off the network snaps under the default limit but not under 10 m."""
    graph = helsinki_graph
    lon, lat = _west_of_the_network(graph, 50)
    snapped = snap_points(graph, [lon], [lat])
    assert snapped.distance_m[0] == pytest.approx(50, abs=0.5)
    assert snap_points(graph, [lon], [lat], max_distance_m=51).distance_m[0] < 51
    with pytest.raises(PointTooFarError, match=r"point 0 .* 50 m .* limit is 10 m"):
        snap_points(graph, [lon], [lat], max_distance_m=10)


@pytest.mark.parametrize(
    ("lon", "lat", "index"),
    [
        ([24.94, float("nan")], [60.17, 60.17], 1),
        ([24.94, 24.94], [60.17, float("nan")], 1),
        ([24.94, 24.94, 24.94], [60.17, 60.17, 95.0], 2),
        ([181.0], [60.17], 0),
        ([24.94, float("inf")], [60.17, 60.17], 1),
    ],
)
def test_invalid_coordinates_are_refused(
    helsinki_graph: BikeGraph, lon: list[float], lat: list[float], index: int
) -> None:
    """NaN, infinite or out-of-range coordinates raise InvalidPointError naming the point."""
    with pytest.raises(InvalidPointError, match=rf"^point {index} "):
        snap_points(helsinki_graph, lon, lat)


def test_mismatched_lengths_are_refused(helsinki_graph: BikeGraph) -> None:
    with pytest.raises(InvalidPointError, match="same length"):
        snap_points(helsinki_graph, [24.94, 24.95], [60.17])


def test_scalar_coordinates_snap(helsinki_graph: BikeGraph) -> None:
    """A single point may be given as two floats."""
    snapped = snap_points(helsinki_graph, 24.94, 60.17)  # type: ignore[arg-type]
    assert len(snapped) == 1
    assert snapped.distance_m[0] < DEFAULT_MAX_SNAP_M


@pytest.mark.shared_data
def test_porto_points_snap_to_the_true_nearest(porto_graph: BikeGraph) -> None:
    """On a region-sized graph, random points snap at the brute-force nearest distance."""
    rng = np.random.default_rng(9)
    pick = rng.integers(0, porto_graph.shape_lon.shape[0], 20)
    lon = porto_graph.shape_lon[pick] + rng.normal(0, 0.001, 20)
    lat = porto_graph.shape_lat[pick] + rng.normal(0, 0.001, 20)
    snapped = snap_points(porto_graph, lon, lat, max_distance_m=5000)
    for i in range(20):
        nearest, _ = nearest_by_brute_force(porto_graph, float(lon[i]), float(lat[i]))
        assert snapped.distance_m[i] == pytest.approx(nearest, abs=0.5)
