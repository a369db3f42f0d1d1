"""Route evaluation: cost, load excess and time warp of routes and of candidate routes.

Time uses the segment algebra of Vidal et al. (2013): a segment (duration, time warp, earliest
start, latest start) summarises a sequence of visits, and two segments concatenate in O(1).
Each route keeps the segments of its prefixes and suffixes, so a move that glues a prefix, a few
nodes and a suffix is evaluated in O(1). A depot visit is a segment too: the start depot's
earliest start is the shift start, the depot's opening and the trip's latest release; a reload
(multi-trip) waits for the next trip's release; the end depot's latest start is the shift end.

A candidate route is a list of *pieces* (``Work.pcs``): ranges of positions of existing routes,
maybe reversed, or single free nodes. Single-trip vehicles are evaluated from the pieces in
O(pieces); multi-trip vehicles (short cargo-bike routes) are materialised and re-evaluated in
O(length), which also handles the trips' release times exactly.
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from solver._core.arrays import (
    BUF_TREL,
    CL_POS,
    CL_ROUTE,
    CV_ACTIVE,
    CV_MARK,
    CV_QUEUE,
    INF,
    KV_EXC,
    KV_LOAD,
    M_COUNTER,
    M_UN,
    MAT_COST,
    MAT_DUR,
    ND_REL,
    ND_SERVICE,
    ND_TWE,
    ND_TWL,
    P_C,
    P_K,
    P_L,
    P_TIME,
    PENALTY_CAP,
    PENALTY_UNIT,
    PS_BD,
    PS_BE,
    PS_BL,
    PS_BREL,
    PS_BTW,
    PS_CUMC,
    PS_FD,
    PS_FE,
    PS_FL,
    PS_FREL,
    PS_FTW,
    PS_RCUM,
    PS_TRIP,
    RT_COST,
    RT_EXC,
    RT_LEN,
    RT_PEN,
    RT_STAMP,
    RT_TW,
    RV_BAKLEN,
    RV_DIRTY,
    RV_DLIST,
    S_BLEN,
    S_N_EVAL,
    S_NDIRTY,
    S_NPC,
    S_QCOUNT,
    S_QHEAD,
    SNAP_BAK,
    VH_END,
    VH_FIXED,
    VH_MAXTRIPS,
    VH_PROF,
    VH_RELOAD,
    VH_SE,
    VH_SS,
    VH_START,
)
from solver._jit import KERNEL_OPTIONS, kernel

#: "No candidate": returned by evaluations of invalid or pruned moves.
NO_MOVE = 1 << 62


@kernel(**KERNEL_OPTIONS)
def merge(d1, t1, e1, l1, d2, t2, e2, l2, travel):
    """Concatenate two time segments joined by a leg of ``travel`` (Vidal et al. 2013)."""
    delta = d1 - t1 + travel
    wait = e2 - delta - l1
    if wait < 0:
        wait = 0
    warp = e1 + delta - l2
    if warp < 0:
        warp = 0
    early = e2 - delta
    if e1 > early:
        early = e1
    late = l2 - delta
    if l1 < late:
        late = l1
    return d1 + d2 + travel + wait, t1 + t2 + warp, early - wait, late + warp


@kernel(**KERNEL_OPTIONS)
def start_seg(ctx, v, rel):
    """The start depot: leave at the shift start, opening and latest release, whichever last."""
    early = ctx.vh[v, VH_SS]
    opens = ctx.nd[ctx.vh[v, VH_START], ND_TWE]
    if opens > early:
        early = opens
    if rel > early:
        early = rel
    return 0, 0, early, INF


@kernel(**KERNEL_OPTIONS)
def reload_seg(ctx, v, rel):
    """A reload: arrive by the shift end and closing, reload, leave once the trip is released."""
    depot = ctx.vh[v, VH_START]
    arrive_by = ctx.vh[v, VH_SE]
    if ctx.nd[depot, ND_TWL] < arrive_by:
        arrive_by = ctx.nd[depot, ND_TWL]
    ready = ctx.nd[depot, ND_TWE]
    if rel > ready:
        ready = rel
    reload = ctx.vh[v, VH_RELOAD]
    return merge(0, 0, 0, arrive_by, reload, 0, ready - reload, INF, 0)


@kernel(**KERNEL_OPTIONS)
def end_seg(ctx, v):
    """The end depot: arrive by the shift end and the depot's closing."""
    late = ctx.vh[v, VH_SE]
    close = ctx.nd[ctx.vh[v, VH_END], ND_TWL]
    if close < late:
        late = close
    return 0, 0, 0, late


