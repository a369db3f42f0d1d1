"""The operations core's kernels: route simulation, insertion, string removal, the main loop.

Every route is simulated in full by the contract's rules (``docs/solver-contract.md``), so
pairs, on-board parcels, breaks, ride limits and soft windows need no incremental bookkeeping:
routes of cargo bikes are short, and a full simulation costs O(route length). Solutions stay
feasible: a move that breaks a hard rule is never made. The search is ruin and recreate (SISR
strings, pair-aware) with greedy insertion with blinks, accepted by simulated annealing
(Christiaens & Vanden Berghe 2020).
"""

# Kernels take arrays and scalars and are typed by numba, not annotated.
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

from collections import namedtuple

import numpy as np

from solver._jit import ENTRY_OPTIONS, KERNEL_OPTIONS, kernel
from solver._ops.arrays import (
    CI_DUE,
    CI_KIND,
    CI_LATE,
    CI_MOVE,
    CI_PARTNER,
    CI_PLANNED,
    CI_REL,
    CI_RIDE,
    CI_SERVICE,
    CI_TWE,
    CI_TWL,
    CI_WEIGHT,
    KIND_DELIVERY,
    KIND_DEPOT,
    KIND_ON_BOARD,
    KIND_PICKUP,
    P_BIGM,
    P_C,
    P_K,
    P_MAXDUR,
    P_NEAR,
    P_V,
    RELOAD,
    VI_AFAR,
    VI_BDUR,
    VI_BE,
    VI_BL,
    VI_CLOSE_DEPOT,
    VI_CLOSE_END,
    VI_DCOST,
    VI_DEPOT,
    VI_END,
    VI_FIXED,
    VI_OPEN,
    VI_PROF,
    VI_RELOAD,
    VI_SE,
    VI_SS,
    VI_START,
    VI_TRIPS,
    VI_TYPE,
)

#: A simulation's cost when the route breaks a hard rule.
INFEASIBLE = -1
#: Larger than any insertion cost.
HUGE = 1 << 62
#: Which rule a simulation broke (Scratch.pick[2, n_clients]); names in solver.operations.
R_NONE, R_CAPACITY, R_WINDOW, R_SHIFT, R_RIDE, R_ORDER, R_TRIPS, R_BREAK, R_AWAY, R_ON_BOARD = (
    range(10)
)
N_RULES = 10

Sol = namedtuple("Sol", ["route", "rlen", "rcost", "rdur", "where"])
Scratch = namedtuple(
    "Scratch", ["pick", "load", "buf", "rm", "vmark", "units", "keys", "prv", "nxt"]
)

# Float parameters (Params) and int state (State) of the main loop.
F_T0, F_TF, F_P0, F_P1, F_CBAR, F_LMAX, F_BLINK = range(7)
N_F = 8
S_ITER, S_CUR, S_BEST, S_MAX_ITER = range(4)
N_S = 4


