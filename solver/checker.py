"""An independent check of a :class:`Result` against its :class:`Problem`.

Written apart from ``schedule.py`` on purpose (plain loops, nothing shared but the model), so
a bug in one shows up as a disagreement with the other. It re-derives every time, load and
cost from the clients' order alone, following ``docs/solver-contract.md``, and reports each
broken rule and each number in the result that differs from the recomputed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solver.model import MAX_TIME, Problem
from solver.result import Result


@dataclass(frozen=True)
class CheckReport:
    """What the checker found: ``feasible`` is true when ``violations`` is empty; the totals
    are the recomputed ones (not the result's)."""

    feasible: bool
    violations: list[str] = field(default_factory=list)
    cost: int = 0
    distance: int = 0
    duration: int = 0


def check(problem: Problem, result: Result) -> CheckReport:
    """Check coverage, fleet, depots, trips, loads, windows, shifts, depot hours and totals."""
    problems: list[str] = []
    visits = [0] * problem.n_clients
    bikes_seen: set[tuple[int, int]] = set()
    per_type = [0] * len(problem.vehicle_types)
    total_cost = 0
    total_distance = 0
    total_duration = 0

    for r, route in enumerate(result.routes):
        where = f"route {r}"
        t = route.vehicle_type
        if t < 0 or t >= len(problem.vehicle_types):
            problems.append(f"{where}: vehicle type {t} does not exist")
            continue
        vt = problem.vehicle_types[t]
        per_type[t] += 1
        if route.vehicle < 0 or route.vehicle >= vt.count:
            problems.append(f"{where}: bike {route.vehicle} of type {t} does not exist")
        if (t, route.vehicle) in bikes_seen:
            problems.append(f"{where}: bike {route.vehicle} of type {t} drives two routes")
        bikes_seen.add((t, route.vehicle))
        if len(route.trips) == 0:
            problems.append(f"{where}: has no trip")
            continue
        if vt.max_trips is not None and len(route.trips) > vt.max_trips:
            problems.append(f"{where}: {len(route.trips)} trips but max_trips is {vt.max_trips}")

        p = vt.profile
        home = vt.start_depot
        final = vt.end_depot if vt.end_depot is not None else vt.start_depot
        route_cost = vt.fixed_cost
        route_distance = 0
        clock = vt.shift_start
        first_departure = 0
        last_return = 0
        for k, trip in enumerate(route.trips):
            here_label = f"{where} trip {k}"
            if len(trip.stops) == 0:
                problems.append(f"{here_label}: is empty")
                continue
            back_to = final if k == len(route.trips) - 1 else home
            if trip.depot != home:
                problems.append(f"{here_label}: leaves depot {trip.depot}, not {home}")
            if trip.end_depot != back_to:
                problems.append(f"{here_label}: returns to depot {trip.end_depot}, not {back_to}")

            carried = [0] * len(problem.dimensions)
            latest_release = 0
            bad_index = False
            for stop in trip.stops:
                c = stop.client
                if c < 0 or c >= problem.n_clients:
                    problems.append(f"{here_label}: client {c} does not exist")
                    bad_index = True
                    continue
                visits[c] += 1
                cl = problem.clients[c]
                if cl.depot != home:
                    problems.append(
                        f"{here_label}: client {c} belongs to depot {cl.depot}, the bike to {home}"
                    )
                for d in range(len(carried)):
                    carried[d] += cl.demand[d]
                if cl.release > latest_release:
                    latest_release = cl.release
            if bad_index:
                continue
            for d in range(len(carried)):
                if carried[d] > vt.capacity[d]:
                    problems.append(
                        f"{here_label}: carries {carried[d]} {problem.dimensions[d]}, capacity "
                        f"is {vt.capacity[d]}"
                    )
            if tuple(carried) != tuple(trip.load):
                problems.append(f"{here_label}: load {trip.load} but the clients sum to {carried}")

            # The contract's departure: shift start or reload done, depot open, parcels ready.
            leave = clock
            if problem.depots[home].opens > leave:
                leave = problem.depots[home].opens
            if latest_release > leave:
                leave = latest_release
            if trip.departure != leave:
                problems.append(f"{here_label}: departs at {trip.departure}, expected {leave}")
            if k == 0:
                first_departure = leave

            at = problem.depots[home].location
            t_now = leave
            remaining = list(carried)
            for s, stop in enumerate(trip.stops):
                cl = problem.clients[stop.client]
                ride = int(problem.durations[p][at][cl.location])
                if ride >= MAX_TIME:
                    problems.append(f"{here_label}: client {stop.client} cannot be reached")
                t_now += ride
                route_distance += int(problem.distances[p][at][cl.location])
                if problem.objective == "distance":
                    route_cost += int(problem.distances[p][at][cl.location])
                else:
                    route_cost += ride
                begin = t_now if t_now >= cl.tw_early else cl.tw_early
                if begin > cl.tw_late:
                    problems.append(
                        f"{here_label}: client {stop.client} starts at {begin} > tw_late "
                        f"{cl.tw_late}"
                    )
                for d in range(len(remaining)):
                    remaining[d] -= cl.demand[d]
                if (stop.arrival, stop.service_start) != (t_now, begin):
                    problems.append(
                        f"{here_label} stop {s}: times ({stop.arrival}, {stop.service_start}) "
                        f"differ from the contract's ({t_now}, {begin})"
                    )
                t_now = begin + cl.service
                if stop.departure != t_now:
                    problems.append(
                        f"{here_label} stop {s}: leaves at {stop.departure}, expected {t_now}"
                    )
                if tuple(stop.load_after) != tuple(remaining):
                    problems.append(
                        f"{here_label} stop {s}: load after {stop.load_after}, expected "
                        f"{tuple(remaining)}"
                    )
                at = cl.location

            goal = problem.depots[back_to]
            ride = int(problem.durations[p][at][goal.location])
            if ride >= MAX_TIME:
                problems.append(f"{here_label}: depot {back_to} cannot be reached")
            t_now += ride
            route_distance += int(problem.distances[p][at][goal.location])
            if problem.objective == "distance":
                route_cost += int(problem.distances[p][at][goal.location])
            else:
                route_cost += ride
            if t_now > vt.shift_end:
                problems.append(f"{here_label}: returns at {t_now} > shift_end {vt.shift_end}")
            if t_now > goal.closes:
                problems.append(
                    f"{here_label}: returns at {t_now} > depot {back_to} closes {goal.closes}"
                )
            if trip.return_time != t_now:
                problems.append(f"{here_label}: returns at {trip.return_time}, expected {t_now}")
            last_return = t_now
            clock = t_now + vt.reload

        route_duration = last_return - first_departure
        if route.cost != route_cost:
            problems.append(f"{where}: cost {route.cost}, recomputed {route_cost}")
        if route.distance != route_distance:
            problems.append(f"{where}: distance {route.distance}, recomputed {route_distance}")
        if route.duration != route_duration:
            problems.append(f"{where}: duration {route.duration}, recomputed {route_duration}")
        total_cost += route_cost
        total_distance += route_distance
        total_duration += route_duration

    for t in range(len(per_type)):
        if per_type[t] > problem.vehicle_types[t].count:
            problems.append(
                f"vehicle type {t}: {per_type[t]} routes, count is {problem.vehicle_types[t].count}"
            )

    left_out = [0] * problem.n_clients
    for item in result.unassigned:
        if item.client < 0 or item.client >= problem.n_clients:
            problems.append(f"unassigned client {item.client} does not exist")
            continue
        left_out[item.client] += 1
        if not item.reason.strip():
            problems.append(f"unassigned client {item.client} has no reason")
    for c in range(problem.n_clients):
        if visits[c] + left_out[c] != 1:
            problems.append(
                f"client {c}: visited {visits[c]} times, unassigned {left_out[c]} times "
                "(must be exactly once in all)"
            )

    if result.cost != total_cost:
        problems.append(f"result cost {result.cost}, recomputed {total_cost}")
    if result.distance != total_distance:
        problems.append(f"result distance {result.distance}, recomputed {total_distance}")
    if result.duration != total_duration:
        problems.append(f"result duration {result.duration}, recomputed {total_duration}")
    if not result.feasible and not problems:
        problems.append("the result claims to be infeasible, but no violation was found")

    return CheckReport(
        feasible=not problems,
        violations=problems,
        cost=total_cost,
        distance=total_distance,
        duration=total_duration,
    )


__all__ = ["CheckReport", "check"]
