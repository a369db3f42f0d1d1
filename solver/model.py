"""The problem model: depots, clients, vehicle types and matrices, frozen and validated.

Everything is an integer: times in seconds (or the instance's own time unit), distances in
metres (or the instance's own unit), loads in whatever unit each load dimension counts. A
field that is wrong raises :class:`ProblemError` naming the field, when the object is built.

Times are absolute on one clock (e.g. seconds since midnight of the delivery day). A client's
parcel is ready at its depot at ``release``; a trip that carries it leaves the depot no earlier.

A client is one of three kinds (``docs/solver-contract.md`` has the rules):

- a *depot delivery* (the default): its parcel waits at a depot and rides out on a trip;
- one half of a *pair* (``Problem.pairs``): a pickup at a shop and the delivery of the same
  parcel, on one trip of one bike, pickup first;
- *on board* (``Client.on_board``): during a re-plan, a parcel already on a bike, which that
  bike must deliver on its first trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from solver.errors import ProblemError

#: "Never": the end of every open time window. Large, yet far from int64 overflow when summed.
MAX_TIME = 1 << 40

Objective = Literal["distance", "duration"]


def _check_int(owner: str, name: str, value: Any, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ProblemError(f"{owner}.{name} must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise ProblemError(f"{owner}.{name} must be >= {minimum}, not {value}")
    return int(value)


def _check_loads(owner: str, name: str, values: Sequence[int]) -> tuple[int, ...]:
    if isinstance(values, int | np.integer):
        values = (int(values),)
    loads = tuple(values)
    for number, value in enumerate(loads):
        _check_int(owner, f"{name}[{number}]", value)
    return tuple(int(v) for v in loads)


def _check_window(owner: str, start_name: str, start: int, end_name: str, end: int) -> None:
    if start > end:
        raise ProblemError(f"{owner}.{start_name} must be <= {end_name} ({start} > {end})")


def _check_names(owner: str, name: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ProblemError(
            f"{owner}.{name} must be a collection of names, not the string {values!r}"
        )
    names = tuple(sorted(set(values)))
    for value in names:
        if not isinstance(value, str) or not value:
            raise ProblemError(f"{owner}.{name} must hold non-empty strings, not {value!r}")
    return names


def _check_optional(owner: str, name: str, value: Any) -> None:
    if value is not None:
        _check_int(owner, name, value)


class _Validated:
    """Frozen dataclasses with ``replace()``, validated in ``__post_init__``."""

    def replace(self, **changes: Any) -> Any:
        return replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Depot(_Validated):
    """A hub where bikes start, end and reload: a location index and its opening hours."""

    location: int
    opens: int = 0
    closes: int = MAX_TIME
    name: str = ""

    def __post_init__(self) -> None:
        owner = f"Depot {self.name!r}" if self.name else "Depot"
        _check_int(owner, "location", self.location)
        _check_int(owner, "opens", self.opens)
        _check_int(owner, "closes", self.closes)
        _check_window(owner, "opens", self.opens, "closes", self.closes)


@dataclass(frozen=True)
class Client(_Validated):
    """A delivery: where, how much in each load dimension, when, and how long it takes.

    ``tw_early``/``tw_late`` bound the start of service (waiting before ``tw_early`` is
    allowed). ``release`` is when the parcel is ready at ``depot`` (an index into the
    problem's depots): the trip carrying it cannot leave that depot earlier; for a pickup,
    the pickup cannot start earlier.

    Soft window: each second the service starts after ``due`` costs ``late_cost``
    (``tw_late`` stays a hard limit). ``max_ride`` bounds the seconds from the parcel's
    pickup (the pickup's departure, or the trip's departure from the depot) to this
    delivery's service start. ``requires`` names what the bike must have (e.g. ``cooled``).
    ``on_board`` is the vehicle type (of count 1) already carrying the parcel in a re-plan.
    ``planned_type``/``move_cost``: in a re-plan, serving the client on another vehicle type
    than it was planned on costs ``move_cost`` (stability).
    """

    location: int
    demand: tuple[int, ...] = (0,)
    service: int = 0
    tw_early: int = 0
    tw_late: int = MAX_TIME
    release: int = 0
    depot: int = 0
    name: str = ""
    due: int = MAX_TIME
    late_cost: int = 0
    max_ride: int = MAX_TIME
    requires: tuple[str, ...] = ()
    on_board: int | None = None
    planned_type: int | None = None
    move_cost: int = 0

    def __post_init__(self) -> None:
        owner = f"Client {self.name!r}" if self.name else "Client"
        _check_int(owner, "location", self.location)
        object.__setattr__(self, "demand", _check_loads(owner, "demand", self.demand))
        _check_int(owner, "service", self.service)
        _check_int(owner, "tw_early", self.tw_early)
        _check_int(owner, "tw_late", self.tw_late)
        _check_window(owner, "tw_early", self.tw_early, "tw_late", self.tw_late)
        _check_int(owner, "release", self.release)
        _check_int(owner, "depot", self.depot)
        _check_int(owner, "due", self.due)
        _check_int(owner, "late_cost", self.late_cost)
        _check_int(owner, "max_ride", self.max_ride)
        object.__setattr__(self, "requires", _check_names(owner, "requires", self.requires))
        _check_optional(owner, "on_board", self.on_board)
        _check_optional(owner, "planned_type", self.planned_type)
        _check_int(owner, "move_cost", self.move_cost)

    @property
    def soft(self) -> bool:
        """Whether lateness after ``due`` costs anything."""
        return self.late_cost > 0 and self.due < self.tw_late


@dataclass(frozen=True)
class VehicleType(_Validated):
    """``count`` identical bikes: capacity per load dimension, shift, depots, cost and speed.

    ``profile`` picks the duration/distance matrices the bike rides on (a cargo bike and an
    e-cargo bike differ). ``max_trips`` > 1 lets a bike come back to its start depot to reload
    within its shift (``reload`` seconds each time); ``None`` means as many trips as fit.

    ``break_duration`` > 0: a used bike whose route is still running at ``break_late`` takes
    one break of that length starting within ``[break_early, break_late]``, wherever it is.
    ``duration_cost`` is a cost per second of a route's duration (a span cost that shares
    work out). ``skills`` are what the bikes have (``cooled``, ``trailer``). In a re-plan,
    ``start_location`` is where the bike is now (a location index; its first trip starts
    there at ``shift_start`` and carries no depot parcels).
    """

    count: int = 1
    capacity: tuple[int, ...] = (0,)
    start_depot: int = 0
    end_depot: int | None = None  # None: back to the start depot
    shift_start: int = 0
    shift_end: int = MAX_TIME
    fixed_cost: int = 0
    profile: int = 0
    max_trips: int | None = 1
    reload: int = 0
    name: str = ""
    break_duration: int = 0
    break_early: int = 0
    break_late: int = MAX_TIME
    duration_cost: int = 0
    skills: tuple[str, ...] = ()
    start_location: int | None = None

    def __post_init__(self) -> None:
        owner = f"VehicleType {self.name!r}" if self.name else "VehicleType"
        _check_int(owner, "count", self.count, minimum=1)
        object.__setattr__(self, "capacity", _check_loads(owner, "capacity", self.capacity))
        _check_int(owner, "start_depot", self.start_depot)
        if self.end_depot is None:
            object.__setattr__(self, "end_depot", self.start_depot)
        _check_int(owner, "end_depot", self.end_depot)
        _check_int(owner, "shift_start", self.shift_start)
        _check_int(owner, "shift_end", self.shift_end)
        _check_window(owner, "shift_start", self.shift_start, "shift_end", self.shift_end)
        _check_int(owner, "fixed_cost", self.fixed_cost)
        _check_int(owner, "profile", self.profile)
        if self.max_trips is not None:
            _check_int(owner, "max_trips", self.max_trips, minimum=1)
        _check_int(owner, "reload", self.reload)
        _check_int(owner, "break_duration", self.break_duration)
        _check_int(owner, "break_early", self.break_early)
        _check_int(owner, "break_late", self.break_late)
        _check_window(owner, "break_early", self.break_early, "break_late", self.break_late)
        _check_int(owner, "duration_cost", self.duration_cost)
        object.__setattr__(self, "skills", _check_names(owner, "skills", self.skills))
        _check_optional(owner, "start_location", self.start_location)

    @property
    def return_depot(self) -> int:
        return self.start_depot if self.end_depot is None else self.end_depot


def _check_matrices(name: str, value: Any, n_locations: int | None) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 2:
        array = array[None, :, :]
    if array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise ProblemError(
            f"Problem.{name} must be one square matrix or a stack of them (profile × n × n), "
            f"not of shape {array.shape}"
        )
    if n_locations is not None and array.shape[1] != n_locations:
        raise ProblemError(
            f"Problem.{name} must be {n_locations} × {n_locations} like the other matrices, "
            f"not {array.shape[1]} × {array.shape[2]}"
        )
    fractional = array.size and not np.issubdtype(array.dtype, np.integer)
    if fractional and not (np.all(np.isfinite(array)) and np.all(array == np.round(array))):
        raise ProblemError(f"Problem.{name} must hold integers (seconds, metres)")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        where = np.unravel_index(int(np.argmin(array)), array.shape)
        raise ProblemError(f"Problem.{name}{list(where)} is negative ({array.min()})")
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Problem(_Validated):
    """One delivery window's routing problem.

    ``durations`` and ``distances`` are int64 arrays of shape (profiles, n, n) over location
    indices (a 2-d matrix counts as one profile); depots and clients name their location.
    ``objective`` is what is minimised besides the vehicles' fixed costs. ``dimensions`` names
    the load dimensions (every demand and capacity has one entry per dimension).

    ``pairs`` are (pickup, delivery) client indices of parcels collected on the way (direct
    mode); each client is in at most one pair and both halves carry the same demand.
    ``max_duration_cost`` is a cost per second of the *longest* route (balance: it pulls the
    longest route down rather than the sum).
    """

    depots: tuple[Depot, ...]
    clients: tuple[Client, ...]
    vehicle_types: tuple[VehicleType, ...]
    durations: np.ndarray
    distances: np.ndarray
    objective: Objective = "distance"
    dimensions: tuple[str, ...] = ("load",)
    name: str = ""
    pairs: tuple[tuple[int, int], ...] = ()
    max_duration_cost: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "depots", tuple(self.depots))
        object.__setattr__(self, "clients", tuple(self.clients))
        object.__setattr__(self, "vehicle_types", tuple(self.vehicle_types))
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        if not self.depots:
            raise ProblemError("Problem.depots must hold at least one depot")
        if not self.vehicle_types:
            raise ProblemError("Problem.vehicle_types must hold at least one vehicle type")
        if self.objective not in ("distance", "duration"):
            raise ProblemError(
                f"Problem.objective must be 'distance' or 'duration', not {self.objective!r}"
            )
        durations = _check_matrices("durations", self.durations, None)
        distances = _check_matrices("distances", self.distances, durations.shape[1])
        if distances.shape[0] != durations.shape[0]:
            raise ProblemError(
                f"Problem.distances has {distances.shape[0]} profiles but durations has "
                f"{durations.shape[0]}"
            )
        object.__setattr__(self, "durations", durations)
        object.__setattr__(self, "distances", distances)
        n_locations, n_profiles = durations.shape[1], durations.shape[0]
        n_dims = len(self.dimensions)
        for number, depot in enumerate(self.depots):
            if depot.location >= n_locations:
                raise ProblemError(
                    f"Problem.depots[{number}].location {depot.location} is outside the "
                    f"matrices ({n_locations} locations)"
                )
        for number, client in enumerate(self.clients):
            label = f"Problem.clients[{number}]"
            if client.location >= n_locations:
                raise ProblemError(
                    f"{label}.location {client.location} is outside the matrices "
                    f"({n_locations} locations)"
                )
            if len(client.demand) != n_dims:
                raise ProblemError(
                    f"{label}.demand has {len(client.demand)} values but the problem has "
                    f"{n_dims} load dimensions {self.dimensions}"
                )
            if client.depot >= len(self.depots):
                raise ProblemError(f"{label}.depot {client.depot} is not a depot index")
        for number, vehicle in enumerate(self.vehicle_types):
            label = f"Problem.vehicle_types[{number}]"
            if len(vehicle.capacity) != n_dims:
                raise ProblemError(
                    f"{label}.capacity has {len(vehicle.capacity)} values but the problem has "
                    f"{n_dims} load dimensions {self.dimensions}"
                )
            for name in ("start_depot", "end_depot"):
                if getattr(vehicle, name) >= len(self.depots):
                    raise ProblemError(f"{label}.{name} {getattr(vehicle, name)} is not a depot")
            if vehicle.profile >= n_profiles:
                raise ProblemError(
                    f"{label}.profile {vehicle.profile} is not a matrix profile "
                    f"(there are {n_profiles})"
                )
            if vehicle.start_location is not None and vehicle.start_location >= n_locations:
                raise ProblemError(
                    f"{label}.start_location {vehicle.start_location} is outside the matrices "
                    f"({n_locations} locations)"
                )
        _check_int("Problem", "max_duration_cost", self.max_duration_cost)
        self._check_operations()

    def _check_operations(self) -> None:
        """Pairs, on-board parcels and planned types refer to what exists and fit together."""
        n_types = len(self.vehicle_types)
        pairs = tuple((int(p), int(d)) for p, d in (tuple(pair) for pair in self.pairs))
        object.__setattr__(self, "pairs", pairs)
        seen: set[int] = set()
        for number, (pickup, delivery) in enumerate(pairs):
            label = f"Problem.pairs[{number}]"
            if pickup == delivery:
                raise ProblemError(f"{label}: pickup and delivery are the same client {pickup}")
            for index in (pickup, delivery):
                if not 0 <= index < self.n_clients:
                    raise ProblemError(f"{label}: client {index} is not in the problem")
                if index in seen:
                    raise ProblemError(f"{label}: client {index} is in more than one pair")
                seen.add(index)
            if self.clients[pickup].demand != self.clients[delivery].demand:
                raise ProblemError(
                    f"{label}: the pickup's demand {self.clients[pickup].demand} differs from "
                    f"the delivery's {self.clients[delivery].demand}"
                )
        for number, client in enumerate(self.clients):
            label = f"Problem.clients[{number}]"
            for name in ("on_board", "planned_type"):
                value = getattr(client, name)
                if value is not None and value >= n_types:
                    raise ProblemError(f"{label}.{name} {value} is not a vehicle type index")
            if client.on_board is not None:
                if number in seen:
                    raise ProblemError(f"{label}.on_board: a parcel on board cannot be in a pair")
                if self.vehicle_types[client.on_board].count != 1:
                    raise ProblemError(
                        f"{label}.on_board: vehicle type {client.on_board} must be one bike "
                        f"(count 1), not {self.vehicle_types[client.on_board].count}"
                    )

    @property
    def n_clients(self) -> int:
        return len(self.clients)

    @property
    def n_vehicles(self) -> int:
        return sum(v.count for v in self.vehicle_types)

    @property
    def n_dimensions(self) -> int:
        return len(self.dimensions)

    @property
    def partner(self) -> dict[int, int]:
        """Each paired client's other half."""
        found = {p: d for p, d in self.pairs}
        found.update({d: p for p, d in self.pairs})
        return found

    @property
    def uses_operations(self) -> bool:
        """Whether any feature beyond capacities, windows, releases and reloads is in play."""
        clients = self.clients
        types = self.vehicle_types
        return bool(
            self.pairs
            or self.max_duration_cost
            or any(
                c.soft
                or c.max_ride < MAX_TIME
                or c.requires
                or c.on_board is not None
                or (c.planned_type is not None and c.move_cost)
                for c in clients
            )
            or any(
                t.break_duration or t.duration_cost or t.start_location is not None for t in types
            )
        )

    def cost_matrix(self, profile: int) -> np.ndarray:
        """The matrix the objective sums along routes (distance or duration)."""
        source = self.distances if self.objective == "distance" else self.durations
        return source[profile]


def describe(problem: Problem) -> str:
    """One line for logs: size, fleet and constraints in play."""
    windows = sum(c.tw_early > 0 or c.tw_late < MAX_TIME for c in problem.clients)
    released = sum(c.release > 0 for c in problem.clients)
    multi = any(v.max_trips != 1 for v in problem.vehicle_types)
    return (
        f"{problem.name or 'problem'}: {problem.n_clients} clients, {len(problem.depots)} depots, "
        f"{problem.n_vehicles} vehicles in {len(problem.vehicle_types)} types; "
        f"{windows} time windows, {released} release times" + (", multi-trip" if multi else "")
    )


__all__ = [
    "MAX_TIME",
    "Client",
    "Depot",
    "Objective",
    "Problem",
    "VehicleType",
    "describe",
]
