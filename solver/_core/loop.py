"""The main loop: ruin and recreate, local search, repair, simulated annealing, best so far.

One iteration ruins the current solution (SISR strings), recreates it (greedy with blinks),
descends with the granular local search under penalised infeasibility, repairs what is still
infeasible (the local search again with 10× penalties, then taking out offending clients), and
accepts the result by simulated annealing on ``cost + BIGM × unassigned``. The current and the
best solutions are always feasible; the routes an iteration changed are saved first, so a
rejected candidate is undone in O(changed routes). Penalty weights adapt so that about
``F_TARGET`` of the local search results are feasible without repair (Vidal et al. 2012).
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numpy as np

from solver._core.arrays import (
    CL_POS,
    CL_ROUTE,
    CV_BAKUN,
    CV_BESTUN,
    CV_MARK,
    F_P0,
    F_P1,
    F_T0,
    F_TARGET,
    F_TF,
    M_COUNTER,
    M_UN,
    P_BIGM,
    P_C,
    P_K,
    PENALTY_MAX,
    RT_EXC,
    RT_LEN,
    RT_STAMP,
    RT_TW,
    RV_BAKLEN,
    RV_BESTLEN,
    RV_DIRTY,
    RV_DLIST,
    RV_RLIST,
    S_BAK_UN,
    S_BEST_ITER,
    S_BEST_OBJ,
    S_BEST_UN,
    S_CUR_OBJ,
    S_FEAS_LOAD,
    S_FEAS_TW,
    S_ITER,
    S_LS_RUNS,
    S_MAX_ITER,
    S_NDIRTY,
    S_NPC,
    SNAP_BAK,
    SNAP_BEST,
)
from solver._core.local_search import activate_all, local_search, try_replace
from solver._core.recreate import recreate
from solver._core.route_eval import (
    activate,
    add_piece,
    cand_cost,
    cand_pen,
    refresh_penalties,
    remove_marked,
    total_cost,
    update_route,
)
from solver._core.ruin import ruin
from solver._jit import ENTRY_OPTIONS, KERNEL_OPTIONS, kernel

#: How often (local search runs) the penalty weights adapt, and by how much.
PENALTY_PERIOD = 50
PENALTY_UP = 1.25
PENALTY_DOWN = 0.85
REPAIR_FACTOR = 10


@kernel(**KERNEL_OPTIONS)
def objective(ctx):
    """Cost plus BIGM per unassigned client (the lexicographic objective of the search)."""
    cost, _pen = total_cost(ctx)
    return cost + ctx.prm[P_BIGM] * ctx.misc[M_UN]


@kernel(**KERNEL_OPTIONS)
def _route_infeasible(ctx, r):
    bad = ctx.rt[r, RT_TW] > 0
    for k in range(ctx.prm[P_K]):
        bad = bad or ctx.rt[r, RT_EXC + k] > 0
    return bad


@kernel(**KERNEL_OPTIONS)
def _routes_to_check(ctx, everything):
    """The routes that may be infeasible: the dirty ones, or all of them."""
    if everything:
        n = 0
        for r in range(ctx.rt.shape[0]):
            if ctx.rt[r, RT_LEN] > 2:
                ctx.rv[RV_RLIST, n] = r
                n += 1
        return n
    n = ctx.wst[S_NDIRTY]
    for s in range(n):
        ctx.rv[RV_RLIST, s] = ctx.rv[RV_DLIST, s]
    return n


@kernel(**KERNEL_OPTIONS)
def feasibility(ctx, everything):
    """(load feasible, time feasible) over the routes that may have changed."""
    load_ok = True
    time_ok = True
    for s in range(_routes_to_check(ctx, everything)):
        r = ctx.rv[RV_RLIST, s]
        if ctx.rt[r, RT_LEN] <= 2:
            continue
        if ctx.rt[r, RT_TW] > 0:
            time_ok = False
        for k in range(ctx.prm[P_K]):
            if ctx.rt[r, RT_EXC + k] > 0:
                load_ok = False
    return load_ok, time_ok


@kernel(**KERNEL_OPTIONS)
def strip_infeasible(ctx, r):
    """Take clients out of route ``r`` until it is feasible (least penalty left, then cost)."""
    n_clients = ctx.prm[P_C]
    while ctx.rt[r, RT_LEN] > 2 and _route_infeasible(ctx, r):
        n = ctx.rt[r, RT_LEN]
        best_pen = -1
        best_cost = 0
        best_q = -1
        for q in range(1, n - 1):
            if ctx.node[r, q] >= n_clients:
                continue
            ctx.wst[S_NPC] = 0
            add_piece(ctx, 0, r, 1, q - 1, 0)
            add_piece(ctx, 0, r, q + 1, n - 2, 0)
            cost = cand_cost(ctx, 0, r)
            if cost < 0:
                continue
            pen = cand_pen(ctx, 0, r)
            if best_q < 0 or pen < best_pen or (pen == best_pen and cost < best_cost):
                best_pen = pen
                best_cost = cost
                best_q = q
        if best_q < 0:
            best_q = 1
            while ctx.node[r, best_q] >= n_clients:
                best_q += 1
        ctx.cv[CV_MARK, ctx.node[r, best_q]] = 1
        remove_marked(ctx, r)


@kernel(**KERNEL_OPTIONS)
def adapt_penalties(ctx):
    """Every PENALTY_PERIOD local searches, steer the share of feasible results to F_TARGET."""
    runs = ctx.wst[S_LS_RUNS]
    if runs < PENALTY_PERIOD:
        return
    n_dims = ctx.prm[P_K]
    target = ctx.fv[0, F_TARGET]
    for which in range(2):
        share = ctx.wst[S_FEAS_LOAD if which == 0 else S_FEAS_TW] / runs
        for k in range(n_dims + 1):
            if (which == 0) != (k < n_dims):
                continue
            weight = ctx.pen[k]
            if share < target - 0.05:
                weight = max(weight + 1, int(weight * PENALTY_UP))
            elif share > target + 0.05:
                weight = max(1, int(weight * PENALTY_DOWN))
            ctx.pen[k] = min(weight, PENALTY_MAX)
    ctx.wst[S_LS_RUNS] = 0
    ctx.wst[S_FEAS_LOAD] = 0
    ctx.wst[S_FEAS_TW] = 0
    refresh_penalties(ctx)


@kernel(**KERNEL_OPTIONS)
def save_best(ctx):
    """Copy the current solution to the best-so-far slots."""
    for r in range(ctx.rt.shape[0]):
        n = ctx.rt[r, RT_LEN]
        ctx.rv[RV_BESTLEN, r] = n
        for q in range(n):
            ctx.snap[SNAP_BEST, r, q] = ctx.node[r, q]
    n = ctx.misc[M_UN]
    for s in range(n):
        ctx.cv[CV_BESTUN, s] = ctx.un[s]
    ctx.wst[S_BEST_UN] = n


@kernel(**KERNEL_OPTIONS)
def begin_iteration(ctx):
    """Forget the previous iteration's saved routes; save the unassigned list."""
    for s in range(ctx.wst[S_NDIRTY]):
        ctx.rv[RV_DIRTY, ctx.rv[RV_DLIST, s]] = 0
    ctx.wst[S_NDIRTY] = 0
    n = ctx.misc[M_UN]
    for s in range(n):
        ctx.cv[CV_BAKUN, s] = ctx.un[s]
    ctx.wst[S_BAK_UN] = n