@kernel(**KERNEL_OPTIONS)
def penalty(ctx, pen, exc, tw):
    """Penalty of load excess ``exc`` (per dimension) and time warp ``tw`` at weights ``pen``."""
    n_dims = ctx.prm[P_K]
    total = 0
    for k in range(n_dims):
        x = exc[k]
        if x > PENALTY_CAP:
            x = PENALTY_CAP
        total += pen[k] * x
    if tw > PENALTY_CAP:
        tw = PENALTY_CAP
    # Rounded up: any violation costs at least 1, so "penalty 0" means "feasible".
    return (total + pen[n_dims] * tw + PENALTY_UNIT - 1) // PENALTY_UNIT


@kernel(**KERNEL_OPTIONS)
def seq_eval(ctx, v, seq, n):
    """Arc cost and time warp of the full node sequence ``seq[:n]`` on vehicle ``v``.

    Writes the load excess (summed over trips) into ``ctx.kv[KV_EXC]``. O(n); handles reloads
    and the release time of every trip.
    """
    n_clients = ctx.prm[P_C]
    n_dims = ctx.prm[P_K]
    prof = ctx.vh[v, VH_PROF]
    exc = ctx.kv[KV_EXC]
    load = ctx.kv[KV_LOAD]
    for k in range(n_dims):
        exc[k] = 0
        load[k] = 0
    arcs = 0
    for q in range(1, n):
        b = seq[q]
        arcs += ctx.mat[MAT_COST, prof, seq[q - 1], b]
        if b >= n_clients:
            for k in range(n_dims):
                x = load[k] - ctx.cap[v, k]
                if x > 0:
                    exc[k] += x
                load[k] = 0
        else:
            for k in range(n_dims):
                load[k] += ctx.dem[b, k]
    if ctx.prm[P_TIME] == 0:
        return arcs, 0
    trel = ctx.buf[BUF_TREL]
    rel = 0
    for q in range(n - 1, -1, -1):
        b = seq[q]
        if b >= n_clients:
            trel[q] = rel
            rel = 0
        elif ctx.nd[b, ND_REL] > rel:
            rel = ctx.nd[b, ND_REL]
    d, t, e, late = start_seg(ctx, v, trel[0])
    for q in range(1, n):
        b = seq[q]
        travel = ctx.mat[MAT_DUR, prof, seq[q - 1], b]
        if q == n - 1:
            d2, t2, e2, l2 = end_seg(ctx, v)
        elif b >= n_clients:
            d2, t2, e2, l2 = reload_seg(ctx, v, trel[q])
        else:
            d2, t2, e2, l2 = ctx.nd[b, ND_SERVICE], 0, ctx.nd[b, ND_TWE], ctx.nd[b, ND_TWL]
        d, t, e, late = merge(d, t, e, late, d2, t2, e2, l2, travel)
    return arcs, t


