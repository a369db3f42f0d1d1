"""Plain-Python check of one vehicle's trips against the solver contract.

The search's answer is checked here, independently of the kernels, before it is returned: a
client that breaks a hard constraint is taken out (unassigned) rather than returned as feasible.
"""

from __future__ import annotations

from solver.model import MAX_TIME, Problem


def trips_cost(problem: Problem, vehicle_type: int, trips: list[list[int]]) -> int:
    """Fixed cost plus the objective's matrix summed over every leg (the contract's cost)."""
    if not any(trips):
        return 0
    vt = problem.vehicle_types[vehicle_type]
    matrix = problem.cost_matrix(vt.profile)
    start = problem.depots[vt.start_depot].location
    end = problem.depots[vt.return_depot].location
    total = vt.fixed_cost
    for number, trip in enumerate(trips):
        here = start
        for client in trip:
            there = problem.clients[client].location
            total += int(matrix[here, there])
            here = there
        total += int(matrix[here, end if number == len(trips) - 1 else start])
    return total


def first_offender(problem: Problem, vehicle_type: int, trips: list[list[int]]) -> int | None:
    """A client whose removal helps the first broken hard constraint, or None if all hold."""
    vt = problem.vehicle_types[vehicle_type]
    if vt.max_trips is not None and len(trips) > vt.max_trips:
        return trips[-1][0]
    durations = problem.durations[vt.profile]
    distances = problem.distances[vt.profile]
    depot = problem.depots[vt.start_depot]
    clock = vt.shift_start
    for number, trip in enumerate(trips):
        if not trip:
            continue
        for client in trip:
            if problem.clients[client].depot != vt.start_depot:
                return client
        for k in range(problem.n_dimensions):
            if sum(problem.clients[c].demand[k] for c in trip) > vt.capacity[k]:
                return max(trip, key=lambda c: problem.clients[c].demand[k])
        release = max(problem.clients[c].release for c in trip)
        clock = max(clock if number == 0 else clock + vt.reload, depot.opens, release)
        here = depot.location
        for client in trip:
            info = problem.clients[client]
            leg = int(durations[here, info.location])
            if leg >= MAX_TIME or distances[here, info.location] >= MAX_TIME:
                return client
            start = max(clock + leg, info.tw_early)
            if start > info.tw_late:
                return client
            clock = start + info.service
            here = info.location
        last = number == len(trips) - 1
        back = problem.depots[vt.return_depot] if last else depot
        leg = int(durations[here, back.location])
        if leg >= MAX_TIME or distances[here, back.location] >= MAX_TIME:
            return trip[-1]
        clock += leg
        if clock > vt.shift_end or clock > back.closes:
            return trip[-1]
    return None
