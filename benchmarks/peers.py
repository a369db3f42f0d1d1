"""Peer solvers for the solver benchmark: PyVRP and VROOM, each behind one ``solve_*`` function.

Each adapter converts a velocal :class:`~solver.model.Problem` into the peer's own input,
solves it within the time limit on one thread, and hands back the peer's routes as client
indices (:class:`PeerSolution`). The harness then builds a velocal ``Result`` from those
routes and lets velocal's independent checker recompute cost and feasibility, so a peer's
own cost figure is never trusted.

The peers are optional (``pip install velocal[bench-peers]``). :func:`peer_missing` says
whether one is installed; an adapter raises :class:`UnsupportedByPeerError` for a problem that uses
a feature the peer cannot model (the harness reports that instance as skipped for the peer).
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from solver.model import MAX_TIME, Problem

#: The peers, and the module each one needs.
PEER_MODULES = {"pyvrp": "pyvrp", "vroom": "vroom"}
INSTALL_HINT = "pip install velocal[bench-peers]"


class UnsupportedByPeerError(ValueError):
    """The problem uses a feature the peer cannot model; the message names it."""


@dataclass(frozen=True)
class PeerRoute:
    """One vehicle's work: its vehicle type index and its trips of client indices."""

    vehicle_type: int
    trips: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class PeerSolution:
    """What a peer found, in velocal's indices, before velocal's checker has looked at it.

    ``progress`` is the anytime curve the peer reports, as (seconds since the start,
    best feasible cost in the peer's own accounting) pairs; empty when it reports none.
    """

    solver: str
    routes: tuple[PeerRoute, ...]
    runtime_s: float
    iterations: int | None = None
    progress: tuple[tuple[float, int], ...] = ()


def _import(module: str) -> Any:
    """Import a peer's module untyped: the peers are optional and VROOM ships no type hints."""
    return importlib.import_module(module)


def peer_missing(name: str) -> str | None:
    """None when the peer ``name`` can run here, else a one-line reason saying how to install it."""
    module = PEER_MODULES[name]
    if importlib.util.find_spec(module) is None:
        return f"{name} not installed ({INSTALL_HINT})"
    return None


def _one_start_depot(problem: Problem, peer: str) -> None:
    """Refuse problems whose clients the peer cannot tie to their depot.

    PyVRP lets any vehicle serve any client, so velocal's ``Client.depot`` (where the parcel
    waits) only holds when every vehicle starts at that one depot.
    """
    starts = {v.start_depot for v in problem.vehicle_types}
    if len(starts) > 1:
        raise UnsupportedByPeerError(
            f"{peer}: vehicles starting at several depots {sorted(starts)} with clients bound "
            "to one of them (Client.depot) cannot be modelled"
        )
    (only,) = starts
    for index, client in enumerate(problem.clients):
        if client.depot != only:
            raise UnsupportedByPeerError(
                f"{peer}: client {index} waits at depot {client.depot}, which no vehicle "
                "starts from"
            )


# --- PyVRP -----------------------------------------------------------------------------------


def check_pyvrp_support(problem: Problem) -> dict[int, int]:
    """Raise UnsupportedByPeerError for what PyVRP cannot model; the reload time per depot.

    Clients must all wait at the one depot every vehicle starts from, and the multi-trip
    vehicle types reloading at a depot must agree on the reload time (PyVRP has one service
    duration per depot). Pickup-and-delivery pairs (Li & Lim) are refused: PyVRP 0.14 only
    picks up for the depot, it has no paired requests.
    """
    if problem.pairs:
        raise UnsupportedByPeerError(
            f"pyvrp: pickup-and-delivery pairs ({len(problem.pairs)}) cannot be modelled "
            "(PyVRP has no paired requests)"
        )
    _one_start_depot(problem, "pyvrp")
    reloads: dict[int, set[int]] = {}
    for vehicle in problem.vehicle_types:
        if vehicle.max_trips != 1:
            reloads.setdefault(vehicle.start_depot, set()).add(vehicle.reload)
    for depot, values in reloads.items():
        if len(values) > 1:
            raise UnsupportedByPeerError(
                f"pyvrp: vehicle types reloading at depot {depot} take different reload times "
                f"{sorted(values)}; PyVRP has one service duration per depot"
            )
    return {depot: values.pop() for depot, values in reloads.items()}


