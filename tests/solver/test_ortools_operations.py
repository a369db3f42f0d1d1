"""The OR-Tools backend on the operations rules (``docs/solver-contract.md``, "Operations").

Each feature gets a tiny problem on a line whose best answer the feature changes, worked out
by hand; every result must be feasible for both the schedule builder and the independent
checker. Then: the refused combination raises naming it, random tiny pair problems always
give feasible results serving each client once or reporting it, and on the tiniest ones the
best result is the brute-force optimum (the model neither looser nor stricter than the
contract).
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.checker import check
from solver.errors import BackendError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.ortools_backend import UnsupportedByOrToolsError, solve_ortools
from solver.result import Result
from solver.schedule import build_result
from solver.unserviceable import FLEET_FULL
from tests.solver.tiny_problems import line_problem

LIMIT_S = 0.3


def _solve(problem: Problem, limit_s: float = LIMIT_S) -> Result:
    result = solve_ortools(problem, time_limit_s=limit_s)
    report = check(problem, result)
    assert report.feasible, report.violations
    assert result.feasible, result.violations
    assert report.cost == result.cost
    return result


def _trips(result: Result) -> list[tuple[int, list[list[int]]]]:
    return [(r.vehicle_type, [t.clients for t in r.trips]) for r in result.routes]


# --- pairs ---------------------------------------------------------------------------------


def test_pairs_are_picked_up_first_and_the_load_rises_and_falls() -> None:
    """Two pairs of 3 on a bike carrying 4: never both on board, so p0 d0 p1 d1 (60), not
    the shorter interleaving p0 p1 d0 d1 (50, load 6) nor two bikes (90)."""
    problem = line_problem(
        [0, 10, 20, 15, 25],
        [Client(location=i, demand=(3,)) for i in range(1, 5)],
        [VehicleType(count=2, capacity=(4,))],
    ).replace(pairs=((0, 1), (2, 3)))
    result = _solve(problem)
    assert _trips(result) == [(0, [[0, 1, 2, 3]])]
    assert result.cost == 60
    assert [s.load_after for s in result.routes[0].trips[0].stops] == [(3,), (0,), (3,), (0,)]


def test_pairs_and_depot_parcels_share_the_capacity() -> None:
    """A depot parcel of 2 and a pair of 3 on a bike of 4: the parcel must be delivered
    before the pickup, so the route goes out to it first (load 2, 0, 3, 0)."""
    problem = line_problem(
        [0, 10, -10, 20],
        [
            Client(location=1, demand=(3,)),
            Client(location=2, demand=(3,)),
            Client(location=3, demand=(2,)),
        ],
        [VehicleType(capacity=(4,), count=2, fixed_cost=100)],
    ).replace(pairs=((0, 1),))
    result = _solve(problem)
    assert _trips(result) == [(0, [[2, 0, 1]])]
    trip = result.routes[0].trips[0]
    assert trip.load == (2,)
    assert [s.load_after for s in trip.stops] == [(0,), (3,), (0,)]


def test_a_pair_rides_one_trip_of_a_reloading_bike() -> None:
    """Parcels of 4 at 10 and -10 fill the bike (capacity 4, two trips); the pair (weighing
    nothing, so the load cannot keep it together) is picked up at 10 and delivered at -10.
    Split over the two trips it would cost 40; on one trip: [10, p, d] and [-10], 60."""
    problem = line_problem(
        [0, 10, -10, 10, -10],
        [
            Client(location=1, demand=(4,)),
            Client(location=2, demand=(4,)),
            Client(location=3, demand=(0,)),
            Client(location=4, demand=(0,)),
        ],
        [VehicleType(capacity=(4,), max_trips=2)],
    ).replace(pairs=((2, 3),))
    result = _solve(problem)
    assert sorted(t.clients for t in result.routes[0].trips) == [[0, 2, 3], [1]]
    assert result.cost == 60


def test_a_pickup_waits_for_its_release_but_the_trip_does_not() -> None:
    """The pickup is ready at 50: the bike leaves at 0 with its depot parcel, serves it, and
    picks up at 50 (a depot parcel's release would have held the whole trip back)."""
    problem = line_problem(
        [0, 10, 20, 5],
        [Client(location=1, release=50), Client(location=2), Client(location=3, tw_late=10)],
    ).replace(pairs=((0, 1),))
    result = _solve(problem)
    trip = result.routes[0].trips[0]
    assert trip.departure == 0
    assert trip.clients == [2, 0, 1]
    assert trip.stops[1].service_start == 50


def test_a_pair_rides_a_bike_of_any_depot_and_needs_its_skills() -> None:
    """The pair needs a cooled bike; the only one starts at depot 1, not the pair's depot 0,
    and still carries it. The plain bike at depot 0 is cheaper but lacks the skill."""
    problem = line_problem(
        [0, 30, 10, 20],
        [Client(location=2, requires=("cooled",)), Client(location=3, requires=("cooled",))],
        [VehicleType(start_depot=0), VehicleType(start_depot=1, skills=("cooled",), fixed_cost=5)],
        depots=[Depot(location=0), Depot(location=1)],
    ).replace(pairs=((0, 1),))
    result = _solve(problem)
    assert _trips(result) == [(1, [[0, 1]])]
    assert result.cost == 5 + 20 + 10 + 10


def test_a_pair_is_dropped_whole_when_it_cannot_fit() -> None:
    """Two pairs that each fill the only bike within overlapping windows: one is served, the
    other comes back "fleet full", both halves of it."""
    problem = line_problem(
        [0, 10, 20, -10, -20],
        [
            Client(location=1, demand=(4,), tw_late=10),
            Client(location=2, demand=(4,), tw_late=20),
            Client(location=3, demand=(4,), tw_late=10),
            Client(location=4, demand=(4,), tw_late=20),
        ],
        [VehicleType(capacity=(4,))],
    ).replace(pairs=((0, 1), (2, 3)))
    result = _solve(problem)
    left = sorted(u.client for u in result.unassigned)
    assert left in ([0, 1], [2, 3])
    assert {u.reason for u in result.unassigned} == {FLEET_FULL}


# --- soft windows ----------------------------------------------------------------------------


def test_a_soft_window_decides_the_order() -> None:
    """Both orders ride 40; the client due at 10 goes first, so nobody is late."""
    problem = line_problem(
        [0, 10, -10],
        [Client(location=1), Client(location=2, due=10, late_cost=100)],
    )
    result = _solve(problem)
    assert result.client_routes() == [[1, 0]]
    assert result.cost == 40


def test_lateness_is_paid_when_it_is_cheaper_than_a_bike() -> None:
    """Both clients are due at 10: the second is 20 s late (cost 20), cheaper than a second
    bike (fixed 100). ``tw_late`` stays hard: the later client closes at 30."""
    problem = line_problem(
        [0, 10, -10],
        [
            Client(location=1, due=10, late_cost=1, tw_late=30),
            Client(location=2, due=10, late_cost=1, tw_late=30),
        ],
        [VehicleType(count=2, fixed_cost=100)],
    )
    result = _solve(problem)
    assert result.n_routes == 1
    assert result.cost == 100 + 40 + 20


# --- ride limits -----------------------------------------------------------------------------


def test_a_ride_limit_on_a_pair_reorders_the_route() -> None:
    """Pickup at 10, delivery at 25 within 15 s of leaving the pickup; a depot parcel at 20
    (service 5, closing at 22) must come first then: 70 instead of 50."""
    clients = [
        Client(location=1),
        Client(location=3, max_ride=15),
        Client(location=2, service=5, tw_late=22),
    ]
    problem = line_problem([0, 10, 20, 25], clients).replace(pairs=((0, 1),))
    result = _solve(problem)
    assert result.client_routes() == [[2, 0, 1]]
    assert result.cost == 70
    free = problem.replace(clients=(clients[0], clients[1].replace(max_ride=MAX_TIME), clients[2]))
    assert _solve(free).cost == 50


def test_a_ride_limit_on_a_depot_parcel_splits_the_trip() -> None:
    """The parcel at 10 may ride 15 s from the depot; the one at 20 closes at 20, and serving
    the first (service 5) before it would be too late: two trips (60) instead of one (40)."""
    clients = [Client(location=1, service=5, max_ride=15), Client(location=2, tw_late=20)]
    problem = line_problem([0, 10, 20], clients, [VehicleType(max_trips=2)])
    result = _solve(problem)
    assert result.routes[0].trips[0].clients == [1]
    assert result.routes[0].trips[1].clients == [0]
    assert result.cost == 60
    free = problem.replace(clients=(clients[0].replace(max_ride=MAX_TIME), clients[1]))
    assert _solve(free).cost == 40


def test_a_ride_limit_only_a_later_departure_could_meet_leaves_the_pair_out() -> None:
    """The delivery opens at 100 and may be 30 s after the pickup, which is served at 10:
    the contract does not delay departures, so no route is feasible and the pair is left
    out; once the pickup opens at 75 (the bike waits there) it is served."""
    clients = [Client(location=1), Client(location=2, tw_early=100, max_ride=30)]
    problem = line_problem([0, 10, 20], clients).replace(pairs=((0, 1),))
    result = _solve(problem)
    assert sorted(u.client for u in result.unassigned) == [0, 1]
    opened = problem.replace(clients=(clients[0].replace(tw_early=75), clients[1]))
    assert _solve(opened).client_routes() == [[0, 1]]


def test_a_ride_limit_counts_from_a_released_trip() -> None:
    """A parcel released at 50 with a 12 s ride limit rides a second trip leaving at 50,
    after the trip to the client closing at 25."""
    problem = line_problem(
        [0, 10, 20],
        [Client(location=1, release=50, max_ride=12), Client(location=2, tw_late=25)],
        [VehicleType(max_trips=2, reload=3)],
    )
    result = _solve(problem)
    assert [t.clients for t in result.routes[0].trips] == [[1], [0]]
    assert result.routes[0].trips[1].departure == 50


# --- durations, balance, moves ---------------------------------------------------------------


def test_duration_cost_prefers_the_bike_that_does_not_wait() -> None:
    """The client opens at 100. The early bike (shift 0) would wait 80 s, costing 130 with a
    duration cost of 1 per second; the late bike (shift 90, fixed 5) costs 45."""
    early, late = VehicleType(duration_cost=1), VehicleType(shift_start=90, fixed_cost=5)
    late = late.replace(duration_cost=1)
    problem = line_problem([0, 10], [Client(location=1, tw_early=100)], [early, late])
    result = _solve(problem)
    assert _trips(result) == [(1, [[0]])]
    assert result.cost == 45
    cheap = problem.replace(vehicle_types=(early.replace(duration_cost=0), late))
    assert _trips(_solve(cheap)) == [(0, [[0]])]


def test_max_duration_cost_balances_the_routes() -> None:
    """Four clients on both sides: one bike (85) or two (90); with 10 per second of the
    longest route two bikes of 40 s win (490 against 885)."""
    problem = line_problem(
        [0, 10, 20, -10, -20],
        [Client(location=i) for i in range(1, 5)],
        [VehicleType(count=2, fixed_cost=5)],
    )
    assert _solve(problem).n_routes == 1
    balanced = _solve(problem.replace(max_duration_cost=10))
    assert balanced.n_routes == 2
    assert balanced.cost == 490


def test_move_cost_keeps_a_client_on_its_planned_type() -> None:
    """Type 1 costs 20 more, but moving the client off it costs 50."""
    types = [VehicleType(), VehicleType(fixed_cost=20)]
    planned = Client(location=1, planned_type=1, move_cost=50)
    problem = line_problem([0, 10], [planned], types)
    assert _trips(_solve(problem)) == [(1, [[0]])]
    cheap = problem.replace(clients=(planned.replace(move_cost=10),))
    result = _solve(cheap)
    assert _trips(result) == [(0, [[0]])]
    assert result.cost == 30


# --- re-plans: starting away from the depot, parcels on board ----------------------------------


def test_a_bike_away_from_the_depot_delivers_its_load_then_reloads() -> None:
    """The bike at 50 has a parcel on board for 40; the depot parcel for 45 waits for its
    second trip (the other bike, fixed 100, stays home)."""
    problem = line_problem(
        [0, 40, 50, 45],
        [Client(location=1, demand=(3,), on_board=0), Client(location=3, demand=(3,))],
        [VehicleType(start_location=2, max_trips=2, capacity=(4,)), VehicleType(fixed_cost=100)],
    )
    result = _solve(problem)
    assert _trips(result) == [(0, [[0], [1]])]
    first = result.routes[0].trips[0]
    assert (first.depot, first.departure, first.load) == (-1, 0, (3,))
    assert result.cost == 10 + 40 + 45 + 45


def test_a_bike_away_from_the_depot_may_ride_back_empty_first() -> None:
    """Nothing on board: the first trip is the empty ride back to the depot."""
    problem = line_problem(
        [0, 50, -5], [Client(location=2)], [VehicleType(start_location=1, max_trips=2)]
    )
    result = _solve(problem)
    assert _trips(result) == [(0, [[], [0]])]
    assert result.cost == 50 + 10


def test_a_parcel_on_board_fills_the_first_trip() -> None:
    """On board 3 of 4, and a pair of 2 to carry: every order rides 60, but only delivering
    the parcel on board first keeps the load within the capacity."""
    problem = line_problem(
        [0, 20, 30, 10, 25],
        [
            Client(location=1, demand=(3,), on_board=0),
            Client(location=3, demand=(2,)),
            Client(location=4, demand=(2,)),
        ],
        [VehicleType(start_location=2, capacity=(4,))],
    ).replace(pairs=((1, 2),))
    result = _solve(problem)
    assert result.client_routes() == [[0, 1, 2]]
    assert result.routes[0].trips[0].load == (3,)


# --- breaks ---------------------------------------------------------------------------------


def test_a_break_that_cannot_fit_moves_the_client_to_another_type() -> None:
    """A 50 s break must start by 10, so the bike of type 0 reaches the client at 30 (closing
    at 40) only at 80: type 1, without a break but with fixed cost 100, serves it."""
    problem = line_problem(
        [0, 30],
        [Client(location=1, tw_late=40)],
        [VehicleType(break_duration=50, break_late=10), VehicleType(fixed_cost=100)],
    )
    result = _solve(problem)
    assert _trips(result) == [(1, [[0]])]
    assert result.routes[0].rest is None


def test_a_route_running_past_the_break_window_takes_its_break() -> None:
    """A route ending after 30 takes its 15 s break; one ending by 30 takes none."""
    types = [VehicleType(break_duration=15, break_early=5, break_late=30)]
    long = line_problem(
        [0, 10, 20], [Client(location=1, service=10), Client(location=2, service=10)], types
    )
    result = _solve(long)
    rest = result.routes[0].rest
    assert rest is not None
    assert 5 <= rest.start <= 30
    assert result.routes[0].duration == 60 + 15
    short = _solve(line_problem([0, 10], [Client(location=1)], types))
    assert short.routes[0].rest is None


# --- refused ---------------------------------------------------------------------------------


def test_ride_limits_with_breaks_are_refused_naming_both() -> None:
    """The one combination the model cannot express is refused before solving."""
    problem = line_problem(
        [0, 10], [Client(location=1, max_ride=50)], [VehicleType(break_duration=5)]
    )
    with pytest.raises(UnsupportedByOrToolsError, match="max_ride together with breaks") as error:
        solve_ortools(problem, time_limit_s=LIMIT_S)
    assert isinstance(error.value, BackendError)
    assert str(error.value).startswith("the OR-Tools backend does not support: ")


# --- random tiny pair problems ---------------------------------------------------------------


def _pair_problem(rng: random.Random, n_pairs: int, n_parcels: int, counts: int) -> Problem:
    """Pairs and depot parcels on a 20 × 20 grid; windows, releases, ride limits, soft
    windows, skills, reloads and span costs drawn at random; two bike types."""
    n = 2 * n_pairs + n_parcels
    points = [(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(n + 1)]
    ride = np.array([[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in points] for a in points])
    clients = []
    for number in range(n):
        early = rng.choice([0, 0, rng.randint(0, 60)])
        due = rng.choice([MAX_TIME, early + rng.randint(0, 40)])
        clients.append(
            Client(
                location=number + 1,
                demand=(rng.randint(1, 4),),
                service=rng.randint(0, 5),
                tw_early=early,
                tw_late=rng.choice([MAX_TIME, early + rng.randint(10, 80)]),
                release=rng.choice([0, 0, rng.randint(0, 50)]),
                due=due,
                late_cost=rng.randint(1, 3) if due < MAX_TIME else 0,
                max_ride=rng.choice([MAX_TIME, MAX_TIME, rng.randint(10, 60)]),
                requires=("cooled",) if rng.random() < 0.2 else (),
            )
        )
    for p in range(n_pairs):  # both halves of a pair carry the same demand and needs
        pickup, delivery = clients[2 * p], clients[2 * p + 1]
        clients[2 * p + 1] = delivery.replace(demand=pickup.demand, requires=pickup.requires)
    types = tuple(
        VehicleType(
            count=counts,
            capacity=(rng.randint(4, 8),),
            max_trips=rng.choice([1, 2, None]),
            reload=rng.randint(0, 10),
            shift_end=rng.choice([MAX_TIME, rng.randint(80, 200)]),
            fixed_cost=rng.choice([0, 10]),
            duration_cost=rng.choice([0, 0, 1]),
            skills=("cooled",) if number else (),
        )
        for number in range(2)
    )
    return Problem(
        depots=(Depot(location=0),),
        clients=tuple(clients),
        vehicle_types=types,
        durations=ride,
        distances=ride,
        pairs=tuple((2 * p, 2 * p + 1) for p in range(n_pairs)),
        max_duration_cost=rng.choice([0, 0, 1]),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    seed=st.integers(0, 10**6),
    n_pairs=st.integers(1, 3),
    n_parcels=st.integers(0, 2),
    counts=st.integers(1, 2),
)
def test_random_pair_problems_give_feasible_results(
    seed: int, n_pairs: int, n_parcels: int, counts: int
) -> None:
    """Whatever OR-Tools returns is feasible, and each client is served once or unassigned;
    a pair is served or left out whole."""
    problem = _pair_problem(random.Random(seed), n_pairs, n_parcels, counts)
    result = solve_ortools(problem, time_limit_s=0.15)
    assert result.feasible, result.violations
    report = check(problem, result)
    assert report.feasible, report.violations
    served = [c for route in result.routes for c in route.clients]
    left = [u.client for u in result.unassigned]
    assert sorted(served + left) == list(range(problem.n_clients))
    for pickup, delivery in problem.pairs:
        assert (pickup in left) == (delivery in left)


def _orders(clients: list[int], problem: Problem, max_trips: int | None) -> list[list[list[int]]]:
    """Every order of ``clients`` cut into at most ``max_trips`` trips, pairs on one trip
    pickup first."""
    found = []
    for order in itertools.permutations(clients):
        for cuts in itertools.product([False, True], repeat=max(0, len(order) - 1)):
            trips = [[order[0]]]
            for client, cut in zip(order[1:], cuts, strict=True):
                if cut:
                    trips.append([])
                trips[-1].append(client)
            if max_trips is not None and len(trips) > max_trips:
                continue
            where = {c: (t, k) for t, trip in enumerate(trips) for k, c in enumerate(trip)}
            if all(
                where[p][0] == where[d][0] and where[p][1] < where[d][1]
                for p, d in problem.pairs
                if p in where
            ):
                found.append(trips)
    return found


def _brute_force(problem: Problem) -> tuple[int, int]:
    """(most clients served, least cost serving that many) over every solution of a problem
    with two bike types of one bike each."""
    best: tuple[int, int] | None = None
    n = problem.n_clients
    partner = problem.partner
    for owner in itertools.product([-1, 0, 1], repeat=n):
        if any(owner[c] != owner[other] for c, other in partner.items()):
            continue
        served = sum(o >= 0 for o in owner)
        if best is not None and served < best[0]:
            continue
        options = []
        for t, vehicle_type in enumerate(problem.vehicle_types):
            mine = [c for c in range(n) if owner[c] == t]
            options.append(_orders(mine, problem, vehicle_type.max_trips) if mine else [[]])
        for first, second in itertools.product(*options):
            result = build_result(
                problem,
                [(0, first), (1, second)],
                unassigned={c: "out" for c in range(n) if owner[c] < 0},
                backend="brute",
                seed=0,
                runtime_s=0.0,
                iterations=0,
            )
            if result.feasible and (best is None or (served, -result.cost) > (best[0], -best[1])):
                best = (served, result.cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(10))
def test_matches_brute_force_on_tiny_pair_problems(seed: int) -> None:
    """One pair and one or two depot parcels, two bikes: the true optimum, served and cost."""
    rng = random.Random(seed)
    problem = _pair_problem(rng, 1, rng.randint(1, 2), 1)
    result = _solve(problem, limit_s=0.5)
    served = problem.n_clients - len(result.unassigned)
    assert (served, result.cost) == _brute_force(problem)
