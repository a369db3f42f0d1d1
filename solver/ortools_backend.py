"""The OR-Tools backend: the same problem as a ``pywrapcp`` routing model, as a reference.

How the contract maps onto the routing model:

- Vehicle types are expanded into vehicles (at most as many per type as it has clients to
  serve); each vehicle rides on its profile's time and cost matrices and pays its fixed cost.
- One capacity dimension per load dimension. Multi-trip: each bike gets ``max_trips - 1``
  optional *reload* copies of its start depot (without a limit, a bound from its clients'
  total demand). A reload node's demand is minus the capacity and its slack may give it
  back, so the load can restart from zero; clients' slack is 0.
- A time dimension: a client's cumul is its service start, the end's the arrival, and a
  start or reload node's the *departure* of the trip that follows: transit
  ``service(i) + ride(i, j)``, plus the reload time when ``j`` is a reload node; slack is
  waiting. Client windows, shifts and depot hours are cumul bounds; a reload departure
  ``<= closes + reload`` implies the arrival before it was ``<= closes``.
- Reload copies are used in order: a *trips* dimension counts reloads, and copy ``k`` must
  be the ``k``-th (a cumul bound, which also breaks the copies' symmetry). So a client's
  trip number and bike are both known on a route, and its release time is one ``Element``
  constraint: departure of (its bike, its trip) ``>= release``. Every such constraint
  bounds a single cumul once routes are fixed, so OR-Tools' propagation proves the earliest
  schedule feasible (constraints on sums of cumuls and slacks would not be).
- Every client is optional with a penalty above any solution's cost, so serving more always
  wins and those left out come back as "fleet full". Clients no bike can serve even alone
  are removed first with the reasons of :func:`find_unserviceable`.

Times, loads and costs of the result come from :func:`solver.schedule.build_result`, never
from OR-Tools' cumuls. OR-Tools' routing search has no seed of its own: ``seed`` reseeds the
CP solver's generator; the run is repeatable with ``max_iterations``, while a time limit
alone stops wherever the clock says.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.constraint_solver import (  # type: ignore[import-untyped]
    pywrapcp,
    routing_enums_pb2,
)

from solver.errors import BackendError
from solver.model import MAX_TIME, Problem, VehicleType
from solver.result import Result
from solver.schedule import build_result
from solver.unserviceable import FLEET_FULL, find_unserviceable

NO_SOLUTION = "OR-Tools found no solution within the time limit"

#: Upper bound of every time cumul: above it lies "no path" (matrix values >= MAX_TIME).
_HORIZON = MAX_TIME - 1


@dataclass
class _Layout:
    """The routing model's nodes: depots, then served clients, then each bike's reloads."""

    problem: Problem
    clients: list[int]
    vehicles: list[tuple[int, int]] = field(default_factory=list)  # (type index, bike)
    location: list[int] = field(default_factory=list)
    service: list[int] = field(default_factory=list)
    reload_time: list[int] = field(default_factory=list)  # charged on arriving at the node
    reload_owner: dict[int, int] = field(default_factory=dict)  # node -> vehicle
    reloads: list[list[int]] = field(default_factory=list)  # per vehicle, copies in order

    @property
    def n_depots(self) -> int:
        return len(self.problem.depots)

    def client_of(self, node: int) -> int | None:
        offset = node - self.n_depots
        return self.clients[offset] if 0 <= offset < len(self.clients) else None


def solve_ortools(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
) -> Result:
    """Solve with OR-Tools' routing library and guided local search.

    ``max_iterations`` caps the solutions the search accepts; the time limit always holds.
    """
    if time_limit_s <= 0:
        raise BackendError(f"time_limit_s must be > 0, not {time_limit_s}")
    started = time.perf_counter()
    reasons = find_unserviceable(problem)
    served = [c for c in range(problem.n_clients) if c not in reasons]
    layout = _lay_out(problem, served)

    iterations = 0
    vehicle_trips: list[tuple[int, list[list[int]]]] = []
    unassigned = dict(reasons)
    curve: list[tuple[float, int]] = []
    if served and layout.vehicles:
        manager, routing = _build_model(layout, served)
        counter = [0]

        def on_solution() -> None:
            counter[0] += 1
            cost = int(routing.CostVar().Value())
            if not curve or cost < curve[-1][1]:
                curve.append((round(time.perf_counter() - started, 4), cost))

        routing.AddAtSolutionCallback(on_solution)
        routing.solver().ReSeed(seed)
        solution = routing.SolveWithParameters(_parameters(time_limit_s, max_iterations))
        iterations = counter[0]
        if solution is None:
            unassigned.update(dict.fromkeys(served, NO_SOLUTION))
        else:
            vehicle_trips = _read_trips(layout, manager, routing, solution)
            visited = {c for _, trips in vehicle_trips for trip in trips for c in trip}
            unassigned.update({c: FLEET_FULL for c in served if c not in visited})
    else:
        unassigned.update(dict.fromkeys(served, FLEET_FULL))

    result = build_result(
        problem,
        vehicle_trips,
        unassigned=unassigned,
        backend="ortools",
        seed=seed,
        runtime_s=time.perf_counter() - started,
        iterations=iterations,
    )
    # OR-Tools' objective is the contract's cost only when it drops nobody (a dropped client
    # costs its disjunction penalty): keep the curve when it ends at the result's cost.
    if curve and curve[-1][1] == result.cost and not result.unassigned:
        return replace(result, progress=tuple(curve))
    return result


def _lay_out(problem: Problem, served: list[int]) -> _Layout:
    layout = _Layout(problem, served)
    layout.location = [d.location for d in problem.depots]
    layout.service = [0] * len(problem.depots)
    for c in served:
        layout.location.append(problem.clients[c].location)
        layout.service.append(problem.clients[c].service)
    layout.reload_time = [0] * len(layout.location)
    for type_index, vehicle_type in enumerate(problem.vehicle_types):
        if not _can_drive(problem, vehicle_type):
            continue
        own = [c for c in served if _can_carry(problem, vehicle_type, c)]
        for bike in range(min(vehicle_type.count, len(own))):
            vehicle = len(layout.vehicles)
            layout.vehicles.append((type_index, bike))
            layout.reloads.append([])
            for _ in range(_reload_copies(problem, vehicle_type, own)):
                layout.reload_owner[len(layout.location)] = vehicle
                layout.reloads[vehicle].append(len(layout.location))
                layout.location.append(problem.depots[vehicle_type.start_depot].location)
                layout.service.append(0)
                layout.reload_time.append(vehicle_type.reload)
    return layout


def _can_drive(problem: Problem, vehicle_type: VehicleType) -> bool:
    """Whether the bike can even ride from its start to its end depot within its shift.

    OR-Tools constrains unused vehicles too (start -> end), so one that cannot would make
    the whole model infeasible; such a bike cannot serve anyone anyway.
    """
    start = problem.depots[vehicle_type.start_depot]
    end = problem.depots[vehicle_type.return_depot]
    leave = max(vehicle_type.shift_start, start.opens)
    ride = int(problem.durations[vehicle_type.profile][start.location, end.location])
    return ride < MAX_TIME and leave + ride <= min(vehicle_type.shift_end, end.closes)


def _can_carry(problem: Problem, vehicle_type: VehicleType, client: int) -> bool:
    data = problem.clients[client]
    fits = all(d <= c for d, c in zip(data.demand, vehicle_type.capacity, strict=True))
    return data.depot == vehicle_type.start_depot and fits


def _reload_copies(problem: Problem, vehicle_type: VehicleType, own: list[int]) -> int:
    """Reload nodes a bike needs: ``max_trips - 1``, or without a limit twice the trips its
    clients' total demand calls for (at least 2), never more than one per client."""
    if vehicle_type.max_trips is not None:
        return max(0, min(vehicle_type.max_trips - 1, len(own) - 1))
    needed = 1
    for dim, capacity in enumerate(vehicle_type.capacity):
        total = sum(problem.clients[c].demand[dim] for c in own)
        if capacity > 0:
            needed = max(needed, math.ceil(total / capacity))
    return max(0, min(len(own) - 1, max(2, 2 * needed)))


