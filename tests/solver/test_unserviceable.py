"""Clients no bike can serve alone are found before the search, each with a usable reason."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.schedule import build_result
from solver.unserviceable import find_unserviceable
from tests.solver.operations_problems import operations_problems
from tests.solver.tiny_problems import line_problem


def test_a_servable_client_has_no_reason() -> None:
    """Nothing to report when one bike can do the client alone."""
    problem = line_problem([0, 10], [Client(location=1, demand=(5,))])
    assert find_unserviceable(problem) == {}


def test_too_heavy_names_the_dimension_and_the_largest_capacity() -> None:
    """12 kg against bikes of 8 and 10 kg: the reason quotes the 10."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, demand=(12, 1))],
        [VehicleType(capacity=(8, 5)), VehicleType(capacity=(10, 5))],
        dimensions=("kg", "boxes"),
    )
    assert find_unserviceable(problem) == {0: "demand 12 kg exceeds every bike's capacity (max 10)"}


def test_no_bike_at_the_clients_depot() -> None:
    """A parcel at depot 1 when every bike starts at depot 0."""
    problem = line_problem([0, 10, 20], [Client(location=1, depot=1)], depots=[Depot(0), Depot(2)])
    assert find_unserviceable(problem) == {0: "no vehicle starts at its depot (depot 1)"}


def test_no_path_from_or_to_the_depot() -> None:
    """A matrix entry of MAX_TIME means no path; one direction is enough to fail."""
    matrix = np.array([[0, 10], [MAX_TIME, 0]])
    problem = Problem(
        depots=(Depot(0),),
        clients=(Client(location=1),),
        vehicle_types=(VehicleType(),),
        durations=matrix,
        distances=matrix,
    )
    assert find_unserviceable(problem) == {0: "no path from/to depot 0"}


def test_window_that_no_shift_reaches() -> None:
    """Shift starts at 50, the ride takes 10, the window closes at 40."""
    problem = line_problem([0, 10], [Client(location=1, tw_late=40)], [VehicleType(shift_start=50)])
    reason = find_unserviceable(problem)[0]
    assert reason.startswith("time window 0–40 cannot be reached from depot 0")
    assert "earliest service start 60" in reason


def test_release_counts_when_reaching_the_window() -> None:
    """Ready at 35, ten minutes' ride: too late for a window closing at 40."""
    problem = line_problem([0, 10], [Client(location=1, tw_late=40, release=35)])
    assert "cannot be reached" in find_unserviceable(problem)[0]


def test_no_time_to_ride_back_before_the_shift_ends() -> None:
    """Served at 10 for 30, the ride back ends at 50, the shift at 45."""
    problem = line_problem([0, 10], [Client(location=1, service=30)], [VehicleType(shift_end=45)])
    assert "leaves no time to ride back" in find_unserviceable(problem)[0]


def test_one_capable_type_is_enough() -> None:
    """A small bike fails on weight, a big slow one still serves: no reason."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, demand=(9,), tw_late=30)],
        [VehicleType(capacity=(5,)), VehicleType(capacity=(10,), shift_start=15)],
    )
    assert find_unserviceable(problem) == {}


# --- operations: skills, pairs, parcels on board, ride limits, re-plans, breaks ----------------


def test_skills_no_vehicle_type_has_are_named() -> None:
    """Cooled bikes exist, bikes with a trailer do not."""
    problem = line_problem(
        [0, 10],
        [Client(location=1, requires=("cooled", "trailer"))],
        [VehicleType(skills=("cooled",))],
    )
    assert find_unserviceable(problem) == {0: "needs trailer, which no vehicle type has"}


def test_skills_missing_at_the_clients_depot() -> None:
    """The cooled bike starts at depot 1; the parcel waits at depot 0."""
    problem = line_problem(
        [0, 10, 20],
        [Client(location=1, requires=("cooled",))],
        [VehicleType(), VehicleType(start_depot=1, skills=("cooled",))],
        depots=[Depot(0), Depot(2)],
    )
    assert find_unserviceable(problem) == {
        0: "needs cooled: no vehicle starting at depot 0 has all of them"
    }


def _pair(delivery: Client, *types: VehicleType) -> Problem:
    """Pickup 0 at 10, ``delivery`` (client 1) at 20; a pair waiting at no bike's depot."""
    problem: Problem = line_problem(
        [0, 10, 20],
        [Client(location=1, demand=(1,), depot=1), delivery],
        types or (VehicleType(capacity=(5,)),),
        depots=[Depot(0), Depot(2)],
    )
    return problem.replace(pairs=((0, 1),))


