"""Python-callable views of single moves, for tests: evaluate, apply, recompute.

The search itself never calls these; tests use them to check that every operator's predicted
change of penalised cost equals the change measured after applying it and recomputing.
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import numpy as np

from solver._core.operators import (
    insert_eval,
    insert_reload_eval,
    move_reload_eval,
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
    NO_MOVE,
    apply_move,
    total_cost,
    unassign_drop,
    unassign_push,
    update_route,
)
from solver._jit import ENTRY_OPTIONS, KERNEL_OPTIONS, kernel

(
    RELOCATE,
    SWAP,
    TWO_OPT_STAR,
    TWO_OPT,
    REMOVE_RELOAD,
    INSERT_RELOAD,
    MOVE_RELOAD,
    INSERT,
    REPLACE,
) = range(9)


# What ``probe`` does.
EVAL, BOUND, APPLY, REFRESH, TOTALS = range(5)


@kernel(**KERNEL_OPTIONS)
def _eval(ctx, op, args, exact):
    """(delta, r1, r2) of move ``op`` with ``args``; delta NO_MOVE when invalid."""
    r2 = -1
    if op == RELOCATE:
        delta = relocate_eval(ctx, args[0], args[1], args[2], args[3], args[4], args[5], exact)
        r1 = args[0]
        r2 = args[4] if args[4] != args[0] else -1
    elif op == SWAP:
        delta = swap_eval(ctx, args[0], args[1], args[2], args[3], args[4], args[5], exact)
        r1 = args[0]
        r2 = args[3] if args[3] != args[0] else -1
    elif op == TWO_OPT_STAR:
        delta = two_opt_star_eval(ctx, args[0], args[1], args[2], args[3], exact)
        r1 = args[0]
        r2 = args[2]
    elif op == TWO_OPT:
        delta = two_opt_eval(ctx, args[0], args[1], args[2], exact)
        r1 = args[0]
    elif op == REMOVE_RELOAD:
        delta = remove_reload_eval(ctx, args[0], args[1], exact)
        r1 = args[0]
    elif op == INSERT_RELOAD:
        delta = insert_reload_eval(ctx, args[0], args[1], exact)
        r1 = args[0]
    elif op == MOVE_RELOAD:
        delta = move_reload_eval(ctx, args[0], args[1], args[2], exact)
        r1 = args[0]
    elif op == INSERT:
        delta = insert_eval(ctx, args[0], args[1], args[2], exact)
        r1 = args[1]
    else:
        delta = replace_eval(ctx, args[0], args[1], args[2], exact)
        r1 = args[1]
    return delta, r1, r2


@kernel(**KERNEL_OPTIONS)
def _bound(ctx, op, args):
    """The O(1) lower bound the local search uses for move ``op`` (-1: none)."""
    if op == RELOCATE:
        return relocate_bound(ctx, args[0], args[1], args[2], args[3], args[4], args[5])
    if op == SWAP:
        return swap_bound(ctx, args[0], args[1], args[2], args[3], args[4], args[5])
    if op == TWO_OPT_STAR:
        return two_opt_star_bound(ctx, args[0], args[1], args[2], args[3])
    if op == TWO_OPT:
        return two_opt_bound(ctx, args[0], args[1], args[2])
    return -1


@kernel(**ENTRY_OPTIONS)
def probe(ctx, mode, op, args):
    """One entry point for tests (one compile): returns three integers.

    EVAL: (delta, r1, r2) of move ``op`` with ``args`` (exact; NO_MOVE when invalid).
    BOUND: (O(1) lower bound of the move, 0, 0). APPLY: (ok, 0, 0) applying the move just
    evaluated on routes ``args[0]``, ``args[1]``, routing client ``args[2]`` and unrouting
    ``args[3]`` (-1: none). REFRESH: (cost, penalty, 0) after recomputing every route.
    TOTALS: (cost, penalty, 0) as stored.
    """
    if mode == EVAL:
        return _eval(ctx, op, args, True)
    if mode == BOUND:
        return _bound(ctx, op, args), 0, 0
    if mode == APPLY:
        ok = apply_move(ctx, args[0], args[1])
        if ok and args[2] >= 0:
            unassign_drop(ctx, args[2])
        if ok and args[3] >= 0:
            unassign_push(ctx, args[3])
        return 1 if ok else 0, 0, 0
    if mode == REFRESH:
        for r in range(ctx.rt.shape[0]):
            update_route(ctx, r)
    cost, pen = total_cost(ctx)
    return cost, pen, 0


def probe_eval(ctx: object, op: int, args: np.ndarray, exact: bool = True) -> tuple[int, int, int]:
    """(delta, r1, r2) of a move, exactly (see ``probe``)."""
    delta, r1, r2 = probe(ctx, EVAL, op, args)
    return int(delta), int(r1), int(r2)


def probe_bound(ctx: object, op: int, args: np.ndarray) -> int:
    """The local search's O(1) lower bound of a move (-1: none)."""
    return int(probe(ctx, BOUND, op, args)[0])


def probe_apply(ctx: object, r1: int, r2: int, inserted: int, removed: int) -> bool:
    """Apply the move just evaluated; ``inserted``/``removed``: clients it routed/unrouted."""
    args = np.array([r1, r2, inserted, removed, 0, 0, 0, 0], dtype=np.int64)
    return bool(probe(ctx, APPLY, 0, args)[0])


def probe_refresh(ctx: object) -> tuple[int, int]:
    """Recompute every route from its nodes; (cost, penalty) totals."""
    cost, pen, _ = probe(ctx, REFRESH, 0, np.zeros(8, dtype=np.int64))
    return int(cost), int(pen)


def probe_totals(ctx: object) -> tuple[int, int]:
    """(cost, penalty) totals as stored."""
    cost, pen, _ = probe(ctx, TOTALS, 0, np.zeros(8, dtype=np.int64))
    return int(cost), int(pen)


__all__ = [
    "INSERT",
    "NO_MOVE",
    "REPLACE",
    "probe_apply",
    "probe_bound",
    "probe_eval",
    "probe_refresh",
    "probe_totals",
]
