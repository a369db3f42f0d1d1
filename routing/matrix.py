"""Many-to-many travel-time and distance matrices over the bike graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

from routing._kernels import DISTANCE_BITS, DISTANCE_MASK, INF, _many_to_many
from routing.errors import RoutingError
from routing.graph import BikeGraph
from routing.hierarchy import cached_hierarchy, ch_goal_buckets, ch_many_to_many, hierarchy_for
from routing.snapping import SnappedPoints

#: Value in a matrix cell when no path exists (cannot happen between points of one graph:
#: the builder keeps only its largest strongly connected component).
UNREACHABLE = -1

Endpoints = SnappedPoints | Sequence[int] | np.ndarray
ProgressCallback = Callable[[str, int, int], None]
MatrixMethod = Literal["auto", "hierarchy", "dijkstra"]

#: With ``method="auto"``, a hierarchy is built (once per graph, then cached) for matrices with
#: at least this many origins; smaller ones run plain Dijkstra unless a hierarchy exists already.
AUTO_HIERARCHY_MIN_ROWS = 64


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Travel time (s) and distance (m) from every origin (row) to every destination (column).

    Both come from the same path: the fastest one, and the shortest of equally fast ones.
    Matrices are asymmetric (one-way streets).
    """

    duration_s: np.ndarray  # int64[S, T]
    distance_m: np.ndarray  # int64[S, T]

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.duration_s.shape[0]), int(self.duration_s.shape[1]))


def combined_weights(graph: BikeGraph) -> np.ndarray:
    """Edge weights as the kernels' combined keys (time in the high bits, metres below)."""
    return (graph.travel_time_s.astype(np.int64) << DISTANCE_BITS) | graph.length_m.astype(np.int64)