@kernel(**KERNEL_OPTIONS)
def simulate(ops, seq, n, v, gap, pick, load):
    """(cost, duration, end) of route ``seq[:n]`` on vehicle ``v``, the break at ``gap``
    (-1: none); cost is INFEASIBLE when a hard rule is broken."""
    ci = ops.ci
    vi = ops.vi
    dem = ops.dem
    n_dims = ops.prm[P_K]
    n_clients = ops.prm[P_C]
    prof = vi[v, VI_PROF]
    total = vi[v, VI_FIXED]
    pick[1, n_clients] = n  # where the route broke a rule: no rule broken yet
    ready = vi[v, VI_SS]
    start_time = -1
    ret = ready
    pos = 0
    trip = 0
    g = 0
    while True:
        tend = pos
        while tend < n and seq[tend] != RELOAD:
            tend += 1
        afar = trip == 0 and vi[v, VI_AFAR] == 1
        for k in range(n_dims):
            load[k] = 0
        rel = 0
        for q in range(pos, tend):
            c = seq[q]
            kind = ci[c, CI_KIND]
            if kind == KIND_DEPOT:
                if afar:
                    pick[1, n_clients] = pos
                    pick[2, n_clients] = R_AWAY
                    return INFEASIBLE, 0, 0
                if ci[c, CI_REL] > rel:
                    rel = ci[c, CI_REL]
                for k in range(n_dims):
                    load[k] += dem[c, k]
            elif kind == KIND_ON_BOARD:
                if trip != 0:
                    pick[1, n_clients] = pos
                    pick[2, n_clients] = R_ON_BOARD
                    return INFEASIBLE, 0, 0
                for k in range(n_dims):
                    load[k] += dem[c, k]
        for k in range(n_dims):
            if load[k] > ops.cap[v, k]:
                pick[1, n_clients] = pos
                pick[2, n_clients] = R_CAPACITY
                return INFEASIBLE, 0, 0
        if afar:
            dep = ready
            here = vi[v, VI_START]
        else:
            dep = max(ready, vi[v, VI_OPEN], rel)
            here = vi[v, VI_DEPOT]
        if start_time < 0:
            start_time = dep
        now = dep
        pick[0, n_clients] += 1
        stamp = pick[0, n_clients]
        for k in range(tend - pos + 1):
            if g == gap:
                rest = max(now, vi[v, VI_BE])
                if rest > vi[v, VI_BL]:
                    pick[1, n_clients] = pos + k
                    pick[2, n_clients] = R_BREAK
                    return INFEASIBLE, 0, 0
                now = rest + vi[v, VI_BDUR]
            g += 1
            if k == tend - pos:
                break
            c = seq[pos + k]
            arrival = now + ops.dur[prof, here, c]
            total += ops.cost[prof, here, c]
            kind = ci[c, CI_KIND]
            earliest = ci[c, CI_TWE]
            if kind == KIND_PICKUP and ci[c, CI_REL] > earliest:
                earliest = ci[c, CI_REL]
            start = max(arrival, earliest)
            if start > ci[c, CI_TWL]:
                pick[1, n_clients] = pos + k
                pick[2, n_clients] = R_WINDOW
                return INFEASIBLE, 0, 0
            if start > ci[c, CI_DUE]:
                total += ci[c, CI_LATE] * (start - ci[c, CI_DUE])
            if ci[c, CI_PLANNED] >= 0 and ci[c, CI_PLANNED] != vi[v, VI_TYPE]:
                total += ci[c, CI_MOVE]
            now = start + ci[c, CI_SERVICE]
            if kind == KIND_PICKUP:
                pick[0, c] = stamp
                pick[1, c] = now
                for d in range(n_dims):
                    load[d] += dem[c, d]
                    if load[d] > ops.cap[v, d]:
                        pick[1, n_clients] = pos + k
                        pick[2, n_clients] = R_CAPACITY
                        return INFEASIBLE, 0, 0
            else:
                for d in range(n_dims):
                    load[d] -= dem[c, d]
                if kind == KIND_DELIVERY:
                    p = ci[c, CI_PARTNER]
                    if pick[0, p] != stamp or start - pick[1, p] > ci[c, CI_RIDE]:
                        pick[1, n_clients] = pos + k
                        pick[2, n_clients] = R_RIDE if pick[0, p] == stamp else R_ORDER
                        return INFEASIBLE, 0, 0
                elif kind == KIND_DEPOT and start - dep > ci[c, CI_RIDE]:
                    pick[1, n_clients] = pos + k
                    pick[2, n_clients] = R_RIDE
                    return INFEASIBLE, 0, 0
            here = c
        last = tend >= n
        end_node = vi[v, VI_END] if last else vi[v, VI_DEPOT]
        ret = now + ops.dur[prof, here, end_node]
        total += ops.cost[prof, here, end_node]
        if ret > vi[v, VI_SE] or ret > (vi[v, VI_CLOSE_END] if last else vi[v, VI_CLOSE_DEPOT]):
            pick[1, n_clients] = tend
            pick[2, n_clients] = R_SHIFT
            return INFEASIBLE, 0, 0
        ready = ret + vi[v, VI_RELOAD]
        trip += 1
        if trip > vi[v, VI_TRIPS]:
            pick[1, n_clients] = tend
            pick[2, n_clients] = R_TRIPS
            return INFEASIBLE, 0, 0
        if last:
            break
        pos = tend + 1
    duration = ret - start_time
    total += vi[v, VI_DCOST] * duration
    return total, duration, ret


