"""Clients no bike can serve even alone, found before the search with a reason for each.

A client fails if, for every vehicle type starting at its depot, a trip carrying only that
client is impossible: too heavy, no path, or its window cannot be met within a shift and the
depots' hours. The reason names the first of these checks that no type passes, so it says
what a dispatcher would have to change. The window check takes the direct ride as the
fastest, i.e. it assumes durations obey the triangle inequality (road shortest paths do).
"""

from __future__ import annotations

from solver.model import MAX_TIME, Client, Problem, VehicleType

#: The reason for a client the search could not fit on any bike (after the search).
FLEET_FULL = "fleet full: no vehicle has room or time left"


def find_unserviceable(problem: Problem) -> dict[int, str]:
    """Return {client index: reason} for every client no vehicle can serve on its own."""
    reasons: dict[int, str] = {}
    for index, client in enumerate(problem.clients):
        reason = _reason(problem, client)
        if reason is not None:
            reasons[index] = reason
    return reasons


def _reason(problem: Problem, client: Client) -> str | None:
    types = [v for v in problem.vehicle_types if v.start_depot == client.depot]
    if not types:
        return f"no vehicle starts at its depot (depot {client.depot})"

    fitting = [v for v in types if _fits(client, v)]
    if not fitting:
        return _demand_reason(problem, client, types)

    reachable = [v for v in fitting if _has_path(problem, client, v)]
    if not reachable:
        return f"no path from/to depot {client.depot}"

    best_start = min(_earliest_start(problem, client, v) for v in reachable)
    if best_start > client.tw_late:
        return (
            f"time window {_clock(client.tw_early)}–{_clock(client.tw_late)} cannot be reached "
            f"from depot {client.depot} within any shift (earliest service start "
            f"{_clock(best_start)})"
        )
    if not any(_back_in_time(problem, client, v) for v in reachable):
        return (
            f"time window {_clock(client.tw_early)}–{_clock(client.tw_late)} leaves no time to "
            f"ride back to the depot before any shift ends or the depot closes"
        )
    return None


def _fits(client: Client, vehicle: VehicleType) -> bool:
    return all(d <= c for d, c in zip(client.demand, vehicle.capacity, strict=True))


def _demand_reason(problem: Problem, client: Client, types: list[VehicleType]) -> str:
    for dim, name in enumerate(problem.dimensions):
        most = max(v.capacity[dim] for v in types)
        if client.demand[dim] > most:
            return f"demand {client.demand[dim]} {name} exceeds every bike's capacity (max {most})"
    # Each dimension fits some type, but no single type takes all of them at once.
    return f"demand {client.demand} fits no single bike's capacity in every dimension"


def _has_path(problem: Problem, client: Client, vehicle: VehicleType) -> bool:
    out = problem.durations[vehicle.profile]
    start = problem.depots[vehicle.start_depot].location
    end = problem.depots[vehicle.return_depot].location
    return bool(out[start, client.location] < MAX_TIME and out[client.location, end] < MAX_TIME)


def _earliest_start(problem: Problem, client: Client, vehicle: VehicleType) -> int:
    depot = problem.depots[vehicle.start_depot]
    leave = max(vehicle.shift_start, depot.opens, client.release)
    ride = int(problem.durations[vehicle.profile][depot.location, client.location])
    return max(leave + ride, client.tw_early)


def _back_in_time(problem: Problem, client: Client, vehicle: VehicleType) -> bool:
    start = _earliest_start(problem, client, vehicle)
    if start > client.tw_late:
        return False
    end_depot = problem.depots[vehicle.return_depot]
    ride = int(problem.durations[vehicle.profile][client.location, end_depot.location])
    back = start + client.service + ride
    return back <= vehicle.shift_end and back <= end_depot.closes


def _clock(value: int) -> str:
    """Times as plain numbers; "open" for the never-closing end of a window."""
    return "open" if value >= MAX_TIME else str(value)


__all__ = ["FLEET_FULL", "find_unserviceable"]
