"""Recreate: greedy insertion with blinks (Christiaens & Vanden Berghe 2020).

Unassigned clients are sorted (randomly, by demand, far or close to the depot, or by deadline)
and each goes to its cheapest feasible position; each position is skipped with a small
probability (a *blink*) so that repeated recreates differ. An unused vehicle (one per type) is
always a candidate. With ``allow_infeasible`` a client that fits nowhere goes to the position of
least penalised cost (the local search and the repair then work on it) instead of staying out.
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numpy as np

from solver._core.arrays import (
    CV_TMP,
    F_BLINK,
    M_UN,
    MAT_COST,
    ND_GROUP,
    ND_TWL,
    P_BIGM,
    P_C,
    P_K,
    P_L,
    P_T,
    P_TIME,
    PS_TRIP,
    RT_COST,
    RT_LEN,
    RT_PEN,
    S_N_INS,
    S_NPC,
    VH_END,
    VH_FIXED,
    VH_GROUP,
    VH_MAXTRIPS,
    VH_PROF,
    VH_START,
    VH_TYPE,
)
from solver._core.route_eval import (
    NO_MOVE,
    add_piece,
    apply_move,
    cand_cost,
    cand_pen,
    unassign_drop,
)
from solver._jit import KERNEL_OPTIONS, kernel

# How a client joins a route: after a position, or as a new trip at the end or at the front.
AFTER, NEW_TRIP_END, NEW_TRIP_FRONT = 0, 1, 2


@kernel(**KERNEL_OPTIONS)
def _pieces(ctx, c, r, j, kind):
    """Candidate 0 := route ``r`` with client ``c`` inserted (``kind`` and position ``j``)."""
    n = ctx.rt[r, RT_LEN]
    ctx.wst[S_NPC] = 0
    if kind == AFTER:
        add_piece(ctx, 0, r, 1, j, 0)
        add_piece(ctx, 0, -1, c, c, 0)
        add_piece(ctx, 0, r, j + 1, n - 2, 0)
    elif kind == NEW_TRIP_END:
        add_piece(ctx, 0, r, 1, n - 2, 0)
        add_piece(ctx, 0, -1, ctx.vh[r, VH_START], ctx.vh[r, VH_START], 0)
        add_piece(ctx, 0, -1, c, c, 0)
    else:
        add_piece(ctx, 0, -1, c, c, 0)
        add_piece(ctx, 0, -1, ctx.vh[r, VH_START], ctx.vh[r, VH_START], 0)
        add_piece(ctx, 0, r, 1, n - 2, 0)


@kernel(**KERNEL_OPTIONS)
def _cand(ctx, c, r, j, kind):
    """(cost change, new penalty) of inserting ``c`` into ``r``; NO_MOVE cost if invalid."""
    _pieces(ctx, c, r, j, kind)
    cost = cand_cost(ctx, 0, r)
    if cost < 0:
        return NO_MOVE, NO_MOVE
    return cost - ctx.rt[r, RT_COST], cand_pen(ctx, 0, r)


@kernel(**KERNEL_OPTIONS)
def _first_unused(ctx, t):
    """The first unused vehicle of type ``t``, or -1."""
    first = ctx.ty[t, 0]
    for r in range(first, first + ctx.ty[t, 1]):
        if ctx.rt[r, RT_LEN] == 2:
            return r
    return -1


@kernel(**KERNEL_OPTIONS)
def insert_best(ctx, c, allow_infeasible):
    """Insert client ``c`` at its cheapest feasible position; True when it was inserted."""
    n_dims = ctx.prm[P_K]
    max_len = ctx.prm[P_L]
    timed = ctx.prm[P_TIME] != 0
    group = ctx.nd[c, ND_GROUP]
    blink = ctx.fv[0, F_BLINK]
    best = NO_MOVE
    best_r = -1
    best_j = 0
    best_kind = AFTER
    for r in range(ctx.rt.shape[0]):
        n = ctx.rt[r, RT_LEN]
        if n == 2 or ctx.vh[r, VH_GROUP] != group or n + 1 > max_len:
            continue
        prof = ctx.vh[r, VH_PROF]
        single = ctx.vh[r, VH_MAXTRIPS] == 1
        if single:
            fits = True
            for k in range(n_dims):
                if ctx.cuml[r, n - 1, k] + ctx.dem[c, k] > ctx.cap[r, k]:
                    fits = False
            if not fits:
                continue
        for j in range(n - 1):
            if blink > 0.0 and np.random.random() < blink:
                continue
            ctx.wst[S_N_INS] += 1
            a = ctx.node[r, j]
            b = ctx.node[r, j + 1]
            d = (
                ctx.mat[MAT_COST, prof, a, c]
                + ctx.mat[MAT_COST, prof, c, b]
                - ctx.mat[MAT_COST, prof, a, b]
            )
            if d >= best:
                continue
            if single:
                if timed:
                    _pieces(ctx, c, r, j, AFTER)
                    if cand_pen(ctx, 0, r) > ctx.rt[r, RT_PEN]:
                        continue
            else:
                d, p = _cand(ctx, c, r, j, AFTER)
                if d >= best or p > ctx.rt[r, RT_PEN]:
                    continue
            best = d
            best_r = r
            best_j = j
            best_kind = AFTER
        if not single and ctx.ps[r, n - 2, PS_TRIP] + 1 < ctx.vh[r, VH_MAXTRIPS]:
            for kind in (NEW_TRIP_END, NEW_TRIP_FRONT):
                d, p = _cand(ctx, c, r, 0, kind)
                if d < best and p <= ctx.rt[r, RT_PEN]:
                    best = d
                    best_r = r
                    best_j = 0
                    best_kind = kind
    n_types = ctx.prm[P_T]
    offset = np.random.randint(0, n_types)  # equal costs: no type always wins the tie
    for tt in range(n_types):
        t = tt + offset
        if t >= n_types:
            t -= n_types
        if ctx.vh[ctx.ty[t, 0], VH_GROUP] != group:
            continue
        r = _first_unused(ctx, t)
        if r < 0:
            continue
        prof = ctx.vh[r, VH_PROF]
        d = (
            ctx.mat[MAT_COST, prof, ctx.vh[r, VH_START], c]
            + ctx.mat[MAT_COST, prof, c, ctx.vh[r, VH_END]]
        )
        d += ctx.vh[r, VH_FIXED]
        if d >= best:
            continue
        d, p = _cand(ctx, c, r, 0, AFTER)
        if d < best and p == 0:
            best = d
            best_r = r
            best_j = 0
            best_kind = AFTER
    if best_r < 0 and allow_infeasible:
        for r in range(ctx.rt.shape[0]):
            n = ctx.rt[r, RT_LEN]
            if ctx.vh[r, VH_GROUP] != group or n + 1 > max_len:
                continue
            if n == 2 and _first_unused(ctx, ctx.vh[r, VH_TYPE]) != r:
                continue
            positions = n - 1
            for j in range(positions):
                d, p = _cand(ctx, c, r, j, AFTER)
                if d == NO_MOVE:
                    continue
                d += p - ctx.rt[r, RT_PEN]
                if d < best:
                    best = d
                    best_r = r
                    best_j = j
                    best_kind = AFTER
        if best >= ctx.prm[P_BIGM]:
            best_r = -1
    if best_r < 0:
        return False
    _pieces(ctx, c, best_r, best_j, best_kind)
    if cand_cost(ctx, 0, best_r) < 0:
        return False
    apply_move(ctx, best_r, -1)
    unassign_drop(ctx, c)
    return True


@kernel(**KERNEL_OPTIONS)
def sort_unassigned(ctx):
    """Copy the unassigned clients to ``ctx.cv[CV_TMP]`` in one of SISR's orders; returns n."""
    n_clients = ctx.prm[P_C]
    n_dims = ctx.prm[P_K]
    n = ctx.misc[M_UN]
    timed = ctx.prm[P_TIME] != 0
    draw = np.random.random() * (13.0 if timed else 11.0)
    keys = ctx.fv[1]
    for s in range(n):
        c = ctx.un[s]
        depot = n_clients + ctx.nd[c, ND_GROUP]
        if draw < 4.0:
            keys[s] = np.random.random()
        elif draw < 8.0:
            total = 0.0
            for k in range(n_dims):
                total += ctx.dem[c, k] / (1.0 + ctx.cap[0, k])
            keys[s] = -total
        elif draw < 10.0:
            keys[s] = -float(ctx.mat[MAT_COST, 0, depot, c])
        elif draw < 11.0:
            keys[s] = float(ctx.mat[MAT_COST, 0, depot, c])
        else:
            keys[s] = float(ctx.nd[c, ND_TWL])
    # A stable insertion sort: few clients at a time, and no numpy sort to compile.
    out = ctx.cv[CV_TMP]
    for s in range(n):
        key = keys[s]
        c = ctx.un[s]
        q = s
        while q > 0 and keys[q - 1] > key:
            keys[q] = keys[q - 1]
            out[q] = out[q - 1]
            q -= 1
        keys[q] = key
        out[q] = c
    return n


@kernel(**KERNEL_OPTIONS)
def recreate(ctx, allow_infeasible):
    """Insert the unassigned clients greedily; returns how many remain unassigned."""
    n = sort_unassigned(ctx)
    for s in range(n):
        insert_best(ctx, ctx.cv[CV_TMP, s], allow_infeasible)
    return ctx.misc[M_UN]
