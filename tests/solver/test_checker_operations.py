"""The independent checker on the operations rules: each rule caught on a tampered result.

Each example builds a feasible result on a tiny problem on a line (see ``tiny_problems``)
with the schedule builder, checks the numbers by hand, then changes the result the way a
buggy backend might and expects the checker to name the broken rule. A property test at the
end has the builder and the checker agree on random operations problems.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solver.checker import CheckReport, check
from solver.model import Client, Depot, Problem, VehicleType
from solver.result import Break, Result, Unassigned
from solver.schedule import build_result
from tests.solver.operations_problems import FEATURES, operations_problems, random_trips
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


def _good(problem: Problem, vehicle_trips: list[tuple[int, list[list[int]]]]) -> Result:
    """Built, feasible, and the checker agrees to the cost."""
    result = _build(problem, vehicle_trips)
    assert result.feasible, result.violations
    report = check(problem, result)
    assert report.feasible, report.violations
    assert report.cost == result.cost
    return result


def _caught(problem: Problem, result: Result, fragment: str) -> CheckReport:
    """The checker rejects ``result`` with a violation mentioning ``fragment``."""
    report = check(problem, result)
    assert not report.feasible
    assert any(fragment in v for v in report.violations), report.violations
    return report


def _route(result: Result, r: int = 0, **changes: Any) -> Result:
    routes = list(result.routes)
    routes[r] = dataclasses.replace(routes[r], **changes)
    return dataclasses.replace(result, routes=tuple(routes))


def _trip(result: Result, r: int, k: int, **changes: Any) -> Result:
    trips = list(result.routes[r].trips)
    trips[k] = dataclasses.replace(trips[k], **changes)
    return _route(result, r, trips=tuple(trips))


def _stop(result: Result, r: int, k: int, s: int, **changes: Any) -> Result:
    stops = list(result.routes[r].trips[k].stops)
    stops[s] = dataclasses.replace(stops[s], **changes)
    return _trip(result, r, k, stops=tuple(stops))


def _reorder(result: Result, r: int, k: int, order: list[int]) -> Result:
    """The trip's stops in another order, their reported numbers left as they were."""
    stops = result.routes[r].trips[k].stops
    return _trip(result, r, k, stops=tuple(stops[i] for i in order))


def _paired(
    positions: list[int],
    clients: list[Client],
    pairs: list[tuple[int, int]],
    vehicle_types: Sequence[VehicleType] = (VehicleType(capacity=(100,)),),
) -> Problem:
    """A line problem whose ``pairs`` are picked up and delivered on the way."""
    problem: Problem = line_problem(positions, clients, vehicle_types).replace(pairs=tuple(pairs))
    return problem


# --- pairs -----------------------------------------------------------------------------------


def _one_pair(capacity: int = 5, **pickup: Any) -> Problem:
    """Pickup 0 at 10, delivery 1 at 20, two units each."""
    return _paired(
        [0, 10, 20],
        [Client(location=1, demand=(2,), **pickup), Client(location=2, demand=(2,))],
        [(0, 1)],
        vehicle_types=[VehicleType(count=2, capacity=(capacity,), max_trips=2)],
    )


def test_a_pair_is_loaded_at_its_pickup() -> None:
    """The trip leaves empty, carries 2 after the pickup and nothing after the delivery."""
    problem = _one_pair()
    result = _good(problem, [(0, [[0, 1]])])
    trip = result.routes[0].trips[0]
    assert trip.load == (0,)
    assert [s.load_after for s in trip.stops] == [(2,), (0,)]
    assert [s.service_start for s in trip.stops] == [10, 20]
    assert trip.return_time == 40


def test_delivery_before_pickup_is_caught() -> None:
    problem = _one_pair()
    result = _good(problem, [(0, [[0, 1]])])
    _caught(problem, _reorder(result, 0, 0, [1, 0]), "before the pickup")


def test_pair_split_across_trips_is_caught() -> None:
    problem = _one_pair()
    result = _good(problem, [(0, [[0, 1]])])
    trip = result.routes[0].trips[0]
    split = _route(
        result,
        trips=(
            dataclasses.replace(trip, stops=trip.stops[:1]),
            dataclasses.replace(trip, stops=trip.stops[1:]),
        ),
    )
    _caught(problem, split, "pickup on trip 0, delivery on trip 1 of route 0")


