"""Granular local search with first improvement (Vidal et al. 2013; Vidal 2022).

Each active client ``u`` is tried with its granular neighbours ``v`` only; a client is active
when an arc next to it changed (see ``local_search``). Moves are relocations of
strings of 1–3 clients (also reversed), swaps of strings (1–2 each), 2-opt inside a route and
2-opt* between routes; reload depots of multi-trip vehicles are added, removed and moved too.
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numpy as np

from solver._core.arrays import (
    CL_POS,
    CL_ROUTE,
    CV_ACTIVE,
    CV_ORDER,
    CV_QUEUE,
    M_COUNTER,
    M_UN,
    ND_GROUP,
    P_C,
    P_MULTI,
    P_NB,
    P_T,
    PS_TRIP,
    RT_LEN,
    RT_PEN,
    RT_STAMP,
    RV_TRIPTEST,
    S_N_PAIR,
    S_N_PASS,
    S_QCOUNT,
    S_QHEAD,
    VH_GROUP,
    VH_MAXTRIPS,
    VH_TYPE,
)
from solver._core.operators import (
    clients_only,
    insert_reload_eval,
    move_reload_eval,
    move_route_eval,
    relocate_bound,
    relocate_eval,
    remove_reload_eval,
    replace_eval,
    swap_bound,
    swap_eval,
    two_opt_bound,
    two_opt_eval,
    two_opt_star_bound,
    two_opt_star_eval,
)
from solver._core.route_eval import (
    activate,
    apply_move,
    cand_pen,
    unassign_drop,
    unassign_push,
)
from solver._jit import KERNEL_OPTIONS, kernel


@kernel(**KERNEL_OPTIONS)
def _done(ctx, delta, ru, rv):
    """Apply the move just evaluated if it improves."""
    if delta >= 0:
        return False
    return apply_move(ctx, ru, rv if rv != ru else -1)


@kernel(**KERNEL_OPTIONS)
def try_pair(ctx, u, v):
    """Try the moves that bring ``u`` next to its neighbour ``v``; apply the first improving.

    Each move is first bounded in O(1) (``*_bound``) and evaluated in full only if it may improve.
    """
    ru = ctx.cl[u, CL_ROUTE]
    i = ctx.cl[u, CL_POS]
    rv = ctx.cl[v, CL_ROUTE]
    j = ctx.cl[v, CL_POS]
    # u (and the 1-2 clients after it, maybe reversed) after v, then before v.
    for after in range(2):
        jj = j if after == 0 else j - 1
        for m in range(1, 4):
            if not clients_only(ctx, ru, i, m):
                break
            if ru == rv and i - 1 <= jj <= i + m - 1:
                continue
            for rev in range(2 if m > 1 else 1):
                if relocate_bound(ctx, ru, i, m, rev, rv, jj) >= 0:
                    continue
                d = relocate_eval(ctx, ru, i, m, rev, rv, jj, False)
                if _done(ctx, d, ru, rv):
                    return True
    # Swaps of strings of 1-2 clients.
    for m1 in range(1, 3):
        if not clients_only(ctx, ru, i, m1):
            break
        for m2 in range(1, 3):
            if not clients_only(ctx, rv, j, m2):
                break
            if swap_bound(ctx, ru, i, m1, rv, j, m2) >= 0:
                continue
            d = swap_eval(ctx, ru, i, m1, rv, j, m2, False)
            if _done(ctx, d, ru, rv):
                return True
    if ru != rv:
        for jj in range(j, j - 2, -1):
            if two_opt_star_bound(ctx, ru, i, rv, jj) >= 0:
                continue
            d = two_opt_star_eval(ctx, ru, i, rv, jj, False)
            if _done(ctx, d, ru, rv):
                return True
    else:
        a = i if i < j else j - 1
        b = j if i < j else i - 1
        if b >= a + 2 and two_opt_bound(ctx, ru, a, b) < 0:
            d = two_opt_eval(ctx, ru, a, b, False)
            if _done(ctx, d, ru, ru):
                return True
    return False


@kernel(**KERNEL_OPTIONS)
def try_empty(ctx, u):
    """Move ``u`` alone, or its whole route, to an unused vehicle (one per compatible type).

    Handing a whole route to a vehicle of another type (larger, cheaper, more trips) is the
    move that lets a heterogeneous fleet change which bikes ride.
    """
    ru = ctx.cl[u, CL_ROUTE]
    group = ctx.nd[u, ND_GROUP]
    for t in range(ctx.prm[P_T]):
        first = ctx.ty[t, 0]
        if ctx.vh[first, VH_GROUP] != group:
            continue
        for r in range(first, first + ctx.ty[t, 1]):
            if ctx.rt[r, RT_LEN] == 2:
                d = relocate_eval(ctx, ru, ctx.cl[u, CL_POS], 1, 0, r, 0, False)
                if _done(ctx, d, ru, r):
                    return True
                if ctx.vh[r, VH_TYPE] != ctx.vh[ru, VH_TYPE]:
                    d = move_route_eval(ctx, ru, r, False)
                    if _done(ctx, d, ru, r):
                        return True
                break
    return False


@kernel(**KERNEL_OPTIONS)
def trip_moves(ctx, r):
    """Remove, add or move the reload depots of multi-trip route ``r``; apply one improving."""
    n_clients = ctx.prm[P_C]
    n = ctx.rt[r, RT_LEN]
    for i in range(1, n - 1):
        if ctx.node[r, i] >= n_clients:
            d = remove_reload_eval(ctx, r, i, False)
            if _done(ctx, d, r, r):
                return True
            for j in range(1, n - 2):
                d = move_reload_eval(ctx, r, i, j, False)
                if _done(ctx, d, r, r):
                    return True
    if ctx.ps[r, n - 2, PS_TRIP] + 1 < ctx.vh[r, VH_MAXTRIPS]:
        for j in range(1, n - 2):
            d = insert_reload_eval(ctx, r, j, False)
            if _done(ctx, d, r, r):
                return True
    return False


@kernel(**KERNEL_OPTIONS)
def try_replace(ctx):
    """Route an unassigned client in place of a routed neighbour when that is cheaper.

    The number of unassigned clients stays the same, so this only matters when the fleet is
    too small: it chooses *which* clients stay out.
    """
    improved = False
    s = 0
    while s < ctx.misc[M_UN]:
        c = ctx.un[s]
        swapped = False
        for t in range(ctx.prm[P_NB]):
            v = ctx.near[c, t]
            if v < 0:
                break
            r = ctx.cl[v, CL_ROUTE]
            if r < 0:
                continue
            if replace_eval(ctx, c, r, ctx.cl[v, CL_POS], False) >= 0:
                continue
            # Never trade a client for a violation: the repair relies on this move too.
            if cand_pen(ctx, 0, r) > ctx.rt[r, RT_PEN]:
                continue
            if apply_move(ctx, r, -1):
                unassign_drop(ctx, c)
                unassign_push(ctx, v)
                improved = True
                swapped = True
                break
        if not swapped:
            s += 1
    return improved


@kernel(**KERNEL_OPTIONS)
def activate_all(ctx):
    """Queue every routed client, in random order (a full descent)."""
    order = ctx.cv[CV_ORDER]
    np.random.shuffle(order)
    for idx in range(ctx.prm[P_C]):
        u = order[idx]
        if ctx.cl[u, CL_ROUTE] >= 0:
            activate(ctx, u)


@kernel(**KERNEL_OPTIONS)
def local_search(ctx):
    """Descend to a local optimum around the queued clients; returns the moves applied.

    Only queued (*active*) clients are tried with their neighbours, and a move queues the
    clients at the ends of the arcs it changed: after a ruin and recreate, the search works
    where the solution changed, in time proportional to that (Accorsi & Vigo 2021, selective
    vertex caching), not to the size of the instance.
    """
    n_clients = ctx.prm[P_C]
    n_nb = ctx.prm[P_NB]
    moves = 0
    while True:
        while ctx.wst[S_QCOUNT] > 0:
            head = ctx.wst[S_QHEAD]
            u = ctx.cv[CV_QUEUE, head]
            head += 1
            ctx.wst[S_QHEAD] = head if head < n_clients else 0
            ctx.wst[S_QCOUNT] -= 1
            ctx.cv[CV_ACTIVE, u] = 0
            if ctx.cl[u, CL_ROUTE] < 0:
                continue
            ctx.wst[S_N_PASS] += 1
            for t in range(n_nb):
                v = ctx.near[u, t]
                if v < 0:
                    break
                if ctx.cl[v, CL_ROUTE] < 0 or ctx.cl[u, CL_ROUTE] < 0:
                    continue
                ctx.wst[S_N_PAIR] += 1
                if try_pair(ctx, u, v):
                    moves += 1
            if ctx.cl[u, CL_ROUTE] >= 0 and try_empty(ctx, u):
                moves += 1
        improved = False
        if ctx.prm[P_MULTI]:
            for r in range(ctx.rt.shape[0]):
                if (
                    ctx.rt[r, RT_LEN] > 3
                    and ctx.vh[r, VH_MAXTRIPS] > 1
                    and ctx.rt[r, RT_STAMP] > ctx.rv[RV_TRIPTEST, r]
                ):
                    ctx.rv[RV_TRIPTEST, r] = ctx.misc[M_COUNTER]
                    while trip_moves(ctx, r):
                        improved = True
                        moves += 1
        if ctx.misc[M_UN] > 0 and try_replace(ctx):
            improved = True
        if not improved:
            return moves
