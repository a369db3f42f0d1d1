"""Turn trips into a timed, costed :class:`Result`, exactly as ``docs/solver-contract.md`` says.

Backends only decide which clients ride on which trip of which bike; the times, loads and
costs they report all come from here, so two backends cannot disagree on what a solution is
worth. Hard-constraint violations do not raise: they are listed in ``Result.violations`` and
make ``Result.feasible`` false.
"""

from __future__ import annotations

from collections.abc import Sequence

from solver.model import MAX_TIME, Problem
from solver.result import Result, Route, Stop, Trip, Unassigned

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
    a trip are dropped (they are unused). A client index outside the problem is a bug of the
    caller and raises ``ValueError``.
    """
    violations: list[str] = []
    routes: list[Route] = []
    used_per_type = [0] * len(problem.vehicle_types)
    for type_index, trips in vehicle_trips:
        if not 0 <= type_index < len(problem.vehicle_types):
            raise ValueError(f"vehicle type {type_index} is not in the problem")
        kept = [list(trip) for trip in trips if len(trip)]
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
        cost=sum(route.cost for route in routes),
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


def _schedule_route(
    problem: Problem,
    type_index: int,
    vehicle: int,
    trips: list[list[int]],
    violations: list[str],
) -> Route:
    vehicle_type = problem.vehicle_types[type_index]
    label = f"vehicle type {type_index} bike {vehicle}"
    durations = problem.durations[vehicle_type.profile]
    distances = problem.distances[vehicle_type.profile]
    costs = problem.cost_matrix(vehicle_type.profile)
    start_depot = problem.depots[vehicle_type.start_depot]

    if vehicle_type.max_trips is not None and len(trips) > vehicle_type.max_trips:
        violations.append(f"{label}: {len(trips)} trips, at most {vehicle_type.max_trips} allowed")

    built: list[Trip] = []
    distance = 0
    cost = vehicle_type.fixed_cost
    ready = vehicle_type.shift_start
    for number, trip in enumerate(trips):
        for index in trip:
            if not 0 <= index < problem.n_clients:
                raise ValueError(f"{label}: client {index} is not in the problem")
        trip_label = f"{label} trip {number + 1}"
        last = number == len(trips) - 1
        end_index = vehicle_type.return_depot if last else vehicle_type.start_depot
        end_depot = problem.depots[end_index]
        clients = [problem.clients[c] for c in trip]

        for client_index, client in zip(trip, clients, strict=True):
            if client.depot != vehicle_type.start_depot:
                violations.append(
                    f"{trip_label}: client {client_index} waits at depot {client.depot}, the "
                    f"bike starts at depot {vehicle_type.start_depot}"
                )
        load = tuple(sum(c.demand[d] for c in clients) for d in range(problem.n_dimensions))
        for dim, (amount, capacity) in enumerate(zip(load, vehicle_type.capacity, strict=True)):
            if amount > capacity:
                violations.append(
                    f"{trip_label}: {problem.dimensions[dim]} {amount} exceeds capacity {capacity}"
                )

        departure = max(ready, start_depot.opens, max(c.release for c in clients))
        now = departure
        here = start_depot.location
        on_board = list(load)
        stops = []
        for client_index, client in zip(trip, clients, strict=True):
            if durations[here, client.location] >= MAX_TIME:
                violations.append(f"{trip_label}: no path to client {client_index}")
            arrival = now + int(durations[here, client.location])
            distance += int(distances[here, client.location])
            cost += int(costs[here, client.location])
            service_start = max(arrival, client.tw_early)
            if service_start > client.tw_late:
                violations.append(
                    f"{trip_label}: client {client_index} served at {service_start}, after its "
                    f"window closes at {client.tw_late}"
                )
            now = service_start + client.service
            on_board = [left - part for left, part in zip(on_board, client.demand, strict=True)]
            stops.append(Stop(client_index, arrival, service_start, now, tuple(on_board)))
            here = client.location

        if durations[here, end_depot.location] >= MAX_TIME:
            violations.append(f"{trip_label}: no path back to depot {end_index}")
        return_time = now + int(durations[here, end_depot.location])
        distance += int(distances[here, end_depot.location])
        cost += int(costs[here, end_depot.location])
        if return_time > vehicle_type.shift_end:
            violations.append(
                f"{trip_label}: back at {return_time}, after the shift ends at "
                f"{vehicle_type.shift_end}"
            )
        if return_time > end_depot.closes:
            violations.append(
                f"{trip_label}: back at {return_time}, after depot {end_index} closes at "
                f"{end_depot.closes}"
            )
        built.append(
            Trip(
                depot=vehicle_type.start_depot,
                end_depot=end_index,
                departure=departure,
                return_time=return_time,
                stops=tuple(stops),
                load=load,
            )
        )
        ready = return_time + vehicle_type.reload

    start, end = built[0].departure, built[-1].return_time
    return Route(
        vehicle_type=type_index,
        vehicle=vehicle,
        trips=tuple(built),
        distance=distance,
        duration=end - start,
        cost=cost,
        start=start,
        end=end,
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
