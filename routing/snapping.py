"""Snap coordinates to the nearest point of the bike network.

A point snaps onto the nearest *edge* (not just the nearest junction): a customer's door in
the middle of a long street is reached from both ends of that street as far as one-ways allow.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from routing.errors import InvalidPointError, PointTooFarError
from routing.geo import LocalProjection, haversine_m
from routing.graph import BikeGraph

DEFAULT_MAX_SNAP_M = 250.0
#: Long shape segments are cut into pieces of at most this length for the spatial index.
_INDEX_STEP_M = 20.0


@dataclass(frozen=True, eq=False)
class SnappedPoints:
    """Points placed on the network: on which way piece, how far along it, and how far moved.

    All arrays have one row per input point, in input order.
    """

    lon: np.ndarray  # float64: the input point
    lat: np.ndarray
    snapped_lon: np.ndarray  # float64: the nearest point on the network
    snapped_lat: np.ndarray
    distance_m: np.ndarray  # float64: from input to snapped point
    piece: np.ndarray  # int32: the way piece snapped onto
    offset_m: np.ndarray  # float64: distance along the piece from its first shape point
    fraction: np.ndarray  # float64 in [0, 1]: offset_m / piece length
    forward_edge: np.ndarray  # int64: edge along the piece's node order, or -1
    backward_edge: np.ndarray  # int64: edge against it, or -1
    nearest_node: np.ndarray  # int32: the graph node nearest to the input point
    nearest_node_m: np.ndarray  # float64: distance to that node

    def __len__(self) -> int:
        return int(self.lon.shape[0])

    def __getitem__(self, index: int | slice | np.ndarray) -> SnappedPoints:
        if isinstance(index, int):
            index = np.array([index])
        return SnappedPoints(**{name: value[index] for name, value in self.__dict__.items()})


class Snapper:
    """A spatial index over a graph's edges; build once per graph (see :func:`snapper_for`)."""

    def __init__(self, graph: BikeGraph) -> None:
        self.graph = graph
        lon0, lat0 = (float(np.mean(graph.node_lon)), float(np.mean(graph.node_lat)))
        self.projection = LocalProjection(lon0, lat0)
        x, y = self.projection.to_xy(graph.shape_lon, graph.shape_lat)
        ptr = graph.piece_shape_ptr
        is_last = np.zeros(x.shape[0], dtype=bool)
        is_last[ptr[1:] - 1] = True
        start = np.flatnonzero(~is_last)  # shape segment i runs from point i to i + 1
        self._seg_start = start
        self._seg_piece = np.searchsorted(ptr, start, side="right") - 1
        self._ax, self._ay = x[start], y[start]
        self._bx, self._by = x[start + 1], y[start + 1]
        seg_len = haversine_m(
            graph.shape_lon[start],
            graph.shape_lat[start],
            graph.shape_lon[start + 1],
            graph.shape_lat[start + 1],
        )
        # Offset of each segment's start along its piece, and each piece's total length.
        cumulative = np.cumsum(seg_len) - seg_len
        first_seg = np.searchsorted(self._seg_piece, np.arange(graph.n_pieces))
        self._seg_offset = cumulative - cumulative[first_seg][self._seg_piece]
        self.piece_length_m = np.bincount(
            self._seg_piece, weights=seg_len, minlength=graph.n_pieces
        )
        self._seg_len = seg_len
        # Index sub-segment midpoints so a long straight road is found from its middle too.
        pieces_per_seg = np.maximum(1, np.ceil(seg_len / _INDEX_STEP_M)).astype(np.int64)
        owner = np.repeat(np.arange(start.shape[0]), pieces_per_seg)
        k = np.arange(owner.shape[0]) - np.repeat(
            np.cumsum(pieces_per_seg) - pieces_per_seg, pieces_per_seg
        )
        t = (k + 0.5) / pieces_per_seg[owner]
        mid_x = self._ax[owner] + t * (self._bx[owner] - self._ax[owner])
        mid_y = self._ay[owner] + t * (self._by[owner] - self._ay[owner])
        self._index_owner = owner
        self._index_radius = float((seg_len / pieces_per_seg).max()) / 2 + 1.0
        self._tree = cKDTree(np.column_stack([mid_x, mid_y]))
        nx, ny = self.projection.to_xy(graph.node_lon, graph.node_lat)
        self._node_tree = cKDTree(np.column_stack([nx, ny]))
        # For each piece, its forward and backward edge (-1 when that direction is not allowed).
        self.piece_forward_edge = np.full(graph.n_pieces, -1, dtype=np.int64)
        self.piece_backward_edge = np.full(graph.n_pieces, -1, dtype=np.int64)
        edges = np.arange(graph.n_edges)
        rev = graph.edge_reversed
        self.piece_forward_edge[graph.edge_piece[~rev]] = edges[~rev]
        self.piece_backward_edge[graph.edge_piece[rev]] = edges[rev]

    def snap(
        self,
        lon: np.ndarray | list[float],
        lat: np.ndarray | list[float],
        *,
        max_distance_m: float = DEFAULT_MAX_SNAP_M,
    ) -> SnappedPoints:
        """Snap points to their nearest edge; :class:`PointTooFarError` names the first too far."""
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        _check_coordinates(lon_a, lat_a)
        px, py = self.projection.to_xy(lon_a, lat_a)
        points = np.column_stack([px, py])
        nearest_mid, _ = self._tree.query(points, k=1)
        candidates = self._tree.query_ball_point(points, nearest_mid + self._index_radius)
        counts = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=len(candidates))
        flat = np.fromiter((i for c in candidates for i in c), dtype=np.int64, count=counts.sum())
        point_of = np.repeat(np.arange(lon_a.shape[0]), counts)
        seg = np.unique(np.column_stack([point_of, self._index_owner[flat]]), axis=0)
        point_of, seg = seg[:, 0], seg[:, 1]
        ax, ay, bx, by = self._ax[seg], self._ay[seg], self._bx[seg], self._by[seg]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.where(
            length2 > 0,
            ((px[point_of] - ax) * dx + (py[point_of] - ay) * dy)
            / np.where(length2 > 0, length2, 1.0),
            0.0,
        )
        t = np.clip(t, 0.0, 1.0)
        qx, qy = ax + t * dx, ay + t * dy
        d2 = (qx - px[point_of]) ** 2 + (qy - py[point_of]) ** 2
        # Per point, the candidate with the smallest distance (ties: lowest segment id).
        order = np.lexsort((seg, d2, point_of))
        first = order[np.searchsorted(point_of[order], np.arange(lon_a.shape[0]))]
        best_seg, best_t = seg[first], t[first]
        snapped_lon, snapped_lat = self.projection.to_lonlat(qx[first], qy[first])
        distance = haversine_m(lon_a, lat_a, snapped_lon, snapped_lat)
        too_far = np.flatnonzero(distance > max_distance_m)
        if too_far.size:
            i = int(too_far[0])
            raise PointTooFarError(
                i, float(lon_a[i]), float(lat_a[i]), float(distance[i]), max_distance_m
            )
        piece = self._seg_piece[best_seg]
        offset = self._seg_offset[best_seg] + best_t * self._seg_len[best_seg]
        length = self.piece_length_m[piece]
        fraction = np.clip(np.where(length > 0, offset / np.where(length > 0, length, 1), 0), 0, 1)
        node_d, node = self._node_tree.query(points, k=1)
        return SnappedPoints(
            lon=lon_a,
            lat=lat_a,
            snapped_lon=snapped_lon,
            snapped_lat=snapped_lat,
            distance_m=distance,
            piece=piece.astype(np.int32),
            offset_m=offset,
            fraction=fraction,
            forward_edge=self.piece_forward_edge[piece],
            backward_edge=self.piece_backward_edge[piece],
            nearest_node=node.astype(np.int32),
            nearest_node_m=np.asarray(node_d, dtype=np.float64),
        )