@kernel(**KERNEL_OPTIONS)
def evaluate(ops, seq, n, v, scr):
    """(cost, duration) of a route with its break in the contract's gap; cost INFEASIBLE if none."""
    if n == 0:
        return 0, 0
    cost, duration, end = simulate(ops, seq, n, v, -1, scr.pick, scr.load)
    if cost < 0:
        return INFEASIBLE, 0
    if ops.vi[v, VI_BDUR] == 0 or end <= ops.vi[v, VI_BL]:
        return cost, duration
    best = INFEASIBLE
    best_duration = 0
    for gap in range(n + 1):
        c, d, _ = simulate(ops, seq, n, v, gap, scr.pick, scr.load)
        if c >= 0 and (best < 0 or c < best or (c == best and d < best_duration)):
            best = c
            best_duration = d
    return best, best_duration


@kernel(**ENTRY_OPTIONS)
def objective(ops, sol):
    """Route costs + the longest route's cost + BIGM per client left out (x its weight)."""
    total = 0
    longest = 0
    for v in range(sol.rlen.shape[0]):
        total += sol.rcost[v]
        if sol.rlen[v] > 0 and sol.rdur[v] > longest:
            longest = sol.rdur[v]
    out = 0
    for c in range(sol.where.shape[0]):
        if sol.where[c] < 0:
            out += ops.ci[c, CI_WEIGHT]
    return total + ops.prm[P_MAXDUR] * longest + ops.prm[P_BIGM] * out


@kernel(**KERNEL_OPTIONS)
def copy_sol(src, dst):
    for v in range(src.rlen.shape[0]):
        n = src.rlen[v]
        for q in range(n):
            dst.route[v, q] = src.route[v, q]
        dst.rlen[v] = n
        dst.rcost[v] = src.rcost[v]
        dst.rdur[v] = src.rdur[v]
    for c in range(src.where.shape[0]):
        dst.where[c] = src.where[c]


@kernel(**KERNEL_OPTIONS)
def _trip_count(seq, n):
    trips = 1
    for q in range(n):
        if seq[q] == RELOAD:
            trips += 1
    return trips


@kernel(**KERNEL_OPTIONS)
def _longest_other(ops, sol, v):
    longest = 0
    for w in range(sol.rlen.shape[0]):
        if w != v and sol.rlen[w] > 0 and sol.rdur[w] > longest:
            longest = sol.rdur[w]
    return longest


@kernel(**KERNEL_OPTIONS)
def _build(seq, n, buf, i, a, j, b, prefix, suffix):
    """buf = seq[:i] + prefix? + [a] + seq[i:j] + [b]? + suffix? + seq[j:]; returns its length.

    ``b`` < 0 means no second client; ``prefix``/``suffix`` add a RELOAD before ``a`` / after
    the inserted unit.
    """
    m = 0
    for q in range(i):
        buf[m] = seq[q]
        m += 1
    if prefix:
        buf[m] = RELOAD
        m += 1
    buf[m] = a
    m += 1
    for q in range(i, j):
        buf[m] = seq[q]
        m += 1
    if b >= 0:
        buf[m] = b
        m += 1
    if suffix:
        buf[m] = RELOAD
        m += 1
    for q in range(j, n):
        buf[m] = seq[q]
        m += 1
    return m


