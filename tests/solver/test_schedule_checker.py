"""Schedules worked out by hand, and the independent checker agreeing with the schedule builder.

Every tiny problem lies on a line (see ``tiny_problems``), so each expected time below is a
sum you can redo on paper from ``docs/solver-contract.md``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.checker import check
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.result import Result
from solver.schedule import build_result
from tests.solver.tiny_problems import line_problem


def _build(
    problem: Problem,
    vehicle_trips: list[tuple[int, list[list[int]]]],
    unassigned: dict[int, str] | None = None,
) -> Result:
    return build_result(
        problem,
        vehicle_trips,
        unassigned=unassigned or {},
        backend="hand",
        seed=0,
        runtime_s=0.0,
        iterations=0,
    )


def _both_say(problem: Problem, result: Result, fragment: str) -> None:
    """The builder and the checker both find a violation mentioning ``fragment``."""
    assert not result.feasible
    assert any(fragment in v for v in result.violations), result.violations
    report = check(problem, result)
    assert not report.feasible
    assert report.cost == result.cost


def test_waiting_for_a_window_delays_service_not_arrival() -> None:
    """Arrive at 10, wait until the window opens at 50, serve 5, back at 65."""
    problem = line_problem([0, 10], [Client(location=1, service=5, tw_early=50, tw_late=60)])
    result = _build(problem, [(0, [[0]])])
    trip = result.routes[0].trips[0]
    stop = trip.stops[0]
    assert (trip.departure, stop.arrival, stop.service_start, stop.departure) == (0, 10, 50, 55)
    assert trip.return_time == 65
    assert (result.cost, result.distance, result.duration) == (20, 20, 65)
    assert result.feasible
    assert check(problem, result).feasible


def test_release_time_delays_the_departure() -> None:
    """A parcel ready at 30 holds the whole trip at the depot until 30."""
    problem = line_problem(
        [0, 10, 15],
        [Client(location=1, demand=(2,), release=30), Client(location=2, demand=(3,))],
    )
    result = _build(problem, [(0, [[0, 1]])])
    trip = result.routes[0].trips[0]
    assert trip.departure == 30
    assert [s.arrival for s in trip.stops] == [40, 45]
    assert trip.return_time == 60
    assert trip.load == (5,)
    assert [s.load_after for s in trip.stops] == [(3,), (0,)]
    assert result.duration == 30  # the route starts when it leaves, not at the shift start
    assert check(problem, result).feasible


def _two_trips(**vehicle: object) -> Problem:
    """One bike of capacity 5 and two parcels of 4: two trips, 7 s of reloading between."""
    fields: dict[str, object] = {"capacity": (5,), "max_trips": 2, "reload": 7}
    fields.update(vehicle)
    depot_closes = int(fields.pop("closes", MAX_TIME))  # type: ignore[call-overload]
    return line_problem(
        [0, 10, 20],
        [
            Client(location=1, demand=(4,), service=2),
            Client(location=2, demand=(4,), service=3),
        ],
        [VehicleType(**fields)],  # type: ignore[arg-type]
        depots=[Depot(location=0, closes=depot_closes)],
    )


def test_reload_time_separates_trips() -> None:
    """Trip 1 is back at 22; trip 2 leaves at 22 + 7 = 29, serves at 49, is back at 72."""
    problem = _two_trips()
    result = _build(problem, [(0, [[0], [1]])])
    first, second = result.routes[0].trips
    assert (first.departure, first.return_time) == (0, 22)
    assert (second.departure, second.stops[0].arrival, second.return_time) == (29, 49, 72)
    assert (result.distance, result.duration) == (60, 72)
    assert result.client_routes() == [[0, 1]]
    assert result.client_routes(depot_marker=-1) == [[0, -1, 1]]
    assert result.trip_routes() == [[0], [1]]
    assert result.n_routes == 1
    assert result.n_trips == 2
    assert check(problem, result).feasible


def test_shift_end_violation_is_found_by_both() -> None:
    """Back at 72 with a shift ending at 70 breaks the shift."""
    problem = _two_trips(shift_end=70)
    _both_say(problem, _build(problem, [(0, [[0], [1]])]), "after the shift ends at 70")


def test_depot_closing_violation_is_found_by_both() -> None:
    """Back at 72 at a depot closing at 60."""
    problem = _two_trips(closes=60)
    _both_say(problem, _build(problem, [(0, [[0], [1]])]), "after depot 0 closes at 60")


def test_overload_is_found_by_both() -> None:
    """Both parcels (8) on one trip of a bike carrying 5."""
    problem = _two_trips()
    _both_say(problem, _build(problem, [(0, [[0, 1]])]), "load 8 exceeds capacity 5")


def test_too_many_trips_is_found_by_both() -> None:
    """Two trips for a bike allowed one."""
    problem = _two_trips(max_trips=1)
    _both_say(problem, _build(problem, [(0, [[0], [1]])]), "at most 1 allowed")


def test_late_service_is_found_by_both() -> None:
    """Client 1 is reached at 20 but its window closes at 15."""
    problem = line_problem([0, 10, 20], [Client(location=1), Client(location=2, tw_late=15)])
    _both_say(problem, _build(problem, [(0, [[0, 1]])]), "after its window closes at 15")


def test_too_many_bikes_is_found_by_both() -> None:
    """Two routes for a type with one bike."""
    problem = line_problem([0, 10, 20], [Client(location=1), Client(location=2)])
    _both_say(problem, _build(problem, [(0, [[0]]), (0, [[1]])]), "2 bikes used, only 1")


def test_client_on_a_bike_from_another_depot_is_found_by_both() -> None:
    """A parcel waiting at depot 1 cannot ride on a bike starting at depot 0."""
    problem = line_problem(
        [0, 10, 20],
        [Client(location=1, depot=1)],
        depots=[Depot(location=0), Depot(location=2)],
    )
    _both_say(problem, _build(problem, [(0, [[0]])]), "waits at depot 1")


@pytest.mark.parametrize(
    ("trips", "unassigned", "fragment"),
    [
        ([[0]], {}, "client 1 is neither visited nor unassigned"),
        ([[0, 1, 0]], {}, "client 0 is visited 2 times"),
        ([[0, 1]], {1: "no time"}, "client 1 is both visited and unassigned"),
    ],
)
def test_coverage_errors_are_found_by_both(
    trips: list[list[int]], unassigned: dict[int, str], fragment: str
) -> None:
    """Every client exactly once: on a trip or unassigned."""
    problem = line_problem([0, 10, 20], [Client(location=1), Client(location=2)])
    _both_say(problem, _build(problem, [(0, trips)], unassigned), fragment)


def test_unassigned_clients_are_feasible_and_kept_with_their_reason() -> None:
    """Leaving a client out with a reason is allowed."""
    problem = line_problem([0, 10, 20], [Client(location=1), Client(location=2)])
    result = _build(problem, [(0, [[0]])], {1: "fleet full"})
    assert result.feasible
    assert check(problem, result).feasible
    assert [(u.client, u.reason) for u in result.unassigned] == [(1, "fleet full")]


def test_fixed_cost_and_duration_objective() -> None:
    """With the duration objective the cost sums durations (here twice the distances)."""
    distances = np.abs(np.subtract.outer([0, 10, 25], [0, 10, 25]))
    problem = Problem(
        depots=(Depot(location=0),),
        clients=(Client(location=1), Client(location=2)),
        vehicle_types=(VehicleType(count=2, fixed_cost=100),),
        durations=2 * distances,
        distances=distances,
        objective="duration",
    )
    result = _build(problem, [(0, [[0]]), (0, [[1]])])
    assert result.distance == 20 + 50
    assert result.cost == 2 * 100 + 2 * (20 + 50)
    assert [r.vehicle for r in result.routes] == [0, 1]
    report = check(problem, result)
    assert report.feasible
    assert report.cost == result.cost


def test_empty_trips_and_bikes_are_dropped() -> None:
    """An empty trip or a bike with no trip is not a route and costs nothing."""
    problem = line_problem([0, 10], [Client(location=1)], [VehicleType(count=2, fixed_cost=9)])
    result = _build(problem, [(0, []), (0, [[], [0], []])])
    assert result.n_routes == 1
    assert result.n_trips == 1
    assert result.cost == 9 + 20
    assert check(problem, result).feasible


def test_summary_is_one_line() -> None:
    """The summary names the cost, routes and state on one line."""
    problem = _two_trips()
    summary = _build(problem, [(0, [[0], [1]])]).summary()
    assert "\n" not in summary
    assert summary.startswith("line: cost 60, 1 routes (2 trips), 0 unassigned, feasible")


def test_a_bad_client_index_is_a_caller_bug() -> None:
    """The builder refuses clients that do not exist instead of scheduling nonsense."""
    problem = line_problem([0, 10], [Client(location=1)])
    with pytest.raises(ValueError, match="client 5 is not in the problem"):
        _build(problem, [(0, [[5]])])


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda r: dataclasses.replace(r, cost=r.cost + 1), "result cost"),
        (lambda r: dataclasses.replace(r, distance=0), "result distance"),
        (lambda r: dataclasses.replace(r, feasible=False), "claims to be infeasible"),
        (lambda r: dataclasses.replace(r, unassigned=()), "client 1: visited 0 times"),
        (
            lambda r: dataclasses.replace(r, routes=(dataclasses.replace(r.routes[0], vehicle=3),)),
            "bike 3 of type 0 does not exist",
        ),
        (
            lambda r: dataclasses.replace(
                r,
                routes=(
                    dataclasses.replace(
                        r.routes[0],
                        trips=(
                            dataclasses.replace(
                                r.routes[0].trips[0],
                                stops=(
                                    dataclasses.replace(r.routes[0].trips[0].stops[0], arrival=1),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            "differ from the contract's",
        ),
    ],
)
def test_checker_catches_a_tampered_result(tamper: object, fragment: str) -> None:
    """A result whose numbers were changed after building fails the check, saying where."""
    problem = line_problem([0, 10, 20], [Client(location=1), Client(location=2)])
    good = _build(problem, [(0, [[0]])], {1: "fleet full"})
    assert check(problem, good).feasible
    report = check(problem, tamper(good))  # type: ignore[operator]
    assert not report.feasible
    assert any(fragment in v for v in report.violations), report.violations


# --- the builder and the checker agree on random problems and random routes ---------------


@st.composite
def problems_and_routes(
    draw: st.DrawFn,
) -> tuple[Problem, list[tuple[int, list[list[int]]]], dict[int, str]]:
    n_depots = draw(st.integers(1, 2))
    n_clients = draw(st.integers(1, 6))
    n_locations = n_depots + n_clients
    n_profiles = draw(st.integers(1, 2))
    shape = (n_profiles, n_locations, n_locations)
    size = n_profiles * n_locations * n_locations
    durations = np.array(draw(st.lists(st.integers(0, 30), min_size=size, max_size=size)))
    if draw(st.booleans()):  # sometimes one leg has no path
        durations[draw(st.integers(0, size - 1))] = MAX_TIME
    distances = np.array(draw(st.lists(st.integers(0, 30), min_size=size, max_size=size)))
    depots = [
        Depot(
            location=d, opens=draw(st.integers(0, 10)), closes=draw(st.sampled_from([80, MAX_TIME]))
        )
        for d in range(n_depots)
    ]
    clients = []
    for c in range(n_clients):
        early = draw(st.integers(0, 60))
        clients.append(
            Client(
                location=n_depots + c,
                demand=(draw(st.integers(0, 5)), draw(st.integers(0, 2))),
                service=draw(st.integers(0, 5)),
                tw_early=early,
                tw_late=draw(st.sampled_from([early + 15, MAX_TIME])),
                release=draw(st.sampled_from([0, 0, 20])),
                depot=draw(st.sampled_from([0, 0, 0, n_depots - 1])),
            )
        )
    types = [
        VehicleType(
            count=draw(st.integers(1, 2)),
            capacity=(draw(st.integers(0, 12)), draw(st.integers(1, 6))),
            start_depot=draw(st.sampled_from([0, 0, 0, n_depots - 1])),
            end_depot=draw(st.sampled_from([None, *range(n_depots)])),
            shift_start=draw(st.integers(0, 10)),
            shift_end=draw(st.sampled_from([90, MAX_TIME])),
            fixed_cost=draw(st.integers(0, 20)),
            profile=draw(st.integers(0, n_profiles - 1)),
            max_trips=draw(st.sampled_from([1, 2, None])),
            reload=draw(st.integers(0, 9)),
        )
        for _ in range(draw(st.integers(1, 2)))
    ]
    problem = Problem(
        depots=tuple(depots),
        clients=tuple(clients),
        vehicle_types=tuple(types),
        durations=durations.reshape(shape),
        distances=distances.reshape(shape),
        objective=draw(st.sampled_from(["distance", "duration"])),
        dimensions=("kg", "boxes"),
    )
    order = draw(st.permutations(range(n_clients)))
    routes: list[tuple[int, list[list[int]]]] = []
    unassigned: dict[int, str] = {}
    for client in order:
        choice = draw(st.integers(0, 3))
        if choice == 0 or not routes:
            if draw(st.booleans()):
                unassigned[client] = "left out"
                continue
            # Mostly a type starting at the client's depot, so that many cases are feasible.
            home = [t for t, v in enumerate(types) if v.start_depot == clients[client].depot]
            pick = draw(st.sampled_from(home or list(range(len(types)))))
            routes.append((pick, [[client]]))
        elif choice == 1 and types[routes[-1][0]].max_trips != 1:
            routes[-1][1].append([client])  # a new trip of the last bike
        else:
            routes[-1][1][-1].append(client)
    return problem, routes, unassigned


@settings(max_examples=200, deadline=None)
@given(problems_and_routes())
def test_builder_and_checker_agree(
    case: tuple[Problem, list[tuple[int, list[list[int]]]], dict[int, str]],
) -> None:
    """On any routes, the two independent implementations agree on totals and feasibility."""
    problem, routes, unassigned = case
    result = _build(problem, routes, unassigned)
    report = check(problem, result)
    assert (report.cost, report.distance, report.duration) == (
        result.cost,
        result.distance,
        result.duration,
    )
    assert report.feasible == result.feasible, (result.violations, report.violations)
