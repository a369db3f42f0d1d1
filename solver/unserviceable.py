"""Clients no bike can serve even alone, found before the search with a reason for each.

"Alone" is the contract's test (``docs/solver-contract.md``, *Unreachable*): a client fails
if, for every vehicle type that may carry it, one bike serving only that client (only its
pair, for a half of a pair) breaks a hard rule. The route tried is

- a depot delivery: one trip from its depot, on a type starting there; a type away from the
  depot (``start_location``) first rides back empty, so it needs a second trip;
- a parcel on board: its own bike's first trip;
- a pair: one trip of any type with the skills both halves need, pickup then delivery.

The checks run in a fixed order (skills, depot, capacity, paths, then time: windows, ride
limit, the ride back, the break) and the reason names the first one that no type passes, so
it says what a dispatcher would have to change. Times are simulated as the contract schedules
them, so the reasons are exact: a client without one is served feasibly alone by some type.
When durations obey the triangle inequality most reasons also hold in any solution; a ride
limit or a break missed only because the lone trip leaves early or ends late may be kept
beside other clients, which is why those reasons say "alone".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from solver.model import MAX_TIME, Client, Problem, VehicleType

#: The reason for a client the search could not fit on any bike (after the search).
FLEET_FULL = "fleet full: no vehicle has room or time left"

#: One way of serving a client alone: a vehicle type and its trips (client indices).
_Plan = tuple[VehicleType, list[list[int]]]


def find_unserviceable(problem: Problem) -> dict[int, str]:
    """Return {client index: reason} for every client no vehicle can serve on its own.

    Both halves of a pair get a reason when either cannot be served (the other naming its
    partner), since a pair is served whole or not at all.
    """
    reasons: dict[int, str] = {}
    paired = problem.partner
    for index, client in enumerate(problem.clients):
        if index in paired:
            continue
        if client.on_board is not None:
            reason = _on_board_reason(problem, index, client)
        else:
            reason = _depot_reason(problem, index, client)
        if reason is not None:
            reasons[index] = reason
    for pickup, delivery in problem.pairs:
        reasons.update(_pair_reasons(problem, pickup, delivery))
    return dict(sorted(reasons.items()))


# --- depot deliveries ------------------------------------------------------------------------


def _depot_reason(problem: Problem, index: int, client: Client) -> str | None:
    unknown = _unknown_skills(problem, client.requires)
    if unknown:
        return f"needs {', '.join(unknown)}, which no vehicle type has"
    types = [v for v in problem.vehicle_types if v.start_depot == client.depot]
    if not types:
        return f"no vehicle starts at its depot (depot {client.depot})"
    types = _skilled(types, client.requires)
    if not types:
        return (
            f"needs {', '.join(client.requires)}: no vehicle starting at depot {client.depot} "
            "has all of them"
        )
    types = [v for v in types if v.start_location is None or v.max_trips != 1]
    if not types:
        return (
            f"every bike of depot {client.depot} is away from it with one trip only, so none "
            "can come back to load this parcel"
        )

    fitting = [v for v in types if _fits(client, v)]
    if not fitting:
        return _demand_reason(problem, client, types)

    plans = [(v, _depot_trips(v, index)) for v in fitting]
    plans = [(v, trips) for v, trips in plans if _has_path(problem, v, trips)]
    if not plans:
        return f"no path from/to depot {client.depot}"

    found = _timing(problem, plans)
    if found is None:
        return None
    rule, _, value = found
    window = f"time window {_clock(client.tw_early)}–{_clock(client.tw_late)}"
    if rule == "window":
        return (
            f"{window} cannot be reached from depot {client.depot} within any shift "
            f"(earliest service start {_clock(value)})"
        )
    if rule == "ride":
        return (
            f"its max_ride {client.max_ride} s cannot be kept on a trip of its own: from depot "
            f"{client.depot} to its service start takes at least {value} s"
        )
    if rule == "back":
        return (
            f"{window} leaves no time to ride back to the depot before any shift ends or the "
            "depot closes"
        )
    return "no bike can serve it alone and still start the courier's break by break_late"


def _depot_trips(vehicle: VehicleType, index: int) -> list[list[int]]:
    """A bike away from the depot rides back empty first, then loads the parcel."""
    return [[index]] if vehicle.start_location is None else [[], [index]]


# --- parcels on board ------------------------------------------------------------------------


def _on_board_reason(problem: Problem, index: int, client: Client) -> str | None:
    t = int(client.on_board or 0)
    vehicle = problem.vehicle_types[t]
    bike = f"its bike (vehicle type {t})"
    unknown = _unknown_skills(problem, client.requires)
    if unknown:
        return f"needs {', '.join(unknown)}, which no vehicle type has"
    lacking = [s for s in client.requires if s not in vehicle.skills]
    if lacking:
        return f"needs {', '.join(lacking)}, which {bike} lacks"
    if not _fits(client, vehicle):
        return f"demand {client.demand} exceeds the capacity {vehicle.capacity} of {bike}"
    plan = (vehicle, [[index]])
    if not _has_path(problem, vehicle, plan[1]):
        return f"{bike} has no path to it or on to depot {vehicle.return_depot}"
    found = _timing(problem, [plan])
    if found is None:
        return None
    rule, _, value = found
    if rule == "window":
        return (
            f"{bike} cannot reach it within its time window {_clock(client.tw_early)}–"
            f"{_clock(client.tw_late)} (earliest service start {_clock(value)})"
        )
    if rule == "back":
        return (
            f"{bike} cannot deliver it and be back at depot {vehicle.return_depot} before the "
            "shift ends or the depot closes"
        )
    return (
        f"{bike} cannot deliver it and still start the courier's break by break_late "
        f"{_clock(vehicle.break_late)}"
    )


# --- pairs -----------------------------------------------------------------------------------


def _pair_reasons(problem: Problem, pickup: int, delivery: int) -> dict[int, str]:
    """Each half's own reason; else the partner's; else why the two fail together."""
    own = {
        pickup: _half_reason(problem, pickup, True),
        delivery: _half_reason(problem, delivery, False),
    }
    role = {pickup: "delivery", delivery: "pickup"}
    other = {pickup: delivery, delivery: pickup}
    if own[pickup] is not None or own[delivery] is not None:
        reasons = {}
        for half in (pickup, delivery):
            partner = other[half]
            mine = own[half]
            theirs = own[partner]
            if mine is not None:
                reasons[half] = mine
            elif theirs is not None:
                reasons[half] = f"its {role[half]} partner {partner} cannot be served: {theirs}"
        return reasons
    detail = _together_reason(problem, pickup, delivery)
    if detail is None:
        return {}
    return {
        half: (
            f"cannot be served together with its {role[half]} partner {other[half]} by any "
            f"bike alone: {detail}"
        )
        for half in (pickup, delivery)
    }


def _half_reason(problem: Problem, index: int, is_pickup: bool) -> str | None:
    """What stops one half of a pair whatever its partner: skills, capacity, no path."""
    client = problem.clients[index]
    unknown = _unknown_skills(problem, client.requires)
    if unknown:
        return f"needs {', '.join(unknown)}, which no vehicle type has"
    types = _skilled(list(problem.vehicle_types), client.requires)
    if not types:
        return f"needs {', '.join(client.requires)}: no vehicle type has all of them"
    fitting = [v for v in types if _fits(client, v)]
    if not fitting:
        return _demand_reason(problem, client, types)
    if is_pickup:
        if not any(_ride(problem, v, _start(problem, v), client.location) for v in fitting):
            return "no path to it from any bike's start"
    elif not any(_ride(problem, v, client.location, _end(problem, v)) for v in fitting):
        return "no path from it to any bike's end depot"
    return None


def _together_reason(problem: Problem, pickup: int, delivery: int) -> str | None:
    """Why no one bike serves the pair alone, both halves being servable on their own."""
    first, second = problem.clients[pickup], problem.clients[delivery]
    needs = sorted(set(first.requires) | set(second.requires))
    types = _skilled(list(problem.vehicle_types), needs)
    if not types:
        return f"no vehicle type has all of {', '.join(needs)}"
    fitting = [v for v in types if _fits(first, v)]
    if not fitting:
        return f"demand {first.demand} fits no bike that has {', '.join(needs)}"
    plans = [(v, [[pickup, delivery]]) for v in fitting]
    plans = [(v, trips) for v, trips in plans if _has_path(problem, v, trips)]
    if not plans:
        return "no bike has a path from its start to the pickup, on to the delivery and back"
    found = _timing(problem, plans)
    if found is None:
        return None
    rule, client, value = found
    if rule == "window":
        late = problem.clients[client]
        window = f"{_clock(late.tw_early)}–{_clock(late.tw_late)}"
        if client == pickup:
            return f"the pickup's time window {window} cannot be reached (earliest {_clock(value)})"
        return (
            f"the delivery's time window {window} cannot be reached after the pickup "
            f"(earliest {_clock(value)})"
        )
    if rule == "ride":
        return (
            f"the ride from pickup to delivery takes at least {value} s, more than the "
            f"delivery's max_ride {second.max_ride} s"
        )
    if rule == "back":
        return "no time to ride back to a depot before the shift ends or the depot closes"
    return "no bike can also start the courier's break by break_late"


# --- the shared checks -----------------------------------------------------------------------


def _unknown_skills(problem: Problem, requires: Sequence[str]) -> list[str]:
    have = {skill for v in problem.vehicle_types for skill in v.skills}
    return [skill for skill in requires if skill not in have]


def _skilled(types: list[VehicleType], requires: Sequence[str]) -> list[VehicleType]:
    return [v for v in types if set(requires) <= set(v.skills)]


def _fits(client: Client, vehicle: VehicleType) -> bool:
    return all(d <= c for d, c in zip(client.demand, vehicle.capacity, strict=True))


def _demand_reason(problem: Problem, client: Client, types: list[VehicleType]) -> str:
    for dim, name in enumerate(problem.dimensions):
        most = max(v.capacity[dim] for v in types)
        if client.demand[dim] > most:
            return f"demand {client.demand[dim]} {name} exceeds every bike's capacity (max {most})"
    # Each dimension fits some type, but no single type takes all of them at once.
    return f"demand {client.demand} fits no single bike's capacity in every dimension"


def _start(problem: Problem, vehicle: VehicleType) -> int:
    """Where the bike's first trip leaves from."""
    if vehicle.start_location is not None:
        return vehicle.start_location
    return problem.depots[vehicle.start_depot].location