@kernel(**KERNEL_OPTIONS)
def _consider(ops, sol, scr, v, m, base_total, longest_other, best):
    """Price the candidate in scr.buf[:m] for vehicle v: -1 infeasible, 1 cheaper than ``best``
    (which it then becomes), else 0."""
    cost, duration = evaluate(ops, scr.buf, m, v, scr)
    if cost < 0:
        return -1
    longest = duration if duration > longest_other else longest_other
    delta = cost - sol.rcost[v] + ops.prm[P_MAXDUR] * longest - base_total
    if delta < best[0]:
        best[0] = delta
        return 1
    return 0


@kernel(**KERNEL_OPTIONS)
def _neighbours(ops, seq, n, v, prv, nxt):
    """For each insertion position 0..n: the node before it and the node after it."""
    markers = 0
    for q in range(n):
        if seq[q] == RELOAD:
            markers += 1
    trip = 0
    for i in range(n + 1):
        if i > 0 and seq[i - 1] == RELOAD:
            trip += 1
        if i > 0 and seq[i - 1] != RELOAD:
            prv[i] = seq[i - 1]
        else:
            prv[i] = ops.vi[v, VI_START] if trip == 0 else ops.vi[v, VI_DEPOT]
        if i < n and seq[i] != RELOAD:
            nxt[i] = seq[i]
        else:
            nxt[i] = ops.vi[v, VI_END] if trip == markers else ops.vi[v, VI_DEPOT]


@kernel(**KERNEL_OPTIONS)
def _arc_bound(cost, prv, nxt, i, j, u, d):
    """The arc cost an insertion adds: a lower bound of its whole cost when no span costs."""
    a = prv[i]
    b = nxt[i]
    if d < 0:
        return cost[a, u] + cost[u, b] - cost[a, b]
    if j == i:
        return cost[a, u] + cost[u, d] + cost[d, b] - cost[a, b]
    extra = cost[a, u] + cost[u, b] - cost[a, b]
    return extra + cost[prv[j], d] + cost[d, nxt[j]] - cost[prv[j], nxt[j]]