def test_a_pair_rides_any_bike_whatever_its_depot() -> None:
    assert find_unserviceable(_pair(Client(location=2, demand=(1,), depot=1))) == {}


def test_pair_whose_delivery_window_closes_before_the_bike_can_get_there() -> None:
    """Picked up at 10, the delivery is reached at 20; its window closes at 15. Alone it would
    be reached at 20 too, but a delivery is never alone: both halves say why, naming the other."""
    problem = _pair(Client(location=2, demand=(1,), tw_late=15))
    detail = "the delivery's time window 0–15 cannot be reached after the pickup (earliest 20)"
    assert find_unserviceable(problem) == {
        0: f"cannot be served together with its delivery partner 1 by any bike alone: {detail}",
        1: f"cannot be served together with its pickup partner 0 by any bike alone: {detail}",
    }


def test_pair_whose_direct_ride_is_longer_than_max_ride() -> None:
    """Pickup to delivery takes 10 s; the parcel may ride 5."""
    problem = _pair(Client(location=2, demand=(1,), max_ride=5))
    reasons = find_unserviceable(problem)
    assert set(reasons) == {0, 1}
    assert reasons[1].startswith("cannot be served together with its pickup partner 0")
    assert reasons[1].endswith(
        "the ride from pickup to delivery takes at least 10 s, more than the delivery's "
        "max_ride 5 s"
    )


def test_pair_halves_needing_skills_no_single_bike_has() -> None:
    """The pickup needs a trailer, the delivery cooling; each bike has one of them."""
    problem = _pair(
        Client(location=2, demand=(1,), requires=("cooled",)),
        VehicleType(capacity=(5,), skills=("trailer",)),
        VehicleType(capacity=(5,), skills=("cooled",)),
    )
    problem = problem.replace(
        clients=(problem.clients[0].replace(requires=("trailer",)), problem.clients[1])
    )
    assert find_unserviceable(problem)[0].endswith("no vehicle type has all of cooled, trailer")


def test_partner_of_an_unserviceable_half_says_so() -> None:
    """No bike is cooled: the pickup cannot be served, so neither can its delivery."""
    problem = _pair(Client(location=2, demand=(1,)))
    problem = problem.replace(
        clients=(problem.clients[0].replace(requires=("cooled",)), problem.clients[1])
    )
    assert find_unserviceable(problem) == {
        0: "needs cooled, which no vehicle type has",
        1: "its pickup partner 0 cannot be served: needs cooled, which no vehicle type has",
    }


def _away(client: Client, **vehicle: object) -> Problem:
    """The one bike (of depot 0) is out at location 2 (position 30); ``client`` is at 10.
    Depot 1, at the same place as depot 0, has no bike."""
    problem: Problem = line_problem(
        [0, 10, 30],
        [client],
        [VehicleType(capacity=(5,), start_location=2, **vehicle)],  # type: ignore[arg-type]
        depots=[Depot(0), Depot(0)],
    )
    return problem


def test_on_board_parcel_needs_no_depot() -> None:
    """Waiting at no bike's depot does not matter to a parcel already on a bike."""
    problem = _away(Client(location=1, on_board=0, depot=1, release=500))
    assert find_unserviceable(problem) == {}