def _end(problem: Problem, vehicle: VehicleType) -> int:
    return problem.depots[vehicle.return_depot].location


def _ride(problem: Problem, vehicle: VehicleType, here: int, there: int) -> bool:
    """Whether there is a path from ``here`` to ``there`` on the bike's profile."""
    return bool(problem.durations[vehicle.profile][here, there] < MAX_TIME)


def _has_path(problem: Problem, vehicle: VehicleType, trips: list[list[int]]) -> bool:
    """Every leg of the plan has a path."""
    here = _start(problem, vehicle)
    depot = problem.depots[vehicle.start_depot].location
    for number, trip in enumerate(trips):
        if number:
            here = depot
        for index in trip:
            there = problem.clients[index].location
            if not _ride(problem, vehicle, here, there):
                return False
            here = there
        back = _end(problem, vehicle) if number == len(trips) - 1 else depot
        if not _ride(problem, vehicle, here, back):
            return False
    return True


@dataclass(frozen=True)
class _Run:
    """One bike riding a plan at the contract's earliest times, the break in one gap."""

    #: (position along the plan, client, its service start) of the first late service.
    late: tuple[int, int, int] | None
    #: (client, ride) of the delivery whose ride limit is broken, if one is.
    over_ride: tuple[int, int] | None
    in_time: bool  # every arrival at a depot within the shift and the depot's hours
    rest_in_time: bool  # the break (if any) starts by break_late
    end: int