@kernel(**KERNEL_OPTIONS)
def insert_unit(ops, sol, scr, u, blink, best_buf):
    """Insert client ``u`` (with its delivery, if ``u`` is a pickup) where it adds least.

    Returns True when inserted; False when no vehicle can take it feasibly.
    """
    ci = ops.ci
    partner = ci[u, CI_PARTNER] if ci[u, CI_KIND] == KIND_PICKUP else -2
    n_vehicles = ops.prm[P_V]
    longest = 0
    for w in range(n_vehicles):
        if sol.rlen[w] > 0 and sol.rdur[w] > longest:
            longest = sol.rdur[w]
    base_total = ops.prm[P_MAXDUR] * longest
    best = np.empty(1, dtype=np.int64)
    best[0] = HUGE
    best_v = -1
    best_m = 0
    tried_empty_type = np.full(ops.vi.shape[0], -1, dtype=np.int64)
    for v in range(n_vehicles):
        if ops.ok[u, v] == 0:
            continue
        seq = sol.route[v]
        n = sol.rlen[v]
        if n == 0:
            # Identical empty bikes of one type: pricing the first is enough.
            t = ops.vi[v, VI_TYPE]
            if tried_empty_type[t] >= 0:
                continue
            tried_empty_type[t] = v
        trips = _trip_count(seq, n) if n > 0 else 0
        can_add_trip = trips < ops.vi[v, VI_TRIPS]
        other = _longest_other(ops, sol, v) if ops.prm[P_MAXDUR] > 0 else 0
        b_partner = partner if partner >= 0 else -2
        bounded = ops.vi[v, VI_DCOST] == 0 and ops.prm[P_MAXDUR] == 0
        if bounded:
            _neighbours(ops, seq, n, v, scr.prv, scr.nxt)
        arcs = ops.cost[ops.vi[v, VI_PROF]]
        fixed = ops.vi[v, VI_FIXED] if n == 0 else 0
        for i in range(n + 1):
            at_trip_start = i == 0 or seq[i - 1] == RELOAD
            # j: where the delivery goes (pairs: anywhere later on the same trip).
            j_end = i
            if partner >= 0:
                while j_end < n and seq[j_end] != RELOAD:
                    j_end += 1
            prunable = ops.vi[v, VI_BDUR] == 0
            for j in range(i, j_end + 1):
                if blink > 0.0 and np.random.random() < blink:
                    continue
                if bounded:
                    bound = fixed + _arc_bound(arcs, scr.prv, scr.nxt, i, j, u, b_partner)
                    if bound >= best[0]:
                        continue
                m = _build(seq, n, scr.buf, i, u, j, b_partner, False, False)
                verdict = _consider(ops, sol, scr, v, m, base_total, other, best)
                if verdict == 1:
                    best_v, best_m = v, m
                    best_buf[:m] = scr.buf[:m]
                elif verdict < 0 and prunable and scr.pick[1, ops.prm[P_C]] <= j + 1:
                    # It broke before (or at) the delivery: a later delivery breaks there too.
                    break
            if n > 0 and can_add_trip:
                if at_trip_start:  # a new trip before the one at i
                    m = _build(seq, n, scr.buf, i, u, i, b_partner, False, True)
                    if _consider(ops, sol, scr, v, m, base_total, other, best) == 1:
                        best_v, best_m = v, m
                        best_buf[:m] = scr.buf[:m]
                if i == n:  # a new trip at the end
                    m = _build(seq, n, scr.buf, i, u, i, b_partner, True, False)
                    if _consider(ops, sol, scr, v, m, base_total, other, best) == 1:
                        best_v, best_m = v, m
                        best_buf[:m] = scr.buf[:m]
            if n == 0 and ops.vi[v, VI_AFAR] == 1 and ops.vi[v, VI_TRIPS] > 1:
                # away from the depot: an empty first trip back to it, then the unit
                m = _build(seq, n, scr.buf, 0, u, 0, b_partner, True, False)
                if _consider(ops, sol, scr, v, m, base_total, other, best) == 1:
                    best_v, best_m = v, m
                    best_buf[:m] = scr.buf[:m]
    if best_v < 0:
        return False
    for q in range(best_m):
        sol.route[best_v, q] = best_buf[q]
    sol.rlen[best_v] = best_m
    cost, duration = evaluate(ops, sol.route[best_v], best_m, best_v, scr)
    sol.rcost[best_v] = cost
    sol.rdur[best_v] = duration
    sol.where[u] = best_v
    if partner >= 0:
        sol.where[partner] = best_v
    return True


@kernel(**KERNEL_OPTIONS)
def _normalise(ops, sol, v):
    """Drop empty trips (keeping an empty first trip of a bike away from its depot)."""
    seq = sol.route[v]
    n = sol.rlen[v]
    m = 0
    for q in range(n):
        x = seq[q]
        empty_trip = x == RELOAD and (m == 0 or seq[m - 1] == RELOAD)
        if empty_trip and not (m == 0 and ops.vi[v, VI_AFAR] == 1):
            continue
        seq[m] = x
        m += 1
    while m > 0 and seq[m - 1] == RELOAD:
        m -= 1
    if m > 0 and seq[0] == RELOAD and m == 1:
        m = 0
    sol.rlen[v] = m


