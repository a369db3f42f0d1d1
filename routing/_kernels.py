"""Private numba kernels: Dijkstra searches over the CSR graph.

Kernels take only arrays and scalars, never raise, and trust their caller
(:mod:`routing.matrix`, :mod:`routing.path`) to have validated every index.

Weights are *combined keys*: ``travel_time_s << DISTANCE_BITS | length_m``. Adding keys adds
times and distances at once, and ordering keys orders by time first, then by distance, so
one search yields the fastest path and the distance along that same path.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from routing._jit import KERNEL_OPTIONS, PARALLEL_KERNEL_OPTIONS, kernel

DISTANCE_BITS = 26  # 67,108 km: no town or region route is longer
DISTANCE_MASK = (1 << DISTANCE_BITS) - 1
INF = np.int64(1) << np.int64(62)


@kernel(**KERNEL_OPTIONS)
def _heap_push(heap_key, heap_node, size, key, node):  # type: ignore[no-untyped-def]
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_key[parent] <= key:
            break
        heap_key[i] = heap_key[parent]
        heap_node[i] = heap_node[parent]
        i = parent
    heap_key[i] = key
    heap_node[i] = node
    return size + 1


@kernel(**KERNEL_OPTIONS)
def _heap_pop(heap_key, heap_node, size):  # type: ignore[no-untyped-def]
    key = heap_key[0]
    node = heap_node[0]
    size -= 1
    if size > 0:
        last_key = heap_key[size]
        last_node = heap_node[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            if child + 1 < size and heap_key[child + 1] < heap_key[child]:
                child += 1
            if heap_key[child] >= last_key:
                break
            heap_key[i] = heap_key[child]
            heap_node[i] = heap_node[child]
            i = child
        heap_key[i] = last_key
        heap_node[i] = last_node
    return key, node, size


@kernel(**KERNEL_OPTIONS)
def _search(  # type: ignore[no-untyped-def]
    offsets,
    targets,
    weights,
    seed_nodes,
    seed_keys,
    is_goal,
    n_goals,
    stamp,
    dist,
    seen,
    done,
    heap_key,
    heap_node,
    pred_edge,
    track_pred,
):
    """Dijkstra from up to a few seeds until every goal node is settled.

    ``seen``/``done`` hold the stamp of the search that last touched a node, so the arrays
    are reused across searches without clearing them.
    """
    size = 0
    for i in range(seed_nodes.shape[0]):
        node = seed_nodes[i]
        if node < 0:
            continue
        key = seed_keys[i]
        if seen[node] != stamp or key < dist[node]:
            seen[node] = stamp
            dist[node] = key
            if track_pred:
                pred_edge[node] = -1
            size = _heap_push(heap_key, heap_node, size, key, node)
    remaining = n_goals
    while size > 0 and remaining > 0:
        key, node, size = _heap_pop(heap_key, heap_node, size)
        if done[node] == stamp or key > dist[node]:
            continue
        done[node] = stamp
        if is_goal[node]:
            remaining -= 1
        for edge in range(offsets[node], offsets[node + 1]):
            head = targets[edge]
            candidate = key + weights[edge]
            if seen[head] != stamp or candidate < dist[head]:
                seen[head] = stamp
                dist[head] = candidate
                if track_pred:
                    pred_edge[head] = edge
                size = _heap_push(heap_key, heap_node, size, candidate, head)


@kernel(**PARALLEL_KERNEL_OPTIONS)
def _many_to_many(offsets, targets, weights, seed_nodes, seed_keys, goal_nodes, n_chunks, out):  # type: ignore[no-untyped-def]
    """out[s, k] = combined key of the fastest path from seeds of row s to goal_nodes[k].

    Rows are dealt round-robin to ``n_chunks`` parallel workers, each with its own buffers.
    """
    n = offsets.shape[0] - 1
    n_sources = seed_nodes.shape[0]
    is_goal = np.zeros(n, dtype=np.bool_)
    for k in range(goal_nodes.shape[0]):
        is_goal[goal_nodes[k]] = True
    n_goals = 0
    for v in range(n):
        if is_goal[v]:
            n_goals += 1
    heap_capacity = targets.shape[0] + seed_nodes.shape[1] + 1
    for chunk in prange(n_chunks):
        dist = np.empty(n, dtype=np.int64)
        seen = np.full(n, -1, dtype=np.int64)
        done = np.full(n, -1, dtype=np.int64)
        heap_key = np.empty(heap_capacity, dtype=np.int64)
        heap_node = np.empty(heap_capacity, dtype=np.int32)
        pred_edge = np.empty(0, dtype=np.int64)
        for s in range(chunk, n_sources, n_chunks):
            _search(
                offsets,
                targets,
                weights,
                seed_nodes[s],
                seed_keys[s],
                is_goal,
                n_goals,
                s,
                dist,
                seen,
                done,
                heap_key,
                heap_node,
                pred_edge,
                False,
            )
            for k in range(goal_nodes.shape[0]):
                g = goal_nodes[k]
                out[s, k] = dist[g] if done[g] == s else INF


@kernel(**KERNEL_OPTIONS)
def _path_tree(offsets, targets, weights, seed_nodes, seed_keys, goal_nodes, dist, pred_edge):  # type: ignore[no-untyped-def]
    """Fill dist and pred_edge from the seeds until every goal node is settled.

    Nodes never settled keep dist = INF; seeds have pred_edge = -1.
    """
    n = offsets.shape[0] - 1
    is_goal = np.zeros(n, dtype=np.bool_)
    n_goals = 0
    for k in range(goal_nodes.shape[0]):
        if not is_goal[goal_nodes[k]]:
            is_goal[goal_nodes[k]] = True
            n_goals += 1
    seen = np.full(n, -1, dtype=np.int64)
    done = np.full(n, -1, dtype=np.int64)
    heap_capacity = targets.shape[0] + seed_nodes.shape[0] + 1
    heap_key = np.empty(heap_capacity, dtype=np.int64)
    heap_node = np.empty(heap_capacity, dtype=np.int32)
    _search(
        offsets,
        targets,
        weights,
        seed_nodes,
        seed_keys,
        is_goal,
        n_goals,
        0,
        dist,
        seen,
        done,
        heap_key,
        heap_node,
        pred_edge,
        True,
    )
    for v in range(n):
        if done[v] != 0:
            dist[v] = INF
