"""What a solve returns: routes with their trips and timed stops, unassigned clients, totals.

Every number follows ``docs/solver-contract.md``; :func:`solver.schedule.build_result` is the
one place that computes them from a list of trips, and :func:`solver.checker.check` recomputes
them independently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    """One client visit: when the bike arrives, serves and leaves, and what is left on board."""

    client: int
    arrival: int
    service_start: int
    departure: int
    load_after: tuple[int, ...]


@dataclass(frozen=True)
class Trip:
    """A ride from ``depot`` through ``stops`` back to ``end_depot`` (both depot indices).

    ``load`` is what the trip carries out of the depot, per load dimension; ``departure`` and
    ``return_time`` are when it leaves and gets back.
    """

    depot: int
    end_depot: int
    departure: int
    return_time: int
    stops: tuple[Stop, ...]
    load: tuple[int, ...]

    @property
    def clients(self) -> list[int]:
        return [stop.client for stop in self.stops]


@dataclass(frozen=True)
class Break:
    """A courier's break: taken in trip ``trip`` (from 0) after ``after`` of its stops (0: before
    the first leg), starting at ``start``; it lasts the vehicle type's ``break_duration``."""

    trip: int
    after: int
    start: int


@dataclass(frozen=True)
class Route:
    """The trips of one bike: ``vehicle`` counts within its ``vehicle_type`` from 0.

    ``cost`` includes the type's fixed cost; ``start`` and ``end`` are the first departure and
    the last return, and ``duration`` is their difference. ``rest`` is the break, if taken.
    """

    vehicle_type: int
    vehicle: int
    trips: tuple[Trip, ...]
    distance: int
    duration: int
    cost: int
    start: int
    end: int
    rest: Break | None = None

    @property
    def clients(self) -> list[int]:
        return [client for trip in self.trips for client in trip.clients]


@dataclass(frozen=True)
class Unassigned:
    """A client left out, and why (a reason a dispatcher can act on)."""

    client: int
    reason: str


@dataclass(frozen=True)
class Result:
    """The outcome of one solve. ``feasible`` is false when a hard constraint is violated;
    ``violations`` then says which, one line each. Leaving clients unassigned is feasible.
    """

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    cost: int
    distance: int
    duration: int
    feasible: bool
    runtime_s: float
    iterations: int
    backend: str
    seed: int
    compile_s: float = 0.0
    problem_name: str = ""
    violations: tuple[str, ...] = ()
    #: The anytime curve: (seconds since the search started, cost) each time the best
    #: solution serving every routable client improved. Empty when the backend reports none.
    progress: tuple[tuple[float, int], ...] = ()

    @property
    def n_routes(self) -> int:
        return len(self.routes)

    @property
    def n_trips(self) -> int:
        return sum(len(route.trips) for route in self.routes)

    def client_routes(self, *, depot_marker: int | None = None) -> list[list[int]]:
        """Client indices per route, trips in order; ``depot_marker`` (if given) is put
        between two trips of a route, where the bike goes back to reload."""
        routes = []
        for route in self.routes:
            visits: list[int] = []
            for number, trip in enumerate(route.trips):
                if number and depot_marker is not None:
                    visits.append(depot_marker)
                visits.extend(trip.clients)
            routes.append(visits)
        return routes

    def trip_routes(self) -> list[list[int]]:
        """Client indices per trip, as if each trip were its own route (VRPLIB's view)."""
        return [trip.clients for route in self.routes for trip in route.trips]

    def summary(self) -> str:
        """One line for logs and the CLI."""
        name = f"{self.problem_name}: " if self.problem_name else ""
        trips = f" ({self.n_trips} trips)" if self.n_trips != self.n_routes else ""
        state = "feasible" if self.feasible else f"INFEASIBLE ({len(self.violations)} violations)"
        compile_note = f", {self.compile_s:.1f} s compiling" if self.compile_s else ""
        return (
            f"{name}cost {self.cost}, {self.n_routes} routes{trips}, "
            f"{len(self.unassigned)} unassigned, {state}; {self.backend} seed {self.seed}, "
            f"{self.iterations} iterations in {self.runtime_s:.2f} s{compile_note}"
        )


__all__ = ["Break", "Result", "Route", "Stop", "Trip", "Unassigned"]
