"""Turn trips into a timed, costed :class:`Result`, exactly as ``docs/solver-contract.md`` says.

Backends only decide which clients ride on which trip of which bike; the times, loads and
costs they report all come from here, so two backends cannot disagree on what a solution is
worth. Hard-constraint violations do not raise: they are listed in ``Result.violations`` and
make ``Result.feasible`` false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from solver.model import MAX_TIME, Problem
from solver.result import Break, Result, Route, Stop, Trip, Unassigned

#: One bike's work as a backend hands it over: (vehicle type index, trips of client indices).
VehicleTrips = tuple[int, Sequence[Sequence[int]]]


def build_result(
    problem: Problem,
    vehicle_trips: Sequence[VehicleTrips],
    *,
    unassigned: dict[int, str],
    backend: str,
    seed: int,
    runtime_s: float,
    iterations: int,
    compile_s: float = 0.0,
    progress: Sequence[tuple[float, int]] = (),
) -> Result:
    """Schedule every bike's trips at the earliest times the contract allows.

    Bikes of one type are numbered in the order they appear. Empty trips and bikes without
    a trip are dropped (they are unused), except the empty first trip of a bike away from its
    depot, which is its ride back to load. A client index outside the problem is a bug of the
    caller and raises ``ValueError``.
    """
    violations: list[str] = []
    routes: list[Route] = []
    used_per_type = [0] * len(problem.vehicle_types)
    for type_index, trips in vehicle_trips:
        if not 0 <= type_index < len(problem.vehicle_types):
            raise ValueError(f"vehicle type {type_index} is not in the problem")
        kept = _non_empty_trips(problem, type_index, trips)
        if not kept:
            continue
        route = _schedule_route(problem, type_index, used_per_type[type_index], kept, violations)
        used_per_type[type_index] += 1
        routes.append(route)

    for type_index, used in enumerate(used_per_type):
        count = problem.vehicle_types[type_index].count
        if used > count:
            violations.append(f"vehicle type {type_index}: {used} bikes used, only {count} exist")
    violations.extend(_coverage_violations(problem, routes, unassigned))

    return Result(
        routes=tuple(routes),
        unassigned=tuple(Unassigned(c, unassigned[c]) for c in sorted(unassigned)),
        cost=sum(route.cost for route in routes)
        + problem.max_duration_cost * max((route.duration for route in routes), default=0),
        distance=sum(route.distance for route in routes),
        duration=sum(route.duration for route in routes),
        feasible=not violations,
        runtime_s=runtime_s,
        iterations=iterations,
        backend=backend,
        seed=seed,
        compile_s=compile_s,
        problem_name=problem.name,
        violations=tuple(violations),
        progress=tuple(progress),
    )


def _non_empty_trips(
    problem: Problem, type_index: int, trips: Sequence[Sequence[int]]
) -> list[list[int]]:
    """Drop empty trips, except the first of a bike away from its depot that has later ones:
    that one is the ride back to the depot to load."""
    kept = [list(trip) for trip in trips if len(trip)]
    away = problem.vehicle_types[type_index].start_location is not None
    if away and kept and trips and not len(trips[0]):
        return [[], *kept]
    return kept


@dataclass
class _Timeline:
    """One simulation of a bike's trips, with the break (if any) in one gap."""

    trips: list[Trip] = field(default_factory=list)
    distance: int = 0
    cost: int = 0
    violations: list[str] = field(default_factory=list)
    rest: Break | None = None

    @property
    def start(self) -> int:
        return self.trips[0].departure

    @property
    def end(self) -> int:
        return self.trips[-1].return_time


def _schedule_route(
    problem: Problem,
    type_index: int,
    vehicle: int,
    trips: list[list[int]],
    violations: list[str],
) -> Route:
    vehicle_type = problem.vehicle_types[type_index]
    label = f"vehicle type {type_index} bike {vehicle}"
    for trip in trips:
        for index in trip:
            if not 0 <= index < problem.n_clients:
                raise ValueError(f"{label}: client {index} is not in the problem")
    if vehicle_type.max_trips is not None and len(trips) > vehicle_type.max_trips:
        violations.append(f"{label}: {len(trips)} trips, at most {vehicle_type.max_trips} allowed")
    violations.extend(_assignment_violations(problem, type_index, trips, label))

    chosen = _simulate(problem, type_index, trips, label, None)
    if vehicle_type.break_duration and chosen.end > vehicle_type.break_late:
        chosen = _with_break(problem, type_index, trips, label)
    violations.extend(chosen.violations)
    return Route(
        vehicle_type=type_index,
        vehicle=vehicle,
        trips=tuple(chosen.trips),
        distance=chosen.distance,
        duration=chosen.end - chosen.start,
        cost=chosen.cost,
        start=chosen.start,
        end=chosen.end,
        rest=chosen.rest,
    )


