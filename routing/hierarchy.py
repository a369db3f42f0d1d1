"""Contraction hierarchy: preprocess a graph once, then answer travel matrices much faster.

Nodes are contracted one by one, least important first (2 × edge difference + contracted
neighbours, with lazy updates); a contracted node's neighbours get *shortcuts* where
no equally short *witness* path avoids it. Every shortest path then climbs to a top node and
descends, so a matrix only needs small upward searches from both ends (bucket many-to-many,
Knopp et al. 2007). Keys stay exact int64 sums, so results equal plain Dijkstra bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numba
import numpy as np

from routing import _ch_kernels as kernels
from routing.graph import BikeGraph

#: Bumped whenever the arrays or the contraction rules change, so saved hierarchies are redone.
HIERARCHY_FORMAT_VERSION = 1

INF = kernels.INF

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

# Witness searches stop after this many settled nodes: while estimating a node's priority, and
# while contracting it. A stopped search only costs an extra shortcut, never correctness.
_SIM_SETTLE = 30
_CONTRACT_SETTLE = 200
# Priority = ED * edge difference + QUOTIENT * shortcuts / removed edges
#          + DELETED * contracted neighbours + LEVEL * level.
_COEF_ED = 2.0
_COEF_QUOTIENT = 0.0
_COEF_DELETED = 1.0
_COEF_LEVEL = 0.0
_LAZY = 1.0


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """The upward graphs of a contracted bike graph, in *rank space*.

    ``rank[v]`` is node v's place in the contraction order; every other array is indexed by
    rank and names neighbours by rank, so the busy top of the hierarchy sits together in memory.
    The forward graph holds edges r→h with h > r; the backward graph holds, at each rank r, the
    edges t→r with t > r (stored reversed: from r to t). Arrays are read-only.
    """

    n_nodes: int
    n_edges: int  # of the graph it was built from
    fingerprint: str  # of that graph's topology and weights
    n_shortcuts: int  # edges added by contraction
    rank: np.ndarray  # int32[n]
    fwd_offsets: np.ndarray  # int64[n+1]
    fwd_heads: np.ndarray  # int32
    fwd_weights: np.ndarray  # int64 combined keys
    bwd_offsets: np.ndarray  # int64[n+1]
    bwd_tails: np.ndarray  # int32
    bwd_weights: np.ndarray  # int64 combined keys

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    @property
    def n_upward_edges(self) -> int:
        return int(self.fwd_heads.shape[0] + self.bwd_tails.shape[0])

    def check_graph(self, graph: BikeGraph) -> None:
        """Raise ValueError unless this hierarchy was built from ``graph`` (same edges, keys)."""
        if (graph.n_nodes, graph.n_edges) != (self.n_nodes, self.n_edges):
            raise ValueError(
                f"hierarchy is of a graph with {self.n_nodes} nodes and {self.n_edges} edges, "
                f"not {graph.n_nodes} nodes and {graph.n_edges} edges"
            )
        if graph_fingerprint(graph) != self.fingerprint:
            raise ValueError("hierarchy is of another graph (edges or travel times differ)")

    def save(self, path: Path) -> None:
        """Write an uncompressed .npz (loads in milliseconds, no pickle)."""
        arrays: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        arrays["meta"] = np.array(
            json.dumps(
                {
                    "format": HIERARCHY_FORMAT_VERSION,
                    "n_nodes": self.n_nodes,
                    "n_edges": self.n_edges,
                    "fingerprint": self.fingerprint,
                    "n_shortcuts": self.n_shortcuts,
                }
            )
        )
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, graph: BikeGraph | None = None) -> ContractionHierarchy:
        """Read a hierarchy written by :meth:`save`.

        ValueError if it is of another format, or (when ``graph`` is given) of another graph.
        """
        with np.load(Path(path), allow_pickle=False) as data:
            if "meta" not in data.files:
                raise ValueError(f"{path}: not a contraction hierarchy")
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != HIERARCHY_FORMAT_VERSION:
                raise ValueError(f"{path}: hierarchy format {meta.get('format')} is not current")
            names = [f.name for f in fields(cls) if f.name not in meta]
            missing = [name for name in names if name not in data.files]
            if missing:
                raise ValueError(f"{path}: hierarchy lacks {', '.join(missing)}")
            arrays = {name: data[name] for name in names}
        hierarchy = cls(
            n_nodes=int(meta["n_nodes"]),
            n_edges=int(meta["n_edges"]),
            fingerprint=str(meta["fingerprint"]),
            n_shortcuts=int(meta["n_shortcuts"]),
            **arrays,
        )
        if hierarchy.rank.shape[0] != hierarchy.n_nodes:
            raise ValueError(f"{path}: hierarchy arrays do not match its node count")
        if graph is not None:
            hierarchy.check_graph(graph)
        return hierarchy


def _combined_weights(graph: BikeGraph) -> np.ndarray:
    # Imported here: routing.matrix may import this module to call ch_many_to_many.
    from routing.matrix import combined_weights

    return combined_weights(graph)


def graph_fingerprint(graph: BikeGraph) -> str:
    """A digest of what a hierarchy depends on: the CSR topology and the combined keys."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (graph.offsets, graph.targets, _combined_weights(graph)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def build_hierarchy(
    graph: BikeGraph, *, progress: ProgressCallback | None = None
) -> ContractionHierarchy:
    """Contract ``graph`` into a hierarchy; ``progress("hierarchy", done, n)`` now and then.

    Runs on one core: about half a second per 10k junctions (Porto's 65k: under 3 s).
    """
    n = graph.n_nodes
    offsets = np.ascontiguousarray(graph.offsets, dtype=np.int64)
    targets = np.ascontiguousarray(graph.targets, dtype=np.int32)
    weights = np.ascontiguousarray(_combined_weights(graph), dtype=np.int64)
    if progress is not None:
        progress("hierarchy", 0, n)
    adj, pool_nbr, pool_w, meta = kernels._ch_init(offsets, targets, weights)
    params = np.zeros(kernels.N_PARAMS, dtype=np.float64)
    params[kernels.SIM_SETTLE] = _SIM_SETTLE
    params[kernels.CONTRACT_SETTLE] = _CONTRACT_SETTLE
    params[kernels.COEF_ED] = _COEF_ED
    params[kernels.COEF_QUOTIENT] = _COEF_QUOTIENT
    params[kernels.COEF_DELETED] = _COEF_DELETED
    params[kernels.COEF_LEVEL] = _COEF_LEVEL
    params[kernels.LAZY] = _LAZY
    node_info = np.zeros((2, n), dtype=np.int64)
    prio = np.empty(n, dtype=np.float64)
    heap = np.empty(n, dtype=np.int32)
    pos = np.empty(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.int64)
    seen = np.full(n, -1, dtype=np.int64)
    target_mark = np.full(n, -1, dtype=np.int64)
    heap_key = np.empty(kernels.WITNESS_HEAP, dtype=np.int64)
    heap_node = np.empty(kernels.WITNESS_HEAP, dtype=np.int32)
    scratch = (dist, seen, target_mark, heap_key, heap_node)
    kernels._ch_order_init(
        adj, pool_nbr, pool_w, meta, node_info, params, prio, heap, pos, *scratch
    )
    rank = np.full(n, -1, dtype=np.int32)
    fwd_off = np.zeros(n + 1, dtype=np.int64)
    bwd_off = np.zeros(n + 1, dtype=np.int64)
    fwd_node = np.empty(graph.n_edges + 16, dtype=np.int32)
    fwd_w = np.empty(graph.n_edges + 16, dtype=np.int64)
    bwd_node = np.empty(graph.n_edges + 16, dtype=np.int32)
    bwd_w = np.empty(graph.n_edges + 16, dtype=np.int64)
    batch = max(500, n // 50)
    while meta[kernels.CONTRACTED] < n:
        pool_nbr, pool_w, fwd_node, fwd_w, bwd_node, bwd_w = kernels._ch_contract(
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
            *scratch,
            min(n, int(meta[kernels.CONTRACTED]) + batch),
        )
        if progress is not None:
            progress("hierarchy", int(meta[kernels.CONTRACTED]), n)
    fwd_heads, fwd_weights, bwd_tails, bwd_weights = kernels._ch_finish(
        rank, fwd_node, fwd_w, fwd_off, bwd_node, bwd_w, bwd_off
    )
    return ContractionHierarchy(
        n_nodes=n,
        n_edges=graph.n_edges,
        fingerprint=graph_fingerprint(graph),
        n_shortcuts=int(meta[kernels.SHORTCUTS]),
        rank=rank,
        fwd_offsets=fwd_off,
        fwd_heads=fwd_heads,
        fwd_weights=fwd_weights,
        bwd_offsets=bwd_off,
        bwd_tails=bwd_tails,
        bwd_weights=bwd_weights,
    )


@dataclass(frozen=True, eq=False)
class GoalBuckets:
    """The backward half of a many-to-many query: reusable for every row batch to the same goals.

    ``offsets``/``goals``/``keys`` are a CSR over ranks: which goals each node reaches
    downward, and at what key.
    """

    fingerprint: str  # of the hierarchy's graph
    goal_nodes: np.ndarray  # int32[K]
    offsets: np.ndarray  # int64[n+1]
    goals: np.ndarray  # int32
    keys: np.ndarray  # int64

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False


def _default_chunks(n_chunks: int | None) -> int:
    if n_chunks is None:
        return 4 * numba.get_num_threads()
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be at least 1, not {n_chunks}")
    return int(n_chunks)


def _integer_array(name: str, array: np.ndarray, ndim: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, not of shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, not {array.dtype}")
    return array


def ch_goal_buckets(
    ch: ContractionHierarchy, goal_nodes: np.ndarray, *, n_chunks: int | None = None
) -> GoalBuckets:
    """Run the backward searches from ``goal_nodes`` once, for :func:`ch_many_to_many`."""
    goal_nodes = _integer_array("goal_nodes", goal_nodes, 1)
    if goal_nodes.size and (goal_nodes.min() < 0 or goal_nodes.max() >= ch.n_nodes):
        raise ValueError(f"goal_nodes must be nodes 0..{ch.n_nodes - 1}")
    goals = np.ascontiguousarray(goal_nodes, dtype=np.int32).copy()
    offsets, bucket_goals, bucket_keys = kernels._ch_buckets(
        ch.rank,
        ch.fwd_offsets,
        ch.fwd_heads,
        ch.fwd_weights,
        ch.bwd_offsets,
        ch.bwd_tails,
        ch.bwd_weights,
        goals,
        _default_chunks(n_chunks),
    )
    return GoalBuckets(
        fingerprint=ch.fingerprint,
        goal_nodes=goals,
        offsets=offsets,
        goals=bucket_goals,
        keys=bucket_keys,
    )


def ch_many_to_many(
    ch: ContractionHierarchy,
    seed_nodes: np.ndarray,
    seed_keys: np.ndarray,
    goal_nodes: np.ndarray,
    out: np.ndarray,
    *,
    buckets: GoalBuckets | None = None,
    n_chunks: int | None = None,
) -> None:
    """Fill ``out[s, k]`` exactly as :func:`routing._kernels._many_to_many` does.

    ``out[s, k]`` = min over the seeds of row s (node, initial key; node -1 = unused) of the
    seed key plus the shortest key from the seed node to ``goal_nodes[k]``, or INF when no seed
    reaches it. Pass ``buckets`` from :func:`ch_goal_buckets` to skip the backward searches
    when several row batches go to the same goals. ``n_chunks`` parallel workers share the
    searches (default: 4 per numba thread).
    """
    seed_nodes = _integer_array("seed_nodes", seed_nodes, 2)
    seed_keys = _integer_array("seed_keys", seed_keys, 2)
    goal_nodes = _integer_array("goal_nodes", goal_nodes, 1)
    if seed_keys.shape != seed_nodes.shape:
        raise ValueError(
            f"seed_nodes {seed_nodes.shape} and seed_keys {seed_keys.shape} "
            "must have one shape (rows × seeds)"
        )
    n_rows, n_goals = seed_nodes.shape[0], goal_nodes.shape[0]
    if (
        not isinstance(out, np.ndarray)
        or out.shape != (n_rows, n_goals)
        or out.dtype != np.int64
        or not out.flags.writeable
    ):
        raise ValueError(f"out must be a writable int64 array of shape {(n_rows, n_goals)}")
    n = ch.n_nodes
    if seed_nodes.size and (seed_nodes.min() < -1 or seed_nodes.max() >= n):
        raise ValueError(f"seed_nodes must be -1 (unused) or nodes 0..{n - 1}")
    used_keys = seed_keys[seed_nodes >= 0]
    if used_keys.size and (used_keys.min() < 0 or used_keys.max() >= INF):
        raise ValueError("seed keys must lie in [0, INF)")
    chunks = _default_chunks(n_chunks)
    if buckets is None:
        buckets = ch_goal_buckets(ch, goal_nodes, n_chunks=chunks)
    elif buckets.fingerprint != ch.fingerprint or not np.array_equal(
        buckets.goal_nodes, goal_nodes
    ):
        raise ValueError("buckets were made for other goals or another hierarchy")
    if n_rows == 0 or n_goals == 0:
        return
    kernels._ch_forward(
        ch.rank,
        ch.fwd_offsets,
        ch.fwd_heads,
        ch.fwd_weights,
        ch.bwd_offsets,
        ch.bwd_tails,
        ch.bwd_weights,
        buckets.offsets,
        buckets.goals,
        buckets.keys,
        np.ascontiguousarray(seed_nodes, dtype=np.int32),
        np.ascontiguousarray(seed_keys, dtype=np.int64),
        chunks,
        out,
    )


_IN_MEMORY: weakref.WeakKeyDictionary[BikeGraph, ContractionHierarchy] = weakref.WeakKeyDictionary()


def hierarchy_path(graph: BikeGraph) -> Path | None:
    """Where the hierarchy of a cached graph is kept: beside the graph's cache file."""
    if not graph.report.cache_path:
        return None
    return Path(graph.report.cache_path.removesuffix(".npz") + ".ch.npz")


def cached_hierarchy(graph: BikeGraph) -> ContractionHierarchy | None:
    """The graph's hierarchy if one is in memory or on disk already; never builds one."""
    if graph in _IN_MEMORY:
        return _IN_MEMORY[graph]
    path = hierarchy_path(graph)
    if path is None or not path.is_file():
        return None
    try:
        hierarchy = ContractionHierarchy.load(path, graph)
    except (ValueError, OSError, KeyError) as exc:
        log.warning("ignoring unusable hierarchy %s: %s", path, exc)
        return None
    _IN_MEMORY[graph] = hierarchy
    return hierarchy


def hierarchy_for(
    graph: BikeGraph, *, progress: ProgressCallback | None = None
) -> ContractionHierarchy:
    """The graph's hierarchy: from memory, from beside the graph cache, or built and saved."""
    hierarchy = cached_hierarchy(graph)
    if hierarchy is not None:
        return hierarchy
    started = time.perf_counter()
    hierarchy = build_hierarchy(graph, progress=progress)
    log.info(
        "built the hierarchy of %s in %.2f s (%d shortcuts)",
        graph.name,
        time.perf_counter() - started,
        hierarchy.n_shortcuts,
    )
    _IN_MEMORY[graph] = hierarchy
    path = hierarchy_path(graph)
    if path is not None:
        try:
            hierarchy.save(path)
        except OSError as exc:
            log.warning("could not save the hierarchy to %s: %s", path, exc)
    return hierarchy