@kernel(**KERNEL_OPTIONS)
def update_route(ctx, r):
    """Recompute every derived array of route ``r`` (and where its clients are). O(length)."""
    n_clients = ctx.prm[P_C]
    n_dims = ctx.prm[P_K]
    n = ctx.rt[r, RT_LEN]
    prof = ctx.vh[r, VH_PROF]
    node = ctx.node[r]
    ps = ctx.ps[r]
    cuml = ctx.cuml[r]
    nd = ctx.nd
    ps[0, PS_CUMC] = 0
    ps[0, PS_RCUM] = 0
    ps[0, PS_TRIP] = 0
    ps[0, PS_FREL] = 0
    for k in range(n_dims):
        cuml[0, k] = 0
    for q in range(1, n):
        a = node[q - 1]
        b = node[q]
        ps[q, PS_CUMC] = ps[q - 1, PS_CUMC] + ctx.mat[MAT_COST, prof, a, b]
        ps[q, PS_RCUM] = ps[q - 1, PS_RCUM] + ctx.mat[MAT_COST, prof, b, a]
        for k in range(n_dims):
            cuml[q, k] = cuml[q - 1, k] + ctx.dem[b, k]
        if b < n_clients:
            ctx.cl[b, CL_ROUTE] = r
            ctx.cl[b, CL_POS] = q
            ps[q, PS_TRIP] = ps[q - 1, PS_TRIP]
            rel = nd[b, ND_REL]
            ps[q, PS_FREL] = rel if rel > ps[q - 1, PS_FREL] else ps[q - 1, PS_FREL]
        else:
            ps[q, PS_TRIP] = ps[q - 1, PS_TRIP] + (1 if q < n - 1 else 0)
            ps[q, PS_FREL] = ps[q - 1, PS_FREL]
    timed = ctx.prm[P_TIME] != 0
    if timed and n > 2:
        b = node[1]
        d, t, e, late = nd[b, ND_SERVICE], 0, nd[b, ND_TWE], nd[b, ND_TWL]
        ps[1, PS_FD], ps[1, PS_FTW], ps[1, PS_FE], ps[1, PS_FL] = d, t, e, late
        for q in range(2, n - 1):
            b = node[q]
            d, t, e, late = merge(
                d,
                t,
                e,
                late,
                nd[b, ND_SERVICE],
                0,
                nd[b, ND_TWE],
                nd[b, ND_TWL],
                ctx.mat[MAT_DUR, prof, node[q - 1], b],
            )
            ps[q, PS_FD], ps[q, PS_FTW], ps[q, PS_FE], ps[q, PS_FL] = d, t, e, late
        b = node[n - 2]
        d, t, e, late = nd[b, ND_SERVICE], 0, nd[b, ND_TWE], nd[b, ND_TWL]
        ps[n - 2, PS_BD], ps[n - 2, PS_BTW], ps[n - 2, PS_BE], ps[n - 2, PS_BL] = d, t, e, late
        for q in range(n - 3, 0, -1):
            b = node[q]
            d, t, e, late = merge(
                nd[b, ND_SERVICE],
                0,
                nd[b, ND_TWE],
                nd[b, ND_TWL],
                d,
                t,
                e,
                late,
                ctx.mat[MAT_DUR, prof, b, node[q + 1]],
            )
            ps[q, PS_BD], ps[q, PS_BTW], ps[q, PS_BE], ps[q, PS_BL] = d, t, e, late
    ps[n - 1, PS_BREL] = 0
    for q in range(n - 2, 0, -1):
        b = node[q]
        rel = nd[b, ND_REL] if b < n_clients else 0
        ps[q, PS_BREL] = rel if rel > ps[q + 1, PS_BREL] else ps[q + 1, PS_BREL]

    if n == 2:
        ctx.rt[r, RT_COST] = 0
        ctx.rt[r, RT_TW] = 0
        ctx.rt[r, RT_PEN] = 0
        for k in range(n_dims):
            ctx.rt[r, RT_EXC + k] = 0
        return
    ctx.rt[r, RT_COST] = ctx.vh[r, VH_FIXED] + ps[n - 1, PS_CUMC]
    exc = ctx.kv[KV_EXC]
    tw = 0
    if ctx.vh[r, VH_MAXTRIPS] == 1:
        for k in range(n_dims):
            x = cuml[n - 1, k] - ctx.cap[r, k]
            exc[k] = x if x > 0 else 0
        if timed:
            d, t, e, late = start_seg(ctx, r, ps[n - 2, PS_FREL])
            d, t, e, late = merge(
                d,
                t,
                e,
                late,
                ps[n - 2, PS_FD],
                ps[n - 2, PS_FTW],
                ps[n - 2, PS_FE],
                ps[n - 2, PS_FL],
                ctx.mat[MAT_DUR, prof, node[0], node[1]],
            )
            d2, t2, e2, l2 = end_seg(ctx, r)
            d, t, e, late = merge(
                d, t, e, late, d2, t2, e2, l2, ctx.mat[MAT_DUR, prof, node[n - 2], node[n - 1]]
            )
            tw = t
    else:
        _arcs, tw = seq_eval(ctx, r, node, n)
    for k in range(n_dims):
        ctx.rt[r, RT_EXC + k] = exc[k]
    ctx.rt[r, RT_TW] = tw
    ctx.rt[r, RT_PEN] = penalty(ctx, ctx.pen, exc, tw)


