"""Granular neighbour lists (Toth & Vigo 2003) with HGS's time-window proximity.

Moves are tried only between a client and its ``k`` nearest neighbours. With time windows,
"near" adds the waiting and the time warp that visiting one client right after the other would
cause (Vidal et al. 2013, weights 0.2 and 1), so neighbours are also close in time.
"""

from __future__ import annotations

import numpy as np

from solver.model import MAX_TIME, Problem

WAIT_WEIGHT = 0.2
WARP_WEIGHT = 1.0


def _proximity(problem: Problem) -> np.ndarray:
    """Client × client proximity (symmetric; +inf across depots and on the diagonal)."""
    clients = problem.clients
    locations = np.array([c.location for c in clients], dtype=np.int64)
    source = problem.distances if problem.objective == "distance" else problem.durations
    cost = source[:, locations][:, :, locations].astype(np.float64).min(axis=0)
    prox = cost.copy()
    early = np.array([c.tw_early for c in clients], dtype=np.float64)
    late = np.array([c.tw_late for c in clients], dtype=np.float64)
    timed = bool((early > 0).any() or (late < MAX_TIME).any())
    if timed:
        service = np.array([c.service for c in clients], dtype=np.float64)
        travel = problem.durations[:, locations][:, :, locations].astype(np.float64).min(axis=0)
        leave = early[:, None] + service[:, None] + travel  # earliest arrival at j from i
        wait = np.maximum(early[None, :] - (late[:, None] + service[:, None] + travel), 0.0)
        warp = np.maximum(leave - late[None, :], 0.0)
        prox += WAIT_WEIGHT * wait + WARP_WEIGHT * warp
    prox = np.minimum(prox, prox.T)
    depot = np.array([c.depot for c in clients], dtype=np.int64)
    prox[depot[:, None] != depot[None, :]] = np.inf
    np.fill_diagonal(prox, np.inf)
    return prox


def _nearest(prox: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` smallest finite entries, nearest first, -1 padded."""
    n = prox.shape[0]
    k = max(0, min(k, n - 1))
    out = np.full((n, max(k, 1)), -1, dtype=np.int64)
    if k == 0:
        return out
    part = np.argpartition(prox, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (n, 1))
    rows = np.arange(n)[:, None]
    order = np.argsort(prox[rows, part], axis=1, kind="stable")
    best = part[rows, order]
    finite = np.isfinite(prox[rows, best])
    out[:, :k] = np.where(finite, best, -1)
    # Keep the -1 padding at the end of each row.
    for i in range(n):
        row = out[i, :k]
        if (row < 0).any():
            kept = row[row >= 0]
            out[i, :k] = -1
            out[i, : kept.size] = kept
    return out


def build_neighbours(
    problem: Problem, *, granular: int, adjacency: int
) -> tuple[np.ndarray, np.ndarray]:
    """Granular neighbours (time-aware proximity) and plain nearest clients (string removals)."""
    if problem.n_clients == 0:
        empty = np.full((0, 1), -1, dtype=np.int64)
        return empty, empty
    prox = _proximity(problem)
    nb = _nearest(prox, granular)
    clients = problem.clients
    locations = np.array([c.location for c in clients], dtype=np.int64)
    source = problem.distances if problem.objective == "distance" else problem.durations
    cost = source[:, locations][:, :, locations].astype(np.float64).min(axis=0)
    cost = np.minimum(cost, cost.T)
    depot = np.array([c.depot for c in clients], dtype=np.int64)
    cost[depot[:, None] != depot[None, :]] = np.inf
    np.fill_diagonal(cost, np.inf)
    adj = _nearest(cost, adjacency)
    return nb, adj