def _partial_key(graph: BikeGraph, edges: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Key for riding ``share`` (0..1) of each edge; -1 edges give INF."""
    safe = np.where(edges >= 0, edges, 0)
    time = np.rint(share * graph.travel_time_s[safe]).astype(np.int64)
    dist = np.rint(share * graph.length_m[safe]).astype(np.int64)
    return np.where(edges >= 0, (time << DISTANCE_BITS) | dist, INF)


def _as_nodes(graph: BikeGraph, endpoints: Sequence[int] | np.ndarray, role: str) -> np.ndarray:
    nodes = np.asarray(endpoints)
    if nodes.ndim != 1 or (not np.issubdtype(nodes.dtype, np.integer) and nodes.size):
        raise RoutingError(f"{role} must be a 1-d array of node indices or SnappedPoints")
    nodes = nodes.astype(np.int64)
    bad = np.flatnonzero((nodes < 0) | (nodes >= graph.n_nodes))
    if bad.size:
        raise RoutingError(
            f"{role}[{bad[0]}] = {nodes[bad[0]]} is not a node of the graph "
            f"(it has {graph.n_nodes} nodes)"
        )
    return nodes


#: A fraction this close to 0 or 1 is on the junction (projection leaves rounding error).
_ON_NODE = 1e-9


def _piece_ends(graph: BikeGraph, points: SnappedPoints) -> tuple[np.ndarray, np.ndarray]:
    """The first and last node of each point's piece (every piece has at least one edge)."""
    fwd, bwd = points.forward_edge, points.backward_edge
    f, b = np.maximum(fwd, 0), np.maximum(bwd, 0)
    start = np.where(fwd >= 0, graph.sources[f], graph.targets[b])
    end = np.where(fwd >= 0, graph.targets[f], graph.sources[b])
    return start, end


def _seed_ends_on_nodes(
    graph: BikeGraph, points: SnappedPoints, nodes: np.ndarray, keys: np.ndarray, *, leaving: bool
) -> None:
    """A point at an end of its piece *is* that junction: seed it there at no cost.

    Without this a point snapped to the start of a one-way piece could only leave by riding
    the whole piece, though it stands on a junction with other ways out. Slot 0 holds the
    piece's last node and slot 1 its first when ``leaving``; the reverse when arriving.
    """
    start, end = _piece_ends(graph, points)
    at_start = points.fraction <= _ON_NODE
    at_end = points.fraction >= 1.0 - _ON_NODE
    first_slot, last_slot = (1, 0) if leaving else (0, 1)
    for at, node, slot in ((at_start, start, first_slot), (at_end, end, last_slot)):
        rows = np.flatnonzero(at)
        nodes[rows, slot] = node[rows]
        keys[rows, slot] = 0


def origin_seeds(graph: BikeGraph, origins: Endpoints) -> tuple[np.ndarray, np.ndarray]:
    """Where searches from each origin start: up to two (node, key) seeds per row."""
    if isinstance(origins, SnappedPoints):
        fwd, bwd = origins.forward_edge, origins.backward_edge
        nodes = np.column_stack(
            [
                np.where(fwd >= 0, graph.targets[np.maximum(fwd, 0)], -1),
                np.where(bwd >= 0, graph.targets[np.maximum(bwd, 0)], -1),
            ]
        )
        keys = np.column_stack(
            [
                _partial_key(graph, fwd, 1.0 - origins.fraction),
                _partial_key(graph, bwd, origins.fraction),
            ]
        )
        _seed_ends_on_nodes(graph, origins, nodes, keys, leaving=True)
        return nodes.astype(np.int32), keys
    nodes = _as_nodes(graph, origins, "origins")
    return (
        np.column_stack([nodes, np.full_like(nodes, -1)]).astype(np.int32),
        np.zeros((nodes.shape[0], 2), dtype=np.int64),
    )


def destination_entries(graph: BikeGraph, destinations: Endpoints) -> tuple[np.ndarray, np.ndarray]:
    """How each destination is reached: up to two (node, key still to ride) entries per column."""
    if isinstance(destinations, SnappedPoints):
        fwd, bwd = destinations.forward_edge, destinations.backward_edge
        sources = graph.sources
        nodes = np.column_stack(
            [
                np.where(fwd >= 0, sources[np.maximum(fwd, 0)], -1),
                np.where(bwd >= 0, sources[np.maximum(bwd, 0)], -1),
            ]
        )
        keys = np.column_stack(
            [
                _partial_key(graph, fwd, destinations.fraction),
                _partial_key(graph, bwd, 1.0 - destinations.fraction),
            ]
        )
        _seed_ends_on_nodes(graph, destinations, nodes, keys, leaving=False)
        return nodes.astype(np.int32), keys
    nodes = _as_nodes(graph, destinations, "destinations")
    return (
        np.column_stack([nodes, np.full_like(nodes, -1)]).astype(np.int32),
        np.zeros((nodes.shape[0], 2), dtype=np.int64),
    )


def _same_piece_keys(
    graph: BikeGraph, origins: SnappedPoints, destinations: SnappedPoints, rows: slice
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct rides along one piece, where origin and destination share it (rows, cols, key)."""
    o_piece = origins.piece[rows]
    r, c = np.nonzero(o_piece[:, None] == destinations.piece[None, :])
    if r.size == 0:
        return r, c, np.zeros(0, dtype=np.int64)
    o = np.arange(len(origins))[rows][r]
    f_from, f_to = origins.fraction[o], destinations.fraction[c]
    ahead = _partial_key(
        graph, np.where(f_to >= f_from, origins.forward_edge[o], -1), np.abs(f_to - f_from)
    )
    behind = _partial_key(
        graph, np.where(f_to <= f_from, origins.backward_edge[o], -1), np.abs(f_to - f_from)
    )
    return r, c, np.minimum(ahead, behind)


def travel_matrix(
    graph: BikeGraph,
    origins: Endpoints,
    destinations: Endpoints | None = None,
    *,
    progress: ProgressCallback | None = None,
    rows_per_batch: int = 256,
    method: MatrixMethod = "auto",
) -> TravelMatrix:
    """Travel times (s) and distances (m) between snapped points or graph nodes.

    ``origins`` and ``destinations`` are :class:`SnappedPoints` (from :func:`snap_points`) or
    arrays of node indices; ``destinations`` defaults to ``origins``.

    ``method="dijkstra"`` runs one search per origin, in parallel, each stopping once every
    destination is settled. ``method="hierarchy"`` answers from the graph's contraction
    hierarchy (built on first use, then kept beside the graph cache), far faster for big
    matrices. ``"auto"`` picks the hierarchy when one exists or the matrix is big. All give
    the same numbers, bit for bit.
    """
    if method not in ("auto", "hierarchy", "dijkstra"):
        raise RoutingError(f"method must be 'auto', 'hierarchy' or 'dijkstra', not {method!r}")
    if destinations is None:
        destinations = origins
    seed_nodes, seed_keys = origin_seeds(graph, origins)
    entry_nodes, entry_keys = destination_entries(graph, destinations)
    goals, entry_col = np.unique(entry_nodes[entry_nodes >= 0], return_inverse=True)
    columns = np.full(entry_nodes.shape, -1, dtype=np.int64)
    columns[entry_nodes >= 0] = entry_col
    n_rows, n_cols = seed_nodes.shape[0], entry_nodes.shape[0]
    goals32 = goals.astype(np.int32)
    search = _hierarchy_search(graph, goals32, n_rows, method, progress)
    if search is None:
        search = _dijkstra_search(graph, goals32)
    keys = np.empty((n_rows, n_cols), dtype=np.int64)
    both_snapped = isinstance(origins, SnappedPoints) and isinstance(destinations, SnappedPoints)
    for start in range(0, n_rows, rows_per_batch):
        rows = slice(start, min(start + rows_per_batch, n_rows))
        to_goals = np.empty((rows.stop - start, goals.shape[0]), dtype=np.int64)
        search(seed_nodes[rows], seed_keys[rows], to_goals)
        best = np.full((rows.stop - start, n_cols), INF, dtype=np.int64)
        for slot in range(entry_nodes.shape[1]):
            has = columns[:, slot] >= 0
            via = to_goals[:, columns[has, slot]] + entry_keys[has, slot][None, :]
            best[:, has] = np.minimum(best[:, has], via)
        if both_snapped:
            assert isinstance(origins, SnappedPoints)
            assert isinstance(destinations, SnappedPoints)
            r, c, direct = _same_piece_keys(graph, origins, destinations, rows)
            best[r, c] = np.minimum(best[r, c], direct)
        keys[rows] = best
        if progress is not None:
            progress("matrix", rows.stop, n_rows)
    unreachable = keys >= INF
    duration = np.where(unreachable, UNREACHABLE, keys >> DISTANCE_BITS)
    distance = np.where(unreachable, UNREACHABLE, keys & DISTANCE_MASK)
    return TravelMatrix(duration_s=duration, distance_m=distance)


_Search = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _dijkstra_search(graph: BikeGraph, goals: np.ndarray) -> _Search:
    weights = combined_weights(graph)

    def search(seed_nodes: np.ndarray, seed_keys: np.ndarray, out: np.ndarray) -> None:
        n_chunks = min(seed_nodes.shape[0], 4 * numba.get_num_threads())
        _many_to_many(
            graph.offsets, graph.targets, weights, seed_nodes, seed_keys, goals, n_chunks, out
        )

    return search


def _hierarchy_search(
    graph: BikeGraph,
    goals: np.ndarray,
    n_rows: int,
    method: MatrixMethod,
    progress: ProgressCallback | None,
) -> _Search | None:
    """A search over the contraction hierarchy, or None when plain Dijkstra should run."""
    if method == "dijkstra":
        return None
    hierarchy = cached_hierarchy(graph)
    if hierarchy is None:
        if method == "auto" and n_rows < AUTO_HIERARCHY_MIN_ROWS:
            return None
        hierarchy = hierarchy_for(graph, progress=progress)
    buckets = ch_goal_buckets(hierarchy, goals)

    def search(seed_nodes: np.ndarray, seed_keys: np.ndarray, out: np.ndarray) -> None:
        ch_many_to_many(hierarchy, seed_nodes, seed_keys, goals, out, buckets=buckets)

    return search