def _simulate(
    problem: Problem, vehicle: VehicleType, trips: list[list[int]], gap: tuple[int, int] | None
) -> _Run:
    """Ride ``trips`` as ``docs/solver-contract.md`` schedules them (a few clients only)."""
    durations = problem.durations[vehicle.profile]
    depot = problem.depots[vehicle.start_depot]
    pickup_of = {d: p for p, d in problem.pairs}
    pickups = set(pickup_of.values())
    late: tuple[int, int, int] | None = None
    over_ride: tuple[int, int] | None = None
    in_time = True
    rest_start: int | None = None
    ready = vehicle.shift_start
    position = 0
    now = ready
    for number, trip in enumerate(trips):
        last = number == len(trips) - 1
        end = problem.depots[vehicle.return_depot if last else vehicle.start_depot]
        if number == 0 and vehicle.start_location is not None:
            here, leave = vehicle.start_location, ready
        else:
            released = [
                problem.clients[c].release
                for c in trip
                if c not in pickups and c not in pickup_of and problem.clients[c].on_board is None
            ]
            here, leave = depot.location, max(ready, depot.opens, *released)
        now = leave
        picked: dict[int, int] = {}
        for k in range(len(trip) + 1):
            if gap == (number, k):
                rest_start = max(now, vehicle.break_early)
                now = rest_start + vehicle.break_duration
            if k == len(trip):
                break
            index = trip[k]
            client = problem.clients[index]
            now += int(durations[here, client.location])
            earliest = max(client.tw_early, client.release) if index in pickups else client.tw_early
            start = max(now, earliest)
            if start > client.tw_late and late is None:
                late = (position, index, start)
            position += 1
            now = start + client.service
            if index in pickups:
                picked[index] = now
            elif client.max_ride < MAX_TIME and client.on_board is None:
                since = picked.get(pickup_of[index], leave) if index in pickup_of else leave
                ride = start - since
                if ride > client.max_ride and over_ride is None:
                    over_ride = (index, ride)
            here = client.location
        now += int(durations[here, end.location])
        if now > vehicle.shift_end or now > end.closes:
            in_time = False
        ready = now + vehicle.reload
    rest_in_time = rest_start is None or rest_start <= vehicle.break_late
    return _Run(late, over_ride, in_time, rest_in_time, now)


