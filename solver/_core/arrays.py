"""Problem → the flat int64 arrays the kernels read, and the solution and scratch arrays.

Nodes are clients ``0..C-1`` then depots ``C..C+D-1``; matrices are indexed by node (not by
location) so the hot loops skip one indirection. Vehicles are expanded from their types
(``count`` copies, contiguous by type); a route is a row ``node[v, :length[v]]`` holding the
start depot, the clients with reload depots between trips, and the end depot.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from solver.model import MAX_TIME, Problem

#: The open end of a window inside the kernels (far above MAX_TIME, far below overflow).
INF = 1 << 50
#: Duration given to "no path" legs so a route using one always warps time.
NO_PATH_DURATION = 1 << 42
#: Excess load and time warp count in penalties up to this much, so products cannot overflow.
PENALTY_CAP = 1 << 32
#: Penalty weights are fixed-point numbers in units of 1/PENALTY_UNIT (fine steps near the
#: small weights that matter), and stay in [1, PENALTY_MAX].
PENALTY_UNIT = 32
PENALTY_MAX = 1 << 22

# Indices into Inst.prm.
P_C, P_D, P_V, P_K, P_N, P_L, P_NB, P_ADJ, P_BIGM, P_TIME, P_MULTI, P_T, P_SYM = range(13)
N_PRM = 13
# Columns of Inst.nd (per node; a depot node's window is its opening hours).
ND_SERVICE, ND_TWE, ND_TWL, ND_REL, ND_GROUP = range(5)
# Columns of Inst.vh (per vehicle).
(
    VH_TYPE,
    VH_PROF,
    VH_START,
    VH_END,
    VH_SS,
    VH_SE,
    VH_FIXED,
    VH_MAXTRIPS,
    VH_RELOAD,
    VH_GROUP,
) = range(10)
# Inst.mat[MAT_COST] is the objective's matrix, Inst.mat[MAT_DUR] the durations.
MAT_COST, MAT_DUR = 0, 1

#: The problem, few arrays on purpose: numba's compile time grows fast with the number of
#: arrays a kernel takes.
Inst = namedtuple(
    "Inst",
    [
        "prm",  # scalars, indexed by P_*
        "mat",  # (2, P, N, N) cost and durations per profile, by node
        "nd",  # (N, 5) per node, ND_* columns
        "dem",  # (N, K) demand, zero for depots
        "vh",  # (V, 10) per vehicle, VH_* columns
        "cap",  # (V, K) capacity
        "ty",  # (T, 2) first vehicle and count of each type
        "near",  # (C, NB + ADJ) granular neighbours, then nearest clients for ruin; -1 padded
    ],
)

# Columns of Sol.rt (per route); the load excess per dimension follows RT_EXC.
RT_LEN, RT_COST, RT_TW, RT_PEN, RT_STAMP, RT_EXC = range(6)
# Columns of Sol.cl (per client).
CL_ROUTE, CL_POS = 0, 1
# Fields of Sol.ps (per route and position).
(
    PS_CUMC,  # cost of the arcs from position 0 to p
    PS_RCUM,  # the same arcs driven backwards (for reversed pieces)
    PS_TRIP,  # reload depots among positions 1..p
    PS_FD,  # time segment of positions 1..p (Vidal et al. 2013): duration,
    PS_FTW,  # time warp,
    PS_FE,  # earliest start,
    PS_FL,  # latest start
    PS_BD,  # time segment of positions p..length-2
    PS_BTW,
    PS_BE,
    PS_BL,
    PS_FREL,  # latest release among positions 1..p
    PS_BREL,  # latest release among positions p..length-2
) = range(13)
N_PS = 13

Sol = namedtuple(
    "Sol",
    [
        "node",  # (V, L) route rows: start depot, clients and reloads, end depot
        "rt",  # (V, 6 + K) per route, RT_* columns: length >= 2, cost (fixed + arcs, 0 when
        #        unused), time warp, penalty at the current weights, move counter of the last
        #        change, load excess per dimension
        "cl",  # (C, 2) route and position of each client, -1 when unassigned
        "ps",  # (V, L, N_PS) per position, PS_* fields
        "cuml",  # (V, L, K) load of positions 1..p
        "un",  # (C,) unassigned clients, misc[M_UN] of them
        "misc",  # counters, M_*
    ],
)

M_UN, M_COUNTER = 0, 1
N_MISC = 4

# Rows of Work.cv (per client).
CV_ORDER, CV_ACTIVE, CV_MARK, CV_TMP, CV_BAKUN, CV_BESTUN, CV_QUEUE = range(7)
# Rows of Work.rv (per route).
RV_RMARK, RV_DIRTY, RV_DLIST, RV_BAKLEN, RV_BESTLEN, RV_TRIPTEST, RV_RLIST = range(7)
# Work.snap[SNAP_BAK]: routes saved before an iteration changed them; [SNAP_BEST]: the best.
SNAP_BAK, SNAP_BEST = 0, 1
# Rows of Work.kv (per load dimension).
KV_LOAD, KV_EXC = 0, 1
# Work.buf[BUF_TREL] holds the release of the trip starting at each position.
BUF_TREL = 3

Work = namedtuple(
    "Work",
    [
        "pcs",  # (2, 8, 4) candidate routes as pieces: (route or -1, a, b, reversed)
        "buf",  # (4, L + 4) materialised candidate routes; row BUF_TREL: trip releases
        "kv",  # (2, K) load and excess scratch
        "cv",  # (7, C) per client, CV_* rows
        "fv",  # (2, max(C, N_FST)) row 0: float parameters and state (F_*); row 1: sort keys
        "rv",  # (7, V) per route, RV_* rows
        "snap",  # (2, V, L) saved routes and best routes
        "wst",  # int64 state, S_*
        "pen",  # (K + 1,) penalty weights: load per dimension, then time warp
    ],
)

# Work.wst: int64 state of the main loop.
(
    S_NDIRTY,
    S_BAK_UN,
    S_CUR_OBJ,
    S_BEST_OBJ,
    S_BEST_UN,
    S_ITER,
    S_FEAS_LOAD,
    S_FEAS_TW,
    S_LS_RUNS,
    S_BEST_ITER,
    S_MAX_ITER,
    S_NPC,  # S_NPC + slot: pieces of candidate slot (2 slots)
    S_NPC1,
    S_BLEN,  # S_BLEN + slot: length of materialised candidate slot (3 slots)
    S_BLEN1,
    S_BLEN2,
    S_N_EVAL,  # statistics: move evaluations,
    S_N_PASS,  # local search passes,
    S_N_PAIR,  # pairs tried
    S_N_INS,  # insertion positions priced
    S_QHEAD,  # the local search's queue of active clients: first slot in Work.cv[CV_QUEUE],
    S_QCOUNT,  # and how many
) = range(22)
N_WST = 24
# Work.fv[0]: float parameters and state of the main loop.
(
    F_T0,
    F_TF,
    F_CBAR,
    F_LMAX,
    F_SPLIT,
    F_DEPTH,
    F_BLINK,
    F_TARGET,
    F_PROGRESS,
    F_P0,
    F_P1,
) = range(11)
N_FST = 12


def _fit_count(demands: np.ndarray, capacity: int) -> int:
    """How many of these demands (smallest first) fit in ``capacity``: a route length bound."""
    if demands.size == 0:
        return 0
    cumulative = np.cumsum(np.sort(demands))
    return int(np.searchsorted(cumulative, capacity, side="right"))


def build_instance(problem: Problem, nb: np.ndarray, adj: np.ndarray) -> Inst:
    """The kernels' view of ``problem`` (granular neighbours ``nb`` and ``adj`` given)."""
    n_clients, n_depots = problem.n_clients, len(problem.depots)
    n_nodes = n_clients + n_depots
    n_dims = problem.n_dimensions
    locations = np.array(
        [c.location for c in problem.clients] + [d.location for d in problem.depots],
        dtype=np.int64,
    )
    source = problem.distances if problem.objective == "distance" else problem.durations
    cost = np.ascontiguousarray(source[:, locations][:, :, locations], dtype=np.int64)
    dur = np.ascontiguousarray(problem.durations[:, locations][:, :, locations], dtype=np.int64)
    no_path = dur >= MAX_TIME
    dur[no_path] = NO_PATH_DURATION
    no_path_cost = cost >= MAX_TIME

    demand = np.zeros((n_nodes, n_dims), dtype=np.int64)
    service = np.zeros(n_nodes, dtype=np.int64)
    tw_e = np.zeros(n_nodes, dtype=np.int64)
    tw_l = np.full(n_nodes, INF, dtype=np.int64)
    release = np.zeros(n_nodes, dtype=np.int64)
    group = np.zeros(n_nodes, dtype=np.int64)
    for i, client in enumerate(problem.clients):
        demand[i] = client.demand
        service[i] = client.service
        tw_e[i] = client.tw_early
        tw_l[i] = client.tw_late
        release[i] = client.release
        group[i] = client.depot
    group[n_clients:] = np.arange(n_depots)
    dep_open = np.array([d.opens for d in problem.depots], dtype=np.int64)
    dep_close = np.array([d.closes for d in problem.depots], dtype=np.int64)

    types = problem.vehicle_types
    # No solution uses more vehicles of a type than it has clients to carry: a free fleet
    # ("as many bikes as parcels") is capped so the kernels' per-vehicle loops stay short.
    compatible_clients = [sum(c.depot == t.start_depot for c in problem.clients) for t in types]
    counts = np.array(
        [min(t.count, max(1, n)) for t, n in zip(types, compatible_clients, strict=True)],
        dtype=np.int64,
    )
    t_first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    v_type = np.repeat(np.arange(len(types)), counts).astype(np.int64)

    def per_vehicle(values: list[int]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=np.int64), counts)

    v_cap = np.repeat(np.array([t.capacity for t in types], dtype=np.int64), counts, axis=0)
    v_cap = v_cap.reshape(len(v_type), n_dims)
    v_start = per_vehicle([n_clients + t.start_depot for t in types])
    v_end = per_vehicle([n_clients + t.return_depot for t in types])
    max_trips = [
        min(t.max_trips, n_clients + 1) if t.max_trips is not None else n_clients + 1 for t in types
    ]

    # A route longer than this is refused by every move: feasible routes never come close.
    max_length = 3
    client_demands = demand[:n_clients]
    for t in types:
        compatible = [i for i, c in enumerate(problem.clients) if c.depot == t.start_depot]
        bound = len(compatible)
        trips = min(t.max_trips or bound, bound)
        if trips <= 1:
            for k in range(n_dims):
                fit = _fit_count(client_demands[compatible, k], t.capacity[k])
                bound = min(bound, 2 * fit + 8)
            length = bound + 2
        else:
            length = bound + max(trips - 1, 0) + 2
        max_length = max(max_length, length)

    finite = np.where(no_path_cost, 0, cost)
    big_m = 1 + int(finite.max(initial=0)) * 2 * max(n_clients, 1)
    big_m += n_clients * max((t.fixed_cost for t in types), default=0)
    # A "no path" leg costs more than leaving its client out, so the search avoids it.
    cost[no_path_cost] = min(max(MAX_TIME, big_m + 1), 1 << 50)
    has_time = bool(
        (tw_e[:n_clients] > 0).any()
        or (tw_l[:n_clients] < MAX_TIME).any()
        or (release > 0).any()
        or any(t.shift_start > 0 or t.shift_end < MAX_TIME for t in types)
        or (dep_open > 0).any()
        or (dep_close < MAX_TIME).any()
        or no_path.any()
    )
    symmetric = bool(np.array_equal(cost, cost.transpose(0, 2, 1)))

    prm = np.zeros(N_PRM, dtype=np.int64)
    prm[P_C], prm[P_D], prm[P_V], prm[P_K], prm[P_N] = (
        n_clients,
        n_depots,
        len(v_type),
        n_dims,
        n_nodes,
    )
    prm[P_L] = max_length
    prm[P_NB] = nb.shape[1]
    prm[P_ADJ] = adj.shape[1]
    prm[P_BIGM] = big_m
    prm[P_TIME] = int(has_time)
    prm[P_MULTI] = int(any(m > 1 for m in max_trips))
    prm[P_T] = len(types)
    prm[P_SYM] = int(symmetric)
    nd = np.zeros((n_nodes, 5), dtype=np.int64)
    nd[:, ND_SERVICE] = service
    nd[:, ND_TWE] = tw_e
    nd[:, ND_TWL] = tw_l
    nd[n_clients:, ND_TWE] = dep_open
    nd[n_clients:, ND_TWL] = dep_close
    nd[:, ND_REL] = release
    nd[:, ND_GROUP] = group
    vh = np.zeros((len(v_type), 10), dtype=np.int64)
    vh[:, VH_TYPE] = v_type
    vh[:, VH_PROF] = per_vehicle([t.profile for t in types])
    vh[:, VH_START] = v_start
    vh[:, VH_END] = v_end
    vh[:, VH_SS] = per_vehicle([t.shift_start for t in types])
    vh[:, VH_SE] = per_vehicle([t.shift_end for t in types])
    vh[:, VH_FIXED] = per_vehicle([t.fixed_cost for t in types])
    vh[:, VH_MAXTRIPS] = per_vehicle(max_trips)
    vh[:, VH_RELOAD] = per_vehicle([t.reload for t in types])
    vh[:, VH_GROUP] = per_vehicle([t.start_depot for t in types])
    return Inst(
        prm=prm,
        mat=np.ascontiguousarray(np.stack([cost, dur])),
        nd=nd,
        dem=demand,
        vh=vh,
        cap=np.ascontiguousarray(v_cap),
        ty=np.ascontiguousarray(np.stack([t_first, counts], axis=1)),
        near=np.ascontiguousarray(np.concatenate([nb, adj], axis=1), dtype=np.int64),
    )