@kernel(**KERNEL_OPTIONS)
def refresh_penalties(ctx):
    """Re-price every route's excess and time warp after the penalty weights changed."""
    n_dims = ctx.prm[P_K]
    for r in range(ctx.rt.shape[0]):
        if ctx.rt[r, RT_LEN] > 2:
            ctx.rt[r, RT_PEN] = penalty(
                ctx, ctx.pen, ctx.rt[r, RT_EXC : RT_EXC + n_dims], ctx.rt[r, RT_TW]
            )


@kernel(**KERNEL_OPTIONS)
def touch(ctx, r):
    """Save route ``r`` before its first change in this iteration (to undo a rejected one)."""
    if ctx.rv[RV_DIRTY, r]:
        return
    ctx.rv[RV_DIRTY, r] = 1
    ctx.rv[RV_DLIST, ctx.wst[S_NDIRTY]] = r
    ctx.wst[S_NDIRTY] += 1
    n = ctx.rt[r, RT_LEN]
    ctx.rv[RV_BAKLEN, r] = n
    for q in range(n):
        ctx.snap[SNAP_BAK, r, q] = ctx.node[r, q]


@kernel(**KERNEL_OPTIONS)
def materialize(ctx, slot, v):
    """Write the candidate route of pieces ``slot`` for vehicle ``v`` into ``ctx.buf[slot]``.

    Empty trips are dropped (a reload right after a depot, or right before the end). Returns the
    length, or -1 when the route would exceed the maximum length.
    """
    n_clients = ctx.prm[P_C]
    max_len = ctx.prm[P_L]
    out = ctx.buf[slot]
    out[0] = ctx.vh[v, VH_START]
    n = 1
    for j in range(ctx.wst[S_NPC + slot]):
        r = ctx.pcs[slot, j, 0]
        a = ctx.pcs[slot, j, 1]
        b = ctx.pcs[slot, j, 2]
        rev = ctx.pcs[slot, j, 3]
        count = 1 if r < 0 else b - a + 1
        for s in range(count):
            if r < 0:
                x = a
            elif rev:
                x = ctx.node[r, b - s]
            else:
                x = ctx.node[r, a + s]
            if x >= n_clients:
                if out[n - 1] >= n_clients:
                    continue
                x = ctx.vh[v, VH_START]
            if n >= max_len - 1:
                return -1
            out[n] = x
            n += 1
    if n > 1 and out[n - 1] >= n_clients:
        n -= 1
    out[n] = ctx.vh[v, VH_END]
    n += 1
    ctx.wst[S_BLEN + slot] = n
    return n


