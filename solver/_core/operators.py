"""Local search operators, one contract each: ``*_eval(...) -> delta`` then ``apply_move``.

Each evaluation describes the new route(s) as pieces of the current ones (``route_eval``) and
returns the change of penalised cost, or NO_MOVE when the move is invalid (or, without
``exact``, pruned because its cost change alone cannot improve). ``apply_move(r1, r2)`` right
after a successful evaluation makes it real. Positions are 1..length-2 inside a route; ``j = 0``
means "after the start depot".
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from solver._core.arrays import (
    MAT_COST,
    P_C,
    PS_CUMC,
    PS_RCUM,
    PS_TRIP,
    RT_LEN,
    RT_PEN,
    S_NPC,
    S_NPC1,
    VH_END,
    VH_FIXED,
    VH_MAXTRIPS,
    VH_PROF,
    VH_START,
)
from solver._core.route_eval import NO_MOVE, add_piece, eval_move
from solver._jit import KERNEL_OPTIONS, kernel


@kernel(**KERNEL_OPTIONS)
def clients_only(ctx, r, i, m):
    """Positions i..i+m-1 of route r exist and hold clients only (no reload depot)."""
    n = ctx.rt[r, RT_LEN]
    if i < 1 or i + m - 1 > n - 2:
        return False
    return ctx.ps[r, i + m - 1, PS_TRIP] == ctx.ps[r, i - 1, PS_TRIP]


@kernel(**KERNEL_OPTIONS)
def relocate_eval(ctx, ru, i, m, rev, rv, j, exact):
    """Move the string at ``ru[i..i+m-1]`` (reversed if ``rev``) after position ``j`` of ``rv``."""
    if not clients_only(ctx, ru, i, m):
        return NO_MOVE
    nu = ctx.rt[ru, RT_LEN]
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    if ru != rv:
        nv = ctx.rt[rv, RT_LEN]
        if j < 0 or j > nv - 2:
            return NO_MOVE
        add_piece(ctx, 0, ru, 1, i - 1, 0)
        add_piece(ctx, 0, ru, i + m, nu - 2, 0)
        add_piece(ctx, 1, rv, 1, j, 0)
        add_piece(ctx, 1, ru, i, i + m - 1, rev)
        add_piece(ctx, 1, rv, j + 1, nv - 2, 0)
        return eval_move(ctx, ru, rv, exact)
    if j < 0 or j > nu - 2:
        return NO_MOVE
    if i - 1 <= j <= i + m - 1:
        if not (rev and m > 1 and j == i - 1):
            return NO_MOVE
        add_piece(ctx, 0, ru, 1, i - 1, 0)
        add_piece(ctx, 0, ru, i, i + m - 1, 1)
        add_piece(ctx, 0, ru, i + m, nu - 2, 0)
    elif j < i - 1:
        add_piece(ctx, 0, ru, 1, j, 0)
        add_piece(ctx, 0, ru, i, i + m - 1, rev)
        add_piece(ctx, 0, ru, j + 1, i - 1, 0)
        add_piece(ctx, 0, ru, i + m, nu - 2, 0)
    else:
        add_piece(ctx, 0, ru, 1, i - 1, 0)
        add_piece(ctx, 0, ru, i + m, j, 0)
        add_piece(ctx, 0, ru, i, i + m - 1, rev)
        add_piece(ctx, 0, ru, j + 1, nu - 2, 0)
    return eval_move(ctx, ru, -1, exact)


@kernel(**KERNEL_OPTIONS)
def swap_eval(ctx, ru, i, m1, rv, j, m2, exact):
    """Exchange the strings ``ru[i..i+m1-1]`` and ``rv[j..j+m2-1]``."""
    if not clients_only(ctx, ru, i, m1) or not clients_only(ctx, rv, j, m2):
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    if ru != rv:
        nu = ctx.rt[ru, RT_LEN]
        nv = ctx.rt[rv, RT_LEN]
        add_piece(ctx, 0, ru, 1, i - 1, 0)
        add_piece(ctx, 0, rv, j, j + m2 - 1, 0)
        add_piece(ctx, 0, ru, i + m1, nu - 2, 0)
        add_piece(ctx, 1, rv, 1, j - 1, 0)
        add_piece(ctx, 1, ru, i, i + m1 - 1, 0)
        add_piece(ctx, 1, rv, j + m2, nv - 2, 0)
        return eval_move(ctx, ru, rv, exact)
    if i > j:
        i, j = j, i
        m1, m2 = m2, m1
    if i + m1 - 1 >= j:
        return NO_MOVE
    n = ctx.rt[ru, RT_LEN]
    add_piece(ctx, 0, ru, 1, i - 1, 0)
    add_piece(ctx, 0, ru, j, j + m2 - 1, 0)
    add_piece(ctx, 0, ru, i + m1, j - 1, 0)
    add_piece(ctx, 0, ru, i, i + m1 - 1, 0)
    add_piece(ctx, 0, ru, j + m2, n - 2, 0)
    return eval_move(ctx, ru, -1, exact)


@kernel(**KERNEL_OPTIONS)
def two_opt_star_eval(ctx, ru, i, rv, j, exact):
    """Exchange the tails: ``ru`` keeps 1..i then takes ``rv[j+1..]``, and vice versa."""
    if ru == rv:
        return NO_MOVE
    nu = ctx.rt[ru, RT_LEN]
    nv = ctx.rt[rv, RT_LEN]
    if i < 0 or i > nu - 2 or j < 0 or j > nv - 2:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, ru, 1, i, 0)
    add_piece(ctx, 0, rv, j + 1, nv - 2, 0)
    add_piece(ctx, 1, rv, 1, j, 0)
    add_piece(ctx, 1, ru, i + 1, nu - 2, 0)
    return eval_move(ctx, ru, rv, exact)


@kernel(**KERNEL_OPTIONS)
def two_opt_eval(ctx, r, i, j, exact):
    """Reverse positions i+1..j of route ``r`` (so ``r[i]`` is followed by ``r[j]``)."""
    n = ctx.rt[r, RT_LEN]
    if i < 0 or j > n - 2 or j < i + 2:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, r, 1, i, 0)
    add_piece(ctx, 0, r, i + 1, j, 1)
    add_piece(ctx, 0, r, j + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


@kernel(**KERNEL_OPTIONS)
def remove_reload_eval(ctx, r, i, exact):
    """Merge the two trips around the reload depot at position ``i``."""
    n = ctx.rt[r, RT_LEN]
    if i < 1 or i > n - 2 or ctx.node[r, i] < ctx.prm[P_C]:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, r, 1, i - 1, 0)
    add_piece(ctx, 0, r, i + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


@kernel(**KERNEL_OPTIONS)
def insert_reload_eval(ctx, r, j, exact):
    """Split a trip: return to the depot to reload after position ``j``."""
    n = ctx.rt[r, RT_LEN]
    if ctx.vh[r, VH_MAXTRIPS] < 2 or j < 1 or j > n - 3:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, r, 1, j, 0)
    add_piece(ctx, 0, -1, ctx.vh[r, VH_START], ctx.vh[r, VH_START], 0)
    add_piece(ctx, 0, r, j + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


@kernel(**KERNEL_OPTIONS)
def insert_eval(ctx, c, r, j, exact):
    """Insert the unrouted client ``c`` after position ``j`` of route ``r``."""
    n = ctx.rt[r, RT_LEN]
    if j < 0 or j > n - 2:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, r, 1, j, 0)
    add_piece(ctx, 0, -1, c, c, 0)
    add_piece(ctx, 0, r, j + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


@kernel(**KERNEL_OPTIONS)
def move_route_eval(ctx, ru, rv, exact):
    """Hand all of route ``ru`` to the unused vehicle ``rv`` (maybe of another type)."""
    if ru == rv or ctx.rt[rv, RT_LEN] != 2 or ctx.rt[ru, RT_LEN] <= 2:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 1, ru, 1, ctx.rt[ru, RT_LEN] - 2, 0)
    return eval_move(ctx, ru, rv, exact)


@kernel(**KERNEL_OPTIONS)
def replace_eval(ctx, c, r, j, exact):
    """Route the unassigned client ``c`` in place of the client at position ``j`` of ``r``."""
    n = ctx.rt[r, RT_LEN]
    if j < 1 or j > n - 2 or ctx.node[r, j] >= ctx.prm[P_C]:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    add_piece(ctx, 0, r, 1, j - 1, 0)
    add_piece(ctx, 0, -1, c, c, 0)
    add_piece(ctx, 0, r, j + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


@kernel(**KERNEL_OPTIONS)
def move_reload_eval(ctx, r, i, j, exact):
    """Move the reload depot at position ``i`` of route ``r`` after position ``j``."""
    n = ctx.rt[r, RT_LEN]
    if i < 1 or i > n - 2 or ctx.node[r, i] < ctx.prm[P_C]:
        return NO_MOVE
    if j < 1 or j > n - 3 or i - 1 <= j <= i:
        return NO_MOVE
    ctx.wst[S_NPC] = 0
    ctx.wst[S_NPC1] = 0
    if j < i:
        add_piece(ctx, 0, r, 1, j, 0)
        add_piece(ctx, 0, -1, ctx.vh[r, VH_START], ctx.vh[r, VH_START], 0)
        add_piece(ctx, 0, r, j + 1, i - 1, 0)
        add_piece(ctx, 0, r, i + 1, n - 2, 0)
    else:
        add_piece(ctx, 0, r, 1, i - 1, 0)
        add_piece(ctx, 0, r, i + 1, j, 0)
        add_piece(ctx, 0, -1, ctx.vh[r, VH_START], ctx.vh[r, VH_START], 0)
        add_piece(ctx, 0, r, j + 1, n - 2, 0)
    return eval_move(ctx, r, -1, exact)


# Lower bounds for the search: the exact change of arc and fixed costs minus the penalties the
# routes pay now (new penalties are >= 0). O(1), no pieces; a move whose bound is >= 0 cannot
# improve and is skipped. They need both routes on single-trip vehicles of the same profile
# (else they return -1 and the full evaluation decides).


@kernel(**KERNEL_OPTIONS)
def _plain(ctx, ru, rv):
    """Both routes single-trip and of the same profile: the O(1) bounds apply."""
    return (
        ctx.vh[ru, VH_MAXTRIPS] == 1
        and ctx.vh[rv, VH_MAXTRIPS] == 1
        and ctx.vh[ru, VH_PROF] == ctx.vh[rv, VH_PROF]
    )


@kernel(**KERNEL_OPTIONS)
def relocate_bound(ctx, ru, i, m, rev, rv, j):
    """Lower bound of ``relocate_eval`` (valid arguments assumed)."""
    if not _plain(ctx, ru, rv):
        return -1
    cost = ctx.mat[MAT_COST, ctx.vh[ru, VH_PROF]]
    node_u = ctx.node[ru]
    node_v = ctx.node[rv]
    e = i + m - 1
    pu = node_u[i - 1]
    nu = node_u[e + 1]
    s1 = node_u[i]
    s2 = node_u[e]
    first = s1
    last = s2
    delta = 0
    if rev:
        first = s2
        last = s1
        delta = (ctx.ps[ru, e, PS_RCUM] - ctx.ps[ru, i, PS_RCUM]) - (
            ctx.ps[ru, e, PS_CUMC] - ctx.ps[ru, i, PS_CUMC]
        )
    v = node_v[j]
    w = node_v[j + 1]
    # An unused vehicle costs nothing, not even the leg from its start to its end depot.
    delta += cost[v, first] + cost[last, w] - cost[pu, s1] - cost[s2, nu]
    pen = ctx.rt[ru, RT_PEN]
    if rv != ru:
        pen += ctx.rt[rv, RT_PEN]
        if i == 1 and e == ctx.rt[ru, RT_LEN] - 2:
            delta -= ctx.vh[ru, VH_FIXED]
        else:
            delta += cost[pu, nu]
        if ctx.rt[rv, RT_LEN] == 2:
            delta += ctx.vh[rv, VH_FIXED]
        else:
            delta -= cost[v, w]
    else:
        delta += cost[pu, nu] - cost[v, w]
    return delta - pen


@kernel(**KERNEL_OPTIONS)
def swap_bound(ctx, ru, i, m1, rv, j, m2):
    """Lower bound of ``swap_eval`` between two routes (-1 within one route)."""
    if ru == rv or not _plain(ctx, ru, rv):
        return -1
    cost = ctx.mat[MAT_COST, ctx.vh[ru, VH_PROF]]
    node_u = ctx.node[ru]
    node_v = ctx.node[rv]
    pa = node_u[i - 1]
    a1 = node_u[i]
    a2 = node_u[i + m1 - 1]
    na = node_u[i + m1]
    pb = node_v[j - 1]
    b1 = node_v[j]
    b2 = node_v[j + m2 - 1]
    nb = node_v[j + m2]
    delta = cost[pa, b1] + cost[b2, na] - cost[pa, a1] - cost[a2, na]
    delta += cost[pb, a1] + cost[a2, nb] - cost[pb, b1] - cost[b2, nb]
    return delta - ctx.rt[ru, RT_PEN] - ctx.rt[rv, RT_PEN]


@kernel(**KERNEL_OPTIONS)
def two_opt_star_bound(ctx, ru, i, rv, j):
    """Lower bound of ``two_opt_star_eval`` (valid arguments assumed)."""
    if not _plain(ctx, ru, rv):
        return -1
    cost = ctx.mat[MAT_COST, ctx.vh[ru, VH_PROF]]
    nu = ctx.rt[ru, RT_LEN]
    nv = ctx.rt[rv, RT_LEN]
    ui = ctx.node[ru, i]
    un = ctx.node[ru, i + 1]
    vj = ctx.node[rv, j]
    vn = ctx.node[rv, j + 1]
    # The end depots stay with their vehicles: the tails' last arcs change when they differ.
    delta = cost[ui, vn] + cost[vj, un] - cost[ui, un] - cost[vj, vn]
    if ctx.vh[ru, VH_END] != ctx.vh[rv, VH_END]:
        return -1
    if i + nv - 2 - j == 0:  # ru ends unused: no fixed cost, no depot-to-depot leg
        delta -= ctx.vh[ru, VH_FIXED] + cost[ui, vn]
    if j + nu - 2 - i == 0:
        delta -= ctx.vh[rv, VH_FIXED] + cost[vj, un]
    return delta - ctx.rt[ru, RT_PEN] - ctx.rt[rv, RT_PEN]


@kernel(**KERNEL_OPTIONS)
def two_opt_bound(ctx, r, i, j):
    """Lower bound of ``two_opt_eval`` (valid arguments assumed)."""
    if ctx.vh[r, VH_MAXTRIPS] != 1:
        return -1
    cost = ctx.mat[MAT_COST, ctx.vh[r, VH_PROF]]
    node = ctx.node[r]
    delta = cost[node[i], node[j]] + cost[node[i + 1], node[j + 1]]
    delta -= cost[node[i], node[i + 1]] + cost[node[j], node[j + 1]]
    delta += (ctx.ps[r, j, PS_RCUM] - ctx.ps[r, i + 1, PS_RCUM]) - (
        ctx.ps[r, j, PS_CUMC] - ctx.ps[r, i + 1, PS_CUMC]
    )
    return delta - ctx.rt[r, RT_PEN]