def test_pair_split_across_bikes_is_caught() -> None:
    problem = _one_pair()
    result = _good(problem, [(0, [[0, 1]])])
    route = result.routes[0]
    trip = route.trips[0]
    split = dataclasses.replace(
        result,
        routes=(
            dataclasses.replace(route, trips=(dataclasses.replace(trip, stops=trip.stops[:1]),)),
            dataclasses.replace(
                route, vehicle=1, trips=(dataclasses.replace(trip, stops=trip.stops[1:]),)
            ),
        ),
    )
    _caught(problem, split, "pickup on route 0, delivery on route 1")


def test_half_a_pair_served_is_caught() -> None:
    """Both halves are served, or both are left out."""
    problem = _one_pair()
    result = _good(problem, [(0, [[0, 1]])])
    trip = result.routes[0].trips[0]
    half = dataclasses.replace(
        _trip(result, 0, 0, stops=trip.stops[:1]), unassigned=(Unassigned(1, "fleet full"),)
    )
    _caught(problem, half, "client 0 is served but its partner 1 is not")
    both_out = _build(problem, [], {0: "fleet full", 1: "fleet full"})
    assert both_out.feasible
    assert check(problem, both_out).feasible


def test_pickup_release_delays_the_pickup_not_the_trip() -> None:
    """The shop has the parcel ready at 30: the bike leaves at 0, waits at the shop."""
    problem = _one_pair(release=30)
    result = _good(problem, [(0, [[0, 1]])])
    trip = result.routes[0].trips[0]
    assert trip.departure == 0
    assert (trip.stops[0].arrival, trip.stops[0].service_start) == (10, 30)
    early = _stop(result, 0, 0, 0, service_start=10, departure=10)
    _caught(problem, early, "pickup 0 starts at 10, before its release 30")


# --- loads along a trip ----------------------------------------------------------------------


def test_load_counts_depot_parcels_out_and_pickups_in() -> None:
    """A depot parcel of 4 leaves the depot; the pickup of 3 fits only once it is delivered."""
    problem = _paired(
        [0, 10, 20, 30],
        [
            Client(location=2, demand=(3,)),
            Client(location=3, demand=(3,)),
            Client(location=1, demand=(4,)),
        ],
        [(0, 1)],
        vehicle_types=[VehicleType(capacity=(5,))],
    )
    result = _good(problem, [(0, [[2, 0, 1]])])
    trip = result.routes[0].trips[0]
    assert trip.load == (4,)
    assert [s.load_after for s in trip.stops] == [(0,), (3,), (0,)]
    _caught(problem, _stop(result, 0, 0, 1, load_after=(7,)), "load after (7,), expected (3,)")
    _caught(problem, _trip(result, 0, 0, load=(7,)), "depot and on-board parcels sum to (4,)")
    # The same clients with the pickup first: 4 + 3 on a bike of 5 after the first stop.
    _caught(problem, _reorder(result, 0, 0, [1, 0, 2]), "carries 7 load after client 0")


def test_capacity_holds_after_every_stop() -> None:
    """Two pairs of 3 on a bike of 5: one after the other fits, overlapping does not."""
    problem = _paired(
        [0, 10, 20, 30, 40],
        [Client(location=c, demand=(3,)) for c in (1, 2, 3, 4)],
        [(0, 1), (2, 3)],
        vehicle_types=[VehicleType(capacity=(5,))],
    )
    result = _good(problem, [(0, [[0, 1, 2, 3]])])
    _caught(problem, _reorder(result, 0, 0, [0, 2, 1, 3]), "carries 6 load after client 2")


# --- on board and re-plan starts -------------------------------------------------------------


def _on_board() -> Problem:
    """Client 0 (2 units at 10) is on the one bike of type 0; client 1 waits at the depot."""
    return line_problem(
        [0, 10, 20],
        [Client(location=1, demand=(2,), on_board=0, release=99), Client(location=2)],
        [VehicleType(capacity=(5,), max_trips=2), VehicleType(capacity=(5,))],
    )


def test_on_board_parcel_counts_in_the_starting_load() -> None:
    problem = _on_board()
    result = _good(problem, [(0, [[0], [1]])])
    first = result.routes[0].trips[0]
    assert (first.load, first.departure) == ((2,), 0)  # no release for a parcel on board
    _caught(problem, _trip(result, 0, 0, load=(0,)), "on-board parcels sum to (2,)")


def test_on_board_parcel_on_another_bike_is_caught() -> None:
    problem = _on_board()
    result = _good(problem, [(0, [[0]]), (1, [[1]])])
    moved = dataclasses.replace(
        result, routes=(dataclasses.replace(result.routes[0], vehicle_type=1), result.routes[1])
    )
    _caught(problem, moved, "client 0 is on board vehicle type 0, not 1")


