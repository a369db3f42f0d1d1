"""The OR-Tools backend: the same problem as a ``pywrapcp`` routing model, as a reference.

How the contract maps onto the routing model:

- Vehicle types are expanded into vehicles (at most as many per type as it has clients to
  serve); each vehicle rides on its profile's time and cost matrices and pays its fixed cost.
- One capacity dimension per load dimension. Multi-trip: each bike gets ``max_trips - 1``
  optional *reload* copies of its start depot (without a limit, a bound from its clients'
  total demand). Without pairs a cumul is what the trip has delivered so far: a reload node's
  demand is minus the capacity and its slack may give it back, so the load can restart from
  zero; clients' slack is 0. With pairs and nothing else a cumul is the load on board (a
  pickup adds, a delivery takes off, from 0). With pairs *and* depot deliveries (or parcels
  on board) a cumul is the load on board too, but the start's is free: every delivery takes
  its demand off, every pickup adds it, the load is 0 on arriving at a reload or the end, and
  a reload's slack is the next trip's load out of the depot. Each is the contract's load
  rule exactly.
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
  are removed first with the reasons of :func:`find_unserviceable` (and so is the other half
  of a pair one half of which is removed).

Operations (``docs/solver-contract.md``, "Operations"):

- Pairs: ``AddPickupAndDelivery``, the same vehicle, the pickup's cumul ``<=`` the
  delivery's, the same trip (equal *trips* cumuls); a pickup's cumul starts at its release;
  a pair may ride any bike whatever its depot, and neither half adds a release constraint.
- Soft windows: ``SetCumulVarSoftUpperBound(due, late_cost)``; ``tw_late`` stays a bound.
- Skills, on-board parcels, planned types: ``VehicleVar`` domains and trip numbers (an
  on-board parcel rides its bike's trip 0; a depot parcel never rides trip 0 of a bike with
  a ``start_location``, whose route starts at a node of its own at ``shift_start``; if it
  rides from there straight to a reload, that empty first trip is kept, as the contract
  says). ``move_cost`` is added to the arc cost of every arc entering the client on a
  vehicle of another type than planned (a client is entered exactly once).
- ``duration_cost``: ``SetSpanCostCoefficientForVehicle``. ``max_duration_cost``: a second
  time-like dimension whose slacks equal the time dimension's and whose start is 0, so its
  end cumul is the route's duration; its global span cost is the longest route's (OR-Tools
  leaves unused vehicles out of it). Span costs are exact because a start cumul is the
  contract's departure: fixed when no release can delay it, else equal to the largest
  release on the bike's first trip (a ``Max`` over one term per client that may ride it).
- ``max_ride``: ``cumul(d) - cumul(p) - service(p) <= max_ride`` for a pair, and
  ``cumul(d) - departure of (its bike, its trip) <= max_ride`` for a depot delivery. A ride
  limit is the one constraint that a *later* schedule can meet when the earliest cannot, so
  with ride limits the model also forces the contract's earliest schedule: a node's slack
  (waiting) is 0 unless the next node starts exactly at its own earliest time (window,
  release, depot opening), an ``Element`` on ``NextVar``; and every departure is exact. That
  costs one ``Element`` over all nodes per node, so it is only built when a ride limit is in
  play.
- Breaks: one optional ``FixedDurationIntervalVar`` starting in ``[break_early,
  break_late]`` per bike, performed exactly when the bike is used, registered with
  ``SetBreakIntervalsOfVehicle`` (service times are the visits it cannot overlap) and
  starting no earlier than the bike's departure. OR-Tools lets a break fall after the end of
  the route, so a route that ends by ``break_late`` needs no break, as the contract says; a
  route that ends later must fit it in. The model is looser than the contract in one way:
  OR-Tools may put the break anywhere between leaving a stop and starting the next service
  (after part of the ride, or overlapping a reload), the contract only at the departure from
  a stop (or ``break_early``), before the ride. So a route OR-Tools deems feasible can be
  late by up to the ride (or reload) it rode before its break; :func:`build_result` places
  the break by the contract and reports any violation. A type whose earliest departure is
  after ``break_late`` cannot be used at all (no break could start in time) and is left out.
- Refused (:class:`UnsupportedByOrToolsError`, raised before solving): ride limits together
  with breaks, because a break is slack the earliest-schedule rule above would forbid.

Times, loads and costs of the result come from :func:`solver.schedule.build_result`, never
from OR-Tools' cumuls. OR-Tools' routing search has no seed of its own: ``seed`` reseeds the
CP solver's generator; the run is repeatable with ``max_iterations``, while a time limit
alone stops wherever the clock says.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

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

#: The drop penalty never exceeds this, so that OR-Tools' sums of penalties stay in int64.
_MAX_PENALTY = 1 << 52


class UnsupportedByOrToolsError(BackendError):
    """The problem uses a feature the OR-Tools backend cannot model; the message names each."""


def unsupported_features(problem: Problem) -> list[str]:
    """The features of ``problem`` the OR-Tools backend refuses (empty: it can solve it)."""
    found = []
    rides = any(_ride_limited(problem, c) for c in range(problem.n_clients))
    breaks = any(v.break_duration for v in problem.vehicle_types)
    if rides and breaks:
        found.append("max_ride together with breaks (break_duration)")
    return found


def _ride_limited(problem: Problem, client: int) -> bool:
    """Whether the contract limits this client's ride: a delivery (of a pair or from the
    depot) with a finite ``max_ride``; pickups and parcels on board have no limit."""
    data = problem.clients[client]
    if data.max_ride >= MAX_TIME or data.on_board is not None:
        return False
    return all(client != pickup for pickup, _ in problem.pairs)


@dataclass
class _Layout:
    """The routing model's nodes: depots, then served clients, then the start nodes of types
    with a ``start_location``, then each bike's reloads."""

    problem: Problem
    clients: list[int]
    vehicles: list[tuple[int, int]] = field(default_factory=list)  # (type index, bike)
    location: list[int] = field(default_factory=list)
    service: list[int] = field(default_factory=list)
    reload_time: list[int] = field(default_factory=list)  # charged on arriving at the node
    reload_owner: dict[int, int] = field(default_factory=dict)  # node -> vehicle
    reloads: list[list[int]] = field(default_factory=list)  # per vehicle, copies in order
    start_node: dict[int, int] = field(default_factory=dict)  # type index -> its start node
    pickups: set[int] = field(default_factory=set)  # served pickups (client indices)
    partner: dict[int, int] = field(default_factory=dict)  # served pair halves

    @property
    def n_depots(self) -> int:
        return len(self.problem.depots)

    def client_of(self, node: int) -> int | None:
        offset = node - self.n_depots
        return self.clients[offset] if 0 <= offset < len(self.clients) else None

    def node_of(self, offset: int) -> int:
        return self.n_depots + offset

    def is_depot_delivery(self, client: int) -> bool:
        return client not in self.partner and self.problem.clients[client].on_board is None


