"""An independent check of a :class:`Result` against its :class:`Problem`.

Written apart from ``schedule.py`` on purpose (plain loops, nothing shared but the model), so
a bug in one shows up as a disagreement with the other. It re-derives every time, load and
cost from the clients' order alone (and, for a break, the gap the result reports it in),
following ``docs/solver-contract.md``, and reports each broken rule and each number in the
result that differs from the recomputed one.

The operations rules are checked too: pairs (one trip, pickup first, both halves or
neither), the load along a trip, parcels on board, routes starting away from the depot,
pickup releases, soft windows, ride limits, skills, breaks, and the span, move and balance
costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solver.model import MAX_TIME, Problem
from solver.result import Result, Route


@dataclass(frozen=True)
class CheckReport:
    """What the checker found: ``feasible`` is true when ``violations`` is empty; the totals
    are the recomputed ones (not the result's)."""

    feasible: bool
    violations: list[str] = field(default_factory=list)
    cost: int = 0
    distance: int = 0
    duration: int = 0


@dataclass
class _TripTimes:
    """The contract's numbers for one trip, recomputed from its clients' order."""

    index: int
    departure: int
    load: tuple[int, ...]
    #: (arrival, service start, departure, load after) per stop.
    stops: list[tuple[int, int, int, tuple[int, ...]]]
    return_time: int


@dataclass
class _RouteTimes:
    """One bike's trips ridden as the contract says, with the break (if any) in one gap."""

    trips: list[_TripTimes] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    cost: int = 0  # fixed, arcs, lateness and moves; the duration cost is added by the caller
    distance: int = 0
    start: int = 0
    end: int = 0
    rest_start: int | None = None


def check(problem: Problem, result: Result) -> CheckReport:
    """Check coverage, fleet, depots, trips, loads, windows, shifts, depot hours, the
    operations rules (pairs, on board, re-plan starts, ride limits, skills, breaks) and totals.
    """
    problems: list[str] = []
    visits = [0] * problem.n_clients
    #: Where each client was first seen: (route, trip, stop).
    seen_at: dict[int, tuple[int, int, int]] = {}
    bikes_seen: set[tuple[int, int]] = set()
    per_type = [0] * len(problem.vehicle_types)
    total_cost = 0
    total_distance = 0
    total_duration = 0
    longest = 0

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

        usable = _check_assignment(problem, r, route, problems, visits, seen_at)
        route_cost, route_distance, route_duration = _check_times(
            problem, r, route, usable, problems
        )
        total_cost += route_cost
        total_distance += route_distance
        total_duration += route_duration
        longest = max(longest, route_duration)

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
    problems.extend(_pair_violations(problem, visits, seen_at))

    total_cost += problem.max_duration_cost * longest
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


def _check_assignment(
    problem: Problem,
    r: int,
    route: Route,
    problems: list[str],
    visits: list[int],
    seen_at: dict[int, tuple[int, int, int]],
) -> list[int]:
    """Who may ride on which trip of this bike; returns the trips that can be timed.

    A trip that is empty (other than the first of a bike away from its depot, its ride back
    to load) or names a client outside the problem is reported and not timed.
    """
    where = f"route {r}"
    t = route.vehicle_type
    vt = problem.vehicle_types[t]
    home = vt.start_depot
    final = vt.return_depot
    paired = problem.partner
    usable = []
    for k, trip in enumerate(route.trips):
        here_label = f"{where} trip {k}"
        away = k == 0 and vt.start_location is not None
        # A bike away from its depot may ride back empty first, to load on trip 1.
        if len(trip.stops) == 0 and not (away and len(route.trips) > 1):
            problems.append(f"{here_label}: is empty")
            continue
        back_to = final if k == len(route.trips) - 1 else home
        if away and trip.depot != -1:
            problems.append(
                f"{here_label}: leaves depot {trip.depot}, not -1 (the bike starts at location "
                f"{vt.start_location})"
            )
        elif not away and trip.depot != home:
            problems.append(f"{here_label}: leaves depot {trip.depot}, not {home}")
        if trip.end_depot != back_to:
            problems.append(f"{here_label}: returns to depot {trip.end_depot}, not {back_to}")

        bad_index = False
        for s, stop in enumerate(trip.stops):
            c = stop.client
            if c < 0 or c >= problem.n_clients:
                problems.append(f"{here_label}: client {c} does not exist")
                bad_index = True
                continue
            visits[c] += 1
            seen_at.setdefault(c, (r, k, s))
            cl = problem.clients[c]
            missing = [skill for skill in cl.requires if skill not in vt.skills]
            if missing:
                problems.append(
                    f"{here_label}: client {c} needs {', '.join(missing)}, which vehicle type "
                    f"{t} lacks"
                )
            if cl.on_board is not None:
                if cl.on_board != t:
                    problems.append(
                        f"{here_label}: client {c} is on board vehicle type {cl.on_board}, not {t}"
                    )
                elif k != 0:
                    problems.append(f"{here_label}: client {c} is on board and must ride on trip 0")
            elif c not in paired:
                if cl.depot != home:
                    problems.append(
                        f"{here_label}: client {c} belongs to depot {cl.depot}, the bike to {home}"
                    )
                if away:
                    problems.append(
                        f"{here_label}: starts at location {vt.start_location}, away from the "
                        f"depot, and cannot carry depot parcel {c}"
                    )
        if not bad_index:
            usable.append(k)
    return usable


def _check_times(
    problem: Problem, r: int, route: Route, usable: list[int], problems: list[str]
) -> tuple[int, int, int]:
    """Ride the route, decide whether it owes a break, compare every reported number.

    Returns the recomputed (cost, distance, duration) of the route.
    """
    where = f"route {r}"
    t = route.vehicle_type
    vt = problem.vehicle_types[t]
    plain = _ride(problem, where, route, usable, None)
    timed = plain
    required = vt.break_duration > 0 and bool(plain.trips) and plain.end > vt.break_late
    pickups = {pickup for pickup, _ in problem.pairs}
    rest = route.rest
    if rest is None:
        if required:
            problems.append(
                f"{where}: takes no break, but without one it ends at {plain.end} > break_late "
                f"{vt.break_late} (a break of {vt.break_duration} s is required)"
            )
    elif vt.break_duration == 0:
        problems.append(f"{where}: takes a break, but vehicle type {t} has none (break_duration 0)")
    else:
        if not required:
            problems.append(
                f"{where}: takes a break, but none is required (without one it ends at "
                f"{plain.end} <= break_late {vt.break_late})"
            )
        if rest.trip in usable and 0 <= rest.after <= len(route.trips[rest.trip].stops):
            timed = _ride(problem, where, route, usable, (rest.trip, rest.after))
            if rest.start != timed.rest_start:
                problems.append(
                    f"{where}: break starts at {rest.start}, expected {timed.rest_start} "
                    f"(max(departure at its gap, break_early {vt.break_early}))"
                )
        else:
            problems.append(
                f"{where}: break after {rest.after} stops of trip {rest.trip} is not a gap of "
                "the route"
            )
    problems.extend(timed.violations)

    for plan in timed.trips:
        trip = route.trips[plan.index]
        here_label = f"{where} trip {plan.index}"
        if tuple(plan.load) != tuple(trip.load):
            parts = (
                "clients" if _plain_trip(problem, trip.clients) else "depot and on-board parcels"
            )
            problems.append(f"{here_label}: load {trip.load} but the {parts} sum to {plan.load}")
        if trip.departure != plan.departure:
            problems.append(f"{here_label}: departs at {trip.departure}, expected {plan.departure}")
        for s, (stop, (arrival, begin, leave, load_after)) in enumerate(
            zip(trip.stops, plan.stops, strict=True)
        ):
            if (stop.arrival, stop.service_start) != (arrival, begin):
                problems.append(
                    f"{here_label} stop {s}: times ({stop.arrival}, {stop.service_start}) "
                    f"differ from the contract's ({arrival}, {begin})"
                )
            cl = problem.clients[stop.client]
            if stop.client in pickups and stop.service_start < cl.release:
                problems.append(
                    f"{here_label} stop {s}: pickup {stop.client} starts at {stop.service_start}, "
                    f"before its release {cl.release}"
                )
            if stop.departure != leave:
                problems.append(
                    f"{here_label} stop {s}: leaves at {stop.departure}, expected {leave}"
                )
            if tuple(stop.load_after) != load_after:
                problems.append(
                    f"{here_label} stop {s}: load after {stop.load_after}, expected {load_after}"
                )
        if trip.return_time != plan.return_time:
            problems.append(
                f"{here_label}: returns at {trip.return_time}, expected {plan.return_time}"
            )

    route_duration = timed.end - timed.start
    route_cost = timed.cost + vt.duration_cost * route_duration
    if route.cost != route_cost:
        problems.append(f"{where}: cost {route.cost}, recomputed {route_cost}")
    if route.distance != timed.distance:
        problems.append(f"{where}: distance {route.distance}, recomputed {timed.distance}")
    if route.duration != route_duration:
        problems.append(f"{where}: duration {route.duration}, recomputed {route_duration}")
    if timed.trips and (route.start, route.end) != (timed.start, timed.end):
        problems.append(
            f"{where}: runs from {route.start} to {route.end}, expected {timed.start} to "
            f"{timed.end}"
        )
    return route_cost, timed.distance, route_duration


def _plain_trip(problem: Problem, clients: list[int]) -> bool:
    """Whether every client of the trip is a depot delivery (the load is their sum)."""
    paired = problem.partner
    return all(c not in paired and problem.clients[c].on_board is None for c in clients)


def _ride(
    problem: Problem, where: str, route: Route, usable: list[int], gap: tuple[int, int] | None
) -> _RouteTimes:
    """The contract's times, loads and cost for the route's trips, the break (if any) taken
    before the leg that leaves trip ``gap[0]`` after ``gap[1]`` of its stops."""
    t = route.vehicle_type
    vt = problem.vehicle_types[t]
    p = vt.profile
    home = vt.start_depot
    final = vt.return_depot
    pickups = {pickup for pickup, _ in problem.pairs}
    pickup_of = {delivery: pickup for pickup, delivery in problem.pairs}
    n_dims = len(problem.dimensions)
    out = _RouteTimes(cost=vt.fixed_cost)
    clock = vt.shift_start
    for k in usable:
        trip = route.trips[k]
        here_label = f"{where} trip {k}"
        back_to = final if k == len(route.trips) - 1 else home
        away = k == 0 and vt.start_location is not None

        # Out of the start: depot deliveries and parcels already on board.
        carried = [0] * n_dims
        latest_release = 0
        for stop in trip.stops:
            cl = problem.clients[stop.client]
            if stop.client in pickups or stop.client in pickup_of:
                continue
            for d in range(n_dims):
                carried[d] += cl.demand[d]
            if cl.on_board is None and cl.release > latest_release:
                latest_release = cl.release
        over = [False] * n_dims
        for d in range(n_dims):
            if carried[d] > vt.capacity[d]:
                over[d] = True
                out.violations.append(
                    f"{here_label}: carries {carried[d]} {problem.dimensions[d]}, capacity "
                    f"is {vt.capacity[d]}"
                )

        # The contract's departure: shift start or reload done, depot open, parcels ready;
        # a bike out on a re-plan simply leaves where it is at the shift start.
        if away:
            leave = clock
            at = int(vt.start_location or 0)
        else:
            leave = clock
            if problem.depots[home].opens > leave:
                leave = problem.depots[home].opens
            if latest_release > leave:
                leave = latest_release
            at = problem.depots[home].location
        if not out.trips:
            out.start = leave

        t_now = leave
        load = list(carried)
        picked: dict[int, int] = {}
        stops: list[tuple[int, int, int, tuple[int, ...]]] = []
        for s in range(len(trip.stops) + 1):
            if gap == (k, s):
                rest_start = t_now if t_now >= vt.break_early else vt.break_early
                if rest_start > vt.break_late:
                    out.violations.append(
                        f"{where}: break after {s} stops of trip {k} starts at {rest_start} > "
                        f"break_late {vt.break_late}"
                    )
                out.rest_start = rest_start
                t_now = rest_start + vt.break_duration
            if s == len(trip.stops):
                break
            c = trip.stops[s].client
            cl = problem.clients[c]
            ride = int(problem.durations[p][at][cl.location])
            if ride >= MAX_TIME:
                out.violations.append(f"{here_label}: client {c} cannot be reached")
            t_now += ride
            arrival = t_now
            out.distance += int(problem.distances[p][at][cl.location])
            if problem.objective == "distance":
                out.cost += int(problem.distances[p][at][cl.location])
            else:
                out.cost += ride
            earliest = cl.tw_early
            if c in pickups and cl.release > earliest:
                earliest = cl.release
            begin = t_now if t_now >= earliest else earliest
            if begin > cl.tw_late:
                out.violations.append(
                    f"{here_label}: client {c} starts at {begin} > tw_late {cl.tw_late}"
                )
            if begin > cl.due:
                out.cost += cl.late_cost * (begin - cl.due)
            if cl.planned_type is not None and cl.planned_type != t:
                out.cost += cl.move_cost
            t_now = begin + cl.service
            if c in pickups:
                picked[c] = t_now
                for d in range(n_dims):
                    load[d] += cl.demand[d]
            else:
                for d in range(n_dims):
                    load[d] -= cl.demand[d]
                if cl.max_ride < MAX_TIME and cl.on_board is None:
                    since = picked.get(pickup_of[c]) if c in pickup_of else leave
                    if since is not None and begin - since > cl.max_ride:
                        out.violations.append(
                            f"{here_label}: client {c} rides {begin - since} s > max_ride "
                            f"{cl.max_ride}"
                        )
            for d in range(n_dims):
                if load[d] > vt.capacity[d] and not over[d]:
                    over[d] = True
                    out.violations.append(
                        f"{here_label} stop {s}: carries {load[d]} {problem.dimensions[d]} "
                        f"after client {c}, capacity is {vt.capacity[d]}"
                    )
            stops.append((arrival, begin, t_now, tuple(load)))
            at = cl.location

        goal = problem.depots[back_to]
        ride = int(problem.durations[p][at][goal.location])
        if ride >= MAX_TIME:
            out.violations.append(f"{here_label}: depot {back_to} cannot be reached")
        t_now += ride
        out.distance += int(problem.distances[p][at][goal.location])
        if problem.objective == "distance":
            out.cost += int(problem.distances[p][at][goal.location])
        else:
            out.cost += ride
        if t_now > vt.shift_end:
            out.violations.append(f"{here_label}: returns at {t_now} > shift_end {vt.shift_end}")
        if t_now > goal.closes:
            out.violations.append(
                f"{here_label}: returns at {t_now} > depot {back_to} closes {goal.closes}"
            )
        out.trips.append(_TripTimes(k, leave, tuple(carried), stops, t_now))
        out.end = t_now
        clock = t_now + vt.reload
    return out


def _pair_violations(
    problem: Problem, visits: list[int], seen_at: dict[int, tuple[int, int, int]]
) -> list[str]:
    """Both halves of a pair on one trip of one bike, pickup first; or neither served."""
    found = []
    for pickup, delivery in problem.pairs:
        label = f"pair ({pickup}, {delivery})"
        if (visits[pickup] > 0) != (visits[delivery] > 0):
            alone, other = (pickup, delivery) if visits[pickup] else (delivery, pickup)
            found.append(f"{label}: client {alone} is served but its partner {other} is not")
            continue
        if not visits[pickup]:
            continue
        (rp, kp, sp), (rd, kd, sd) = seen_at[pickup], seen_at[delivery]
        if rp != rd:
            found.append(
                f"{label}: pickup on route {rp}, delivery on route {rd} (both must share a trip)"
            )
        elif kp != kd:
            found.append(
                f"{label}: pickup on trip {kp}, delivery on trip {kd} of route {rp} (both must "
                "share a trip)"
            )
        elif sp > sd:
            found.append(
                f"{label}: delivered at stop {sd} of route {rp} trip {kp}, before the pickup at "
                f"stop {sp}"
            )
    return found


__all__ = ["CheckReport", "check"]