def new_solution(inst: Inst) -> Sol:
    """An empty solution: every vehicle unused (start depot, end depot), every client out."""
    prm = inst.prm
    n_clients, n_vehicles, n_dims, max_length = (
        int(prm[P_C]),
        int(prm[P_V]),
        int(prm[P_K]),
        int(prm[P_L]),
    )
    node = np.zeros((n_vehicles, max_length), dtype=np.int64)
    node[:, 0] = inst.vh[:, VH_START]
    node[:, 1] = inst.vh[:, VH_END]
    rt = np.zeros((n_vehicles, RT_EXC + n_dims), dtype=np.int64)
    rt[:, RT_LEN] = 2
    sol = Sol(
        node=node,
        rt=rt,
        cl=np.full((n_clients, 2), -1, dtype=np.int64),
        ps=np.zeros((n_vehicles, max_length, N_PS), dtype=np.int64),
        cuml=np.zeros((n_vehicles, max_length, n_dims), dtype=np.int64),
        un=np.arange(n_clients, dtype=np.int64),
        misc=np.zeros(N_MISC, dtype=np.int64),
    )
    sol.misc[M_UN] = n_clients
    sol.misc[M_COUNTER] = 1
    return sol


def new_work(inst: Inst, pen: np.ndarray) -> Work:
    """Scratch and main-loop state for ``inst``, with initial penalty weights ``pen``."""
    prm = inst.prm
    n_clients, n_vehicles, n_dims, max_length = (
        int(prm[P_C]),
        int(prm[P_V]),
        int(prm[P_K]),
        int(prm[P_L]),
    )
    cv = np.zeros((7, n_clients), dtype=np.int64)
    cv[CV_ORDER] = np.arange(n_clients)
    return Work(
        pcs=np.zeros((2, 8, 4), dtype=np.int64),
        buf=np.zeros((4, max_length + 4), dtype=np.int64),
        kv=np.zeros((2, n_dims), dtype=np.int64),
        cv=cv,
        fv=np.zeros((2, max(n_clients, N_FST)), dtype=np.float64),
        rv=np.zeros((7, n_vehicles), dtype=np.int64),
        snap=np.zeros((2, n_vehicles, max_length), dtype=np.int64),
        wst=np.zeros(N_WST, dtype=np.int64),
        pen=np.asarray(pen, dtype=np.int64).copy(),
    )