@dataclass
class _Model:
    """The routing model under construction, with what the constraint helpers share."""

    layout: _Layout
    types: list[VehicleType]
    manager: Any
    routing: Any
    allowed: list[list[int]] = field(default_factory=list)  # per served client: vehicles
    time: Any = None
    trips: Any = None
    earliest: list[int] = field(default_factory=list)  # per vehicle: its first departure
    start_fixed: list[bool] = field(default_factory=list)
    departure_table: tuple[list[Any], int] | None = None
    peaks: dict[tuple[int, int], Any] = field(default_factory=dict)

    @property
    def solver(self) -> Any:
        return self.routing.solver()

    def index(self, node: int) -> int:
        return int(self.manager.NodeToIndex(node))

    def client_index(self, offset: int) -> int:
        return self.index(self.layout.node_of(offset))


def solve_ortools(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
) -> Result:
    """Solve with OR-Tools' routing library and guided local search.

    ``max_iterations`` caps the solutions the search accepts; the time limit always holds.
    A problem using a feature the backend cannot model raises
    :class:`UnsupportedByOrToolsError` naming every such feature.
    """
    if time_limit_s <= 0:
        raise BackendError(f"time_limit_s must be > 0, not {time_limit_s}")
    refused = unsupported_features(problem)
    if refused:
        raise UnsupportedByOrToolsError(
            "the OR-Tools backend does not support: " + ", ".join(refused)
        )
    started = time.perf_counter()
    reasons = _unserviceable(problem)
    served = [c for c in range(problem.n_clients) if c not in reasons]
    layout = _lay_out(problem, served)

    iterations = 0
    vehicle_trips: list[tuple[int, list[list[int]]]] = []
    unassigned = dict(reasons)
    curve: list[tuple[float, int]] = []
    if served and layout.vehicles:
        model = _build_model(layout)
        manager, routing = model.manager, model.routing
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