def _build_model(
    layout: _Layout, served: list[int]
) -> tuple[pywrapcp.RoutingIndexManager, pywrapcp.RoutingModel]:
    problem = layout.problem
    types = [problem.vehicle_types[t] for t, _ in layout.vehicles]
    starts = [v.start_depot for v in types]
    ends = [v.return_depot for v in types]
    manager = pywrapcp.RoutingIndexManager(len(layout.location), len(types), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    locations = np.asarray(layout.location)
    service = np.asarray(layout.service, dtype=np.int64)
    reload_time = np.asarray(layout.reload_time, dtype=np.int64)

    # One transit matrix per profile in use, indexed by node (OR-Tools' node == our node).
    time_callbacks: dict[int, int] = {}
    cost_callbacks: dict[int, int] = {}
    max_cost = 1
    for profile in sorted({v.profile for v in types}):
        rides = problem.durations[profile][np.ix_(locations, locations)]
        times = np.minimum(rides + service[:, None] + reload_time[None, :], MAX_TIME)
        costs = np.minimum(problem.cost_matrix(profile)[np.ix_(locations, locations)], MAX_TIME)
        finite = costs[costs < MAX_TIME]
        max_cost = max(max_cost, int(finite.max()) if finite.size else 1)
        time_callbacks[profile] = _register_matrix(routing, manager, times)
        cost_callbacks[profile] = _register_matrix(routing, manager, costs)

    for vehicle, vehicle_type in enumerate(types):
        routing.SetArcCostEvaluatorOfVehicle(cost_callbacks[vehicle_type.profile], vehicle)
        routing.SetFixedCostOfVehicle(vehicle_type.fixed_cost, vehicle)

    # Dropping a client must never pay: the penalty exceeds any solution's whole cost.
    n_vehicles = len(types)
    max_fixed = max(v.fixed_cost for v in types)
    penalty = n_vehicles * max_fixed + (len(served) + 2 * n_vehicles + 1) * max_cost + 1
    for offset, client in enumerate(served):
        index = manager.NodeToIndex(layout.n_depots + offset)
        routing.AddDisjunction([index], penalty)
        allowed = [
            vehicle
            for vehicle, vehicle_type in enumerate(types)
            if _can_carry(problem, vehicle_type, client)
        ]
        if len(allowed) < n_vehicles:
            _allow(routing, index, allowed)
    for node, vehicle in layout.reload_owner.items():
        index = manager.NodeToIndex(node)
        routing.AddDisjunction([index], 0)
        _allow(routing, index, [vehicle])
    # A depot no bike starts or ends at would be a node to visit: take it out of the model.
    for depot in set(range(layout.n_depots)) - set(starts) - set(ends):
        index = manager.NodeToIndex(depot)
        routing.AddDisjunction([index], 0)
        routing.ActiveVar(index).SetValue(0)

    _add_loads(layout, manager, routing, types)
    trips = _add_trip_numbers(layout, manager, routing)
    if _time_matters(layout, types):
        time_dimension = _add_time(layout, manager, routing, types, time_callbacks)
        _add_releases(layout, manager, routing, time_dimension, trips)
    return manager, routing


def _allow(routing: pywrapcp.RoutingModel, index: int, vehicles: list[int]) -> None:
    """Only these vehicles may visit ``index`` (-1: unvisited). SetAllowedVehiclesForIndex
    would say the same, but its Python binding rejects every list in OR-Tools 9.15."""
    routing.VehicleVar(index).SetValues([-1, *vehicles])


def _register_matrix(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, matrix: np.ndarray
) -> int:
    values = matrix.astype(np.int64).tolist()
    return int(routing.RegisterTransitMatrix(values))


def _add_loads(
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    types: list[VehicleType],
) -> None:
    problem = layout.problem
    for dim, name in enumerate(problem.dimensions):
        demand = [0] * len(layout.location)
        for offset, client in enumerate(layout.clients):
            demand[layout.n_depots + offset] = problem.clients[client].demand[dim]
        for node, vehicle in layout.reload_owner.items():
            demand[node] = -types[vehicle].capacity[dim]
        transit = routing.RegisterUnaryTransitVector(demand)
        capacities = [v.capacity[dim] for v in types]
        slack = max(capacities) if layout.reload_owner else 0
        routing.AddDimensionWithVehicleCapacity(transit, slack, capacities, True, f"load:{name}")
        if layout.reload_owner:
            dimension = routing.GetDimensionOrDie(f"load:{name}")
            for offset in range(len(layout.clients)):
                dimension.SlackVar(manager.NodeToIndex(layout.n_depots + offset)).SetValue(0)


def _time_matters(layout: _Layout, types: list[VehicleType]) -> bool:
    """Whether any deadline or missing path exists; without one (plain CVRP) the time
    dimension could never bind, and leaving it out makes OR-Tools' search faster."""
    problem = layout.problem
    if any(problem.clients[c].tw_late < MAX_TIME for c in layout.clients):
        return True
    if any(v.shift_end < MAX_TIME for v in types):
        return True
    if any(d.closes < MAX_TIME for d in problem.depots):
        return True
    locations = np.asarray(layout.location)
    return any(
        bool((problem.durations[p][np.ix_(locations, locations)] >= MAX_TIME).any())
        for p in {v.profile for v in types}
    )


def _add_time(
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    types: list[VehicleType],
    time_callbacks: dict[int, int],
) -> pywrapcp.RoutingDimension:
    problem = layout.problem
    evaluators = [time_callbacks[v.profile] for v in types]
    routing.AddDimensionWithVehicleTransits(evaluators, _HORIZON, _HORIZON, False, "time")
    dimension = routing.GetDimensionOrDie("time")
    for offset, client in enumerate(layout.clients):
        data = problem.clients[client]
        index = manager.NodeToIndex(layout.n_depots + offset)
        dimension.CumulVar(index).SetRange(data.tw_early, min(data.tw_late, _HORIZON))
    for vehicle, vehicle_type in enumerate(types):
        start_depot = problem.depots[vehicle_type.start_depot]
        end_depot = problem.depots[vehicle_type.return_depot]
        earliest = max(vehicle_type.shift_start, start_depot.opens)
        shift_end = min(vehicle_type.shift_end, _HORIZON)
        dimension.CumulVar(routing.Start(vehicle)).SetRange(earliest, max(earliest, shift_end))
        dimension.CumulVar(routing.End(vehicle)).SetRange(0, min(shift_end, end_depot.closes))
        back_by = min(vehicle_type.shift_end, start_depot.closes)
        for node in layout.reloads[vehicle]:
            latest = min(back_by + vehicle_type.reload, _HORIZON)
            dimension.CumulVar(manager.NodeToIndex(node)).SetRange(0, latest)
    return dimension


def _add_trip_numbers(
    layout: _Layout, manager: pywrapcp.RoutingIndexManager, routing: pywrapcp.RoutingModel
) -> pywrapcp.RoutingDimension | None:
    """A dimension counting reloads: a node's cumul is the number of its trip (from 0)."""
    most = max((len(copies) for copies in layout.reloads), default=0)
    if not most:
        return None
    steps = [0] * len(layout.location)
    for node in layout.reload_owner:
        steps[node] = 1
    transit = routing.RegisterUnaryTransitVector(steps)
    routing.AddDimension(transit, 0, most, True, "trips")
    trips = routing.GetDimensionOrDie("trips")
    for copies in layout.reloads:
        for number, node in enumerate(copies):
            trips.CumulVar(manager.NodeToIndex(node)).SetValue(number)
    return trips


def _add_releases(
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    time_dimension: pywrapcp.RoutingDimension,
    trips: pywrapcp.RoutingDimension | None,
) -> None:
    """Departure of (the client's bike, the client's trip) >= its release, per client."""
    problem = layout.problem
    releases = [problem.clients[c].release for c in layout.clients]
    if not any(releases):
        return
    solver = routing.solver()
    block = 1 + max((len(copies) for copies in layout.reloads), default=0)
    spare = solver.IntVar(0, _HORIZON, "unvisited departure")
    # Block v + 1 holds vehicle v's departures by trip; block 0 is for "not visited" (-1).
    departures = [spare] * block
    for vehicle, copies in enumerate(layout.reloads):
        row = [time_dimension.CumulVar(routing.Start(vehicle))]
        row += [time_dimension.CumulVar(manager.NodeToIndex(node)) for node in copies]
        departures += row + [spare] * (block - len(row))
    for offset, release in enumerate(releases):
        if not release:
            continue
        index = manager.NodeToIndex(layout.n_depots + offset)
        slot = (routing.VehicleVar(index) + 1) * block
        if trips is not None:
            slot = slot + trips.CumulVar(index)
        solver.Add(solver.Element(departures, slot.Var()) >= release)


def _parameters(time_limit_s: float, max_iterations: int | None) -> object:
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    if max_iterations is not None:
        parameters.solution_limit = max(1, max_iterations)
    return parameters


def _read_trips(
    layout: _Layout,
    manager: pywrapcp.RoutingIndexManager,
    routing: pywrapcp.RoutingModel,
    solution: pywrapcp.Assignment,
) -> list[tuple[int, list[list[int]]]]:
    vehicle_trips = []
    for vehicle, (type_index, _) in enumerate(layout.vehicles):
        trips: list[list[int]] = [[]]
        index = solution.Value(routing.NextVar(routing.Start(vehicle)))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            client = layout.client_of(node)
            if client is not None:
                trips[-1].append(client)
            elif node in layout.reload_owner:
                trips.append([])
            index = solution.Value(routing.NextVar(index))
        trips = [trip for trip in trips if trip]
        if trips:
            vehicle_trips.append((type_index, trips))
    return vehicle_trips


__all__ = ["NO_SOLUTION", "solve_ortools"]
