"""Slow, obvious reference code for the search core's tests, straight from the solver contract.

- ``schedule``: simulate one vehicle's trips as ``docs/solver-contract.md`` says, reporting
  every broken hard constraint, the cost, and the time warp (late starts set back, Vidal 2013).
- ``check_outcome``: a search's answer is a valid, feasible solution whose cost is right.
- ``brute_force``: the optimum (fewest unassigned, then cheapest) over all assignments of a
  tiny problem, multiple vehicles and multi-trip included.
- ``problems``: a hypothesis strategy of small random problems using every feature.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from hypothesis import strategies as st

from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType


@dataclass
class Schedule:
    """What simulating one vehicle's trips found."""

    cost: int = 0
    time_warp: int = 0  # total lateness (late service and late depot arrivals)
    excess: list[int] = field(default_factory=list)  # load excess per dimension, over trips
    violations: list[str] = field(default_factory=list)
    #: Violations other than on the last leg back (a later trip would change that leg).
    early_violations: int = 0

    @property
    def feasible(self) -> bool:
        return not self.violations


def schedule(problem: Problem, vehicle_type: int, trips: list[list[int]]) -> Schedule:
    """Simulate ``trips`` on a vehicle of ``vehicle_type`` exactly as the contract says."""
    vt = problem.vehicle_types[vehicle_type]
    out = Schedule(excess=[0] * problem.n_dimensions)
    if not trips:
        return out
    cost_matrix = problem.cost_matrix(vt.profile)
    durations = problem.durations[vt.profile]
    distances = problem.distances[vt.profile]
    start = problem.depots[vt.start_depot]
    end = problem.depots[vt.return_depot]
    out.cost = vt.fixed_cost
    if vt.max_trips is not None and len(trips) > vt.max_trips:
        out.violations.append(f"{len(trips)} trips > max_trips {vt.max_trips}")
    clock = 0
    for number, trip in enumerate(trips):
        if not trip:
            out.violations.append(f"trip {number} is empty")
            continue
        for c in trip:
            if problem.clients[c].depot != vt.start_depot:
                out.violations.append(f"client {c} waits at another depot")
        for k in range(problem.n_dimensions):
            load = sum(problem.clients[c].demand[k] for c in trip)
            if load > vt.capacity[k]:
                out.excess[k] += load - vt.capacity[k]
                out.violations.append(f"trip {number} load {load} > capacity {vt.capacity[k]}")
        release = max(problem.clients[c].release for c in trip)
        first = number == 0
        ready = vt.shift_start if first else clock + vt.reload
        clock = max(ready, start.opens, release)
        here = start.location
        for c in trip:
            client = problem.clients[c]
            leg = int(durations[here, client.location])
            if leg >= MAX_TIME or distances[here, client.location] >= MAX_TIME:
                out.violations.append(f"no path to client {c}")
            out.cost += int(cost_matrix[here, client.location])
            arrival = clock + leg
            service = max(arrival, client.tw_early)
            if service > client.tw_late:
                out.time_warp += service - client.tw_late
                out.violations.append(f"client {c} served at {service} > {client.tw_late}")
                service = client.tw_late
            clock = service + client.service
            here = client.location
        back = end if number == len(trips) - 1 else start
        out.early_violations = len(out.violations)
        leg = int(durations[here, back.location])
        if leg >= MAX_TIME or distances[here, back.location] >= MAX_TIME:
            out.violations.append("no path back to the depot")
        out.cost += int(cost_matrix[here, back.location])
        clock += leg
        latest = min(vt.shift_end, back.closes)
        if clock > latest:
            out.time_warp += clock - latest
            out.violations.append(f"back at {clock} > {latest}")
            clock = latest
    return out


def check_outcome(problem: Problem, outcome: object) -> int:
    """Assert ``outcome`` (a SearchOutcome) is valid and feasible; returns the naive cost."""
    trips_by_vehicle = outcome.vehicle_trips  # type: ignore[attr-defined]
    unassigned = outcome.unassigned  # type: ignore[attr-defined]
    seen = [c for _, trips in trips_by_vehicle for trip in trips for c in trip]
    assert sorted(seen + list(unassigned)) == list(range(problem.n_clients)), (seen, unassigned)
    for t, vt in enumerate(problem.vehicle_types):
        used = sum(1 for vehicle_type, _ in trips_by_vehicle if vehicle_type == t)
        assert used <= vt.count
    total = 0
    for vehicle_type, trips in trips_by_vehicle:
        assert trips
        assert all(trips)
        result = schedule(problem, vehicle_type, trips)
        assert result.feasible, (vehicle_type, trips, result.violations)
        total += result.cost
    assert outcome.cost == total  # type: ignore[attr-defined]
    assert outcome.feasible  # type: ignore[attr-defined]
    return total


def _routes_of_type(problem: Problem, vehicle_type: int) -> dict[frozenset[int], int]:
    """Cheapest feasible route of one vehicle of this type for every client subset it can do."""
    vt = problem.vehicle_types[vehicle_type]
    n = problem.n_clients
    best: dict[frozenset[int], int] = {frozenset(): 0}
    max_trips = vt.max_trips if vt.max_trips is not None else n

    def extend(trips: list[list[int]], used: frozenset[int]) -> None:
        if trips[-1]:
            result = schedule(problem, vehicle_type, trips)
            if result.feasible and result.cost < best.get(used, MAX_TIME):
                best[used] = result.cost
            # More clients or trips never mend a violation, except on the last leg back.
            if result.early_violations:
                return
            if len(trips) < max_trips:
                extend([*trips, []], used)
        for c in range(n):
            if c not in used:
                extend([*trips[:-1], [*trips[-1], c]], used | {c})

    extend([[]], frozenset())
    return best