@kernel(**KERNEL_OPTIONS)
def undo_iteration(ctx):
    """Restore the routes and the unassigned list saved since ``begin_iteration``."""
    for s in range(ctx.wst[S_NDIRTY]):
        r = ctx.rv[RV_DLIST, s]
        n = ctx.rv[RV_BAKLEN, r]
        for q in range(n):
            ctx.node[r, q] = ctx.snap[SNAP_BAK, r, q]
        ctx.rt[r, RT_LEN] = n
        ctx.misc[M_COUNTER] += 1
        ctx.rt[r, RT_STAMP] = ctx.misc[M_COUNTER]
        update_route(ctx, r)
    n = ctx.wst[S_BAK_UN]
    for s in range(n):
        c = ctx.cv[CV_BAKUN, s]
        ctx.un[s] = c
        ctx.cl[c, CL_ROUTE] = -1
        ctx.cl[c, CL_POS] = -1
    ctx.misc[M_UN] = n


@kernel(**ENTRY_OPTIONS)
def run(ctx, n_iter, seed, init):
    """The search's one entry point: the initial solution (``init``), or ``n_iter`` iterations.

    ``init`` seeds the RNG with ``seed``, inserts every client greedily, descends and repairs:
    the first current and best solution. Otherwise each iteration ruins, recreates, descends,
    repairs and accepts or undoes; the temperature follows ``wk.fv[0]`` (the progress by
    iterations when S_MAX_ITER is set, else the time progress the caller estimated). One
    kernel on purpose: each separately compiled kernel re-optimises all the kernels it calls.
    """
    t0 = ctx.fv[0, F_T0]
    tf = ctx.fv[0, F_TF]
    max_iter = ctx.wst[S_MAX_ITER]
    n_pen = ctx.prm[P_K] + 1
    if init:
        np.random.seed(seed)
        n_iter = 1
    for step in range(n_iter):
        begin_iteration(ctx)
        if not init:
            ruin(ctx)
        recreate(ctx, True)
        if init:
            activate_all(ctx)
        local_search(ctx)
        load_ok, time_ok = feasibility(ctx, init)
        if not init:
            ctx.wst[S_LS_RUNS] += 1
            ctx.wst[S_FEAS_LOAD] += 1 if load_ok else 0
            ctx.wst[S_FEAS_TW] += 1 if time_ok else 0
        if not (load_ok and time_ok):
            # Repair: the local search with 10x penalties, the infeasible routes marked as
            # changed so it re-examines them at the new prices.
            for k in range(n_pen):
                ctx.pen[k] *= REPAIR_FACTOR
            refresh_penalties(ctx)
            ctx.misc[M_COUNTER] += 1
            for s in range(_routes_to_check(ctx, init)):
                r = ctx.rv[RV_RLIST, s]
                if _route_infeasible(ctx, r):
                    ctx.rt[r, RT_STAMP] = ctx.misc[M_COUNTER]
                    for q in range(1, ctx.rt[r, RT_LEN] - 1):
                        activate(ctx, ctx.node[r, q])
            local_search(ctx)
            for k in range(n_pen):
                ctx.pen[k] //= REPAIR_FACTOR
            refresh_penalties(ctx)
            load_ok, time_ok = feasibility(ctx, init)
            if not (load_ok and time_ok):
                # Still infeasible: take clients out, then put back those that fit.
                for s in range(_routes_to_check(ctx, init)):
                    r = ctx.rv[RV_RLIST, s]
                    if _route_infeasible(ctx, r):
                        strip_infeasible(ctx, r)
                recreate(ctx, False)
                if ctx.misc[M_UN] > 0:
                    try_replace(ctx)
        obj = objective(ctx)
        if init:
            ctx.wst[S_CUR_OBJ] = obj
            ctx.wst[S_BEST_OBJ] = obj
            ctx.wst[S_BEST_ITER] = 0
            save_best(ctx)
            break
        if max_iter > 0:
            progress = ctx.wst[S_ITER] / max_iter
        else:
            progress = ctx.fv[0, F_P0] + (ctx.fv[0, F_P1] - ctx.fv[0, F_P0]) * step / n_iter
        if progress > 1.0:
            progress = 1.0
        temperature = t0 * (tf / t0) ** progress
        threshold = ctx.wst[S_CUR_OBJ] - temperature * np.log(1.0 - np.random.random())
        if obj < ctx.wst[S_BEST_OBJ]:
            ctx.wst[S_BEST_OBJ] = obj
            ctx.wst[S_BEST_ITER] = ctx.wst[S_ITER]
            save_best(ctx)
        if obj < threshold:
            ctx.wst[S_CUR_OBJ] = obj
        else:
            undo_iteration(ctx)
        adapt_penalties(ctx)
        ctx.wst[S_ITER] += 1
    begin_iteration(ctx)
    return ctx.wst[S_BEST_OBJ]