def test_on_board_parcel_its_bike_cannot_reach_in_its_window() -> None:
    """From 30 to 10 takes 20 s: too late for a window closing at 15."""
    problem = _away(Client(location=1, on_board=0, tw_late=15))
    assert find_unserviceable(problem) == {
        0: "its bike (vehicle type 0) cannot reach it within its time window 0–15 (earliest "
        "service start 20)"
    }


def test_on_board_parcel_its_bike_cannot_deliver_within_its_shift() -> None:
    """Delivered at 20, back at the depot at 30; the shift ends at 25."""
    problem = _away(Client(location=1, on_board=0), shift_end=25)
    assert find_unserviceable(problem) == {
        0: "its bike (vehicle type 0) cannot deliver it and be back at depot 0 before the "
        "shift ends or the depot closes"
    }


def test_direct_ride_from_the_depot_longer_than_max_ride() -> None:
    """20 s from the depot, 15 allowed."""
    problem = line_problem([0, 20], [Client(location=1, max_ride=15)])
    assert find_unserviceable(problem) == {
        0: "its max_ride 15 s cannot be kept on a trip of its own: from depot 0 to its service "
        "start takes at least 20 s"
    }


def test_bike_away_from_the_depot_must_come_back_to_load() -> None:
    """A bike out at 30 serves a depot parcel on its second trip, after riding back (30 s):
    fine with two trips, impossible with one, too late for a window closing at 50."""
    parcel = Client(location=1)
    assert find_unserviceable(_away(parcel, max_trips=2)) == {}
    assert find_unserviceable(_away(parcel, max_trips=1)) == {
        0: "every bike of depot 0 is away from it with one trip only, so none can come back to "
        "load this parcel"
    }
    late = find_unserviceable(_away(parcel.replace(tw_late=35), max_trips=2))[0]
    assert late == (
        "time window 0–35 cannot be reached from depot 0 within any shift (earliest service "
        "start 40)"
    )


def test_no_room_for_the_break() -> None:
    """Served at 25 by a window closing at 30, the bike owes a 10 s break by 5: before the
    first leg it makes the client late, after it it starts too late. A bike without a break
    does the client."""
    client = Client(location=1, tw_late=30)
    breaking = VehicleType(break_duration=10, break_early=0, break_late=5)
    problem = line_problem([0, 25], [client], [breaking])
    assert find_unserviceable(problem) == {
        0: "no bike can serve it alone and still start the courier's break by break_late"
    }
    assert find_unserviceable(line_problem([0, 25], [client], [breaking, VehicleType()])) == {}


def _served_alone(problem: Problem, client: int) -> bool:
    """Some vehicle type serves ``client`` with no other client (but its pair partner) per
    the schedule builder: a bike away from the depot rides back empty before a depot parcel."""
    delivery_of = dict(problem.pairs)
    pickup_of = {d: p for p, d in problem.pairs}
    if client in delivery_of:
        unit = [client, delivery_of[client]]
    elif client in pickup_of:
        unit = [pickup_of[client], client]
    else:
        unit = [client]
    others = {c: "not this time" for c in range(problem.n_clients) if c not in unit}
    depot_parcel = len(unit) == 1 and problem.clients[client].on_board is None
    for t, vehicle in enumerate(problem.vehicle_types):
        trips = [[], unit] if depot_parcel and vehicle.start_location is not None else [unit]
        result = build_result(
            problem,
            [(t, trips)],
            unassigned=others,
            backend="alone",
            seed=0,
            runtime_s=0.0,
            iterations=0,
        )
        if result.feasible:
            return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations_problems())
def test_reasons_are_exactly_the_clients_nobody_serves_alone(problem: Problem) -> None:
    """A client without a reason is served feasibly alone (with its partner, for a pair) by
    some vehicle type per the schedule builder, and a client with a reason by none."""
    reasons = find_unserviceable(problem)
    for client in range(problem.n_clients):
        assert _served_alone(problem, client) == (client not in reasons), (client, reasons)
        assert client not in reasons or reasons[client].strip()