@kernel(**KERNEL_OPTIONS)
def remove_marked(ops, sol, scr):
    """Take the clients with scr.rm set (and their partners) out of their routes."""
    n_clients = ops.prm[P_C]
    for c in range(n_clients):
        if scr.rm[c] == 1:
            p = ops.ci[c, CI_PARTNER]
            if p >= 0:
                scr.rm[p] = 1
    for v in range(ops.prm[P_V]):
        scr.vmark[v] = 0
    for c in range(n_clients):
        if scr.rm[c] == 1 and sol.where[c] >= 0:
            scr.vmark[sol.where[c]] = 1
    for v in range(ops.prm[P_V]):
        if scr.vmark[v] == 0:
            continue
        seq = sol.route[v]
        m = 0
        for q in range(sol.rlen[v]):
            x = seq[q]
            if x >= 0 and scr.rm[x] == 1:
                continue
            seq[m] = x
            m += 1
        sol.rlen[v] = m
        _normalise(ops, sol, v)
        cost, duration = evaluate(ops, seq, sol.rlen[v], v, scr)
        if cost < 0:  # without the triangle inequality a shorter route can be late: empty it
            for q in range(sol.rlen[v]):
                if seq[q] >= 0:
                    scr.rm[seq[q]] = 1
            sol.rlen[v] = 0
            cost, duration = 0, 0
        sol.rcost[v] = cost
        sol.rdur[v] = duration
    for c in range(n_clients):
        if scr.rm[c] == 1:
            sol.where[c] = -1
            scr.rm[c] = 0


@kernel(**KERNEL_OPTIONS)
def ruin(ops, sol, scr, prm):
    """SISR string removal around a random client (Christiaens & Vanden Berghe 2020)."""
    n_clients = ops.prm[P_C]
    n_vehicles = ops.prm[P_V]
    used = 0
    served = 0
    for v in range(n_vehicles):
        if sol.rlen[v] > 0:
            used += 1
    for c in range(n_clients):
        if sol.where[c] >= 0:
            served += 1
    if used == 0:
        return
    if used > 1 and np.random.random() < 0.05:
        # Now and then try to empty a whole bike: the only way to need fewer of them.
        v = np.random.randint(0, n_vehicles)
        while sol.rlen[v] == 0:
            v = np.random.randint(0, n_vehicles)
        for q in range(sol.rlen[v]):
            if sol.route[v, q] >= 0:
                scr.rm[sol.route[v, q]] = 1
    ls_max = min(prm[F_LMAX], served / used)
    ks_max = 4.0 * prm[F_CBAR] / (1.0 + ls_max) - 1.0
    if ks_max < 1.0:
        ks_max = 1.0
    n_strings = int(np.random.random() * ks_max) + 1
    seed = np.random.randint(0, n_clients)
    while sol.where[seed] < 0:
        seed = np.random.randint(0, n_clients)
    for v in range(n_vehicles):
        scr.vmark[v] = 0
    ruined = 0
    for s in range(ops.prm[P_NEAR]):
        if ruined >= n_strings:
            break
        c = ops.near[seed, s]
        v = sol.where[c]
        if v < 0 or scr.vmark[v] == 1:
            continue
        scr.vmark[v] = 1
        ruined += 1
        seq = sol.route[v]
        n = sol.rlen[v]
        in_route = 0
        q_c = 0
        for q in range(n):
            if seq[q] >= 0:
                in_route += 1
            if seq[q] == c:
                q_c = q
        limit = min(ls_max, in_route)
        length = int(np.random.random() * limit) + 1
        first = q_c - np.random.randint(0, length)
        if first < 0:
            first = 0
        taken = 0
        q = first
        while q < n and taken < length:
            if seq[q] >= 0:
                scr.rm[seq[q]] = 1
                taken += 1
            q += 1
    remove_marked(ops, sol, scr)