def _timing(problem: Problem, plans: list[_Plan]) -> tuple[str, int, int] | None:
    """The time rule that stops every plan, as (rule, client, value); None if a plan works.

    A plan is ridden as the contract has it: without a break, or, when the bike owes one,
    with the break in each gap in turn (a break before a pickup can even shorten a ride).
    Each schedule breaks its rules in the order "window", "ride", "back", "rest"; the rule
    reported is the one the schedule that got furthest breaks first, with its value: the
    earliest late service start of the client reached too late, or the shortest ride over
    its limit (0 for the others).
    """
    schedules: list[tuple[int, _Run]] = []
    for vehicle, trips in plans:
        plain = _simulate(problem, vehicle, trips, None)
        if vehicle.break_duration and plain.end > vehicle.break_late:
            gaps = [(number, k) for number, trip in enumerate(trips) for k in range(len(trip) + 1)]
            runs = [_simulate(problem, vehicle, trips, gap) for gap in gaps]
        else:
            runs = [plain]
        for run in runs:
            rank = _first_broken(run)
            if rank == len(_RULES):
                return None
            schedules.append((rank, run))
    top = max(rank for rank, _ in schedules)
    furthest = [run for rank, run in schedules if rank == top]
    if _RULES[top] == "window":
        late = [run.late for run in furthest if run.late is not None]
        reached = max(position for position, _, _ in late)
        start, client = min((s, c) for p, c, s in late if p == reached)
        return "window", client, start
    if _RULES[top] == "ride":
        ride, client = min((r, c) for run in furthest if run.over_ride for c, r in [run.over_ride])
        return "ride", client, ride
    return _RULES[top], -1, 0


#: The time rules in the order a schedule is judged by.
_RULES = ("window", "ride", "back", "rest")


def _first_broken(run: _Run) -> int:
    """Index in ``_RULES`` of the first rule ``run`` breaks; ``len(_RULES)`` if none."""
    if run.late is not None:
        return 0
    if run.over_ride is not None:
        return 1
    if not run.in_time:
        return 2
    if not run.rest_in_time:
        return 3
    return len(_RULES)


def _clock(value: int) -> str:
    """Times as plain numbers; "open" for the never-closing end of a window."""
    return "open" if value >= MAX_TIME else str(value)


__all__ = ["FLEET_FULL", "find_unserviceable"]