@kernel(**KERNEL_OPTIONS)
def cand_cost(ctx, slot, v):
    """Cost (fixed + arcs; 0 if empty) of candidate ``slot`` on vehicle ``v``; -1 if invalid."""
    n_clients = ctx.prm[P_C]
    prof = ctx.vh[v, VH_PROF]
    if ctx.vh[v, VH_MAXTRIPS] > 1:
        n = materialize(ctx, slot, v)
        if n < 0:
            return -1
        if n == 2:
            return 0
        out = ctx.buf[slot]
        total = 0
        reloads = 0
        for q in range(1, n):
            total += ctx.mat[MAT_COST, prof, out[q - 1], out[q]]
            if q < n - 1 and out[q] >= n_clients:
                reloads += 1
        if reloads >= ctx.vh[v, VH_MAXTRIPS]:
            return -1
        return total + ctx.vh[v, VH_FIXED]
    total = 0
    prev = ctx.vh[v, VH_START]
    count = 0
    for j in range(ctx.wst[S_NPC + slot]):
        r = ctx.pcs[slot, j, 0]
        a = ctx.pcs[slot, j, 1]
        b = ctx.pcs[slot, j, 2]
        if r < 0:
            if a >= n_clients:
                return -1
            total += ctx.mat[MAT_COST, prof, prev, a]
            prev = a
            count += 1
            continue
        ps = ctx.ps[r]
        if ps[b, PS_TRIP] != ps[a - 1, PS_TRIP]:
            return -1  # a reload depot cannot ride on a single-trip vehicle
        count += b - a + 1
        same = ctx.vh[r, VH_PROF] == prof
        if ctx.pcs[slot, j, 3]:
            first = ctx.node[r, b]
            last = ctx.node[r, a]
            total += ctx.mat[MAT_COST, prof, prev, first]
            if same:
                total += ps[b, PS_RCUM] - ps[a, PS_RCUM]
            else:
                for q in range(a, b):
                    total += ctx.mat[MAT_COST, prof, ctx.node[r, q + 1], ctx.node[r, q]]
        else:
            first = ctx.node[r, a]
            last = ctx.node[r, b]
            total += ctx.mat[MAT_COST, prof, prev, first]
            if same:
                total += ps[b, PS_CUMC] - ps[a, PS_CUMC]
            else:
                for q in range(a, b):
                    total += ctx.mat[MAT_COST, prof, ctx.node[r, q], ctx.node[r, q + 1]]
        prev = last
    if count == 0:
        return 0
    if count + 2 > ctx.prm[P_L]:
        return -1
    return total + ctx.mat[MAT_COST, prof, prev, ctx.vh[v, VH_END]] + ctx.vh[v, VH_FIXED]


@kernel(**KERNEL_OPTIONS)
def cand_pen(ctx, slot, v):
    """Penalty of candidate ``slot`` on vehicle ``v`` (after ``cand_cost`` accepted it)."""
    n_dims = ctx.prm[P_K]
    exc = ctx.kv[KV_EXC]
    if ctx.vh[v, VH_MAXTRIPS] > 1:
        n = ctx.wst[S_BLEN + slot]
        if n == 2:
            return 0
        _arcs, tw = seq_eval(ctx, v, ctx.buf[slot], n)
        return penalty(ctx, ctx.pen, exc, tw)
    prof = ctx.vh[v, VH_PROF]
    timed = ctx.prm[P_TIME] != 0
    nd = ctx.nd
    load = ctx.kv[KV_LOAD]
    for k in range(n_dims):
        load[k] = 0
    has = False
    rel = 0
    first_node = -1
    prev = -1
    d = t = e = late = 0
    for j in range(ctx.wst[S_NPC + slot]):
        r = ctx.pcs[slot, j, 0]
        a = ctx.pcs[slot, j, 1]
        b = ctx.pcs[slot, j, 2]
        rev = ctx.pcs[slot, j, 3]
        if r < 0:
            first = a
            last = a
            for k in range(n_dims):
                load[k] += ctx.dem[a, k]
            if not timed:
                has = True
                continue
            if nd[a, ND_REL] > rel:
                rel = nd[a, ND_REL]
            d2, t2, e2, l2 = nd[a, ND_SERVICE], 0, nd[a, ND_TWE], nd[a, ND_TWL]
        else:
            cuml = ctx.cuml[r]
            for k in range(n_dims):
                load[k] += cuml[b, k] - cuml[a - 1, k]
            if not timed:
                has = True
                continue
            ps = ctx.ps[r]
            same = ctx.vh[r, VH_PROF] == prof
            if rev:
                first = ctx.node[r, b]
                last = ctx.node[r, a]
            else:
                first = ctx.node[r, a]
                last = ctx.node[r, b]
            if not rev and same and a == 1:
                d2, t2, e2, l2 = ps[b, PS_FD], ps[b, PS_FTW], ps[b, PS_FE], ps[b, PS_FL]
                if ps[b, PS_FREL] > rel:
                    rel = ps[b, PS_FREL]
            elif not rev and same and b == ctx.rt[r, RT_LEN] - 2:
                d2, t2, e2, l2 = ps[a, PS_BD], ps[a, PS_BTW], ps[a, PS_BE], ps[a, PS_BL]
                if ps[a, PS_BREL] > rel:
                    rel = ps[a, PS_BREL]
            else:
                x = first
                d2, t2, e2, l2 = nd[x, ND_SERVICE], 0, nd[x, ND_TWE], nd[x, ND_TWL]
                if nd[x, ND_REL] > rel:
                    rel = nd[x, ND_REL]
                for s in range(1, b - a + 1):
                    y = ctx.node[r, b - s] if rev else ctx.node[r, a + s]
                    d2, t2, e2, l2 = merge(
                        d2,
                        t2,
                        e2,
                        l2,
                        nd[y, ND_SERVICE],
                        0,
                        nd[y, ND_TWE],
                        nd[y, ND_TWL],
                        ctx.mat[MAT_DUR, prof, x, y],
                    )
                    if nd[y, ND_REL] > rel:
                        rel = nd[y, ND_REL]
                    x = y
        if has:
            d, t, e, late = merge(
                d, t, e, late, d2, t2, e2, l2, ctx.mat[MAT_DUR, prof, prev, first]
            )
        else:
            d, t, e, late = d2, t2, e2, l2
            first_node = first
            has = True
        prev = last
    if not has:
        return 0
    for k in range(n_dims):
        x = load[k] - ctx.cap[v, k]
        exc[k] = x if x > 0 else 0
    tw = 0
    if timed:
        d0, t0, e0, l0 = start_seg(ctx, v, rel)
        d0, t0, e0, l0 = merge(
            d0, t0, e0, l0, d, t, e, late, ctx.mat[MAT_DUR, prof, ctx.vh[v, VH_START], first_node]
        )
        d2, t2, e2, l2 = end_seg(ctx, v)
        d0, t0, e0, l0 = merge(
            d0, t0, e0, l0, d2, t2, e2, l2, ctx.mat[MAT_DUR, prof, prev, ctx.vh[v, VH_END]]
        )
        tw = t0
    return penalty(ctx, ctx.pen, exc, tw)