def _unserviceable(problem: Problem) -> dict[int, str]:
    """:func:`find_unserviceable`, and the other half of every pair it takes a half of."""
    reasons = find_unserviceable(problem)
    for client, other in problem.partner.items():
        if client in reasons and other not in reasons:
            reasons[other] = f"its pair partner {client} cannot be served: {reasons[client]}"
    return reasons


def _lay_out(problem: Problem, served: list[int]) -> _Layout:
    layout = _Layout(problem, served)
    partner = problem.partner
    layout.partner = {c: partner[c] for c in served if c in partner}
    layout.pickups = {p for p, _ in problem.pairs if p in layout.partner}
    layout.location = [d.location for d in problem.depots]
    layout.service = [0] * len(problem.depots)
    for c in served:
        layout.location.append(problem.clients[c].location)
        layout.service.append(problem.clients[c].service)
    layout.reload_time = [0] * len(layout.location)
    plans = []
    for type_index, vehicle_type in enumerate(problem.vehicle_types):
        if not _can_drive(problem, vehicle_type):
            continue
        own = [c for c in served if _may_ride(problem, type_index, c)]
        bikes = min(vehicle_type.count, len(own))
        if bikes and vehicle_type.start_location is not None:
            layout.start_node[type_index] = len(layout.location)
            layout.location.append(vehicle_type.start_location)
            layout.service.append(0)
            layout.reload_time.append(0)
        plans.append((type_index, vehicle_type, own, bikes))
    for type_index, vehicle_type, own, bikes in plans:
        for bike in range(bikes):
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


def _first_departure(problem: Problem, vehicle_type: VehicleType) -> int:
    """The earliest departure of a bike's first trip: its shift start from a start location,
    else also no earlier than the start depot opens."""
    if vehicle_type.start_location is not None:
        return vehicle_type.shift_start
    return max(vehicle_type.shift_start, problem.depots[vehicle_type.start_depot].opens)


def _can_drive(problem: Problem, vehicle_type: VehicleType) -> bool:
    """Whether the bike can be used at all: ride from its start to its end depot within its
    shift, and (with a break) depart no later than the break must start.

    OR-Tools constrains unused vehicles too (start -> end), so one that cannot would make
    the whole model infeasible; such a bike cannot serve anyone anyway. A bike leaving after
    ``break_late`` would still be riding then without any chance of a break in time.
    """
    end = problem.depots[vehicle_type.return_depot]
    leave = _first_departure(problem, vehicle_type)
    if vehicle_type.start_location is not None:
        here = vehicle_type.start_location
    else:
        here = problem.depots[vehicle_type.start_depot].location
    ride = int(problem.durations[vehicle_type.profile][here, end.location])
    if vehicle_type.break_duration and leave > vehicle_type.break_late:
        return False
    return ride < MAX_TIME and leave + ride <= min(vehicle_type.shift_end, end.closes)


def _can_carry(problem: Problem, type_index: int, client: int) -> bool:
    """Whether a bike of this type may carry this client by itself (ignoring its pair)."""
    vehicle_type = problem.vehicle_types[type_index]
    data = problem.clients[client]
    fits = all(d <= c for d, c in zip(data.demand, vehicle_type.capacity, strict=True))
    if not fits or not set(data.requires) <= set(vehicle_type.skills):
        return False
    if client in problem.partner:
        return True
    if data.on_board is not None:
        return data.on_board == type_index
    if data.depot != vehicle_type.start_depot:
        return False
    # A bike starting away from the depot carries depot parcels from its second trip on.
    return vehicle_type.start_location is None or vehicle_type.max_trips != 1


def _may_ride(problem: Problem, type_index: int, client: int) -> bool:
    """Whether the client (and its pair partner, if any) may ride a bike of this type."""
    other = problem.partner.get(client)
    return _can_carry(problem, type_index, client) and (
        other is None or _can_carry(problem, type_index, other)
    )


