"""Hypothesis strategies for small random problems that use the operations rules.

``operations_problems`` draws problems mixing pairs (pickup and delivery on one trip), soft
windows, ride limits, skills, breaks, span and balance costs, re-plan starts away from the
depot, parcels already on board and move costs, on top of the classic windows, releases,
shifts, depot hours and multi-trip reloads. ``random_trips`` draws an assignment of a
problem's clients to bikes and trips that is plausible most of the time (pairs together,
pickup first; on-board parcels on their bike's first trip; depot parcels on bikes of their
depot) and deliberately wrong now and then, so both feasible and infeasible cases come up.

Both are generic: the schedule/checker tests, the unserviceable tests and the search core's
tests use them. See ``docs/solver-contract.md`` for the rules the problems exercise.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from hypothesis import strategies as st

from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType

#: The operations features ``operations_problems`` can switch on.
FEATURES: tuple[str, ...] = (
    "pairs",
    "soft",
    "max_ride",
    "skills",
    "breaks",
    "duration_cost",
    "max_duration_cost",
    "start_location",
    "on_board",
    "move_cost",
)

#: One bike's work as the schedule builder takes it: (vehicle type, trips of clients).
VehicleTrips = list[tuple[int, list[list[int]]]]

_SKILLS = ("cooled", "trailer")


@st.composite
def operations_problems(
    draw: st.DrawFn,
    max_clients: int = 8,
    *,
    min_clients: int = 1,
    max_types: int = 3,
    max_depots: int = 2,
    features: Collection[str] | None = None,
    metric: bool | None = None,
) -> Problem:
    """A small random problem using a random mix of the operations ``FEATURES``.

    ``features`` fixes the mix (``None``: each feature is drawn on or off; ``()`` gives a
    classic problem). ``metric`` chooses grid (Manhattan) rides that obey the triangle
    inequality, or arbitrary matrices with the odd missing path (``None``: drawn). Clients
    are not filtered: some may be unserviceable, which is what the unserviceable tests want.
    """
    if features is None:
        chosen = {f for f in FEATURES if draw(st.booleans())}
    else:
        unknown = set(features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown operations features {sorted(unknown)}; use {FEATURES}")
        chosen = set(features)
    if metric is None:
        metric = draw(st.integers(0, 3)) > 0

    n_depots = draw(st.integers(1, max_depots))
    n_clients = draw(st.integers(min_clients, max_clients))
    n_profiles = draw(st.integers(1, 2))
    n_dims = draw(st.integers(1, 2))
    n_extra = 2  # spare locations where bikes out on a re-plan may be
    n_locations = n_depots + n_clients + n_extra
    shape = (n_profiles, n_locations, n_locations)
    if metric:
        cells = st.tuples(st.integers(0, 20), st.integers(0, 20))
        xy = np.array(draw(st.lists(cells, min_size=n_locations, max_size=n_locations)))
        base = np.abs(xy[:, None, :] - xy[None, :, :]).sum(-1).astype(np.int64)
        distances = np.stack([base] * n_profiles)
        durations = np.stack([base * (p + 1) for p in range(n_profiles)])
    else:
        size = n_profiles * n_locations * n_locations
        values = st.lists(st.integers(0, 25), min_size=size, max_size=size)
        durations = np.array(draw(values), dtype=np.int64).reshape(shape)
        distances = np.array(draw(values), dtype=np.int64).reshape(shape)
        if draw(st.booleans()):  # one leg without a path
            durations.reshape(-1)[draw(st.integers(0, size - 1))] = MAX_TIME

    depots = tuple(
        Depot(
            location=d,
            opens=draw(st.sampled_from([0, 0, 5])),
            closes=draw(st.sampled_from([MAX_TIME, MAX_TIME, 160])),
        )
        for d in range(n_depots)
    )

    types = _vehicle_types(draw, chosen, n_depots, n_profiles, n_dims, n_locations, max_types)
    clients, pairs = _clients(draw, chosen, n_depots, n_clients, n_dims, types)
    return Problem(
        depots=depots,
        clients=tuple(clients),
        vehicle_types=tuple(types),
        durations=durations,
        distances=distances,
        objective=draw(st.sampled_from(["distance", "duration"])),
        dimensions=tuple(f"d{k}" for k in range(n_dims)),
        name="operations",
        pairs=tuple(pairs),
        max_duration_cost=draw(st.integers(1, 3)) if "max_duration_cost" in chosen else 0,
    )


def _vehicle_types(
    draw: st.DrawFn,
    chosen: set[str],
    n_depots: int,
    n_profiles: int,
    n_dims: int,
    n_locations: int,
    max_types: int,
) -> list[VehicleType]:
    types = []
    for t in range(draw(st.integers(1, max_types))):
        start = draw(st.integers(0, n_depots - 1))
        away = "start_location" in chosen and draw(st.booleans())
        # A re-plan's bikes are single; the first type is single when parcels are on board.
        single = away or ("on_board" in chosen and t == 0) or draw(st.booleans())
        fields: dict[str, object] = {
            "count": 1 if single else 2,
            "capacity": tuple(draw(st.integers(2, 12)) for _ in range(n_dims)),
            "start_depot": start,
            "end_depot": draw(st.sampled_from([None, None, *range(n_depots)])),
            "shift_start": draw(st.sampled_from([0, 0, 10])),
            "shift_end": draw(st.sampled_from([MAX_TIME, 150, 250])),
            "fixed_cost": draw(st.sampled_from([0, 0, 15])),
            "profile": draw(st.integers(0, n_profiles - 1)),
            "max_trips": draw(st.sampled_from([1, 2, 2, None])),
            "reload": draw(st.sampled_from([0, 5])),
        }
        if away:
            fields["start_location"] = draw(st.integers(0, n_locations - 1))
        if "breaks" in chosen and draw(st.integers(0, 3)) > 0:
            early = draw(st.integers(0, 60))
            fields["break_duration"] = draw(st.integers(1, 15))
            fields["break_early"] = early
            fields["break_late"] = early + draw(st.integers(0, 40))
        if "duration_cost" in chosen:
            fields["duration_cost"] = draw(st.integers(0, 3))
        if "skills" in chosen:
            fields["skills"] = draw(st.sets(st.sampled_from(_SKILLS)))
        types.append(VehicleType(**fields))  # type: ignore[arg-type]
    return types


def _clients(
    draw: st.DrawFn,
    chosen: set[str],
    n_depots: int,
    n_clients: int,
    n_dims: int,
    types: list[VehicleType],
) -> tuple[list[Client], list[tuple[int, int]]]:
    order = draw(st.permutations(range(n_clients)))
    pairs: list[tuple[int, int]] = []
    if "pairs" in chosen:
        n_pairs = draw(st.integers(1 if n_clients >= 2 else 0, n_clients // 2))
        pairs = [(order[2 * i], order[2 * i + 1]) for i in range(n_pairs)]
    paired = {c for pair in pairs for c in pair}
    pickup_of = {d: p for p, d in pairs}
    single_types = [t for t, v in enumerate(types) if v.count == 1]

    demands = [tuple(draw(st.integers(0, 5)) for _ in range(n_dims)) for _ in range(n_clients)]
    clients = []
    for c in range(n_clients):
        early = draw(st.sampled_from([0, 0, draw(st.integers(0, 60))]))
        fields: dict[str, object] = {
            "location": n_depots + c,
            "demand": demands[pickup_of.get(c, c)],
            "service": draw(st.sampled_from([0, 0, 3])),
            "tw_early": early,
            "tw_late": draw(st.sampled_from([MAX_TIME, early + 25, early + 60])),
            "release": draw(st.sampled_from([0, 0, 15])),
            "depot": draw(st.integers(0, n_depots - 1)),
        }
        if "soft" in chosen and draw(st.booleans()):
            fields["due"] = early + draw(st.integers(0, 20))
            fields["late_cost"] = draw(st.integers(1, 3))
        if "max_ride" in chosen and c not in pickup_of.values() and draw(st.booleans()):
            fields["max_ride"] = draw(st.integers(5, 60))
        if "skills" in chosen and draw(st.booleans()):
            fields["requires"] = draw(st.sets(st.sampled_from(_SKILLS), min_size=1))
        if "on_board" in chosen and single_types and c not in paired and draw(st.booleans()):
            fields["on_board"] = draw(st.sampled_from(single_types))
        if "move_cost" in chosen and draw(st.booleans()):
            fields["planned_type"] = draw(st.integers(0, len(types) - 1))
            fields["move_cost"] = draw(st.integers(1, 20))
        clients.append(Client(**fields))  # type: ignore[arg-type]
    return clients, pairs


@st.composite
def random_trips(draw: st.DrawFn, problem: Problem) -> tuple[VehicleTrips, dict[int, str]]:
    """Bikes' trips for ``problem`` and the unassigned clients (with a reason).

    Every client ends up on exactly one trip or unassigned. Most of the time pairs share a
    trip with the pickup first (or are both unassigned), parcels on board ride on their
    bike's first trip and depot parcels on a bike of their depot (on a later trip when the
    bike starts away); now and then a rule is broken on purpose. Bikes of a type are not
    used beyond the type's count (except rarely). Every bike has a client, and every trip
    too, except the empty first trip of a bike away from its depot with later trips (its ride
    back to load, as the contract allows).
    """
    bikes: list[tuple[int, list[list[int]]]] = []
    for t, vehicle in enumerate(problem.vehicle_types):
        extra = 1 if draw(st.integers(0, 15)) == 0 else 0
        for _ in range(draw(st.integers(0, vehicle.count)) + extra):
            bikes.append((t, [[] for _ in range(_trip_slots(vehicle.max_trips))]))
    unassigned: dict[int, str] = {}
    pair_of = dict(problem.pairs)
    deliveries = set(pair_of.values())
    units = [[c, pair_of[c]] if c in pair_of else [c] for c in range(problem.n_clients)]
    units = [unit for unit in units if unit[0] not in deliveries]
    for unit in draw(st.permutations(units)):
        if not bikes or draw(st.integers(0, 5)) == 0:
            if len(unit) == 2 and draw(st.integers(0, 9)) == 0:  # half a pair left out
                unit = [draw(st.sampled_from(unit))]
            for c in unit:
                unassigned[c] = "left out"
            continue
        wrong = draw(st.integers(0, 9)) == 0
        trip = _pick_trip(draw, problem, bikes, unit[0], wrong)
        if len(unit) == 1:
            trip.insert(draw(st.integers(0, len(trip))), unit[0])
            continue
        pickup, delivery = unit
        i = draw(st.integers(0, len(trip)))
        trip.insert(i, pickup)
        if not wrong:
            trip.insert(draw(st.integers(i + 1, len(trip))), delivery)
        elif draw(st.booleans()):  # delivered before picked up
            trip.insert(draw(st.integers(0, i)), delivery)
        else:  # on another trip, perhaps of another bike
            other = _pick_trip(draw, problem, bikes, delivery, True)
            other.insert(draw(st.integers(0, len(other))), delivery)
    vehicle_trips = []
    for t, trips in bikes:
        kept = [trip for trip in trips if trip]
        if kept and not trips[0] and problem.vehicle_types[t].start_location is not None:
            kept.insert(0, [])  # the ride back to the depot, to load on the next trip
        if kept:
            vehicle_trips.append((t, kept))
    return vehicle_trips, unassigned


def _trip_slots(max_trips: int | None) -> int:
    return 3 if max_trips is None else min(max_trips, 3)


def _pick_trip(
    draw: st.DrawFn,
    problem: Problem,
    bikes: list[tuple[int, list[list[int]]]],
    client: int,
    wrong: bool,
) -> list[int]:
    """A trip for ``client``: one the rules allow, unless ``wrong`` (or none exists)."""
    c = problem.clients[client]
    paired = client in problem.partner
    allowed = []
    for number, (t, trips) in enumerate(bikes):
        vehicle = problem.vehicle_types[t]
        for k in range(len(trips)):
            if not set(c.requires) <= set(vehicle.skills):
                continue
            if c.on_board is not None:
                ok = c.on_board == t and k == 0
            elif paired:
                ok = True
            else:
                ok = vehicle.start_depot == c.depot and (k > 0 or vehicle.start_location is None)
            if ok:
                allowed.append((number, k))
    if wrong or not allowed:
        allowed = [
            (number, k) for number, (_, trips) in enumerate(bikes) for k in range(len(trips))
        ]
    number, k = draw(st.sampled_from(allowed))
    return bikes[number][1][k]


__all__ = ["FEATURES", "VehicleTrips", "operations_problems", "random_trips"]