@kernel(**KERNEL_OPTIONS)
def eval_move(ctx, r1, r2, exact):
    """Change of penalised cost if route ``r1`` became candidate 0 (and ``r2`` candidate 1).

    Without ``exact``, a move whose cost change alone (penalties of the new routes being >= 0)
    cannot improve is pruned early and returns NO_MOVE; invalid moves always return NO_MOVE.
    """
    ctx.wst[S_N_EVAL] += 1
    old = ctx.rt[r1, RT_COST] + ctx.rt[r1, RT_PEN]
    c1 = cand_cost(ctx, 0, r1)
    if c1 < 0:
        return NO_MOVE
    c2 = 0
    if r2 >= 0:
        old += ctx.rt[r2, RT_COST] + ctx.rt[r2, RT_PEN]
        c2 = cand_cost(ctx, 1, r2)
        if c2 < 0:
            return NO_MOVE
    delta = c1 + c2 - old
    if not exact and delta >= 0:
        return NO_MOVE
    delta += cand_pen(ctx, 0, r1)
    if r2 >= 0:
        delta += cand_pen(ctx, 1, r2)
    return delta


@kernel(**KERNEL_OPTIONS)
def activate(ctx, x):
    """Queue client ``x`` for the local search (a no-op for depots and queued clients)."""
    if x < 0 or x >= ctx.prm[P_C] or ctx.cv[CV_ACTIVE, x]:
        return
    n_clients = ctx.prm[P_C]
    ctx.cv[CV_ACTIVE, x] = 1
    slot = ctx.wst[S_QHEAD] + ctx.wst[S_QCOUNT]
    if slot >= n_clients:
        slot -= n_clients
    ctx.cv[CV_QUEUE, slot] = x
    ctx.wst[S_QCOUNT] += 1


@kernel(**KERNEL_OPTIONS)
def activate_pieces(ctx, slot):
    """Queue the clients at the ends of the pieces of candidate ``slot``: the new arcs."""
    for j in range(ctx.wst[S_NPC + slot]):
        r = ctx.pcs[slot, j, 0]
        a = ctx.pcs[slot, j, 1]
        if r < 0:
            activate(ctx, a)
        else:
            activate(ctx, ctx.node[r, a])
            activate(ctx, ctx.node[r, ctx.pcs[slot, j, 2]])