def brute_force(problem: Problem) -> tuple[int, int]:
    """(fewest unassigned clients, least cost among those) over every assignment."""
    n = problem.n_clients
    vehicles = [t for t, vt in enumerate(problem.vehicle_types) for _ in range(min(vt.count, n))]
    routes = {t: _routes_of_type(problem, t) for t in set(vehicles)}

    @cache
    def cheapest(v: int, todo: frozenset[int]) -> int:
        """Least cost of serving exactly ``todo`` with vehicles v, v+1, ..."""
        if not todo:
            return 0
        if v == len(vehicles):
            return MAX_TIME
        best = cheapest(v + 1, todo)
        for subset, cost in routes[vehicles[v]].items():
            if subset and subset <= todo:
                best = min(best, cost + cheapest(v + 1, todo - subset))
        return best

    answer = (n + 1, 0)
    for size in range(n, -1, -1):
        for served in itertools.combinations(range(n), size):
            cost = cheapest(0, frozenset(served))
            if cost < MAX_TIME:
                answer = min(answer, (n - size, cost))
        if answer[0] <= n - size:
            break
    return answer


def serviceable_alone(problem: Problem, client: int) -> bool:
    """Some vehicle type can serve ``client`` on its own (the search's precondition)."""
    return any(schedule(problem, t, [[client]]).feasible for t in range(len(problem.vehicle_types)))


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    max_clients: int = 8,
    min_clients: int = 1,
    windows: bool = True,
    multi_trip: bool = True,
    only_serviceable: bool = True,
) -> Problem:
    """Small random problems: 1-2 depots, dimensions, profiles and vehicle types; windows,
    release times, service times, shifts, fixed costs, multi-trip with reloads. Clients that
    no vehicle could serve alone are dropped (``solver.solve`` removes those before a search)
    unless ``only_serviceable`` is false.
    """
    n_depots = draw(st.integers(1, 2))
    n_clients = draw(st.integers(min_clients, max_clients))
    n_dims = draw(st.integers(1, 2))
    n_profiles = draw(st.integers(1, 2))
    n_locations = n_depots + n_clients
    xy = np.array(draw(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)),
                                min_size=n_locations, max_size=n_locations)))  # fmt: skip
    euclid = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    base = np.floor(euclid + 0.5).astype(np.int64)
    distances = np.stack([base] * n_profiles)
    durations = np.stack([base * (p + 1) for p in range(n_profiles)])
    if draw(st.booleans()):  # one-way streets: an asymmetric detour on some legs
        seed = draw(st.integers(0, 2**16))
        extra = np.random.default_rng(seed).integers(0, 4, size=base.shape)
        np.fill_diagonal(extra, 0)
        distances = distances + extra
        durations = durations + extra
    horizon = 400
    depots = tuple(
        Depot(location=d, opens=draw(st.sampled_from([0, 0, 20])), closes=horizon * 2)
        for d in range(n_depots)
    )
    n_types = draw(st.integers(1, 2))
    types = []
    for t in range(n_types):
        start = t % n_depots
        types.append(
            VehicleType(
                count=draw(st.integers(1, 3)),
                capacity=tuple(draw(st.integers(4, 12)) for _ in range(n_dims)),
                start_depot=start,
                end_depot=draw(st.sampled_from([start, n_depots - 1])),
                shift_start=draw(st.sampled_from([0, 0, 10])),
                shift_end=draw(st.sampled_from([horizon, horizon * 2])) if windows else MAX_TIME,
                fixed_cost=draw(st.sampled_from([0, 0, 15])),
                profile=t % n_profiles,
                max_trips=draw(st.sampled_from([1, 2, 3, None])) if multi_trip else 1,
                reload=draw(st.sampled_from([0, 5])),
            )
        )
    starts = sorted({t.start_depot for t in types})
    clients = []
    for i in range(n_clients):
        early = late = 0
        if windows and draw(st.booleans()):
            early = draw(st.integers(0, horizon // 2))
            late = early + draw(st.integers(20, horizon))
        clients.append(
            Client(
                location=n_depots + i,
                demand=tuple(draw(st.integers(0, 6)) for _ in range(n_dims)),
                service=draw(st.sampled_from([0, 3])),
                tw_early=early,
                tw_late=late if late else MAX_TIME,
                release=draw(st.sampled_from([0, 0, 30])) if windows else 0,
                depot=draw(st.sampled_from(starts)),
            )
        )
    problem = Problem(
        depots=depots,
        clients=tuple(clients),
        vehicle_types=tuple(types),
        durations=durations,
        distances=distances,
        objective=draw(st.sampled_from(["distance", "duration"])),
        dimensions=tuple(f"d{k}" for k in range(n_dims)),
    )
    if not only_serviceable:
        return problem
    keep = tuple(c for i, c in enumerate(clients) if serviceable_alone(problem, i))
    return problem.replace(clients=keep)