@kernel(**KERNEL_OPTIONS)
def recreate(ops, sol, scr, blink, best_buf):
    """Insert every client left out (pairs as one unit), in a randomly chosen SISR order."""
    n_clients = ops.prm[P_C]
    n = 0
    for c in range(n_clients):
        if sol.where[c] < 0 and ops.ci[c, CI_KIND] != KIND_DELIVERY:
            scr.units[n] = c
            n += 1
    if n == 0:
        return
    pick = np.random.random() * 11.0
    depot = ops.vi[0, VI_DEPOT]
    for s in range(n):
        c = scr.units[s]
        if pick < 4.0:
            key = np.random.random()
        elif pick < 8.0:
            key = 0.0
            for k in range(ops.prm[P_K]):
                key -= ops.dem[c, k]
        elif pick < 10.0:
            key = -float(ops.cost[0, depot, c] + ops.cost[0, c, depot])
        else:
            key = float(ops.cost[0, depot, c] + ops.cost[0, c, depot])
        if ops.ci[c, CI_KIND] == KIND_ON_BOARD:
            key -= 1e30  # parcels already on a bike go in first: they must be delivered
        scr.keys[s] = key
    order = np.argsort(scr.keys[:n], kind="mergesort")
    for s in range(n):
        u = scr.units[order[s]]
        insert_unit(ops, sol, scr, u, blink, best_buf)


@kernel(**ENTRY_OPTIONS)
def diagnose(ops, sol, scr, u, counts):
    """Count, per rule, the insertions of unit ``u`` into ``sol`` that break it (why it is out)."""
    partner = ops.ci[u, CI_PARTNER] if ops.ci[u, CI_KIND] == KIND_PICKUP else -2
    n_clients = ops.prm[P_C]
    for v in range(ops.prm[P_V]):
        if ops.ok[u, v] == 0:
            continue
        seq = sol.route[v]
        n = sol.rlen[v]
        for i in range(n + 1):
            j_end = i
            if partner >= 0:
                while j_end < n and seq[j_end] != RELOAD:
                    j_end += 1
            for j in range(i, j_end + 1):
                for mode in range(3):
                    if mode > 0 and j != i:
                        continue
                    if mode == 1 and not (n > 0 and (i == 0 or seq[i - 1] == RELOAD)):
                        continue
                    if mode == 2 and not (n > 0 and i == n):
                        continue
                    m = _build(seq, n, scr.buf, i, u, j, partner, mode == 2, mode == 1)
                    scr.pick[2, n_clients] = R_NONE
                    cost, _ = evaluate(ops, scr.buf, m, v, scr)
                    if cost < 0:
                        counts[scr.pick[2, n_clients]] += 1


@kernel(**ENTRY_OPTIONS)
def evaluate_all(ops, sol, scr):
    """Price every route of ``sol`` (a warm start); returns the first infeasible vehicle or -1."""
    for v in range(ops.prm[P_V]):
        _normalise(ops, sol, v)
        cost, duration = evaluate(ops, sol.route[v], sol.rlen[v], v, scr)
        if cost < 0:
            return v
        sol.rcost[v] = cost
        sol.rdur[v] = duration
    return -1


@kernel(**ENTRY_OPTIONS)
def run(ops, cur, cand, best, scr, best_buf, prm, st, n_iter, seed, init):
    """The entry point: the first solution (``init``), or ``n_iter`` iterations."""
    if init:
        np.random.seed(seed)
        recreate(ops, cur, scr, 0.0, best_buf)
        st[S_CUR] = objective(ops, cur)
        st[S_BEST] = st[S_CUR]
        copy_sol(cur, best)
        return st[S_BEST]
    t0 = prm[F_T0]
    tf = prm[F_TF]
    for step in range(n_iter):
        copy_sol(cur, cand)
        ruin(ops, cand, scr, prm)
        recreate(ops, cand, scr, prm[F_BLINK], best_buf)
        obj = objective(ops, cand)
        if st[S_MAX_ITER] > 0:
            progress = st[S_ITER] / st[S_MAX_ITER]
        else:
            progress = prm[F_P0] + (prm[F_P1] - prm[F_P0]) * step / n_iter
        if progress > 1.0:
            progress = 1.0
        temperature = t0 * (tf / t0) ** progress
        threshold = st[S_CUR] - temperature * np.log(1.0 - np.random.random())
        if obj < st[S_BEST]:
            st[S_BEST] = obj
            copy_sol(cand, best)
        if obj < threshold:
            st[S_CUR] = obj
            copy_sol(cand, cur)
        st[S_ITER] += 1
    return st[S_BEST]