@kernel(**KERNEL_OPTIONS)
def write_route(ctx, r, slot, n):
    """Replace route ``r`` by ``ctx.buf[slot][:n]`` and refresh it."""
    touch(ctx, r)
    for q in range(n):
        ctx.node[r, q] = ctx.buf[slot, q]
    ctx.rt[r, RT_LEN] = n
    ctx.rt[r, RT_STAMP] = ctx.misc[M_COUNTER]
    update_route(ctx, r)


@kernel(**KERNEL_OPTIONS)
def apply_move(ctx, r1, r2):
    """Make the candidates of the last ``eval_move`` real. Returns False if one is invalid."""
    n1 = materialize(ctx, 0, r1)
    if n1 < 0:
        return False
    n2 = 0
    if r2 >= 0:
        n2 = materialize(ctx, 1, r2)
        if n2 < 0:
            return False
    ctx.misc[M_COUNTER] += 1
    activate_pieces(ctx, 0)
    if r2 >= 0:
        activate_pieces(ctx, 1)
    write_route(ctx, r1, 0, n1)
    if r2 >= 0:
        write_route(ctx, r2, 1, n2)
    return True


@kernel(**KERNEL_OPTIONS)
def add_piece(ctx, slot, r, a, b, rev):
    """Append positions ``a..b`` of route ``r`` (skipped when empty) to candidate ``slot``."""
    if r >= 0 and a > b:
        return
    j = ctx.wst[S_NPC + slot]
    ctx.pcs[slot, j, 0] = r
    ctx.pcs[slot, j, 1] = a
    ctx.pcs[slot, j, 2] = b
    ctx.pcs[slot, j, 3] = rev
    ctx.wst[S_NPC + slot] = j + 1


@kernel(**KERNEL_OPTIONS)
def unassign_push(ctx, c):
    """Record client ``c`` as unassigned."""
    ctx.cl[c, CL_ROUTE] = -1
    ctx.cl[c, CL_POS] = -1
    ctx.un[ctx.misc[M_UN]] = c
    ctx.misc[M_UN] += 1


@kernel(**KERNEL_OPTIONS)
def unassign_drop(ctx, c):
    """Forget client ``c`` from the unassigned list (it is being routed)."""
    n = ctx.misc[M_UN]
    for i in range(n):
        if ctx.un[i] == c:
            ctx.un[i] = ctx.un[n - 1]
            ctx.misc[M_UN] = n - 1
            return


@kernel(**KERNEL_OPTIONS)
def remove_marked(ctx, r):
    """Take the clients marked in ``ctx.cv[CV_MARK]`` out of route ``r`` (to unassigned)."""
    n_clients = ctx.prm[P_C]
    touch(ctx, r)
    n = ctx.rt[r, RT_LEN]
    node = ctx.node[r]
    mark = ctx.cv[CV_MARK]
    out = 1
    gap = False
    for q in range(1, n - 1):
        x = node[q]
        if x < n_clients and mark[x]:
            mark[x] = 0
            unassign_push(ctx, x)
            if not gap:
                activate(ctx, node[out - 1])
            gap = True
            continue
        if x >= n_clients and node[out - 1] >= n_clients:
            continue
        if gap:
            activate(ctx, x)
            gap = False
        node[out] = x
        out += 1
    if out > 1 and node[out - 1] >= n_clients:
        out -= 1
    node[out] = ctx.vh[r, VH_END]
    ctx.rt[r, RT_LEN] = out + 1
    ctx.misc[M_COUNTER] += 1
    ctx.rt[r, RT_STAMP] = ctx.misc[M_COUNTER]
    update_route(ctx, r)


@kernel(**KERNEL_OPTIONS)
def total_cost(ctx):
    """Sum of route costs (fixed + arcs) and of route penalties."""
    cost = 0
    pen = 0
    for r in range(ctx.rt.shape[0]):
        if ctx.rt[r, RT_LEN] > 2:
            cost += ctx.rt[r, RT_COST]
            pen += ctx.rt[r, RT_PEN]
    return cost, pen