def test_on_board_parcel_after_the_first_trip_is_caught() -> None:
    problem = _on_board()
    result = _good(problem, [(0, [[0], [1]])])
    late = _route(result, trips=result.routes[0].trips[::-1])
    _caught(problem, late, "client 0 is on board and must ride on trip 0")


def _away() -> Problem:
    """The one bike is out at location 3 (position 20) at shift start 0; the depot opens at 5.
    Client 0 (at 10) is on board, client 1 (at 30) waits at the depot."""
    return line_problem(
        [0, 10, 30, 20],
        [Client(location=1, on_board=0), Client(location=2)],
        [VehicleType(capacity=(5,), max_trips=2, start_location=3)],
        depots=[Depot(location=0, opens=5)],
    )


def test_a_route_away_from_the_depot_starts_where_the_bike_is() -> None:
    """Trip 1 leaves location 3 at 0 (the depot's hours do not apply), delivers at 10, is back
    at 20; trip 2 leaves the depot at 20, serves at 50, is back at 80."""
    problem = _away()
    result = _good(problem, [(0, [[0], [1]])])
    first, second = result.routes[0].trips
    assert (first.depot, first.departure, first.stops[0].arrival, first.return_time) == (
        -1,
        0,
        10,
        20,
    )
    assert (second.depot, second.departure, second.return_time) == (0, 20, 80)
    assert result.routes[0].duration == 80
    _caught(problem, _trip(result, 0, 0, depot=0), "leaves depot 0, not -1")
    _caught(problem, _trip(result, 0, 0, departure=5), "departs at 5, expected 0")


def test_depot_parcel_on_the_first_trip_away_is_caught() -> None:
    problem = _away()
    result = _good(problem, [(0, [[0], [1]])])
    first, second = result.routes[0].trips
    merged = _route(result, trips=(dataclasses.replace(first, stops=first.stops + second.stops),))
    _caught(problem, merged, "cannot carry depot parcel 1")


def test_a_bike_away_may_ride_back_empty_to_load() -> None:
    """Out at location 2 (position 20) with nothing on board: trip 1 is the empty ride back
    (at the depot at 20), trip 2 takes the depot parcel to 30 (served at 50, back at 80)."""
    problem = line_problem(
        [0, 30, 20],
        [Client(location=1)],
        [VehicleType(capacity=(5,), max_trips=2, start_location=2)],
    )
    result = _good(problem, [(0, [[], [0]])])
    empty, loaded = result.routes[0].trips
    assert (empty.depot, empty.stops, empty.departure, empty.return_time) == (-1, (), 0, 20)
    assert (loaded.departure, loaded.stops[0].arrival, loaded.return_time) == (20, 50, 80)
    assert (result.distance, result.duration) == (80, 80)
    _caught(problem, _trip(result, 0, 0, return_time=10), "returns at 10, expected 20")
    skipped = _route(result, trips=(loaded,))
    _caught(problem, skipped, "cannot carry depot parcel 0")
    only_empty = _route(result, trips=(empty,))
    _caught(problem, only_empty, "trip 0: is empty")


# --- time: soft windows, ride limits ---------------------------------------------------------


def test_lateness_after_due_costs_late_cost_per_second() -> None:
    """Served at 10, due at 5, 2 per second: 10 on top of the 20 of riding."""
    problem = line_problem([0, 10], [Client(location=1, due=5, late_cost=2)])
    result = _good(problem, [(0, [[0]])])
    assert (result.routes[0].cost, result.cost) == (30, 30)
    cheap = dataclasses.replace(_route(result, cost=20), cost=20)
    _caught(problem, cheap, "cost 20, recomputed 30")


def test_ride_limit_of_a_depot_parcel_is_caught() -> None:
    """Client 0 (at 10, max_ride 15) is fine first, served at 30 after client 1 it is not."""
    problem = line_problem([0, 10, 20], [Client(location=1, max_ride=15), Client(location=2)])
    result = _good(problem, [(0, [[0, 1]])])
    _caught(problem, _reorder(result, 0, 0, [1, 0]), "client 0 rides 30 s > max_ride 15")


