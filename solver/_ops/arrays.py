"""Problem → the int64 arrays the operations core reads.

Nodes index the compact matrices: clients ``0..C-1``, depots ``C..C+D-1``, then one node per
vehicle *type* that starts away from its depot (``start_location``). Vehicles are expanded
from their types (``count`` copies, capped by how many clients could ride them). A route is a
row of client indices with ``RELOAD`` (-1) between trips; its start and end are implicit.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from solver.model import MAX_TIME, Problem

RELOAD = -1
#: Kinds of client.
KIND_DEPOT, KIND_PICKUP, KIND_DELIVERY, KIND_ON_BOARD = range(4)

# Columns of Ops.ci (per client).
(
    CI_SERVICE,
    CI_TWE,
    CI_TWL,
    CI_REL,
    CI_KIND,
    CI_PARTNER,
    CI_DUE,
    CI_LATE,
    CI_RIDE,
    CI_PLANNED,
    CI_MOVE,
    CI_WEIGHT,
) = range(12)
N_CI = 12
#: Leaving a parcel that is already on a bike out weighs this many other clients: it is on the
#: bike whatever the plan says, so the plan must deliver it.
ON_BOARD_WEIGHT = 1024
# Columns of Ops.vi (per vehicle).
(
    VI_TYPE,
    VI_PROF,
    VI_START,
    VI_END,
    VI_DEPOT,
    VI_SS,
    VI_SE,
    VI_FIXED,
    VI_TRIPS,
    VI_RELOAD,
    VI_BDUR,
    VI_BE,
    VI_BL,
    VI_DCOST,
    VI_AFAR,
    VI_OPEN,
    VI_CLOSE_END,
    VI_CLOSE_DEPOT,
) = range(18)
N_VI = 18
# Ops.prm scalars.
P_C, P_V, P_K, P_L, P_BIGM, P_MAXDUR, P_NEAR = range(7)
N_PRM = 7

Ops = namedtuple(
    "Ops",
    [
        "prm",  # scalars, P_*
        "ci",  # (C, N_CI) per client
        "dem",  # (C, K) demand
        "vi",  # (V, N_VI) per vehicle
        "cap",  # (V, K) capacity
        "ok",  # (C, V) 1 where the client may ride the vehicle (skills, depot, on board)
        "dur",  # (P, N, N) durations by node
        "cost",  # (P, N, N) objective arcs by node
        "near",  # (C, M) nearest clients (the client itself first), for the ruin step
    ],
)


def vehicle_types_of(problem: Problem) -> np.ndarray:
    """The type of each expanded vehicle (the same expansion as :func:`build_ops`)."""
    counts = _counts(problem)
    return np.repeat(np.arange(len(problem.vehicle_types)), counts)


def _counts(problem: Problem) -> list[int]:
    n = max(problem.n_clients, 1)
    return [min(t.count, n) for t in problem.vehicle_types]


def build_ops(problem: Problem, *, near: int = 40) -> Ops:
    """The core's view of ``problem``."""
    n_clients, n_depots = problem.n_clients, len(problem.depots)
    types = problem.vehicle_types
    afar_types = [t for t, vt in enumerate(types) if vt.start_location is not None]
    afar_node = {t: n_clients + n_depots + i for i, t in enumerate(afar_types)}
    locations = [c.location for c in problem.clients] + [d.location for d in problem.depots]
    locations += [int(types[t].start_location or 0) for t in afar_types]
    index = np.asarray(locations, dtype=np.int64)
    source = problem.distances if problem.objective == "distance" else problem.durations
    cost = np.ascontiguousarray(source[:, index][:, :, index], dtype=np.int64)
    dur = np.ascontiguousarray(problem.durations[:, index][:, :, index], dtype=np.int64)

    partner = problem.partner
    pickups = {p for p, _ in problem.pairs}
    ci = np.zeros((n_clients, N_CI), dtype=np.int64)
    for i, c in enumerate(problem.clients):
        if c.on_board is not None:
            kind = KIND_ON_BOARD
        elif i in pickups:
            kind = KIND_PICKUP
        elif i in partner:
            kind = KIND_DELIVERY
        else:
            kind = KIND_DEPOT
        ci[i] = (
            c.service,
            c.tw_early,
            c.tw_late,
            c.release,
            kind,
            partner.get(i, -1),
            c.due,
            c.late_cost,
            c.max_ride,
            -1 if c.planned_type is None else c.planned_type,
            c.move_cost,
            ON_BOARD_WEIGHT if kind == KIND_ON_BOARD else 1,
        )
    dem = np.array([c.demand for c in problem.clients], dtype=np.int64).reshape(
        n_clients, problem.n_dimensions
    )

    counts = _counts(problem)
    v_type = np.repeat(np.arange(len(types)), counts)
    vi = np.zeros((len(v_type), N_VI), dtype=np.int64)
    cap = np.zeros((len(v_type), problem.n_dimensions), dtype=np.int64)
    for v, t in enumerate(v_type):
        vt = types[t]
        depot = n_clients + vt.start_depot
        vi[v] = (
            t,
            vt.profile,
            afar_node.get(int(t), depot),
            n_clients + vt.return_depot,
            depot,
            vt.shift_start,
            vt.shift_end,
            vt.fixed_cost,
            vt.max_trips if vt.max_trips is not None else n_clients + 1,
            vt.reload,
            vt.break_duration,
            vt.break_early,
            vt.break_late,
            vt.duration_cost,
            int(vt.start_location is not None),
            problem.depots[vt.start_depot].opens,
            problem.depots[vt.return_depot].closes,
            problem.depots[vt.start_depot].closes,
        )
        cap[v] = vt.capacity

    ok = np.zeros((n_clients, len(v_type)), dtype=np.int64)
    for i, c in enumerate(problem.clients):
        for v, t in enumerate(v_type):
            vt = types[t]
            fits = set(c.requires) <= set(vt.skills)
            if c.on_board is not None:
                fits = fits and c.on_board == t
            elif i not in partner:
                fits = fits and c.depot == vt.start_depot
            ok[i, v] = int(fits)
    for p, d in problem.pairs:  # both halves need a bike that takes both
        both = ok[p] & ok[d]
        ok[p] = both
        ok[d] = both

    m = min(near, n_clients)
    if n_clients:
        xy = cost[0, :n_clients, :n_clients] + cost[0, :n_clients, :n_clients].T
        order = np.argsort(xy, axis=1, kind="stable")[:, :m]
        # the client itself first, then its neighbours
        near_arr = np.empty((n_clients, m), dtype=np.int64)
        for i in range(n_clients):
            row = [i] + [int(j) for j in order[i] if j != i]
            near_arr[i] = row[:m]
    else:
        near_arr = np.zeros((0, 0), dtype=np.int64)

    finite = np.where(cost >= MAX_TIME, 0, cost)
    big_m = 1 + int(finite.max(initial=0)) * 2 * max(n_clients, 1)
    big_m += n_clients * max((t.fixed_cost for t in types), default=0)
    horizon = max(
        [c.tw_late for c in problem.clients if c.tw_late < MAX_TIME]
        + [t.shift_end for t in types if t.shift_end < MAX_TIME],
        default=1 << 20,
    )
    big_m += sum(c.late_cost for c in problem.clients) * int(horizon)
    spans = sum(t.duration_cost for t in types) + problem.max_duration_cost
    big_m += spans * int(horizon)
    big_m += sum(c.move_cost for c in problem.clients)
    prm = np.zeros(N_PRM, dtype=np.int64)
    prm[P_C] = n_clients
    prm[P_V] = len(v_type)
    prm[P_K] = problem.n_dimensions
    prm[P_L] = 2 * n_clients + 2
    # BIGM x the weights of every client fits in int64 (at most 2**44 x 1024 x 2**8 clients).
    prm[P_BIGM] = min(big_m, 1 << 44)
    prm[P_MAXDUR] = problem.max_duration_cost
    prm[P_NEAR] = m
    return Ops(
        prm=prm,
        ci=ci,
        dem=dem,
        vi=vi,
        cap=cap,
        ok=ok,
        dur=dur,
        cost=cost,
        near=near_arr,
    )