def _reload_copies(problem: Problem, vehicle_type: VehicleType, own: list[int]) -> int:
    """Reload nodes a bike needs: ``max_trips - 1``, or without a limit twice the trips its
    clients' total demand calls for (at least 2), never more than one per client (one more
    for a bike starting away from the depot with depot parcels to carry)."""
    partner = problem.partner
    extra = int(
        vehicle_type.start_location is not None
        and any(c not in partner and problem.clients[c].on_board is None for c in own)
    )
    if vehicle_type.max_trips is not None:
        return max(0, min(vehicle_type.max_trips - 1, len(own) - 1 + extra))
    needed = 1
    for dim, capacity in enumerate(vehicle_type.capacity):
        total = sum(problem.clients[c].demand[dim] for c in own)
        if capacity > 0:
            needed = max(needed, math.ceil(total / capacity))
    return max(0, min(len(own) - 1 + extra, max(2, 2 * needed) + extra))


def _build_model(layout: _Layout) -> _Model:
    problem = layout.problem
    types = [problem.vehicle_types[t] for t, _ in layout.vehicles]
    starts = [
        layout.start_node.get(t, problem.vehicle_types[t].start_depot) for t, _ in layout.vehicles
    ]
    ends = [v.return_depot for v in types]
    manager = pywrapcp.RoutingIndexManager(len(layout.location), len(types), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    model = _Model(layout, types, manager, routing)
    locations = np.asarray(layout.location)
    service = np.asarray(layout.service, dtype=np.int64)
    reload_time = np.asarray(layout.reload_time, dtype=np.int64)

    # One transit matrix per profile in use, indexed by node (OR-Tools' node == our node);
    # one cost matrix per profile, or per (profile, type) when moving a client costs.
    time_callbacks: dict[int, int] = {}
    time_matrices: dict[int, np.ndarray] = {}
    for profile in sorted({v.profile for v in types}):
        rides = problem.durations[profile][np.ix_(locations, locations)]
        times = np.minimum(rides + service[:, None] + reload_time[None, :], MAX_TIME)
        time_matrices[profile] = times
        time_callbacks[profile] = _register_matrix(routing, manager, times)
    cost_callbacks: dict[tuple[int, int], int] = {}
    max_cost = 1
    moves_of = {t: _move_costs(layout, t) for t in {t for t, _ in layout.vehicles}}
    for vehicle, (type_index, _) in enumerate(layout.vehicles):
        profile = types[vehicle].profile
        moves = moves_of[type_index]
        key = (profile, type_index if moves.any() else -1)
        if key not in cost_callbacks:
            base = problem.cost_matrix(profile)[np.ix_(locations, locations)]
            costs = np.minimum(base + moves[None, :], MAX_TIME)
            finite = costs[costs < MAX_TIME]
            max_cost = max(max_cost, int(finite.max()) if finite.size else 1)
            cost_callbacks[key] = _register_matrix(routing, manager, costs)
        routing.SetArcCostEvaluatorOfVehicle(cost_callbacks[key], vehicle)
        routing.SetFixedCostOfVehicle(types[vehicle].fixed_cost, vehicle)

    # Dropping a client must never pay: the penalty exceeds any solution's whole cost.
    penalty = _drop_penalty(layout, types, max_cost, time_matrices)
    n_vehicles = len(types)
    for offset, client in enumerate(layout.clients):
        index = model.client_index(offset)
        routing.AddDisjunction([index], penalty)
        allowed = [
            vehicle
            for vehicle, (type_index, _) in enumerate(layout.vehicles)
            if _may_ride(problem, type_index, client)
        ]
        model.allowed.append(allowed)
        if len(allowed) < n_vehicles:
            _allow(routing, index, allowed)
    for node, vehicle in layout.reload_owner.items():
        index = model.index(node)
        routing.AddDisjunction([index], 0)
        _allow(routing, index, [vehicle])
    # A depot no bike starts or ends at would be a node to visit: take it out of the model.
    for depot in set(range(layout.n_depots)) - set(starts) - set(ends):
        index = model.index(depot)
        routing.AddDisjunction([index], 0)
        routing.ActiveVar(index).SetValue(0)

    _add_loads(model)
    model.trips = _add_trip_numbers(model)
    _add_pairs_and_trips(model)
    if _time_matters(layout, types):
        model.time = _add_time(model, time_callbacks)
        _add_schedule(model, time_callbacks)
    return model


def _move_costs(layout: _Layout, type_index: int) -> np.ndarray:
    """Per node: what entering it costs on a bike of this type (a moved client's move cost)."""
    problem = layout.problem
    moves = np.zeros(len(layout.location), dtype=np.int64)
    for offset, client in enumerate(layout.clients):
        data = problem.clients[client]
        if data.planned_type is not None and data.planned_type != type_index:
            moves[layout.node_of(offset)] = data.move_cost
    return moves


def _drop_penalty(
    layout: _Layout, types: list[VehicleType], max_cost: int, time_matrices: dict[int, np.ndarray]
) -> int:
    """More than any solution's cost: fixed costs, arcs, lateness, span and balance costs.

    Times are bounded by the latest earliest time of anything plus every node's longest
    ride out (the earliest schedule never waits past the latest earliest time); lateness
    and durations are bounded by that.
    """
    problem = layout.problem
    served = [problem.clients[c] for c in layout.clients]
    n_vehicles = len(types)
    penalty = sum(v.fixed_cost for v in types) + (len(served) + 2 * n_vehicles + 1) * max_cost + 1
    spans = sum(v.duration_cost for v in types) + problem.max_duration_cost
    if not (spans or any(c.soft for c in served)):
        return min(penalty, _MAX_PENALTY)
    lows = [0, *(c.tw_early for c in served), *(c.release for c in served)]
    lows += [v.shift_start for v in types] + [v.break_early for v in types]
    lows += [d.opens for d in problem.depots]
    longest = 0
    for times in time_matrices.values():
        finite = np.where(times < MAX_TIME, times, 0)
        longest += int(finite.max(axis=1).sum())
    latest = max(lows) + longest + max(v.break_duration for v in types)
    penalty += spans * latest
    penalty += sum(c.late_cost * max(0, min(c.tw_late, latest) - c.due) for c in served)
    return min(penalty, _MAX_PENALTY)


def _allow(routing: Any, index: int, vehicles: list[int]) -> None:
    """Only these vehicles may visit ``index`` (-1: unvisited). SetAllowedVehiclesForIndex
    would say the same, but its Python binding rejects every list in OR-Tools 9.15."""
    routing.VehicleVar(index).SetValues([-1, *vehicles])


def _register_matrix(routing: Any, manager: Any, matrix: np.ndarray) -> int:
    values = matrix.astype(np.int64).tolist()
    return int(routing.RegisterTransitMatrix(values))


def _add_loads(model: _Model) -> None:
    layout, routing, types = model.layout, model.routing, model.types
    problem = layout.problem
    paired = bool(layout.partner)
    mixed = paired and any(c not in layout.partner for c in layout.clients)
    for dim, name in enumerate(problem.dimensions):
        demand = [0] * len(layout.location)
        for offset, client in enumerate(layout.clients):
            amount = problem.clients[client].demand[dim]
            sign = 1 if not paired or client in layout.pickups else -1
            demand[layout.node_of(offset)] = sign * amount
        if not paired:
            for node, vehicle in layout.reload_owner.items():
                demand[node] = -types[vehicle].capacity[dim]
        transit = routing.RegisterUnaryTransitVector(demand)
        capacities = [v.capacity[dim] for v in types]
        slack = max(capacities) if layout.reload_owner and (mixed or not paired) else 0
        routing.AddDimensionWithVehicleCapacity(
            transit, slack, capacities, not mixed, f"load:{name}"
        )
        dimension = routing.GetDimensionOrDie(f"load:{name}")
        if slack:
            for offset in range(len(layout.clients)):
                dimension.SlackVar(model.client_index(offset)).SetValue(0)
        if mixed:
            # The start's cumul is the first trip's load out; each reload's slack the next's.
            for vehicle in range(len(types)):
                dimension.SlackVar(routing.Start(vehicle)).SetValue(0)
                dimension.CumulVar(routing.End(vehicle)).SetValue(0)
            for node in layout.reload_owner:
                dimension.CumulVar(model.index(node)).SetValue(0)


def _add_trip_numbers(model: _Model) -> Any:
    """A dimension counting reloads: a node's cumul is the number of its trip (from 0)."""
    layout, routing = model.layout, model.routing
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
            trips.CumulVar(model.index(node)).SetValue(number)
    return trips


def _add_pairs_and_trips(model: _Model) -> None:
    """Pairs ride one vehicle, pickup first, on one trip; on-board parcels ride trip 0, depot
    parcels never ride trip 0 of a bike starting away from the depot."""
    layout, routing, trips = model.layout, model.routing, model.trips
    problem = layout.problem
    solver = model.solver
    offsets = {client: offset for offset, client in enumerate(layout.clients)}
    for pickup, delivery in problem.pairs:
        if pickup not in offsets or delivery not in offsets:
            continue
        first, second = model.client_index(offsets[pickup]), model.client_index(offsets[delivery])
        routing.AddPickupAndDelivery(first, second)
        solver.Add(routing.VehicleVar(first) == routing.VehicleVar(second))
        if trips is not None:
            solver.Add(trips.CumulVar(first) == trips.CumulVar(second))
    if trips is None:
        return
    away = [0] + [int(t in layout.start_node) for t, _ in layout.vehicles]
    for offset, client in enumerate(layout.clients):
        index = model.client_index(offset)
        if problem.clients[client].on_board is not None:
            trips.CumulVar(index).SetValue(0)
        elif layout.is_depot_delivery(client) and any(away[v + 1] for v in model.allowed[offset]):
            later = solver.Element(away, (routing.VehicleVar(index) + 1).Var())
            solver.Add(trips.CumulVar(index) >= later)


def _time_matters(layout: _Layout, types: list[VehicleType]) -> bool:
    """Whether any deadline, missing path or time cost exists; without one (plain CVRP) the
    time dimension could never bind, and leaving it out makes OR-Tools' search faster."""
    problem = layout.problem
    clients = [problem.clients[c] for c in layout.clients]
    if any(c.tw_late < MAX_TIME or c.soft or c.max_ride < MAX_TIME for c in clients):
        return True
    if any(v.shift_end < MAX_TIME or v.duration_cost or v.break_duration for v in types):
        return True
    if problem.max_duration_cost or any(d.closes < MAX_TIME for d in problem.depots):
        return True
    locations = np.asarray(layout.location)
    return any(
        bool((problem.durations[p][np.ix_(locations, locations)] >= MAX_TIME).any())
        for p in {v.profile for v in types}
    )


def _earliest_service(layout: _Layout, client: int) -> int:
    data = layout.problem.clients[client]
    return max(data.tw_early, data.release) if client in layout.pickups else data.tw_early


def _add_time(model: _Model, time_callbacks: dict[int, int]) -> Any:
    layout, routing, types = model.layout, model.routing, model.types
    problem = layout.problem
    evaluators = [time_callbacks[v.profile] for v in types]
    routing.AddDimensionWithVehicleTransits(evaluators, _HORIZON, _HORIZON, False, "time")
    dimension = routing.GetDimensionOrDie("time")
    for offset, client in enumerate(layout.clients):
        data = problem.clients[client]
        index = model.client_index(offset)
        earliest, latest = _earliest_service(layout, client), min(data.tw_late, _HORIZON)
        if earliest > latest:  # a pickup released after its window closes
            routing.ActiveVar(index).SetValue(0)
            continue
        dimension.CumulVar(index).SetRange(earliest, latest)
        if data.soft:
            dimension.SetCumulVarSoftUpperBound(index, data.due, data.late_cost)
    for vehicle, vehicle_type in enumerate(types):
        start_depot = problem.depots[vehicle_type.start_depot]
        end_depot = problem.depots[vehicle_type.return_depot]
        earliest = _first_departure(problem, vehicle_type)
        model.earliest.append(earliest)
        shift_end = min(vehicle_type.shift_end, _HORIZON)
        dimension.CumulVar(routing.Start(vehicle)).SetRange(earliest, max(earliest, shift_end))
        dimension.CumulVar(routing.End(vehicle)).SetRange(0, min(shift_end, end_depot.closes))
        back_by = min(vehicle_type.shift_end, start_depot.closes)
        for node in layout.reloads[vehicle]:
            latest = min(back_by + vehicle_type.reload, _HORIZON)
            index = model.index(node)
            if start_depot.opens > latest:
                routing.ActiveVar(index).SetValue(0)
            else:
                dimension.CumulVar(index).SetRange(start_depot.opens, latest)
        if vehicle_type.duration_cost:
            dimension.SetSpanCostCoefficientForVehicle(vehicle_type.duration_cost, vehicle)
    return dimension


def _add_schedule(model: _Model, time_callbacks: dict[int, int]) -> None:
    """Pair order, releases, exact departures, ride limits, the earliest schedule, breaks,
    balance."""
    problem = model.layout.problem
    exact = any(_ride_limited(problem, c) for c in model.layout.clients)
    offsets = {client: offset for offset, client in enumerate(model.layout.clients)}
    for pickup, delivery in problem.pairs:
        if pickup in offsets and delivery in offsets:
            first = model.time.CumulVar(model.client_index(offsets[pickup]))
            model.solver.Add(first <= model.time.CumulVar(model.client_index(offsets[delivery])))
    _add_releases(model)
    _fix_departures(model, exact)
    _add_ride_limits(model)
    if exact:
        _force_earliest_schedule(model)
    _add_breaks(model)
    if problem.max_duration_cost:
        _add_balance(model, time_callbacks)


def _departure(model: _Model, index: int) -> Any:
    """The departure (time cumul) of the trip of the client at ``index``, as an expression:
    one ``Element`` over every (vehicle, trip) departure."""
    if model.departure_table is None:
        layout, routing, time_dimension = model.layout, model.routing, model.time
        block = 1 + max((len(copies) for copies in layout.reloads), default=0)
        spare = model.solver.IntVar(0, _HORIZON, "unvisited departure")
        # Block v + 1 holds vehicle v's departures by trip; block 0 is for "not visited".
        departures = [spare] * block
        for vehicle, copies in enumerate(layout.reloads):
            row = [time_dimension.CumulVar(routing.Start(vehicle))]
            row += [time_dimension.CumulVar(model.index(node)) for node in copies]
            departures += row + [spare] * (block - len(row))
        model.departure_table = (departures, block)
    departures, block = model.departure_table
    slot = (model.routing.VehicleVar(index) + 1) * block
    if model.trips is not None:
        slot = slot + model.trips.CumulVar(index)
    return model.solver.Element(departures, slot.Var())


def _add_releases(model: _Model) -> None:
    """Departure of (the client's bike, the client's trip) >= its release, per depot parcel
    (a pickup's release bounds its own cumul; a parcel on board has none)."""
    layout = model.layout
    for offset, client in enumerate(layout.clients):
        release = layout.problem.clients[client].release
        if release and layout.is_depot_delivery(client):
            model.solver.Add(_departure(model, model.client_index(offset)) >= release)


def _peak(model: _Model, vehicle: int, trip: int) -> Any:
    """The contract's departure floor of (vehicle, trip) without the ride before it: the
    first departure (trip 0) or the depot's opening, raised by its depot parcels' releases.
    An ``int`` when no release can raise it, else a variable."""
    key = (vehicle, trip)
    if key in model.peaks:
        return model.peaks[key]
    layout, routing, solver = model.layout, model.routing, model.solver
    problem = layout.problem
    vehicle_type = model.types[vehicle]
    opens = problem.depots[vehicle_type.start_depot].opens
    floor = model.earliest[vehicle] if trip == 0 else opens
    terms = []
    from_afar = trip == 0 and vehicle_type.start_location is not None
    for offset, client in enumerate(layout.clients):
        release = problem.clients[client].release
        if from_afar or release <= floor or not layout.is_depot_delivery(client):
            continue
        if vehicle not in model.allowed[offset]:
            continue
        index = model.client_index(offset)
        riding = solver.IsEqualCstVar(routing.VehicleVar(index), vehicle)
        if model.trips is not None:
            riding = riding * solver.IsEqualCstVar(model.trips.CumulVar(index), trip)
        terms.append((riding * release).Var())
    peak: Any = floor
    if terms:
        peak = solver.Max([solver.IntConst(floor), *terms]).Var()
    model.peaks[key] = peak
    return peak


def _fix_departures(model: _Model, exact: bool) -> None:
    """Each bike's first departure is the contract's: fixed when no release can delay it;
    equal to the largest release on the first trip when span costs or ride limits need it."""
    problem = model.layout.problem
    for vehicle, vehicle_type in enumerate(model.types):
        start = model.time.CumulVar(model.routing.Start(vehicle))
        peak = _peak(model, vehicle, 0)
        fixed = isinstance(peak, int)
        model.start_fixed.append(fixed)
        if fixed:
            start.SetValue(peak)
        elif exact or vehicle_type.duration_cost or problem.max_duration_cost:
            model.solver.Add(start == peak)


def _add_ride_limits(model: _Model) -> None:
    """Pairs: delivery start - pickup departure <= max_ride; depot parcels: delivery start -
    trip departure <= max_ride. Parcels on board have no limit here."""
    layout, time_dimension, solver = model.layout, model.time, model.solver
    problem = layout.problem
    offsets = {client: offset for offset, client in enumerate(layout.clients)}
    for offset, client in enumerate(layout.clients):
        data = problem.clients[client]
        if data.max_ride >= MAX_TIME or data.on_board is not None or client in layout.pickups:
            continue
        index = model.client_index(offset)
        if client in layout.partner:
            pickup = layout.partner[client]
            since = time_dimension.CumulVar(model.client_index(offsets[pickup]))
            limit = data.max_ride + problem.clients[pickup].service
            solver.Add(time_dimension.CumulVar(index) - since <= limit)
        else:
            solver.Add(time_dimension.CumulVar(index) - _departure(model, index) <= data.max_ride)


def _force_earliest_schedule(model: _Model) -> None:
    """No waiting but for the next node's earliest time: for every node, its slack is 0 or
    the next node starts at its own earliest time (a window, a release, the depot opening)."""
    layout, routing, solver, time_dimension = model.layout, model.routing, model.solver, model.time
    never = solver.IntConst(1)
    gaps = [never] * (routing.Size() + routing.vehicles())
    waiting_nodes = []
    for offset, client in enumerate(layout.clients):
        index = model.client_index(offset)
        earliest = _earliest_service(layout, client)
        gaps[index] = (time_dimension.CumulVar(index) - earliest).Var()
        waiting_nodes.append(index)
    for vehicle, copies in enumerate(layout.reloads):
        for number, node in enumerate(copies):
            index = model.index(node)
            gaps[index] = (time_dimension.CumulVar(index) - _peak(model, vehicle, number + 1)).Var()
            waiting_nodes.append(index)
        waiting_nodes.append(routing.Start(vehicle))
    for index in waiting_nodes:
        upcoming = solver.Element(gaps, routing.NextVar(index))
        solver.Add(solver.Min(time_dimension.SlackVar(index), upcoming) == 0)


def _add_breaks(model: _Model) -> None:
    """One break per used bike of a type with breaks, in ``[break_early, break_late]``, after
    the bike's departure; OR-Tools may put it after the end of a route that ends in time."""
    layout, routing, solver, time_dimension = model.layout, model.routing, model.solver, model.time
    if not any(v.break_duration for v in model.types):
        return
    visits = [0] * routing.Size()
    for offset, client in enumerate(layout.clients):
        visits[model.client_index(offset)] = layout.problem.clients[client].service
    for vehicle, vehicle_type in enumerate(model.types):
        if not vehicle_type.break_duration:
            continue
        earliest = max(vehicle_type.break_early, model.earliest[vehicle])
        rest = solver.FixedDurationIntervalVar(
            earliest,
            vehicle_type.break_late,
            vehicle_type.break_duration,
            True,
            f"break of vehicle {vehicle}",
        )
        solver.Add(rest.PerformedExpr() == routing.ActiveVehicleVar(vehicle))
        if not model.start_fixed[vehicle]:
            start = time_dimension.CumulVar(routing.Start(vehicle))
            solver.Add(rest.SafeStartExpr(_HORIZON) >= start)
        time_dimension.SetBreakIntervalsOfVehicle([rest], vehicle, visits)


def _add_balance(model: _Model, time_callbacks: dict[int, int]) -> None:
    """The longest route's duration, as the global span of a dimension that starts at 0 and
    waits exactly when the time dimension does."""
    routing, solver = model.routing, model.solver
    evaluators = [time_callbacks[v.profile] for v in model.types]
    routing.AddDimensionWithVehicleTransits(evaluators, _HORIZON, _HORIZON, True, "elapsed")
    elapsed = routing.GetDimensionOrDie("elapsed")
    for index in range(routing.Size()):
        if not routing.IsEnd(index):
            solver.Add(elapsed.SlackVar(index) == model.time.SlackVar(index))
    elapsed.SetGlobalSpanCostCoefficient(model.layout.problem.max_duration_cost)


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
    manager: Any,
    routing: Any,
    solution: Any,
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
        # A bike away from its depot may ride straight back to load: keep that empty trip.
        back_first = type_index in layout.start_node and not trips[0] and any(trips[1:])
        trips = [trip for trip in trips if trip]
        if back_first:
            trips.insert(0, [])
        if trips:
            vehicle_trips.append((type_index, trips))
    return vehicle_trips


__all__ = ["NO_SOLUTION", "UnsupportedByOrToolsError", "solve_ortools", "unsupported_features"]