def test_ride_limit_of_a_pair_counts_from_the_pickups_departure() -> None:
    """Picked up at 10 (service 5, so it leaves at 15), delivered at 20: 5 s of riding, within
    a limit of 8. With client 2 (at 30) in between it arrives at 50: 35 s."""
    problem = _paired(
        [0, 10, 15, 30],
        [
            Client(location=1, demand=(1,), service=5),
            Client(location=2, demand=(1,), max_ride=8),
            Client(location=3),
        ],
        [(0, 1)],
    )
    result = _good(problem, [(0, [[0, 1, 2]])])
    assert result.routes[0].trips[0].stops[1].service_start == 20
    _caught(problem, _reorder(result, 0, 0, [0, 2, 1]), "client 1 rides 35 s > max_ride 8")


# --- skills ----------------------------------------------------------------------------------


def test_client_on_a_bike_without_its_skill_is_caught() -> None:
    problem = line_problem(
        [0, 10],
        [Client(location=1, requires=("cooled",))],
        [VehicleType(skills=("cooled", "trailer")), VehicleType()],
    )
    result = _good(problem, [(0, [[0]])])
    _caught(problem, _route(result, vehicle_type=1), "needs cooled, which vehicle type 1 lacks")


# --- breaks ----------------------------------------------------------------------------------


def _breaking(position: int) -> Problem:
    """A 5 s break in [10, 20]; one client at ``position``."""
    return line_problem(
        [0, position],
        [Client(location=1)],
        [VehicleType(break_duration=5, break_early=10, break_late=20)],
    )


def test_break_in_the_gap_that_ends_the_route_soonest() -> None:
    """Client at 15: back at 30 > 20 without a break, so one is due. Before the first leg it
    would start at 10 (back at 45); after the client it starts at 15 (back at 35): the schedule
    takes the shorter route."""
    problem = _breaking(15)
    result = _good(problem, [(0, [[0]])])
    route = result.routes[0]
    assert route.rest == Break(0, 1, 15)
    assert (route.trips[0].return_time, route.duration) == (35, 35)
    _caught(problem, _route(result, rest=None), "takes no break, but without one it ends at 30")
    _caught(problem, _route(result, rest=Break(0, 1, 16)), "break starts at 16, expected 15")
    # Moved before the first leg, the break delays the whole trip by its 5 s.
    _caught(problem, _route(result, rest=Break(0, 0, 10)), "returns at 35, expected 45")
    _caught(problem, _route(result, rest=Break(1, 0, 10)), "is not a gap of the route")


def test_break_after_break_late_is_caught() -> None:
    """Client at 25: after it the break would start at 25 > 20, so it is taken at 10 first."""
    problem = _breaking(25)
    result = _good(problem, [(0, [[0]])])
    assert result.routes[0].rest == Break(0, 0, 10)
    assert result.routes[0].trips[0].stops[0].arrival == 40
    late = _route(result, rest=Break(0, 1, 25))
    _caught(problem, late, "break after 1 stops of trip 0 starts at 25 > break_late 20")


def test_a_break_nobody_needs_is_caught() -> None:
    """Client at 5: back at 10, before break_late: no break. A reported one is wrong, and so is
    one on a bike that has no break at all."""
    problem = _breaking(5)
    result = _good(problem, [(0, [[0]])])
    assert result.routes[0].rest is None
    _caught(problem, _route(result, rest=Break(0, 1, 10)), "but none is required")
    plain = line_problem([0, 5], [Client(location=1)])
    result = _good(plain, [(0, [[0]])])
    _caught(plain, _route(result, rest=Break(0, 1, 5)), "vehicle type 0 has none")


# --- costs -----------------------------------------------------------------------------------


def test_duration_cost_counts_waiting_and_service() -> None:
    """Arrive at 10, wait until 30, serve 5, back at 45: 20 riding + 2 × 45."""
    problem = line_problem(
        [0, 10], [Client(location=1, tw_early=30, service=5)], [VehicleType(duration_cost=2)]
    )
    result = _good(problem, [(0, [[0]])])
    assert result.cost == 20 + 2 * 45
    _caught(problem, _route(result, cost=20), "cost 20, recomputed 110")


