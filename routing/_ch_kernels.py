"""Private numba kernels of the contraction hierarchy: node ordering, contraction, queries.

Kernels take only arrays and scalars, never raise, and trust :mod:`routing.hierarchy` to have
validated every index. Weights are the combined int64 keys of :mod:`routing._kernels`; every
sum is exact int64 arithmetic, so hierarchy queries equal plain Dijkstra bit for bit.

The heap helpers are copies rather than imports from :mod:`routing._kernels`: numba's on-disk
cache only watches a kernel's own file, so a change over there would not recompile us.

Contraction keeps a dynamic adjacency: every node has an out-list and an in-list, each a slice
``[start, start + len)`` of a shared pool with room up to ``start + cap``. A full list moves to
the pool's end with twice the room; a full pool is compacted into a bigger one. Lists only
ever hold uncontracted neighbours, so when a node is contracted its lists *are* its upward
edges, recorded in rank order.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from routing._jit import KERNEL_OPTIONS, PARALLEL_KERNEL_OPTIONS, kernel

INF = np.int64(1) << np.int64(62)

# Rows of the ``adj`` array: where each node's out- and in-list lives in the pool.
OUT_START, OUT_LEN, OUT_CAP, IN_START, IN_LEN, IN_CAP = 0, 1, 2, 3, 4, 5
# Slots of the ``meta`` array: counters that outlive one batch of contractions.
POOL_USED, CONTRACTED, HEAP_SIZE, FWD_USED, BWD_USED, SHORTCUTS, STAMP = 0, 1, 2, 3, 4, 5, 6
META_SIZE = 8
# Rows of the ``node_info`` array.
LEVEL, DELETED = 0, 1
# Slots of the ``params`` array (float64).
SIM_SETTLE, CONTRACT_SETTLE, COEF_ED, COEF_QUOTIENT, COEF_DELETED, COEF_LEVEL, LAZY = range(7)
N_PARAMS = 7
# Capacity of the witness search heap; a search that fills it just stops pushing (safe).
WITNESS_HEAP = 1 << 16


# --- key heap (lazy deletion), for witness searches and queries -------------------------------


@kernel(**KERNEL_OPTIONS)
def _push(heap_key, heap_node, size, key, node):  # type: ignore[no-untyped-def]
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
def _pop(heap_key, heap_node, size):  # type: ignore[no-untyped-def]
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


# --- node-order heap (indexed, priorities change in place) -----------------------------------


@kernel(**KERNEL_OPTIONS)
def _before(prio, a, b):  # type: ignore[no-untyped-def]
    return prio[a] < prio[b] or (prio[a] == prio[b] and a < b)


@kernel(**KERNEL_OPTIONS)
def _sift_up(prio, heap, pos, i):  # type: ignore[no-untyped-def]
    node = heap[i]
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(prio, node, heap[parent]):
            break
        heap[i] = heap[parent]
        pos[heap[i]] = i
        i = parent
    heap[i] = node
    pos[node] = i


@kernel(**KERNEL_OPTIONS)
def _sift_down(prio, heap, pos, size, i):  # type: ignore[no-untyped-def]
    node = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(prio, heap[child + 1], heap[child]):
            child += 1
        if not _before(prio, heap[child], node):
            break
        heap[i] = heap[child]
        pos[heap[i]] = i
        i = child
    heap[i] = node
    pos[node] = i


# --- dynamic adjacency -----------------------------------------------------------------------


@kernel(**KERNEL_OPTIONS)
def _find(pool_nbr, start, length, x):  # type: ignore[no-untyped-def]
    for i in range(start, start + length):
        if pool_nbr[i] == x:
            return i
    return -1


@kernel(**KERNEL_OPTIONS)
def _compact(adj, pool_nbr, pool_w, meta, extra):  # type: ignore[no-untyped-def]
    """Copy every live list into a new pool with room for ``extra`` more slots, and more."""
    n = adj.shape[1]
    live = 0
    for v in range(n):
        live += adj[OUT_CAP, v] + adj[IN_CAP, v]
    size = 2 * (live + extra) + 64
    new_nbr = np.empty(size, dtype=np.int32)
    new_w = np.empty(size, dtype=np.int64)
    used = 0
    for v in range(n):
        for side in (OUT_START, IN_START):
            start = adj[side, v]
            for i in range(adj[side + 1, v]):
                new_nbr[used + i] = pool_nbr[start + i]
                new_w[used + i] = pool_w[start + i]
            adj[side, v] = used
            used += adj[side + 2, v]
    meta[POOL_USED] = used
    return new_nbr, new_w


@kernel(**KERNEL_OPTIONS)
def _make_room(adj, pool_nbr, pool_w, meta, side, v):  # type: ignore[no-untyped-def]
    """Ensure list ``side`` (OUT_START or IN_START) of ``v`` can take one more entry."""
    length = adj[side + 1, v]
    cap = adj[side + 2, v]
    if length < cap:
        return pool_nbr, pool_w
    new_cap = max(4, 2 * cap)
    if meta[POOL_USED] + new_cap > pool_nbr.shape[0]:
        pool_nbr, pool_w = _compact(adj, pool_nbr, pool_w, meta, new_cap)
    start = adj[side, v]
    used = meta[POOL_USED]
    for i in range(length):
        pool_nbr[used + i] = pool_nbr[start + i]
        pool_w[used + i] = pool_w[start + i]
    adj[side, v] = used
    adj[side + 2, v] = new_cap
    meta[POOL_USED] = used + new_cap
    return pool_nbr, pool_w


@kernel(**KERNEL_OPTIONS)
def _add_edge(adj, pool_nbr, pool_w, meta, u, w, key):  # type: ignore[no-untyped-def]
    """Add edge u→w, or lower its key if it exists; True if the edge is new."""
    i = _find(pool_nbr, adj[OUT_START, u], adj[OUT_LEN, u], w)
    if i >= 0:
        if key < pool_w[i]:
            pool_w[i] = key
            j = _find(pool_nbr, adj[IN_START, w], adj[IN_LEN, w], u)
            pool_w[j] = key
        return pool_nbr, pool_w, False
    pool_nbr, pool_w = _make_room(adj, pool_nbr, pool_w, meta, OUT_START, u)
    pool_nbr, pool_w = _make_room(adj, pool_nbr, pool_w, meta, IN_START, w)
    i = adj[OUT_START, u] + adj[OUT_LEN, u]
    pool_nbr[i] = w
    pool_w[i] = key
    adj[OUT_LEN, u] += 1
    j = adj[IN_START, w] + adj[IN_LEN, w]
    pool_nbr[j] = u
    pool_w[j] = key
    adj[IN_LEN, w] += 1
    return pool_nbr, pool_w, True


@kernel(**KERNEL_OPTIONS)
def _remove(adj, pool_nbr, pool_w, side, v, x):  # type: ignore[no-untyped-def]
    """Drop neighbour ``x`` from list ``side`` of ``v`` (swap with the last entry)."""
    start = adj[side, v]
    last = start + adj[side + 1, v] - 1
    i = _find(pool_nbr, start, adj[side + 1, v], x)
    if i >= 0:
        pool_nbr[i] = pool_nbr[last]
        pool_w[i] = pool_w[last]
        adj[side + 1, v] -= 1


# --- contraction -----------------------------------------------------------------------------


@kernel(**KERNEL_OPTIONS)
def _witness_search(  # type: ignore[no-untyped-def]
    adj,
    pool_nbr,
    pool_w,
    source,
    skip,
    limit,
    max_settled,
    n_targets,
    target_mark,
    target_stamp,
    dist,
    seen,
    stamp,
    heap_key,
    heap_node,
):
    """Bounded Dijkstra from ``source`` avoiding ``skip``; fills tentative ``dist``.

    Every tentative distance is the length of a real path that avoids ``skip``, so callers may
    trust ``dist <= via`` as a witness whether or not the search finished. It stops once the
    next key exceeds ``limit``, every target is settled, ``max_settled`` nodes are settled, or
    (no more pushes) the heap is full.
    """
    capacity = heap_key.shape[0]
    seen[source] = stamp
    dist[source] = 0
    size = _push(heap_key, heap_node, 0, np.int64(0), source)
    settled = 0
    remaining = n_targets
    while size > 0:
        key, node, size = _pop(heap_key, heap_node, size)
        if key > dist[node]:
            continue
        if key > limit:
            break
        if target_mark[node] == target_stamp:
            remaining -= 1
            if remaining == 0:
                break
        settled += 1
        if settled > max_settled:
            break
        start = adj[OUT_START, node]
        for i in range(start, start + adj[OUT_LEN, node]):
            head = pool_nbr[i]
            if head == skip:
                continue
            candidate = key + pool_w[i]
            if candidate > limit:
                continue
            if seen[head] != stamp or candidate < dist[head]:
                seen[head] = stamp
                dist[head] = candidate
                if size < capacity:
                    size = _push(heap_key, heap_node, size, candidate, head)


@kernel(**KERNEL_OPTIONS)
def _shortcuts(  # type: ignore[no-untyped-def]
    adj,
    pool_nbr,
    pool_w,
    meta,
    v,
    max_settled,
    contract,
    dist,
    seen,
    target_mark,
    heap_key,
    heap_node,
):
    """Count (and when ``contract``, add) the shortcuts that contracting ``v`` needs.

    Returns (count, pool_nbr, pool_w, new edges); the pool may have moved.
    """
    n_out = adj[OUT_LEN, v]
    n_in = adj[IN_LEN, v]
    if n_out == 0 or n_in == 0:
        return 0, pool_nbr, pool_w, 0
    # Copies: adding shortcuts may move v's lists.
    out_nbr = pool_nbr[adj[OUT_START, v] : adj[OUT_START, v] + n_out].copy()
    out_w = pool_w[adj[OUT_START, v] : adj[OUT_START, v] + n_out].copy()
    in_nbr = pool_nbr[adj[IN_START, v] : adj[IN_START, v] + n_in].copy()
    in_w = pool_w[adj[IN_START, v] : adj[IN_START, v] + n_in].copy()
    max_out = out_w.max()
    meta[STAMP] += 1
    target_stamp = meta[STAMP]
    for j in range(n_out):
        target_mark[out_nbr[j]] = target_stamp
    count = 0
    new_edges = 0
    for i in range(n_in):
        u = in_nbr[i]
        if n_out == 1 and out_nbr[0] == u:
            continue
        meta[STAMP] += 1
        stamp = meta[STAMP]
        _witness_search(
            adj,
            pool_nbr,
            pool_w,
            u,
            v,
            in_w[i] + max_out,
            max_settled,
            n_out,
            target_mark,
            target_stamp,
            dist,
            seen,
            stamp,
            heap_key,
            heap_node,
        )
        for j in range(n_out):
            w = out_nbr[j]
            if w == u:
                continue
            via = in_w[i] + out_w[j]
            if seen[w] == stamp and dist[w] <= via:
                continue
            count += 1
            if contract:
                pool_nbr, pool_w, added = _add_edge(adj, pool_nbr, pool_w, meta, u, w, via)
                if added:
                    new_edges += 1
    return count, pool_nbr, pool_w, new_edges


@kernel(**KERNEL_OPTIONS)
def _priority(adj, node_info, params, v, n_shortcuts):  # type: ignore[no-untyped-def]
    removed = adj[OUT_LEN, v] + adj[IN_LEN, v]
    quotient = n_shortcuts / removed if removed > 0 else 0.0
    return (
        params[COEF_ED] * (n_shortcuts - removed)
        + params[COEF_QUOTIENT] * quotient
        + params[COEF_DELETED] * node_info[DELETED, v]
        + params[COEF_LEVEL] * node_info[LEVEL, v]
    )


@kernel(**KERNEL_OPTIONS)
def _simulate(  # type: ignore[no-untyped-def]
    adj,
    pool_nbr,
    pool_w,
    meta,
    node_info,
    params,
    v,
    dist,
    seen,
    target_mark,
    heap_key,
    heap_node,
):
    count, _, _, _ = _shortcuts(
        adj,
        pool_nbr,
        pool_w,
        meta,
        v,
        int(params[SIM_SETTLE]),
        False,
        dist,
        seen,
        target_mark,
        heap_key,
        heap_node,
    )
    return _priority(adj, node_info, params, v, count)


@kernel(**KERNEL_OPTIONS)
def _append(nodes, keys, used, node, key):  # type: ignore[no-untyped-def]
    if used == nodes.shape[0]:
        bigger_nodes = np.empty(2 * used + 16, dtype=np.int32)
        bigger_keys = np.empty(2 * used + 16, dtype=np.int64)
        bigger_nodes[:used] = nodes
        bigger_keys[:used] = keys
        nodes, keys = bigger_nodes, bigger_keys
    nodes[used] = node
    keys[used] = key
    return nodes, keys


@kernel(**KERNEL_OPTIONS)
def _ch_init(offsets, targets, weights):  # type: ignore[no-untyped-def]
    """The dynamic adjacency of the input graph: parallel edges merged, self-loops dropped.

    Returns (adj, pool_nbr, pool_w, meta).
    """
    n = offsets.shape[0] - 1
    adj = np.zeros((6, n), dtype=np.int64)
    for u in range(n):
        adj[OUT_CAP, u] += offsets[u + 1] - offsets[u] + 2
        adj[IN_CAP, u] += 2
    for e in range(targets.shape[0]):
        adj[IN_CAP, targets[e]] += 1
    used = 0
    for u in range(n):
        adj[OUT_START, u] = used
        used += adj[OUT_CAP, u]
        adj[IN_START, u] = used
        used += adj[IN_CAP, u]
    meta = np.zeros(META_SIZE, dtype=np.int64)
    meta[POOL_USED] = used
    pool_nbr = np.empty(2 * used + 64, dtype=np.int32)
    pool_w = np.empty(2 * used + 64, dtype=np.int64)
    for u in range(n):
        for e in range(offsets[u], offsets[u + 1]):
            if targets[e] != u:
                pool_nbr, pool_w, _ = _add_edge(
                    adj, pool_nbr, pool_w, meta, u, targets[e], weights[e]
                )
    return adj, pool_nbr, pool_w, meta


@kernel(**KERNEL_OPTIONS)
def _ch_order_init(  # type: ignore[no-untyped-def]
    adj,
    pool_nbr,
    pool_w,
    meta,
    node_info,
    params,
    prio,
    heap,
    pos,
    dist,
    seen,
    target_mark,
    heap_key,
    heap_node,
):
    """Initial priority of every node, and the node-order heap over all of them."""
    n = adj.shape[1]
    for v in range(n):
        prio[v] = _simulate(
            adj,
            pool_nbr,
            pool_w,
            meta,
            node_info,
            params,
            v,
            dist,
            seen,
            target_mark,
            heap_key,
            heap_node,
        )
    for v in range(n):
        heap[v] = v
        pos[v] = v
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(prio, heap, pos, n, i)
    meta[HEAP_SIZE] = n


@kernel(**KERNEL_OPTIONS)
def _ch_contract(  # type: ignore[no-untyped-def]
    adj,
    pool_nbr,
    pool_w,
    meta,
    node_info,
    params,
    prio,
    heap,
    pos,
    rank,
    fwd_node,
    fwd_w,
    fwd_off,
    bwd_node,
    bwd_w,
    bwd_off,
    dist,
    seen,
    target_mark,
    heap_key,
    heap_node,
    stop,
):
    """Contract nodes in priority order until ``stop`` nodes are contracted.

    Lazy updates: a popped node's priority is recomputed and it goes back into the heap if it
    is no longer the smallest. Neighbours of a contracted node are re-prioritised at once.
    Returns (pool_nbr, pool_w, fwd_node, fwd_w, bwd_node, bwd_w): any of them may have moved.
    """
    lazy = params[LAZY] > 0
    while meta[CONTRACTED] < stop and meta[HEAP_SIZE] > 0:
        v = heap[0]
        if lazy and meta[HEAP_SIZE] > 1:
            fresh = _simulate(
                adj,
                pool_nbr,
                pool_w,
                meta,
                node_info,
                params,
                v,
                dist,
                seen,
                target_mark,
                heap_key,
                heap_node,
            )
            if fresh > prio[v]:
                prio[v] = fresh
                _sift_down(prio, heap, pos, meta[HEAP_SIZE], 0)
                if heap[0] != v:
                    continue
        # Pop v.
        size = meta[HEAP_SIZE] - 1
        meta[HEAP_SIZE] = size
        pos[v] = -1
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _sift_down(prio, heap, pos, size, 0)
        _, pool_nbr, pool_w, new_edges = _shortcuts(
            adj,
            pool_nbr,
            pool_w,
            meta,
            v,
            int(params[CONTRACT_SETTLE]),
            True,
            dist,
            seen,
            target_mark,
            heap_key,
            heap_node,
        )
        meta[SHORTCUTS] += new_edges
        r = meta[CONTRACTED]
        rank[v] = r
        # Its remaining lists are its upward edges.
        start = adj[OUT_START, v]
        for i in range(start, start + adj[OUT_LEN, v]):
            fwd_node, fwd_w = _append(fwd_node, fwd_w, meta[FWD_USED], pool_nbr[i], pool_w[i])
            meta[FWD_USED] += 1
        fwd_off[r + 1] = meta[FWD_USED]
        start = adj[IN_START, v]
        for i in range(start, start + adj[IN_LEN, v]):
            bwd_node, bwd_w = _append(bwd_node, bwd_w, meta[BWD_USED], pool_nbr[i], pool_w[i])
            meta[BWD_USED] += 1
        bwd_off[r + 1] = meta[BWD_USED]
        # Detach v, then re-prioritise its neighbours.
        n_out = adj[OUT_LEN, v]
        n_in = adj[IN_LEN, v]
        neighbours = np.empty(n_out + n_in, dtype=np.int64)
        start = adj[OUT_START, v]
        for i in range(n_out):
            w = pool_nbr[start + i]
            neighbours[i] = w
            _remove(adj, pool_nbr, pool_w, IN_START, w, v)
        start = adj[IN_START, v]
        for i in range(n_in):
            u = pool_nbr[start + i]
            neighbours[n_out + i] = u
            _remove(adj, pool_nbr, pool_w, OUT_START, u, v)
        for side in (OUT_START, IN_START):
            adj[side + 1, v] = 0
            adj[side + 2, v] = 0
        meta[CONTRACTED] += 1
        neighbours.sort()
        for i in range(neighbours.shape[0]):
            x = neighbours[i]
            if i > 0 and neighbours[i - 1] == x:
                continue  # in both lists
            node_info[DELETED, x] += 1
            node_info[LEVEL, x] = max(node_info[LEVEL, x], node_info[LEVEL, v] + 1)
            old = prio[x]
            prio[x] = _simulate(
                adj,
                pool_nbr,
                pool_w,
                meta,
                node_info,
                params,
                x,
                dist,
                seen,
                target_mark,
                heap_key,
                heap_node,
            )
            if prio[x] < old:
                _sift_up(prio, heap, pos, pos[x])
            elif prio[x] > old:
                _sift_down(prio, heap, pos, meta[HEAP_SIZE], pos[x])
    return pool_nbr, pool_w, fwd_node, fwd_w, bwd_node, bwd_w


@kernel(**KERNEL_OPTIONS)
def _ch_finish(rank, fwd_node, fwd_w, fwd_off, bwd_node, bwd_w, bwd_off):  # type: ignore[no-untyped-def]
    """The upward graphs in rank space: neighbours as ranks, arrays trimmed to size."""
    n = rank.shape[0]
    fwd_head = np.empty(fwd_off[n], dtype=np.int32)
    for i in range(fwd_off[n]):
        fwd_head[i] = rank[fwd_node[i]]
    bwd_tail = np.empty(bwd_off[n], dtype=np.int32)
    for i in range(bwd_off[n]):
        bwd_tail[i] = rank[bwd_node[i]]
    return fwd_head, fwd_w[: fwd_off[n]].copy(), bwd_tail, bwd_w[: bwd_off[n]].copy()


# --- queries ---------------------------------------------------------------------------------


@kernel(**KERNEL_OPTIONS)
def _upward_search(  # type: ignore[no-untyped-def]
    off,
    head,
    weight,
    stall_off,
    stall_head,
    stall_weight,
    start_nodes,
    start_keys,
    stamp,
    dist,
    seen,
    heap_key,
    heap_node,
    settled_node,
    settled_key,
):
    """Dijkstra in an upward graph (rank space) from a few start nodes, with stall-on-demand.

    A node is stalled when an edge from a higher node already reached gives it a strictly
    smaller key: its key is then not its distance, so it can neither be the top of a shortest
    path nor lie on one's upward part. Writes the unstalled settled nodes and their keys to
    ``settled_*`` and returns how many there are.
    """
    size = 0
    for i in range(start_nodes.shape[0]):
        node = start_nodes[i]
        if node < 0:
            continue
        key = start_keys[i]
        if seen[node] != stamp or key < dist[node]:
            seen[node] = stamp
            dist[node] = key
            size = _push(heap_key, heap_node, size, key, node)
    count = 0
    while size > 0:
        key, node, size = _pop(heap_key, heap_node, size)
        if key > dist[node]:
            continue
        stalled = False
        for e in range(stall_off[node], stall_off[node + 1]):
            x = stall_head[e]
            if seen[x] == stamp and dist[x] + stall_weight[e] < key:
                stalled = True
                break
        if stalled:
            continue
        settled_node[count] = node
        settled_key[count] = key
        count += 1
        for e in range(off[node], off[node + 1]):
            h = head[e]
            candidate = key + weight[e]
            if seen[h] != stamp or candidate < dist[h]:
                seen[h] = stamp
                dist[h] = candidate
                size = _push(heap_key, heap_node, size, candidate, h)
    return count


@kernel(**PARALLEL_KERNEL_OPTIONS)
def _ch_buckets(  # type: ignore[no-untyped-def]
    rank,
    fwd_off,
    fwd_head,
    fwd_w,
    bwd_off,
    bwd_tail,
    bwd_w,
    goal_nodes,
    n_chunks,
):
    """Backward phase of bucket many-to-many (Knopp et al. 2007).

    A backward upward search from every goal k leaves (k, key) in the bucket of each node it
    settles unstalled. Returns the buckets as CSR over ranks: (offsets, goal, key), each
    bucket in goal order. Goal searches run twice (count, then fill) so that they can run in
    parallel into flat arrays.
    """
    n = rank.shape[0]
    n_goals = goal_nodes.shape[0]
    heap_capacity = bwd_off[n] + 2
    goal_chunks = max(1, min(n_chunks, n_goals))
    counts = np.zeros(n_goals + 1, dtype=np.int64)
    entry_node = np.empty(0, dtype=np.int32)
    entry_key = np.empty(0, dtype=np.int64)
    for fill in range(2):
        if fill == 1:
            for k in range(n_goals):
                counts[k + 1] += counts[k]
            entry_node = np.empty(counts[n_goals], dtype=np.int32)
            entry_key = np.empty(counts[n_goals], dtype=np.int64)
        for chunk in prange(goal_chunks):
            dist = np.empty(n, dtype=np.int64)
            seen = np.full(n, -1, dtype=np.int64)
            heap_key = np.empty(heap_capacity, dtype=np.int64)
            heap_node = np.empty(heap_capacity, dtype=np.int32)
            settled_node = np.empty(n, dtype=np.int32)
            settled_key = np.empty(n, dtype=np.int64)
            start = np.empty(1, dtype=np.int32)
            zero = np.zeros(1, dtype=np.int64)
            for k in range(chunk, n_goals, goal_chunks):
                start[0] = rank[goal_nodes[k]]
                count = _upward_search(
                    bwd_off,
                    bwd_tail,
                    bwd_w,
                    fwd_off,
                    fwd_head,
                    fwd_w,
                    start,
                    zero,
                    k,
                    dist,
                    seen,
                    heap_key,
                    heap_node,
                    settled_node,
                    settled_key,
                )
                if fill == 0:
                    counts[k + 1] = count
                else:
                    first = counts[k]
                    for i in range(count):
                        entry_node[first + i] = settled_node[i]
                        entry_key[first + i] = settled_key[i]
    bucket_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(entry_node.shape[0]):
        bucket_off[entry_node[i] + 1] += 1
    for v in range(n):
        bucket_off[v + 1] += bucket_off[v]
    fill_at = bucket_off[:n].copy()
    bucket_goal = np.empty(entry_node.shape[0], dtype=np.int32)
    bucket_key = np.empty(entry_node.shape[0], dtype=np.int64)
    for k in range(n_goals):
        for i in range(counts[k], counts[k + 1]):
            p = fill_at[entry_node[i]]
            bucket_goal[p] = k
            bucket_key[p] = entry_key[i]
            fill_at[entry_node[i]] = p + 1
    return bucket_off, bucket_goal, bucket_key


@kernel(**PARALLEL_KERNEL_OPTIONS)
def _ch_forward(  # type: ignore[no-untyped-def]
    rank,
    fwd_off,
    fwd_head,
    fwd_w,
    bwd_off,
    bwd_tail,
    bwd_w,
    bucket_off,
    bucket_goal,
    bucket_key,
    seed_nodes,
    seed_keys,
    n_chunks,
    out,
):
    """Forward phase: out[s, k] = min over seeds of row s of (seed key + distance to goal k).

    A forward upward search from the seeds of each row scans the bucket of every node it
    settles unstalled; goals it never meets stay INF. Rows are dealt round-robin to
    ``n_chunks`` parallel workers, each with its own buffers.
    """
    n = rank.shape[0]
    n_sources = seed_nodes.shape[0]
    n_goals = out.shape[1]
    width = seed_nodes.shape[1]
    heap_capacity = fwd_off[n] + width + 1
    source_chunks = max(1, min(n_chunks, n_sources))
    for chunk in prange(source_chunks):
        dist = np.empty(n, dtype=np.int64)
        seen = np.full(n, -1, dtype=np.int64)
        heap_key = np.empty(heap_capacity, dtype=np.int64)
        heap_node = np.empty(heap_capacity, dtype=np.int32)
        settled_node = np.empty(n, dtype=np.int32)
        settled_key = np.empty(n, dtype=np.int64)
        starts = np.empty(width, dtype=np.int32)
        for s in range(chunk, n_sources, source_chunks):
            for j in range(width):
                node = seed_nodes[s, j]
                starts[j] = rank[node] if node >= 0 else -1
            count = _upward_search(
                fwd_off,
                fwd_head,
                fwd_w,
                bwd_off,
                bwd_tail,
                bwd_w,
                starts,
                seed_keys[s],
                s,
                dist,
                seen,
                heap_key,
                heap_node,
                settled_node,
                settled_key,
            )
            for k in range(n_goals):
                out[s, k] = INF
            for i in range(count):
                node = settled_node[i]
                key = settled_key[i]
                for b in range(bucket_off[node], bucket_off[node + 1]):
                    candidate = key + bucket_key[b]
                    k = bucket_goal[b]
                    if candidate < out[s, k]:
                        out[s, k] = candidate
