"""The fastest path between two points: its line for maps and its streets for the courier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing._kernels import DISTANCE_BITS, DISTANCE_MASK, INF, _path_tree
from routing.errors import NoPathError, RoutingError
from routing.geo import haversine_m
from routing.graph import BikeGraph
from routing.matrix import (
    _same_piece_keys,
    combined_weights,
    destination_entries,
    origin_seeds,
)
from routing.snapping import SnappedPoints


@dataclass(frozen=True)
class StreetLeg:
    """A stretch of the path along one street (``name`` is '' for unnamed ways)."""

    name: str
    distance_m: float
    duration_s: float


@dataclass(frozen=True, eq=False)
class RidePath:
    """A ride from origin to destination: a polyline, its totals, and the streets in order."""

    lon: np.ndarray
    lat: np.ndarray
    duration_s: int
    distance_m: int
    edges: np.ndarray  # int64: graph edges ridden in full, in order
    streets: tuple[StreetLeg, ...]

    def to_geojson(self) -> dict[str, object]:
        """A GeoJSON Feature (LineString) for web maps."""
        return {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [float(x), float(y)] for x, y in zip(self.lon, self.lat, strict=True)
                ],
            },
            "properties": {
                "duration_s": self.duration_s,
                "distance_m": self.distance_m,
                "streets": [leg.name for leg in self.streets],
            },
        }


def _single(points: SnappedPoints | int, role: str) -> SnappedPoints | np.ndarray:
    if isinstance(points, SnappedPoints):
        if len(points) != 1:
            raise RoutingError(f"{role} must be one snapped point, got {len(points)}")
        return points
    return np.asarray([int(points)], dtype=np.int64)


def fastest_path(
    graph: BikeGraph, origin: SnappedPoints | int, destination: SnappedPoints | int
) -> RidePath:
    """The fastest path between two snapped points (or node indices).

    Its duration and distance equal the matching :func:`travel_matrix` cell.
    """
    start = _single(origin, "origin")
    end = _single(destination, "destination")
    seed_nodes, seed_keys = origin_seeds(graph, start)
    entry_nodes, entry_keys = destination_entries(graph, end)
    seed_nodes, seed_keys = seed_nodes[0], seed_keys[0]
    entry_nodes, entry_keys = entry_nodes[0], entry_keys[0]
    goals = entry_nodes[entry_nodes >= 0].astype(np.int32)
    dist = np.full(graph.n_nodes, INF, dtype=np.int64)
    pred_edge = np.full(graph.n_nodes, -1, dtype=np.int64)
    _path_tree(
        graph.offsets,
        graph.targets,
        combined_weights(graph),
        seed_nodes,
        seed_keys,
        goals,
        dist,
        pred_edge,
    )

    best_key, best_slot = int(INF), -1
    for slot in range(entry_nodes.shape[0]):
        node = entry_nodes[slot]
        if node >= 0 and dist[node] < INF and dist[node] + entry_keys[slot] < best_key:
            best_key, best_slot = int(dist[node] + entry_keys[slot]), slot
    direct_key = int(INF)
    if isinstance(start, SnappedPoints) and isinstance(end, SnappedPoints):
        _, _, direct = _same_piece_keys(graph, start, end, slice(0, 1))
        direct_key = int(direct[0]) if direct.size else int(INF)
    if direct_key <= best_key and direct_key < INF:
        assert isinstance(start, SnappedPoints)
        assert isinstance(end, SnappedPoints)
        pieces = [
            _partial(graph, int(start.piece[0]), float(start.fraction[0]), float(end.fraction[0]))
        ]
        return _assemble(pieces, np.zeros(0, dtype=np.int64), direct_key)
    if best_slot < 0:
        raise NoPathError("no path between the two points on the bike network")

    edges = _walk_back(pred_edge, graph, int(entry_nodes[best_slot]))
    root = _root(graph, edges, int(entry_nodes[best_slot]))
    parts: list[tuple[np.ndarray, np.ndarray, str, float, float]] = []
    if isinstance(start, SnappedPoints):
        used = _used_seed(seed_nodes, seed_keys, root, int(dist[root]))
        f = float(start.fraction[0])
        parts.append(_partial(graph, int(start.piece[0]), f, 1.0 if used == 0 else 0.0))
    for edge in edges:
        lon, lat = graph.edge_shape(int(edge))
        parts.append(
            (
                lon,
                lat,
                graph.edge_name(int(edge)),
                float(graph.length_m[edge]),
                float(graph.travel_time_s[edge]),
            )
        )
    if isinstance(end, SnappedPoints):
        f = float(end.fraction[0])
        parts.append(_partial(graph, int(end.piece[0]), 0.0 if best_slot == 0 else 1.0, f))
    if not parts:  # a node to itself: a line of two equal positions, like a point to itself
        here = int(entry_nodes[best_slot])
        lon = np.full(2, graph.node_lon[here])
        lat = np.full(2, graph.node_lat[here])
        parts.append((lon, lat, "", 0.0, 0.0))
    return _assemble(parts, edges, best_key)


def _walk_back(pred_edge: np.ndarray, graph: BikeGraph, node: int) -> np.ndarray:
    sources = graph.sources
    edges = []
    while pred_edge[node] >= 0:
        edge = int(pred_edge[node])
        edges.append(edge)
        node = int(sources[edge])
    return np.asarray(edges[::-1], dtype=np.int64)


def _root(graph: BikeGraph, edges: np.ndarray, goal: int) -> int:
    """The seed node the path starts from."""
    return int(graph.sources[edges[0]]) if edges.size else goal


def _used_seed(seed_nodes: np.ndarray, seed_keys: np.ndarray, root: int, key: int) -> int:
    for slot in range(seed_nodes.shape[0]):
        if seed_nodes[slot] == root and seed_keys[slot] == key:
            return slot
    return 0


def _partial(
    graph: BikeGraph, piece: int, f_from: float, f_to: float
) -> tuple[np.ndarray, np.ndarray, str, float, float]:
    """The stretch of a piece between two fractions of its length, in riding order."""
    lon, lat = graph.piece_shape(piece)
    seg = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    cumulative = np.concatenate([[0.0], np.cumsum(seg)])
    total = cumulative[-1] if cumulative[-1] > 0 else 1.0
    lo, hi = sorted((f_from, f_to))
    at = np.array([lo, hi]) * total
    inner = (cumulative > at[0]) & (cumulative < at[1])
    ends_lon = np.interp(at, cumulative, lon)
    ends_lat = np.interp(at, cumulative, lat)
    out_lon = np.concatenate([[ends_lon[0]], lon[inner], [ends_lon[1]]])
    out_lat = np.concatenate([[ends_lat[0]], lat[inner], [ends_lat[1]]])
    if f_from > f_to:
        out_lon, out_lat = out_lon[::-1], out_lat[::-1]
    forward = f_to >= f_from
    edge = _piece_edge(graph, piece, forward)
    share = hi - lo
    length = share * (float(graph.length_m[edge]) if edge >= 0 else total)
    duration = share * float(graph.travel_time_s[edge]) if edge >= 0 else 0.0
    name = str(graph.names[graph.piece_name[piece]])
    return out_lon, out_lat, name, length, duration


def _piece_edge(graph: BikeGraph, piece: int, forward: bool) -> int:
    candidates = np.flatnonzero((graph.edge_piece == piece) & (graph.edge_reversed != forward))
    return int(candidates[0]) if candidates.size else -1


def _assemble(
    parts: list[tuple[np.ndarray, np.ndarray, str, float, float]],
    edges: np.ndarray,
    key: int,
) -> RidePath:
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    legs: list[StreetLeg] = []
    for lon, lat, name, length, duration in parts:
        if lons:
            lon, lat = lon[1:], lat[1:]  # each part starts where the previous one ended
        lons.append(lon)
        lats.append(lat)
        if length <= 0 and duration <= 0:
            continue
        if legs and legs[-1].name == name:
            last = legs[-1]
            legs[-1] = StreetLeg(name, last.distance_m + length, last.duration_s + duration)
        else:
            legs.append(StreetLeg(name, length, duration))
    return RidePath(
        lon=np.concatenate(lons),
        lat=np.concatenate(lats),
        duration_s=int(key >> DISTANCE_BITS),
        distance_m=int(key & DISTANCE_MASK),
        edges=edges,
        streets=tuple(
            StreetLeg(leg.name, round(leg.distance_m, 1), round(leg.duration_s, 1)) for leg in legs
        ),
    )
