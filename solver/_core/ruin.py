"""Ruin: adjacent string removals, SISR (Christiaens & Vanden Berghe 2020).

Strings (or split strings) of consecutive clients are removed from a few routes near a random
seed client; the removed clients are spatially close, which leaves slack that the recreate step
can use to rebuild those routes better.
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numpy as np

from solver._core.arrays import (
    CL_ROUTE,
    CV_MARK,
    CV_TMP,
    F_CBAR,
    F_DEPTH,
    F_LMAX,
    F_SPLIT,
    M_UN,
    P_ADJ,
    P_C,
    P_NB,
    PS_TRIP,
    RT_LEN,
    RV_RLIST,
    RV_RMARK,
    S_ITER,
)
from solver._core.route_eval import remove_marked
from solver._jit import KERNEL_OPTIONS, kernel


@kernel(**KERNEL_OPTIONS)
def ruin(ctx):
    """Remove strings of clients around a random seed; returns how many were removed."""
    n_clients = ctx.prm[P_C]
    n_vehicles = ctx.rt.shape[0]
    used = 0
    total = 0
    for r in range(n_vehicles):
        n = ctx.rt[r, RT_LEN]
        if n > 2:
            used += 1
            total += n - 2 - ctx.ps[r, n - 2, PS_TRIP]
    if used == 0:
        return 0
    ls_max = min(ctx.fv[0, F_LMAX], total / used)
    ks_max = 4.0 * ctx.fv[0, F_CBAR] / (1.0 + ls_max) - 1.0
    if ks_max < 1.0:
        ks_max = 1.0
    n_strings = int(np.random.random() * ks_max) + 1
    seed = np.random.randint(0, n_clients)
    while ctx.cl[seed, CL_ROUTE] < 0:
        seed = np.random.randint(0, n_clients)
    token = ctx.wst[S_ITER] + 1
    ruined = 0
    members = ctx.cv[CV_TMP]
    before = ctx.misc[M_UN]
    for t in range(-1, ctx.prm[P_ADJ]):
        if ruined >= n_strings:
            break
        c = seed if t < 0 else ctx.near[seed, ctx.prm[P_NB] + t]
        if c < 0:
            break
        r = ctx.cl[c, CL_ROUTE]
        if r < 0 or ctx.cv[CV_MARK, c] or ctx.rv[RV_RMARK, r] == token:
            continue
        n = ctx.rt[r, RT_LEN]
        count = 0
        at = 0
        for q in range(1, n - 1):
            x = ctx.node[r, q]
            if x < n_clients:
                if x == c:
                    at = count
                members[count] = x
                count += 1
        lt_max = min(float(count), ls_max)
        length = int(np.random.random() * lt_max) + 1
        if length > count:
            length = count
        if length < count and np.random.random() < ctx.fv[0, F_SPLIT]:
            keep = 1
            while keep < count - length and np.random.random() < ctx.fv[0, F_DEPTH]:
                keep += 1
            window = length + keep
            lo = max(0, at - window + 1)
            hi = min(at, count - window)
            start = lo + np.random.randint(0, hi - lo + 1)
            kept = start + np.random.randint(0, window - keep + 1)
            for s in range(start, start + window):
                if s < kept or s >= kept + keep:
                    ctx.cv[CV_MARK, members[s]] = 1
        else:
            lo = max(0, at - length + 1)
            hi = min(at, count - length)
            start = lo + np.random.randint(0, hi - lo + 1)
            for s in range(start, start + length):
                ctx.cv[CV_MARK, members[s]] = 1
        ctx.rv[RV_RMARK, r] = token
        ctx.rv[RV_RLIST, ruined] = r
        ruined += 1
    for s in range(ruined):
        remove_marked(ctx, ctx.rv[RV_RLIST, s])
    return ctx.misc[M_UN] - before