def _with_break(problem: Problem, type_index: int, trips: list[list[int]], label: str) -> _Timeline:
    """The break in the gap the contract picks: feasible first, then cost, duration, order."""
    gaps = [(t, k) for t, trip in enumerate(trips) for k in range(len(trip) + 1)]
    timelines = [_simulate(problem, type_index, trips, label, gap) for gap in gaps]
    order = range(len(gaps))
    best = min(
        order,
        key=lambda i: (
            len(timelines[i].violations),
            timelines[i].cost,
            timelines[i].end - timelines[i].start,
            i,
        ),
    )
    return timelines[best]


def _assignment_violations(
    problem: Problem, type_index: int, trips: list[list[int]], label: str
) -> list[str]:
    """Which bike and trip each kind of client may ride: depots, pairs, on board, skills."""
    vehicle_type = problem.vehicle_types[type_index]
    where = {c: (t, k) for t, trip in enumerate(trips) for k, c in enumerate(trip)}
    paired = problem.partner
    found = []
    for client_index, (number, _) in where.items():
        client = problem.clients[client_index]
        trip_label = f"{label} trip {number + 1}"
        missing = sorted(set(client.requires) - set(vehicle_type.skills))
        if missing:
            found.append(f"{trip_label}: client {client_index} needs {', '.join(missing)}")
        if client.on_board is not None:
            if client.on_board != type_index:
                found.append(
                    f"{trip_label}: client {client_index} is on board vehicle type "
                    f"{client.on_board}"
                )
            elif number != 0:
                found.append(f"{trip_label}: client {client_index} is on board, not on trip 1")
        elif client_index not in paired:
            if client.depot != vehicle_type.start_depot:
                found.append(
                    f"{trip_label}: client {client_index} waits at depot {client.depot}, the "
                    f"bike starts at depot {vehicle_type.start_depot}"
                )
            if number == 0 and vehicle_type.start_location is not None:
                found.append(
                    f"{trip_label}: starts away from the depot and cannot carry depot parcel "
                    f"{client_index}"
                )
    for pickup, delivery in problem.pairs:
        if (pickup in where) != (delivery in where):
            alone = pickup if pickup in where else delivery
            found.append(
                f"{label}: pair ({pickup}, {delivery}) is split: only client {alone} rides here"
            )
        elif pickup in where:
            (tp, kp), (td, kd) = where[pickup], where[delivery]
            if tp != td:
                found.append(f"{label}: pair ({pickup}, {delivery}) is split across trips")
            elif kp > kd:
                found.append(f"{label}: pair ({pickup}, {delivery}) is delivered before pickup")
    return found