def _pyvrp_data(problem: Problem) -> Any:
    """The problem as PyVRP (>= 0.14) ``ProblemData``: locations, clients, depots, types, matrices.

    Locations keep velocal's indices, so matrices pass through unchanged (clipped to PyVRP's
    ``MAX_VALUE`` for "no path"). A velocal reload becomes the depot's service duration, which
    PyVRP also charges before the first trip: a slightly stricter schedule, never a looser one.
    """
    reloads = check_pyvrp_support(problem)
    pyvrp = _import("pyvrp")
    max_value: int = _import("pyvrp.constants").MAX_VALUE
    n_locations = problem.durations.shape[1]
    locations = [pyvrp.Location(0.0, 0.0, name=str(i)) for i in range(n_locations)]

    def clip(value: int) -> int:
        return min(int(value), max_value)

    depots = [
        pyvrp.Depot(
            location=d.location,
            tw_early=d.opens,
            tw_late=clip(d.closes),
            service_duration=reloads.get(number, 0),
            name=d.name,
        )
        for number, d in enumerate(problem.depots)
    ]
    clients = [
        pyvrp.Client(
            location=c.location,
            delivery=list(c.demand),
            pickup=[0] * len(c.demand),
            service_duration=c.service,
            tw_early=c.tw_early,
            tw_late=clip(c.tw_late),
            release_time=c.release,
            name=c.name,
        )
        for c in problem.clients
    ]
    by_distance = problem.objective == "distance"
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=v.count,
            capacity=list(v.capacity),
            start_depot=v.start_depot,
            end_depot=v.return_depot,
            fixed_cost=v.fixed_cost,
            tw_early=v.shift_start,
            tw_late=clip(v.shift_end),
            unit_distance_cost=1 if by_distance else 0,
            unit_duration_cost=0 if by_distance else 1,
            profile=v.profile,
            reload_depots=[] if v.max_trips == 1 else [v.start_depot],
            max_reloads=(
                np.iinfo(np.uint64).max if v.max_trips is None else max(v.max_trips - 1, 0)
            ),
            name=v.name,
        )
        for v in problem.vehicle_types
    ]
    distances = [np.minimum(m, max_value).astype(np.int64) for m in problem.distances]
    durations = [np.minimum(m, max_value).astype(np.int64) for m in problem.durations]
    return pyvrp.ProblemData(locations, clients, depots, vehicle_types, distances, durations)


def solve_pyvrp(problem: Problem, time_limit_s: float, seed: int) -> PeerSolution:
    """Solve with PyVRP's iterated local search for ``time_limit_s`` seconds of search."""
    pyvrp = _import("pyvrp")
    max_runtime = _import("pyvrp.stop").MaxRuntime

    data = _pyvrp_data(problem)
    started = time.perf_counter()
    result = pyvrp.solve(data, max_runtime(time_limit_s), seed=seed, display=False)
    runtime = time.perf_counter() - started
    routes = []
    for route in result.best.routes():
        trips: dict[int, list[int]] = {}
        for activity in route:
            if activity.is_client():
                trips.setdefault(activity.trip, []).append(activity.idx)
        visited = tuple(tuple(trips[t]) for t in sorted(trips) if trips[t])
        if visited:
            routes.append(PeerRoute(route.vehicle_type(), visited))
    # The statistics start their clock after the initial solution; the first iteration's
    # offset is what the set-up took, so the curve is measured from the call.
    setup = max(runtime - float(sum(result.stats.runtimes)), 0.0)
    progress = _anytime(
        setup,
        result.stats.runtimes,
        [(d.best_cost, d.best_feas) for d in result.stats.data],
    )
    return PeerSolution(
        solver="pyvrp",
        routes=tuple(routes),
        runtime_s=runtime,
        iterations=int(result.num_iterations),
        progress=progress,
    )


def _anytime(
    offset: float, step_seconds: Sequence[float], best: Sequence[tuple[int, bool]]
) -> tuple[tuple[float, int], ...]:
    """The improvements of the best feasible cost, as (elapsed seconds, cost) pairs."""
    curve: list[tuple[float, int]] = []
    elapsed = offset
    for seconds, (cost, feasible) in zip(step_seconds, best, strict=False):
        elapsed += seconds
        if feasible and (not curve or cost < curve[-1][1]):
            curve.append((elapsed, int(cost)))
    return tuple(curve)


# --- VROOM -----------------------------------------------------------------------------------

#: VROOM keeps times and matrix entries in 32-bit unsigned integers.
_VROOM_MAX = (1 << 32) - 1


def check_vroom_support(problem: Problem) -> None:
    """Raise UnsupportedByPeerError for what VROOM cannot model: release times (but a pickup's,
    which is just an earlier window start), and times or fixed costs beyond its 32-bit range."""
    pickups = {p for p, _ in problem.pairs}
    released = [i for i, c in enumerate(problem.clients) if c.release > 0 and i not in pickups]
    if released:
        raise UnsupportedByPeerError(
            f"vroom: release times (client {released[0]}) cannot be modelled"
        )
    horizon = [
        *(c.tw_late for c in problem.clients if c.tw_late < MAX_TIME),
        *(v.shift_end for v in problem.vehicle_types if v.shift_end < MAX_TIME),
        *(d.closes for d in problem.depots if d.closes < MAX_TIME),
    ]
    if horizon and max(horizon) > _VROOM_MAX:
        raise UnsupportedByPeerError("vroom: times beyond 32 bits cannot be modelled")
    if any(v.fixed_cost > _VROOM_MAX for v in problem.vehicle_types):
        raise UnsupportedByPeerError("vroom: fixed costs beyond 32 bits cannot be modelled")


