"""Turn the ways read from an extract into a :class:`BikeGraph`, vectorised with numpy.

The pipeline: cut ways at missing nodes and blocking barriers → split them into pieces at
junctions → one directed edge per allowed direction of a piece → keep the largest strongly
connected component → order nodes along a space-filling curve (Dijkstra touches memory in
fewer places) → CSR arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.errors import EmptyNetworkError
from routing.geo import haversine_m
from routing.graph import BikeGraph, BuildReport
from routing.osm_reader import COORDINATE_SCALE, RawWays

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class _Pieces:
    """Way pieces between junctions, before the graph's nodes are compacted."""

    u: np.ndarray  # start node (index into unique refs)
    v: np.ndarray  # end node
    length_m: np.ndarray
    time_s: np.ndarray
    way: np.ndarray
    shape_ptr: np.ndarray
    shape_rows: np.ndarray  # rows of RawWays giving each shape point


def build_graph(raw: RawWays, *, name: str, profile: str, report: BuildReport) -> BikeGraph:
    """Build the graph from the ways of one extract; ``report`` gains the counts."""
    started = time.perf_counter()
    n_ways = raw.way_osm_id.shape[0]
    if n_ways == 0:
        raise EmptyNetworkError(f"{name}: the extract has no way a cargo bike may ride")
    way_of_row = np.repeat(np.arange(n_ways, dtype=np.int64), np.diff(raw.way_ptr))
    valid = raw.valid_node
    blocked = np.isin(raw.node_ref, raw.blocking_barrier_refs)

    is_last_row = np.zeros(raw.node_ref.shape[0], dtype=bool)
    is_last_row[raw.way_ptr[1:] - 1] = True
    seg_from = np.flatnonzero(~is_last_row)
    seg_to = seg_from + 1
    both_valid = valid[seg_from] & valid[seg_to]
    touches_barrier = blocked[seg_from] | blocked[seg_to]
    distinct = raw.node_ref[seg_from] != raw.node_ref[seg_to]
    keep = both_valid & ~touches_barrier & distinct

    clipped_ways = np.unique(way_of_row[~valid])
    ways_with_segments = np.unique(way_of_row[seg_from[keep]])
    report_counts = {
        "ways_read": int(n_ways + sum(raw.dropped_ways.values())),
        "ways_kept": int(ways_with_segments.shape[0]),
        "missing_node_refs": int(np.unique(raw.node_ref[~valid]).shape[0]),
        "ways_clipped": int(clipped_ways.shape[0]),
        "ways_lost_to_clipping": int(np.setdiff1d(clipped_ways, ways_with_segments).shape[0]),
        "blocking_barriers": int(np.isin(raw.blocking_barrier_refs, raw.node_ref).sum()),
        "segments_cut_by_barriers": int((both_valid & touches_barrier).sum()),
    }
    seg_from, seg_to = seg_from[keep], seg_to[keep]
    if seg_from.shape[0] == 0:
        raise EmptyNetworkError(f"{name}: no rideable way has two nodes inside the extract")

    lon = raw.node_x.astype(np.float64) * COORDINATE_SCALE
    lat = raw.node_y.astype(np.float64) * COORDINATE_SCALE
    seg_len = haversine_m(lon[seg_from], lat[seg_from], lon[seg_to], lat[seg_to])
    seg_way = way_of_row[seg_from]
    seg_time = seg_len / (raw.speed_kph[seg_way] / 3.6)
    refs, inverse = np.unique(
        np.concatenate([raw.node_ref[seg_from], raw.node_ref[seg_to]]), return_inverse=True
    )
    n_seg = seg_from.shape[0]
    seg_u, seg_v = inverse[:n_seg], inverse[n_seg:]

    pieces, loops = _split_into_pieces(
        seg_u, seg_v, seg_from, seg_to, seg_way, seg_len, seg_time, n_nodes=refs.shape[0]
    )
    # Edges per allowed direction of each piece.
    fwd = raw.forward[pieces.way]
    bwd = raw.backward[pieces.way]
    piece_ids = np.arange(pieces.u.shape[0], dtype=np.int64)
    src = np.concatenate([pieces.u[fwd], pieces.v[bwd]])
    dst = np.concatenate([pieces.v[fwd], pieces.u[bwd]])
    edge_piece = np.concatenate([piece_ids[fwd], piece_ids[bwd]])
    edge_reversed = np.concatenate([np.zeros(fwd.sum(), bool), np.ones(bwd.sum(), bool)])

    # Compact to the junction nodes that carry edges, then keep the largest strong component.
    junctions, src_dst = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n_edges_all = src.shape[0]
    src, dst = src_dst[:n_edges_all], src_dst[n_edges_all:]
    n_junctions = junctions.shape[0]
    adjacency = csr_matrix(
        (np.ones(n_edges_all, dtype=np.int8), (src, dst)), shape=(n_junctions, n_junctions)
    )
    n_components, labels = connected_components(adjacency, directed=True, connection="strong")
    largest = np.argmax(np.bincount(labels))
    keep_node = labels == largest
    keep_edge = keep_node[src] & keep_node[dst]
    if not keep_edge.any():
        raise EmptyNetworkError(
            f"{name}: no two junctions are connected both ways (every street is one-way "
            "without a way back), so no route can return"
        )

    node_rows = junctions[keep_node]  # index into refs
    node_row_in_raw = _first_row_of_each_ref(refs, raw.node_ref, valid)
    node_lon = lon[node_row_in_raw[node_rows]]
    node_lat = lat[node_row_in_raw[node_rows]]
    order = _space_filling_order(node_lon, node_lat)
    new_id = np.full(n_junctions, -1, dtype=np.int64)
    kept_old = np.flatnonzero(keep_node)
    new_id[kept_old[order]] = np.arange(order.shape[0])
    node_lon, node_lat = node_lon[order], node_lat[order]
    node_osm_id = refs[node_rows][order]

    src, dst = new_id[src[keep_edge]], new_id[dst[keep_edge]]
    edge_piece, edge_reversed = edge_piece[keep_edge], edge_reversed[keep_edge]
    used_pieces, edge_piece = np.unique(edge_piece, return_inverse=True)
    by_source = np.argsort(src, kind="stable")
    src, dst = src[by_source], dst[by_source]
    edge_piece, edge_reversed = edge_piece[by_source], edge_reversed[by_source]
    offsets = np.zeros(order.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=order.shape[0]), out=offsets[1:])

    shape_len = np.diff(pieces.shape_ptr)[used_pieces]
    shape_ptr = np.zeros(used_pieces.shape[0] + 1, dtype=np.int64)
    np.cumsum(shape_len, out=shape_ptr[1:])
    shape_rows = pieces.shape_rows[_ranges(pieces.shape_ptr[used_pieces], shape_len)]
    piece_way = pieces.way[used_pieces]
    piece_len = pieces.length_m[used_pieces]

    final = {
        "self_loops_dropped": loops,
        "nodes_before_scc": int(n_junctions),
        "edges_before_scc": int(n_edges_all),
        "scc_nodes_removed": int(n_junctions - order.shape[0]),
        "scc_edges_removed": int(n_edges_all - src.shape[0]),
        "scc_components_removed": int(n_components - 1),
        "nodes": int(order.shape[0]),
        "edges": int(src.shape[0]),
        "network_km": round(float(piece_len.sum()) / 1000, 2),
    }
    seconds = dict(report.seconds, build=round(time.perf_counter() - started, 3))
    fields: dict[str, Any] = {**report_counts, **final, "seconds": seconds}
    full_report = replace(report, **fields)
    return BikeGraph(
        name=name,
        profile=profile,
        node_lon=node_lon,
        node_lat=node_lat,
        node_osm_id=node_osm_id.astype(np.int64),
        offsets=offsets.astype(np.int32),
        targets=dst.astype(np.int32),
        length_m=np.rint(piece_len[edge_piece]).astype(np.int32),
        travel_time_s=np.rint(pieces.time_s[used_pieces][edge_piece]).astype(np.int32),
        edge_piece=edge_piece.astype(np.int32),
        edge_reversed=edge_reversed,
        piece_shape_ptr=shape_ptr,
        shape_lon=lon[shape_rows],
        shape_lat=lat[shape_rows],
        piece_name=raw.way_name[piece_way],
        piece_highway=raw.way_highway[piece_way],
        piece_osm_way=raw.way_osm_id[piece_way],
        names=np.asarray(raw.names, dtype=str),
        highways=np.asarray(raw.highways, dtype=str),
        report=full_report,
    )