def _simulate(
    problem: Problem,
    type_index: int,
    trips: list[list[int]],
    label: str,
    gap: tuple[int, int] | None,
) -> _Timeline:
    """Ride the trips at the earliest times the contract allows, the break (if any) at ``gap``."""
    vehicle_type = problem.vehicle_types[type_index]
    durations = problem.durations[vehicle_type.profile]
    distances = problem.distances[vehicle_type.profile]
    costs = problem.cost_matrix(vehicle_type.profile)
    start_depot = problem.depots[vehicle_type.start_depot]
    pickups = {p for p, _ in problem.pairs}
    pickup_of = {d: p for p, d in problem.pairs}
    out = _Timeline(cost=vehicle_type.fixed_cost)
    found = out.violations
    picked_at: dict[int, int] = {}
    ready = vehicle_type.shift_start
    for number, trip in enumerate(trips):
        trip_label = f"{label} trip {number + 1}"
        last = number == len(trips) - 1
        end_index = vehicle_type.return_depot if last else vehicle_type.start_depot
        end_depot = problem.depots[end_index]
        clients = [problem.clients[c] for c in trip]
        from_afar = number == 0 and vehicle_type.start_location is not None
        loaded = [c for c in trip if c not in pickups and c not in pickup_of]
        load = tuple(
            sum(problem.clients[c].demand[d] for c in loaded) for d in range(problem.n_dimensions)
        )
        if from_afar:
            departure = ready
            here = int(vehicle_type.start_location or 0)
            trip_depot = -1
        else:
            releases = [
                problem.clients[c].release for c in loaded if problem.clients[c].on_board is None
            ]
            departure = max(ready, start_depot.opens, max(releases, default=0))
            here = start_depot.location
            trip_depot = vehicle_type.start_depot
        on_board = list(load)
        over = [False] * problem.n_dimensions
        _check_capacity(on_board, vehicle_type.capacity, over, problem, trip_label, found)
        now = departure
        stops = []
        for k in range(len(trip) + 1):
            if gap == (number, k):
                rest_start = max(now, vehicle_type.break_early)
                if rest_start > vehicle_type.break_late:
                    found.append(
                        f"{trip_label}: break would start at {rest_start}, after "
                        f"{vehicle_type.break_late}"
                    )
                out.rest = Break(number, k, rest_start)
                now = rest_start + vehicle_type.break_duration
            if k == len(trip):
                break
            client_index, client = trip[k], clients[k]
            if durations[here, client.location] >= MAX_TIME:
                found.append(f"{trip_label}: no path to client {client_index}")
            arrival = now + int(durations[here, client.location])
            out.distance += int(distances[here, client.location])
            out.cost += int(costs[here, client.location])
            earliest = client.tw_early
            if client_index in pickups:
                earliest = max(earliest, client.release)
            service_start = max(arrival, earliest)
            if service_start > client.tw_late:
                found.append(
                    f"{trip_label}: client {client_index} served at {service_start}, after its "
                    f"window closes at {client.tw_late}"
                )
            out.cost += client.late_cost * max(0, service_start - client.due)
            if client.planned_type is not None and client.planned_type != type_index:
                out.cost += client.move_cost
            now = service_start + client.service
            if client_index in pickups:
                picked_at[client_index] = now
                on_board = [left + part for left, part in zip(on_board, client.demand, strict=True)]
            else:
                on_board = [left - part for left, part in zip(on_board, client.demand, strict=True)]
                if client.max_ride < MAX_TIME and client.on_board is None:
                    since = picked_at.get(pickup_of.get(client_index, -1), departure)
                    if service_start - since > client.max_ride:
                        found.append(
                            f"{trip_label}: client {client_index} rides {service_start - since} "
                            f"s, more than its {client.max_ride} s limit"
                        )
            _check_capacity(on_board, vehicle_type.capacity, over, problem, trip_label, found)
            stops.append(Stop(client_index, arrival, service_start, now, tuple(on_board)))
            here = client.location

        if durations[here, end_depot.location] >= MAX_TIME:
            found.append(f"{trip_label}: no path back to depot {end_index}")
        return_time = now + int(durations[here, end_depot.location])
        out.distance += int(distances[here, end_depot.location])
        out.cost += int(costs[here, end_depot.location])
        if return_time > vehicle_type.shift_end:
            found.append(
                f"{trip_label}: back at {return_time}, after the shift ends at "
                f"{vehicle_type.shift_end}"
            )
        if return_time > end_depot.closes:
            found.append(
                f"{trip_label}: back at {return_time}, after depot {end_index} closes at "
                f"{end_depot.closes}"
            )
        out.trips.append(
            Trip(
                depot=trip_depot,
                end_depot=end_index,
                departure=departure,
                return_time=return_time,
                stops=tuple(stops),
                load=load,
            )
        )
        ready = return_time + vehicle_type.reload
    out.cost += vehicle_type.duration_cost * (out.end - out.start)
    return out


def _check_capacity(
    on_board: list[int],
    capacity: tuple[int, ...],
    over: list[bool],
    problem: Problem,
    trip_label: str,
    found: list[str],
) -> None:
    """Report each dimension's first overload on a trip once."""
    for dim, (amount, limit) in enumerate(zip(on_board, capacity, strict=True)):
        if amount > limit and not over[dim]:
            over[dim] = True
            found.append(
                f"{trip_label}: {problem.dimensions[dim]} {amount} exceeds capacity {limit}"
            )


def _coverage_violations(
    problem: Problem, routes: list[Route], unassigned: dict[int, str]
) -> list[str]:
    """Every client exactly once: on one trip, or unassigned (with a reason)."""
    seen = [0] * problem.n_clients
    for route in routes:
        for client in route.clients:
            seen[client] += 1
    violations = []
    for client in unassigned:
        if not 0 <= client < problem.n_clients:
            raise ValueError(f"unassigned client {client} is not in the problem")
    for client, times in enumerate(seen):
        if times > 1:
            violations.append(f"client {client} is visited {times} times")
        if times and client in unassigned:
            violations.append(f"client {client} is both visited and unassigned")
        if not times and client not in unassigned:
            violations.append(f"client {client} is neither visited nor unassigned")
    return violations


__all__ = ["VehicleTrips", "build_result"]