def test_move_cost_when_served_by_another_type_than_planned() -> None:
    """Planned on type 0, served by type 1: 7 on top of the riding."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, planned_type=0, move_cost=7)],
        [VehicleType(), VehicleType()],
    )
    moved = _good(problem, [(1, [[0]])])
    assert moved.cost == 27
    assert _good(problem, [(0, [[0]])]).cost == 20
    _caught(problem, _route(moved, vehicle_type=0), "cost 27, recomputed 20")


def test_longest_route_cost_is_in_the_result_cost_only() -> None:
    """Routes of 20 and 40 s with max_duration_cost 3: 60 of riding and 3 × 40."""
    problem = line_problem(
        [0, 10, 20], [Client(location=1), Client(location=2)], [VehicleType(count=2)]
    ).replace(max_duration_cost=3)
    result = _good(problem, [(0, [[0]]), (0, [[1]])])
    assert [r.cost for r in result.routes] == [20, 40]
    assert result.cost == 60 + 120
    _caught(problem, dataclasses.replace(result, cost=60), "result cost 60, recomputed 180")


def test_checker_does_not_use_the_schedule_builder() -> None:
    """Independence: a shared bug would hide, so the checker must not import the builder."""
    import solver.checker

    source = Path(solver.checker.__file__).read_text(encoding="utf-8")
    assert "solver.schedule" not in source
    assert "build_result" not in source


# --- the builder and the checker agree on random operations problems -------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_builder_and_checker_agree_on_operations(data: st.DataObject) -> None:
    """On any trips of any operations problem, the two implementations agree on feasibility
    and on every total; a feasible build also passes every comparison of the checker."""
    problem = data.draw(operations_problems(), label="problem")
    vehicle_trips, unassigned = data.draw(random_trips(problem), label="trips")
    result = _build(problem, vehicle_trips, unassigned)
    report = check(problem, result)
    assert (report.cost, report.distance, report.duration) == (
        result.cost,
        result.distance,
        result.duration,
    )
    assert report.feasible == result.feasible, (result.violations, report.violations)


@pytest.mark.parametrize("feature", FEATURES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_builder_and_checker_agree_feature_by_feature(feature: str, data: st.DataObject) -> None:
    """Each operations feature alone, so that no mix hides one."""
    problem = data.draw(operations_problems(features=[feature]), label="problem")
    vehicle_trips, unassigned = data.draw(random_trips(problem), label="trips")
    result = _build(problem, vehicle_trips, unassigned)
    report = check(problem, result)
    assert report.cost == result.cost
    assert report.feasible == result.feasible, (result.violations, report.violations)


_ROUTE_NUMBERS = ("cost", "distance", "duration", "start", "end")
_TRIP_NUMBERS = ("departure", "return_time", "load")
_STOP_NUMBERS = ("arrival", "service_start", "departure", "load_after")


def _nudged(value: Any, by: int) -> Any:
    """An int moved by ``by``; a load tuple with its first dimension moved."""
    if isinstance(value, tuple):
        return (value[0] + by, *value[1:])
    return value + by


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(st.data())
def test_any_changed_number_of_a_feasible_result_is_caught(data: st.DataObject) -> None:
    """Every time, load and cost a result reports is recomputed: change one by ±1 and the
    checker notices."""
    problem = data.draw(operations_problems(), label="problem")
    vehicle_trips, unassigned = data.draw(random_trips(problem), label="trips")
    result = _build(problem, vehicle_trips, unassigned)
    assume(result.feasible and result.routes)
    by = data.draw(st.sampled_from([-1, 1]), label="by")
    r = data.draw(st.integers(0, len(result.routes) - 1), label="route")
    route = result.routes[r]
    k = data.draw(st.integers(0, len(route.trips) - 1), label="trip")
    trip = route.trips[k]
    places = ["result", "route", "trip"] + (["stop"] if trip.stops else [])
    places += ["rest"] if route.rest is not None else []
    place = data.draw(st.sampled_from(places), label="place")
    if place == "result":
        name = data.draw(st.sampled_from(["cost", "distance", "duration"]), label="field")
        tampered = dataclasses.replace(result, **{name: getattr(result, name) + by})
    elif place == "route":
        name = data.draw(st.sampled_from(_ROUTE_NUMBERS), label="field")
        tampered = _route(result, r, **{name: getattr(route, name) + by})
    elif place == "trip":
        name = data.draw(st.sampled_from(_TRIP_NUMBERS), label="field")
        tampered = _trip(result, r, k, **{name: _nudged(getattr(trip, name), by)})
    elif place == "stop":
        s = data.draw(st.integers(0, len(trip.stops) - 1), label="stop")
        name = data.draw(st.sampled_from(_STOP_NUMBERS), label="field")
        value = _nudged(getattr(trip.stops[s], name), by)
        tampered = _stop(result, r, k, s, **{name: value})
    else:
        assert route.rest is not None
        rest = dataclasses.replace(route.rest, start=route.rest.start + by)
        tampered = _route(result, r, rest=rest)
    assert not check(problem, tampered).feasible