def _split_into_pieces(
    seg_u: np.ndarray,
    seg_v: np.ndarray,
    seg_from: np.ndarray,
    seg_to: np.ndarray,
    seg_way: np.ndarray,
    seg_len: np.ndarray,
    seg_time: np.ndarray,
    *,
    n_nodes: int,
) -> tuple[_Pieces, int]:
    """Group consecutive segments of a way into pieces that end at junctions.

    A junction is a node where the network branches or ends: not touched by exactly two
    segments, or the end of a run of a way. A piece that would start and end at the same
    node (a loop street) is split at its middle so it stays in the graph.
    """
    n_seg = seg_u.shape[0]
    run_start = np.ones(n_seg, dtype=bool)
    run_start[1:] = (seg_way[1:] != seg_way[:-1]) | (seg_from[1:] != seg_to[:-1])
    run_end = np.ones(n_seg, dtype=bool)
    run_end[:-1] = run_start[1:]
    incidence = np.bincount(np.concatenate([seg_u, seg_v]), minlength=n_nodes)
    junction = incidence != 2
    junction[seg_u[run_start]] = True
    junction[seg_v[run_end]] = True
    dropped_loops = 0
    while True:
        piece_start = run_start | junction[seg_u]
        first = np.flatnonzero(piece_start)
        last = np.append(first[1:], n_seg) - 1
        loops = seg_u[first] == seg_v[last]
        if not loops.any():
            break
        splittable = loops & (last > first)
        if not splittable.any():
            # One-segment loops are a node joined to itself: useless for routing.
            keep_seg = np.ones(n_seg, dtype=bool)
            keep_seg[first[loops]] = False
            dropped_loops += int(loops.sum())
            pieces, more = _split_into_pieces(
                seg_u[keep_seg],
                seg_v[keep_seg],
                seg_from[keep_seg],
                seg_to[keep_seg],
                seg_way[keep_seg],
                seg_len[keep_seg],
                seg_time[keep_seg],
                n_nodes=n_nodes,
            )
            return pieces, dropped_loops + more
        middle = (first[splittable] + last[splittable] + 1) // 2
        junction[seg_u[middle]] = True

    n_per_piece = last - first + 1
    shape_ptr = np.zeros(first.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_per_piece + 1, out=shape_ptr[1:])
    piece_of_seg = np.cumsum(piece_start) - 1
    shape_rows = np.empty(shape_ptr[-1], dtype=np.int64)
    shape_rows[np.arange(n_seg) + piece_of_seg] = seg_from
    shape_rows[shape_ptr[1:] - 1] = seg_to[last]
    pieces = _Pieces(
        u=seg_u[first],
        v=seg_v[last],
        length_m=np.add.reduceat(seg_len, first),
        time_s=np.add.reduceat(seg_time, first),
        way=seg_way[first],
        shape_ptr=shape_ptr,
        shape_rows=shape_rows,
    )
    return pieces, dropped_loops


def _first_row_of_each_ref(refs: np.ndarray, node_ref: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each unique node id, a row of the raw arrays where it has a location."""
    valid_rows = np.flatnonzero(valid)
    sorted_refs, first = np.unique(node_ref[valid_rows], return_index=True)
    position = np.searchsorted(sorted_refs, refs)
    return valid_rows[first[position]]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate arange(s, s + n) for each start s and length n, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _space_filling_order(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Order points along a Z-order (Morton) curve so neighbours sit close in memory."""

    def scaled(values: np.ndarray) -> np.ndarray:
        span = max(float(values.max() - values.min()), 1e-12)
        return ((values - values.min()) / span * 65535).astype(np.uint64)

    x, y = scaled(lon), scaled(lat)
    code = np.zeros(lon.shape[0], dtype=np.uint64)
    for bit in range(16):
        b = np.uint64(bit)
        code |= ((x >> b) & np.uint64(1)) << np.uint64(2 * bit)
        code |= ((y >> b) & np.uint64(1)) << np.uint64(2 * bit + 1)
    return np.argsort(code, kind="stable")