def _check_coordinates(lon: np.ndarray, lat: np.ndarray) -> None:
    if lon.shape != lat.shape or lon.ndim != 1:
        raise InvalidPointError(
            f"lon and lat must have the same length, got {lon.shape} and {lat.shape}"
        )
    bad = np.flatnonzero(
        ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    )
    if bad.size:
        i = int(bad[0])
        raise InvalidPointError(
            f"point {i} ({lat[i]}, {lon[i]}) is not a valid latitude, longitude pair"
        )


_SNAPPERS: weakref.WeakKeyDictionary[BikeGraph, Snapper] = weakref.WeakKeyDictionary()


def snapper_for(graph: BikeGraph) -> Snapper:
    """The snapper of a graph, built on first use and dropped with the graph."""
    snapper = _SNAPPERS.get(graph)
    if snapper is None:
        snapper = _SNAPPERS[graph] = Snapper(graph)
    return snapper


def snap_points(
    graph: BikeGraph,
    lon: np.ndarray | list[float],
    lat: np.ndarray | list[float],
    *,
    max_distance_m: float = DEFAULT_MAX_SNAP_M,
) -> SnappedPoints:
    """Snap points (longitudes, latitudes in degrees) onto the graph's nearest edges.

    A point farther than ``max_distance_m`` from every edge raises :class:`PointTooFarError`
    naming that point.
    """
    return snapper_for(graph).snap(lon, lat, max_distance_m=max_distance_m)