def _vroom_input(problem: Problem) -> tuple[Any, list[int]]:
    """The problem as a ``vroom.Input`` and the vehicle type of each VROOM vehicle id.

    VROOM has no release times and one trip per vehicle: release times are refused, and
    multi-trip vehicle types ride a single trip each (still a valid velocal solution). Each
    velocal profile becomes a VROOM profile ``p<k>`` with its durations and, as costs, the
    matrix velocal's objective sums. Clients bound to a depot get that depot as a skill.
    A pair ``(p, d)`` becomes a VROOM shipment: its pickup and delivery steps carry the
    client indices as ids, the pickup's window starts no earlier than its release, and they
    ride any vehicle (a pair ignores ``Client.depot``).
    """
    check_vroom_support(problem)
    vroom = _import("vroom")
    problem_input = vroom.Input()
    for profile in range(problem.durations.shape[0]):
        name = f"p{profile}"
        problem_input.set_durations_matrix(
            name, np.minimum(problem.durations[profile], _VROOM_MAX).astype(np.uint32)
        )
        problem_input.set_costs_matrix(
            name, np.minimum(problem.cost_matrix(profile), _VROOM_MAX).astype(np.uint32)
        )

    several_depots = len(problem.depots) > 1
    vehicle_types: list[int] = []
    for type_index, v in enumerate(problem.vehicle_types):
        start, end = problem.depots[v.start_depot], problem.depots[v.return_depot]
        early = max(v.shift_start, start.opens)
        late = min(v.shift_end, end.closes, start.closes)
        window = vroom.TimeWindow(early, late) if late < MAX_TIME or early > 0 else None
        # A free fleet never needs more bikes than clients; more only slows VROOM down.
        for _ in range(min(v.count, max(problem.n_clients, 1))):
            problem_input.add_vehicle(
                vroom.Vehicle(
                    len(vehicle_types),
                    start=start.location,
                    end=end.location,
                    profile=f"p{v.profile}",
                    capacity=list(v.capacity),
                    skills={v.start_depot} if several_depots else None,
                    time_window=window,
                    costs=vroom.VehicleCosts(fixed=v.fixed_cost),
                )
            )
            vehicle_types.append(type_index)

    paired = problem.partner
    for pickup, delivery in problem.pairs:
        steps = []
        for index in (pickup, delivery):
            c = problem.clients[index]
            early = max(c.tw_early, c.release) if index == pickup else c.tw_early
            windows = []
            if early > 0 or c.tw_late < MAX_TIME:
                windows.append(vroom.TimeWindow(early, min(c.tw_late, _VROOM_MAX)))
            steps.append(
                vroom.ShipmentStep(
                    index, location=c.location, default_service=c.service, time_windows=windows
                )
            )
        problem_input.add_shipment(
            steps[0], steps[1], amount=vroom.Amount(list(problem.clients[pickup].demand))
        )
    for index, c in enumerate(problem.clients):
        if index in paired:
            continue
        windows = []
        if c.tw_early > 0 or c.tw_late < MAX_TIME:
            windows.append(vroom.TimeWindow(c.tw_early, min(c.tw_late, _VROOM_MAX)))
        problem_input.add_job(
            vroom.Job(
                index,
                location=c.location,
                default_service=c.service,
                delivery=list(c.demand),
                skills={c.depot} if several_depots else None,
                time_windows=windows,
            )
        )
    return problem_input, vehicle_types


def solve_vroom(problem: Problem, time_limit_s: float, seed: int) -> PeerSolution:
    """Solve with VROOM at its highest exploration level, one thread, ``time_limit_s`` at most.

    VROOM is deterministic and takes no seed; it usually stops well before the limit.
    """
    del seed  # deterministic
    problem_input, vehicle_types = _vroom_input(problem)
    started = time.perf_counter()
    solution = problem_input.solve(
        exploration_level=5, nb_threads=1, timeout=timedelta(seconds=time_limit_s)
    )
    runtime = time.perf_counter() - started
    steps = solution.routes
    routes = []
    visits = ("job", "pickup", "delivery")  # step ids are velocal client indices
    for vehicle_id, group in steps.groupby("vehicle_id", sort=True):
        jobs = tuple(int(j) for j in group.loc[group["type"].isin(visits), "id"])
        if jobs:
            routes.append(PeerRoute(vehicle_types[int(vehicle_id)], (jobs,)))
    return PeerSolution(solver="vroom", routes=tuple(routes), runtime_s=runtime)


#: name → adapter, in the order the harness runs them.
PEERS: dict[str, Callable[[Problem, float, int], PeerSolution]] = {
    "pyvrp": solve_pyvrp,
    "vroom": solve_vroom,
}

__all__ = [
    "INSTALL_HINT",
    "PEERS",
    "PeerRoute",
    "PeerSolution",
    "UnsupportedByPeerError",
    "check_pyvrp_support",
    "check_vroom_support",
    "peer_missing",
    "solve_pyvrp",
    "solve_vroom",
]
