"""Re-planning benchmark: a delivery window in Lauf, re-planned as orders come and a courier quits.

Run from the project root::

    python -m benchmarks.replan_bench [--extract PATH] [--time-limit 1.5] [--scratch-limit 10]
        [--initial-limit 3] [--orders 150] [--pickups 30] [--late 20] [--batches 4]
        [--couriers 8] [--move-cost 300] [--position finish-leg|last-stop] [--seed 0]
        [--no-scratch] [--no-plot] [--out benchmarks/results/]

or ``velocal bench replan`` with the same options.

The scenario (seeded, reproducible): Lauf an der Pegnitz's cargo-bike graph, a hub at the
junction nearest the middle of the town's addresses, ``--orders`` orders to real addresses of
the offline address index — most of them hub parcels (ready at the hub at a release time),
``--pickups`` of them direct orders picked up at one of a dozen real shops of the index
(``Problem.pairs``) — with weights (kg) and parcel counts, service times and delivery windows
of one or two hours in a three-hour shift, and ``--couriers`` cargo bikes (100 kg, 10 parcels
a trip, back to the hub to reload). Every duration and distance comes from one
``routing.travel_matrix`` between the snapped points, computed once before anything is timed.

1. The initial plan at the window's start, with the orders known then (``--late`` orders are
   still to come): ``solve(..., time_limit_s=--initial-limit)``.
2. The plan is executed exactly as timed. At each re-plan time T (one per batch of late orders,
   every shift/(batches+2)): stops whose service started by T are done; parcels picked up and
   not delivered, and the depot parcels of a trip that has left the hub, are on board. A
   courier serving a stop is there until its departure; one riding (or waiting) at T finishes
   that leg — it is at the next stop (not done yet) from its planned arrival, or back at the
   hub at its planned return (``--position finish-leg``, the default). ``--position
   last-stop`` puts it back at its last done stop (or the hub) at T instead, as if the ride
   so far had not happened: the rest of its plan may then be late, the warm start breaks.
   At the re-plan nearest the shift's halfway mark the busiest courier drops out: its bike
   rides back to the hub, the parcels on it become hub parcels released when it can be there,
   and its other work is reassigned. The re-plan problem has every courier as a count-1
   vehicle type starting where and when it is free, every open stop with ``planned_type`` (its
   courier in the current plan) and ``move_cost``, and the current plan's remaining trips as
   ``initial``; it is solved with ``--time-limit`` seconds.
3. The same problem is also solved from scratch (no ``initial``, no move costs,
   ``--scratch-limit`` seconds). Both results are compared on the same cost, arcs + fixed,
   recomputed on their routes (move costs excluded), and both go through ``solver.check`` and
   the re-plan invariants: on-board parcels stay on their bike's first trip, no done stop
   reappears, every route starts at its courier's position and free time, the dropped courier
   has no route.

Output: a progress line per step, a table of the re-plans, summary lines (time per re-plan
against the 2 s target, stops that changed courier, the warm/scratch cost ratio), and in
``--out``: ``replan-<timestamp>.json`` (every figure) and ``replan-<timestamp>.png`` (the
routes before and after the drop-out re-plan, with time and cost ratio per re-plan). Exit
status 1 when a check or an invariant fails, 2 on a usage error (e.g. a missing extract).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from benchmarks._measure import PROJECT_ROOT
from solver.checker import check
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.result import Result
from solver.schedule import build_result
from solver.solve import solve

if TYPE_CHECKING:
    from routing import BikeGraph

DEFAULT_EXTRACT = (
    Path(os.environ.get("VELOCAL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    / "osm"
    / "lauf-an-der-pegnitz_2020-01-15.osm.pbf"
)
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results"
#: The time a re-plan (building the problem and solving it) should stay under.
TARGET_S = 2.0
#: Seconds between the hub's opening and the window: 14:00 on the clock.
SHIFT_START = 14 * 3600
QUARTER = 900
#: A delivery window ends this long before the shift, so the courier can ride back.
WINDOW_MARGIN = QUARTER
#: Shop kinds of the index that sell goods a cargo bike can take to a customer's door.
RETAIL = frozenset(
    {
        "bakery", "beverages", "bicycle", "books", "boutique", "butcher", "chemist", "clothes",
        "computer", "convenience", "cosmetics", "deli", "doityourself", "electronics", "fabric",
        "fashion", "florist", "gift", "greengrocer", "hardware", "houseware", "interior_decoration",
        "jewelry", "medical_supply", "music", "optician", "outdoor", "pet", "pharmacy", "shoes",
        "sports", "stationery", "supermarket", "tea", "toys", "variety_store", "wine",
    }
)  # fmt: skip
#: How many of the town's shops take direct orders.
N_SHOPS = 12
#: Issues printed at the end of a run (the JSON has them all).
MAX_ISSUE_LINES = 12

Kind = Literal["hub", "pickup", "delivery"]


# --- the scenario ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One stop of an order: a hub parcel's delivery, or a direct order's pickup or delivery.

    ``release`` is when a hub parcel is ready at the hub, or a pickup at its shop; ``known_at``
    when the order arrives (the window's start for the orders planned first).
    """

    id: int
    order: int
    kind: Kind
    location: int
    demand: tuple[int, ...]
    service: int
    tw_early: int
    tw_late: int
    release: int
    known_at: int
    partner: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Courier:
    """One cargo bike and its rider: capacity per trip, shift, reload time at the hub."""

    id: int
    name: str
    capacity: tuple[int, ...]
    shift_start: int
    shift_end: int
    reload: int = 300
    fixed_cost: int = 600


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything the simulation needs: matrices over location indices, orders and couriers.

    ``lon``/``lat`` (per location, optional) are only for the map. ``drop_at`` is the index in
    ``replan_times`` of the re-plan where one courier drops out (None: nobody does).
    """

    name: str
    durations: np.ndarray
    distances: np.ndarray
    hub: int
    tasks: tuple[Task, ...]
    couriers: tuple[Courier, ...]
    replan_times: tuple[int, ...]
    drop_at: int | None
    shift_start: int
    shift_end: int
    dimensions: tuple[str, ...] = ("kg", "parcels")
    objective: Literal["distance", "duration"] = "duration"
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    location_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for number, task in enumerate(self.tasks):
            if task.id != number:
                raise ValueError(f"task {number} has id {task.id}: ids must be their positions")

    @property
    def n_orders(self) -> int:
        return len({task.order for task in self.tasks})


@dataclass(frozen=True)
class ScenarioConfig:
    """The scenario's sizes; ``seed`` draws the addresses, shops, orders and late arrivals."""

    orders: int = 150
    pickups: int = 30
    late: int = 20
    batches: int = 4
    couriers: int = 8
    capacity: tuple[int, ...] = (100, 10)
    shift_hours: float = 3.0
    seed: int = 0

    def problems(self) -> list[str]:
        """What is wrong with the sizes, one line each (empty when they make a scenario)."""
        found = []
        if self.orders < 1 or self.couriers < 1 or self.batches < 1:
            found.append("orders, couriers and batches must be at least 1")
        if not 0 <= self.pickups <= self.orders or not 0 <= self.late <= self.orders:
            found.append("pickups and late orders must be between 0 and the number of orders")
        if self.shift_hours < 1.5:
            found.append("the shift must last at least 1.5 hours")
        return found


def replan_schedule(shift_start: int, shift_end: int, batches: int) -> tuple[tuple[int, ...], int]:
    """Re-plan times (one per batch, evenly spaced, the last well before the end) and the
    index of the one nearest the shift's halfway mark (the drop-out)."""
    step = (shift_end - shift_start) // (batches + 2)
    times = tuple(shift_start + (k + 1) * step for k in range(batches))
    halfway = (shift_start + shift_end) / 2
    return times, min(range(batches), key=lambda k: abs(times[k] - halfway))


def generate_orders(
    rng: np.random.Generator,
    *,
    addresses: Sequence[int],
    shops: Sequence[int],
    config: ScenarioConfig,
    replan_times: Sequence[int],
    shift_start: int,
    shift_end: int,
    names: Sequence[str] = (),
) -> tuple[Task, ...]:
    """Draw the orders: which are direct pickups, which arrive late, their demands and windows.

    Hub parcels weigh 1–25 kg (mostly a few), direct orders 1–30 kg; one to three parcels.
    Orders known at the start get a one- or two-hour window on the quarter hour; late orders
    a window starting 20–35 minutes after they arrive. Hub parcels are ready at the hub at the
    start or up to an hour later (never after their window opens); late ones ten minutes after
    they arrive, like a late direct order at its shop.
    """
    n = config.orders
    direct = set(rng.choice(n, size=config.pickups, replace=False).tolist())
    late = rng.permutation(rng.choice(n, size=config.late, replace=False))
    known = dict.fromkeys(range(n), shift_start)
    previous = shift_start
    for batch, until in zip(np.array_split(late, len(replan_times)), replan_times, strict=True):
        for order in batch.tolist():
            known[order] = int(rng.integers(previous + 1, until + 1))
        previous = until
    last_end = shift_end - WINDOW_MARGIN
    tasks: list[Task] = []
    for order in range(n):
        at = known[order]
        parcels = int(rng.choice([1, 2, 3], p=[0.7, 0.2, 0.1]))
        if at == shift_start:
            length = int(rng.choice([3600, 7200]))
            slots = max(0, (last_end - length - shift_start) // QUARTER)
            early = shift_start + QUARTER * int(rng.integers(0, slots + 1))
            late_end = min(early + length, last_end)
            ready = min(shift_start + QUARTER * int(rng.integers(0, 5)), early)
        else:
            early = -(-(at + 1200) // QUARTER) * QUARTER
            late_end = min(early + 3600, last_end)
            early = max(at, min(early, late_end - 1800))
            ready = at + 600
        where = addresses[order]
        label = names[where] if names else f"location {where}"
        if order in direct:
            kg = int(np.clip(round(rng.lognormal(math.log(6), 0.6)), 1, 30))
            shop = int(shops[int(rng.integers(0, len(shops)))])
            pickup, delivery = len(tasks), len(tasks) + 1
            shop_label = names[shop] if names else f"location {shop}"
            tasks.append(
                Task(
                    id=pickup,
                    order=order,
                    kind="pickup",
                    location=shop,
                    demand=(kg, parcels),
                    service=int(rng.integers(120, 301)),
                    tw_early=shift_start,
                    tw_late=late_end,
                    release=min(ready, early),
                    known_at=at,
                    partner=delivery,
                    label=f"#{order} pickup at {shop_label}",
                )
            )
            tasks.append(
                Task(
                    id=delivery,
                    order=order,
                    kind="delivery",
                    location=where,
                    demand=(kg, parcels),
                    service=int(rng.integers(60, 181)),
                    tw_early=early,
                    tw_late=late_end,
                    release=shift_start,
                    known_at=at,
                    partner=pickup,
                    label=f"#{order} to {label}",
                )
            )
        else:
            kg = int(np.clip(round(rng.lognormal(math.log(4), 0.7)), 1, 25))
            tasks.append(
                Task(
                    id=len(tasks),
                    order=order,
                    kind="hub",
                    location=where,
                    demand=(kg, parcels),
                    service=int(rng.integers(60, 181)),
                    tw_early=early,
                    tw_late=late_end,
                    release=ready,
                    known_at=at,
                    label=f"#{order} to {label}",
                )
            )
    return tuple(tasks)


def make_couriers(config: ScenarioConfig, shift_start: int, shift_end: int) -> tuple[Courier, ...]:
    """``config.couriers`` identical cargo bikes for the whole shift."""
    return tuple(
        Courier(
            id=k,
            name=f"courier {k + 1}",
            capacity=config.capacity,
            shift_start=shift_start,
            shift_end=shift_end,
        )
        for k in range(config.couriers)
    )


def synthetic_scenario(config: ScenarioConfig, *, n_shops: int = 3) -> Scenario:
    """A small made-up town (points on a 3 km square, 15 km/h, Manhattan rides): no OSM needed.

    Location 0 is the hub in the middle, then ``n_shops`` shops, then one address per order.
    """
    rng = np.random.default_rng(config.seed)
    n = 1 + n_shops + config.orders
    xy = rng.uniform(0, 3000, size=(n, 2))
    xy[0] = (1500, 1500)
    metres = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2).round().astype(np.int64)
    seconds = np.round(metres / (15 / 3.6)).astype(np.int64)
    shift_end = SHIFT_START + int(config.shift_hours * 3600)
    times, drop = replan_schedule(SHIFT_START, shift_end, config.batches)
    names = ("hub", *(f"shop {k}" for k in range(n_shops)), *(f"door {k}" for k in range(n)))
    tasks = generate_orders(
        rng,
        addresses=range(1 + n_shops, n),
        shops=range(1, 1 + n_shops),
        config=config,
        replan_times=times,
        shift_start=SHIFT_START,
        shift_end=shift_end,
        names=names,
    )
    return Scenario(
        name="synthetic town",
        durations=seconds,
        distances=metres,
        hub=0,
        tasks=tasks,
        couriers=make_couriers(config, SHIFT_START, shift_end),
        replan_times=times,
        drop_at=drop,
        shift_start=SHIFT_START,
        shift_end=shift_end,
        lon=xy[:, 0],
        lat=xy[:, 1],
        location_names=names,
    )


def lauf_scenario(
    extract: Path, config: ScenarioConfig, *, profile: str = "cargo_bike"
) -> tuple[Scenario, dict[str, Any], BikeGraph]:
    """The scenario on a real town's extract (Lauf by default), its set-up figures, the graph.

    The hub is the graph junction nearest the median of the addresses; customers are distinct
    addresses of the offline index, shops named retail shops of it (``RETAIL`` kinds).
    The travel matrix between the snapped hub, shops and addresses is computed here, once.
    """
    from routing import load_address_index, load_graph, snap_points, travel_matrix

    started = time.perf_counter()
    graph = load_graph(extract, profile)
    index = load_address_index(extract)
    loaded = time.perf_counter() - started
    arrays = index.to_arrays()
    rng = np.random.default_rng(config.seed)
    kinds, shop_kinds = arrays["kind"], arrays["shop_kind"]
    lon, lat = arrays["lon"], arrays["lat"]
    near = snap_points(graph, lon, lat, max_distance_m=1e7).distance_m <= 100
    door_rows = np.flatnonzero((kinds == "address") & near)
    named = (arrays["name"] != "") & np.isin(shop_kinds, sorted(RETAIL))
    shop_rows = np.flatnonzero((kinds == "shop") & named & near)
    if door_rows.size < config.orders or (config.pickups and shop_rows.size == 0):
        raise ValueError(
            f"{extract.name}: {door_rows.size} addresses and {shop_rows.size} shops near the "
            f"network, too few for {config.orders} orders"
        )
    hub_node = _central_node(graph, np.median(lon[door_rows]), np.median(lat[door_rows]))
    shops = rng.choice(shop_rows, size=min(N_SHOPS, shop_rows.size), replace=False)
    doors = rng.choice(door_rows, size=config.orders, replace=False)
    rows = np.concatenate([shops, doors])
    point_lon = np.concatenate([[graph.node_lon[hub_node]], lon[rows]])
    point_lat = np.concatenate([[graph.node_lat[hub_node]], lat[rows]])
    points = snap_points(graph, point_lon, point_lat)
    matrix_started = time.perf_counter()
    matrix = travel_matrix(graph, points)
    matrix_s = time.perf_counter() - matrix_started
    durations = np.where(matrix.duration_s < 0, MAX_TIME, matrix.duration_s)
    distances = np.where(matrix.distance_m < 0, MAX_TIME, matrix.distance_m)
    names = ("hub", *(_entry_name(arrays, int(r)) for r in rows))
    shift_end = SHIFT_START + int(config.shift_hours * 3600)
    times, drop = replan_schedule(SHIFT_START, shift_end, config.batches)
    n_shops = shops.size
    tasks = generate_orders(
        rng,
        addresses=range(1 + n_shops, 1 + n_shops + config.orders),
        shops=range(1, 1 + n_shops),
        config=config,
        replan_times=times,
        shift_start=SHIFT_START,
        shift_end=shift_end,
        names=names,
    )
    scenario = Scenario(
        name=graph.name,
        durations=durations,
        distances=distances,
        hub=0,
        tasks=tasks,
        couriers=make_couriers(config, SHIFT_START, shift_end),
        replan_times=times,
        drop_at=drop,
        shift_start=SHIFT_START,
        shift_end=shift_end,
        lon=points.snapped_lon,
        lat=points.snapped_lat,
        location_names=names,
    )
    info = {
        "extract": str(extract),
        "profile": profile,
        "graph_nodes": graph.n_nodes,
        "graph_edges": graph.n_edges,
        "addresses_in_index": index.n_addresses,
        "shops_in_index": index.n_shops,
        "hub": {"node": int(hub_node), "lon": float(point_lon[0]), "lat": float(point_lat[0])},
        "shops": [names[1 + k] for k in range(n_shops)],
        "locations": len(names),
        "load_s": round(loaded, 3),
        "matrix_s": round(matrix_s, 3),
        "median_ride_s": float(np.median(durations[~np.eye(len(names), dtype=bool)])),
        "longest_ride_s": int(durations.max()),
    }
    return scenario, info, graph


def _central_node(graph: BikeGraph, lon: float, lat: float) -> int:
    """The junction (a node with three or more neighbours) nearest to (lon, lat)."""
    ends = np.sort(np.column_stack([graph.sources, graph.targets]), axis=1)
    streets = np.unique(ends[ends[:, 0] != ends[:, 1]], axis=0)
    neighbours = np.bincount(streets.ravel(), minlength=graph.n_nodes)
    scale = math.cos(math.radians(lat))
    far = ((graph.node_lon - lon) * scale) ** 2 + (graph.node_lat - lat) ** 2
    junctions = np.where(neighbours >= 3, far, np.inf)
    return int(np.argmin(junctions if np.isfinite(junctions).any() else far))


def _entry_name(arrays: Mapping[str, np.ndarray], row: int) -> str:
    address = f"{arrays['street'][row]} {arrays['housenumber'][row]}".strip()
    name = str(arrays["name"][row])
    if name:
        return f"{name} ({address})" if address else name
    return address or f"{float(arrays['lat'][row]):.5f},{float(arrays['lon'][row]):.5f}"


# --- the simulation --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStop:
    """A stop of the plan in force, timed as the solver scheduled it."""

    task: int
    arrival: int
    service_start: int
    departure: int


@dataclass(frozen=True)
class PlannedTrip:
    """One trip of a courier's plan: from the hub (``from_hub``) or from where it was."""

    from_hub: bool
    departure: int
    return_time: int
    stops: tuple[PlannedStop, ...]


@dataclass(frozen=True)
class CourierState:
    """Where a courier is at a re-plan and from when it is free; what it carries.

    ``at_hub``: at the hub with nothing on board (its next trip may load hub parcels);
    otherwise it is out at ``location`` (maybe the hub's, riding out) with ``on_board``.
    """

    courier: int
    location: int
    free_at: int
    at_hub: bool
    on_board: tuple[int, ...] = ()


@dataclass(frozen=True)
class Done:
    """A stop whose service started by a re-plan time: it happened as planned."""

    task: int
    courier: int
    arrival: int
    service_start: int
    departure: int


@dataclass(frozen=True)
class Progress:
    """A courier's plan executed up to a time: its state then, what it did, what is left.

    ``remaining`` holds the rest of the plan as trips of task ids; the first is the trip the
    courier is on (possibly empty: riding back to the hub) unless it is at the hub.
    """

    state: CourierState
    done: tuple[Done, ...]
    remaining: tuple[tuple[int, ...], ...]


def start_state(courier: Courier, hub: int) -> CourierState:
    """A courier at the hub before the window, free from its shift's start."""
    return CourierState(courier.id, hub, courier.shift_start, at_hub=True)


def loads_at_hub(scenario: Scenario, task: int, rehomed: Collection[int]) -> bool:
    """Whether the parcel of ``task`` waits at the hub (a hub parcel, or one taken back there)."""
    return scenario.tasks[task].kind == "hub" or task in rehomed


#: How a re-plan places a courier who is riding at T: where the ride ends, at its planned
#: arrival ("finish-leg"), or back at its last done stop (or the hub) at T ("last-stop").
PositionRule = Literal["finish-leg", "last-stop"]
POSITION_RULES: tuple[str, ...] = ("finish-leg", "last-stop")


def advance(
    scenario: Scenario,
    state: CourierState,
    trips: Sequence[PlannedTrip],
    until: int,
    rehomed: Collection[int] = (),
    rule: PositionRule = "finish-leg",
) -> Progress:
    """Execute a courier's plan as timed up to ``until``.

    A stop is done when its service started by ``until``; a trip from the hub that has left
    by then carries its hub parcels; a pickup done puts its delivery on board. With
    ``last-stop`` the courier is at its last done stop (or the hub, when it has left with no
    stop done or got back), free from max(``until``, that stop's departure) or its return
    plus the reload. That undoes the part of a ride already made, so the rest of the plan may
    no longer be on time; ``finish-leg`` (the default) lets a courier who is riding or waiting
    at ``until`` finish that leg: it is at the next stop (not done yet) from its planned
    arrival, or back at the hub at its planned return, and the rest of the plan still works.
    """
    courier = scenario.couriers[state.courier]
    location, free, at_hub = state.location, state.free_at, state.at_hub
    carried = list(state.on_board)
    done: list[Done] = []
    remaining: list[tuple[int, ...]] = []
    finish = rule == "finish-leg"
    for number, trip in enumerate(trips):
        later = [tuple(s.task for s in t.stops) for t in trips[number + 1 :]]
        if trip.from_hub:
            if trip.departure > until:
                remaining = [tuple(s.task for s in trip.stops), *later]
                break
            location, free, at_hub = scenario.hub, trip.departure, False
            carried += [s.task for s in trip.stops if loads_at_hub(scenario, s.task, rehomed)]
        left = next((k for k, s in enumerate(trip.stops) if s.service_start > until), None)
        set_off = trip.departure  # when the courier left for the next stop or the hub
        for stop in trip.stops[:left]:
            done.append(
                Done(stop.task, state.courier, stop.arrival, stop.service_start, stop.departure)
            )
            task = scenario.tasks[stop.task]
            location, free, set_off = task.location, stop.departure, stop.departure
            if task.kind == "pickup":
                assert task.partner is not None
                carried.append(task.partner)
            else:
                carried.remove(stop.task)
        if left is not None:
            remaining = [tuple(s.task for s in trip.stops[left:]), *later]
            if finish and set_off <= until:  # on the way to (or waiting at) the next stop
                location = scenario.tasks[trip.stops[left].task].location
                free = trip.stops[left].arrival
            break
        if trip.return_time > until and not (finish and set_off <= until):
            remaining = [(), *later]
            break
        location, free, at_hub = scenario.hub, trip.return_time + courier.reload, True
        if trip.return_time > until:  # riding back: let it get there
            remaining = later
            break
    if not carried and location == scenario.hub:
        at_hub = True  # riding out with nothing yet on board: as good as at the hub
    if at_hub:
        while remaining and not remaining[0]:
            remaining.pop(0)
    new_state = CourierState(
        state.courier, location, max(free, until), at_hub, tuple(sorted(carried))
    )
    return Progress(new_state, tuple(done), tuple(remaining))


def back_at_hub(scenario: Scenario, state: CourierState) -> int:
    """When a courier who stops now can be back at the hub with what it carries."""
    if state.at_hub:
        return state.free_at
    return state.free_at + int(scenario.durations[state.location, scenario.hub])


def busiest(progress: Mapping[int, Progress]) -> int:
    """The courier with the most work left (stops still planned); the first such on a tie."""
    return min(progress, key=lambda c: (-sum(len(t) for t in progress[c].remaining), c))


# --- re-plan problems ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Replan:
    """A re-plan's problem and how its indices map back to the scenario.

    ``tasks[client]`` is the task of each client, ``couriers[type]`` the courier of each vehicle
    type, ``states[type]`` where that courier starts; ``planned[client]`` the courier the
    client was planned on before (None: new, unassigned before, or the dropped courier's).
    """

    problem: Problem
    tasks: tuple[int, ...]
    couriers: tuple[int, ...]
    states: tuple[CourierState, ...]
    planned: tuple[int | None, ...]
    initial: tuple[tuple[int, tuple[tuple[int, ...], ...]], ...]


def open_tasks(
    scenario: Scenario, until: int, done: Collection[int], states: Sequence[CourierState]
) -> list[int]:
    """The stops still to do at ``until``: known by then, not done (on-board ones included)."""
    carried = {task for state in states for task in state.on_board}
    return [
        task.id
        for task in scenario.tasks
        if task.id not in done and (task.known_at <= until or task.id in carried)
    ]


def build_replan(
    scenario: Scenario,
    states: Sequence[CourierState],
    tasks: Sequence[int],
    *,
    planned: Mapping[int, int] | None = None,
    remaining: Mapping[int, Sequence[Sequence[int]]] | None = None,
    rehomed: Mapping[int, int] | None = None,
    move_cost: int = 0,
    name: str = "",
) -> Replan:
    """The routing problem of the open ``tasks`` for the couriers in ``states``.

    Each courier is a count-1 vehicle type from its position at its free time (from the hub
    when it is there); a pickup not done yet keeps its delivery as a pair; a delivery whose
    pickup is done, and a hub parcel on a trip that has left, are on board their courier;
    ``rehomed`` parcels (the dropped courier's) wait at the hub again from the given time.
    ``planned`` (task → courier) sets ``planned_type`` and ``move_cost``; ``remaining``
    (courier → trips of tasks) is the warm start, restricted to the clients of this problem.
    """
    planned = planned or {}
    rehomed = rehomed or {}
    type_of = {state.courier: t for t, state in enumerate(states)}
    carrier = {task: type_of[state.courier] for state in states for task in state.on_board}
    position = {task: c for c, task in enumerate(tasks)}
    clients: list[Client] = []
    pairs: list[tuple[int, int]] = []
    planned_couriers: list[int | None] = []
    for task_id in tasks:
        task = scenario.tasks[task_id]
        on_board = carrier.get(task_id)
        before = planned.get(task_id)
        planned_type = type_of.get(before) if before is not None else None
        if task.kind == "pickup" and task_id not in rehomed:
            assert task.partner is not None
            assert task.partner in position
            pairs.append((position[task_id], position[task.partner]))
        elif (
            task.kind == "delivery"
            and on_board is None
            and task_id not in rehomed
            and task.partner not in position
        ):
            raise ValueError(f"task {task_id}: its pickup is done but nobody carries it")
        clients.append(
            Client(
                location=task.location,
                demand=task.demand,
                service=task.service,
                tw_early=task.tw_early,
                tw_late=task.tw_late,
                release=rehomed.get(task_id, task.release),
                name=task.label,
                on_board=on_board,
                planned_type=on_board if on_board is not None else planned_type,
                move_cost=move_cost if planned_type is not None else 0,
            )
        )
        planned_couriers.append(before if planned_type is not None else None)
    vehicle_types = tuple(
        VehicleType(
            count=1,
            capacity=courier.capacity,
            start_depot=0,
            shift_start=min(state.free_at, courier.shift_end),
            shift_end=courier.shift_end,
            fixed_cost=courier.fixed_cost,
            max_trips=None,
            reload=courier.reload,
            name=courier.name,
            start_location=None if state.at_hub else state.location,
        )
        for state in states
        for courier in (scenario.couriers[state.courier],)
    )
    problem = Problem(
        depots=(Depot(scenario.hub, opens=scenario.shift_start, closes=scenario.shift_end),),
        clients=tuple(clients),
        vehicle_types=vehicle_types,
        durations=scenario.durations,
        distances=scenario.distances,
        objective=scenario.objective,
        dimensions=scenario.dimensions,
        name=name or scenario.name,
        pairs=tuple(pairs),
    )
    initial = []
    for t, state in enumerate(states):
        trips = [
            tuple(position[task] for task in trip if task in position)
            for trip in (remaining or {}).get(state.courier, ())
        ]
        while trips and not trips[-1]:
            trips.pop()
        if trips:
            initial.append((t, tuple(trips)))
    return Replan(
        problem=problem,
        tasks=tuple(tasks),
        couriers=tuple(state.courier for state in states),
        states=tuple(states),
        planned=tuple(planned_couriers),
        initial=tuple(initial),
    )


def plan_of(replan: Replan, result: Result) -> dict[int, list[PlannedTrip]]:
    """A result as the plan in force: each courier's timed trips, in scenario task ids."""
    plan: dict[int, list[PlannedTrip]] = {courier: [] for courier in replan.couriers}
    for route in result.routes:
        plan[replan.couriers[route.vehicle_type]] = [
            PlannedTrip(
                from_hub=trip.depot != -1,
                departure=trip.departure,
                return_time=trip.return_time,
                stops=tuple(
                    PlannedStop(replan.tasks[s.client], s.arrival, s.service_start, s.departure)
                    for s in trip.stops
                ),
            )
            for trip in route.trips
        ]
    return plan


def served_by(replan: Replan, result: Result) -> dict[int, tuple[int, int]]:
    """Task → (courier, trip number) of every stop the result serves."""
    return {
        replan.tasks[client]: (replan.couriers[route.vehicle_type], number)
        for route in result.routes
        for number, trip in enumerate(route.trips)
        for client in trip.clients
    }


def arc_cost(problem: Problem, result: Result) -> int:
    """Fixed costs plus every leg's cost, recomputed on the result's routes (no move costs)."""
    total = 0
    hub = problem.depots[0].location
    for route in result.routes:
        vt = problem.vehicle_types[route.vehicle_type]
        matrix = problem.cost_matrix(vt.profile)
        total += vt.fixed_cost
        for number, trip in enumerate(route.trips):
            away = number == 0 and vt.start_location is not None
            at = int(vt.start_location) if away and vt.start_location is not None else hub
            for client in trip.clients:
                here = problem.clients[client].location
                total += int(matrix[at, here])
                at = here
            total += int(matrix[at, hub])
    return total


def replan_issues(
    replan: Replan, result: Result, *, done: Collection[int], dropped: Collection[int]
) -> list[str]:
    """What is wrong with a re-plan's result: the checker's violations and the invariants.

    Invariants: every on-board parcel rides on its own bike's first trip (and is not left
    out), no done stop is in the problem, every route starts at its courier's position and
    free time (at or after it, from the hub), no route belongs to a dropped courier.
    """
    problem = replan.problem
    names = [vt.name for vt in problem.vehicle_types]
    issues = [f"checker: {v}" for v in check(problem, result).violations]
    for task in replan.tasks:
        if task in done:
            issues.append(f"task {task} is done but is in the problem again")
    where: dict[int, tuple[int, int]] = {}
    for route in result.routes:
        t = route.vehicle_type
        state = replan.states[t]
        vt = problem.vehicle_types[t]
        if replan.couriers[t] in dropped:
            issues.append(f"{names[t]} dropped out but has a route")
        first = route.trips[0]
        if state.at_hub:
            if first.depot == -1 or first.departure < state.free_at or route.start < state.free_at:
                issues.append(
                    f"{names[t]}: first trip leaves depot {first.depot} at "
                    f"{clock(first.departure)}, not the hub at or after {clock(state.free_at)}"
                )
        elif (
            vt.start_location != state.location
            or first.depot != -1
            or first.departure != state.free_at
            or route.start != state.free_at
        ):
            issues.append(
                f"{names[t]}: first trip leaves location {vt.start_location} (depot "
                f"{first.depot}) at {clock(first.departure)}, not location {state.location} at "
                f"{clock(state.free_at)}"
            )
        for number, trip in enumerate(route.trips):
            for client in trip.clients:
                where[client] = (t, number)
    reasons = {u.client: u.reason for u in result.unassigned}
    for client, spec in enumerate(problem.clients):
        if spec.on_board is None:
            continue
        label = f"task {replan.tasks[client]} ({spec.name}), on board {names[spec.on_board]},"
        if client not in where:
            issues.append(f"{label} is left unassigned: {reasons.get(client, '?')}")
        elif where[client] != (spec.on_board, 0):
            t, number = where[client]
            issues.append(f"{label} rides with {names[t]} on trip {number}")
    return issues


# --- the benchmark ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Seconds per solve: the initial plan, each warm re-plan, each from-scratch re-solve."""

    initial_s: float = 3.0
    replan_s: float = 1.5
    scratch_s: float = 10.0


@dataclass
class StepRow:
    """One step of the run: the initial plan (``step`` 0) or a re-plan, and its figures."""

    step: int
    clock: str
    time: int
    new_orders: int
    open_stops: int
    on_board: int
    couriers: int
    dropped: str
    wall_s: float
    build_s: float
    solve_s: float
    iterations: int
    cost: int
    arc_cost: int
    unassigned: int
    changed: int
    moved_from_dropped: int
    planned_left_out: int
    scratch_wall_s: float | None = None
    scratch_arc_cost: int | None = None
    scratch_unassigned: int | None = None
    scratch_changed: int | None = None
    ratio: float | None = None
    feasible: bool = True
    scratch_feasible: bool | None = None
    #: Whether the warm start (the plan in force, restricted to the problem) breaks no rule.
    warm_start_ok: bool | None = None
    issues: list[str] = field(default_factory=list)
    #: "task (label): reason" of every stop the re-plan left out.
    unassigned_stops: list[str] = field(default_factory=list)


def clock(seconds: int) -> str:
    """Seconds since midnight as HH:MM:SS (HH:MM on the minute)."""
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def warm_start_ok(replan: Replan) -> bool:
    """Whether the warm start, scheduled as it is, keeps every rule (new stops aside)."""
    used = {c for _, trips in replan.initial for trip in trips for c in trip}
    result = build_result(
        replan.problem,
        [(t, [list(trip) for trip in trips]) for t, trips in replan.initial],
        unassigned={c: "new" for c in range(replan.problem.n_clients) if c not in used},
        backend="warm start",
        seed=0,
        runtime_s=0.0,
        iterations=0,
    )
    return result.feasible


def _left_out(replan: Replan, result: Result) -> list[str]:
    return [
        f"task {replan.tasks[u.client]} ({replan.problem.clients[u.client].name}): {u.reason}"
        for u in result.unassigned
    ]


def _changes(replan: Replan, served: Mapping[int, tuple[int, int]]) -> tuple[int, int]:
    """Stops served by another courier than planned, and planned stops now left out."""
    changed = left_out = 0
    for client, before in enumerate(replan.planned):
        if before is None:
            continue
        now = served.get(replan.tasks[client])
        if now is None:
            left_out += 1
        elif now[0] != before:
            changed += 1
    return changed, left_out


def run_benchmark(
    scenario: Scenario,
    *,
    limits: Limits,
    move_cost: int = 300,
    seed: int = 0,
    console: Console | None = None,
    scratch: bool = True,
    rule: PositionRule = "finish-leg",
) -> dict[str, Any]:
    """Plan, execute and re-plan the scenario's window; return every figure of the run.

    Compilation of the solver's kernels happens first and is timed on its own; matrices are
    the scenario's, computed before. ``scratch=False`` skips the from-scratch re-solves;
    ``rule`` is how riding couriers are placed (see :func:`advance`).
    """
    from solver.operations import warm_up

    console = console or Console(quiet=True)
    compile_s = warm_up()
    console.print(f"solver kernels ready in {compile_s:.2f} s (not part of any timing)")
    states = {c.id: start_state(c, scenario.hub) for c in scenario.couriers}
    done: dict[int, Done] = {}
    rehomed: dict[int, int] = {}
    dropped: list[int] = []
    rows: list[StepRow] = []
    maps: dict[str, Any] = {}
    now = scenario.shift_start

    started = time.perf_counter()
    tasks = open_tasks(scenario, now, done, list(states.values()))
    replan = build_replan(scenario, list(states.values()), tasks, name="initial plan")
    built = time.perf_counter()
    result = solve(replan.problem, time_limit_s=limits.initial_s, seed=seed)
    wall = time.perf_counter() - started
    issues = replan_issues(replan, result, done=done, dropped=dropped)
    rows.append(
        StepRow(
            step=0,
            clock=clock(now),
            time=now,
            new_orders=len({scenario.tasks[t].order for t in tasks}),
            open_stops=len(tasks),
            on_board=0,
            couriers=len(states),
            dropped="",
            wall_s=wall,
            build_s=built - started,
            solve_s=result.runtime_s,
            iterations=result.iterations,
            cost=result.cost,
            arc_cost=arc_cost(replan.problem, result),
            unassigned=len(result.unassigned),
            unassigned_stops=_left_out(replan, result),
            changed=0,
            moved_from_dropped=0,
            planned_left_out=0,
            feasible=not issues,
            issues=issues,
        )
    )
    _print_step(console, rows[-1])
    plan = plan_of(replan, result)

    for number, until in enumerate(scenario.replan_times, start=1):
        progress = {
            c: advance(scenario, states[c], plan.get(c, []), until, rehomed, rule) for c in states
        }
        for item in progress.values():
            for stop in item.done:
                if stop.task in done:
                    raise AssertionError(f"task {stop.task} done twice")
                done[stop.task] = stop
        states = {c: item.state for c, item in progress.items()}
        remaining = {c: item.remaining for c, item in progress.items()}
        leaving = ""
        drop_tasks: set[int] = set()
        if scenario.drop_at is not None and number - 1 == scenario.drop_at and len(states) > 1:
            quit_courier = busiest(progress)
            gone = states.pop(quit_courier)
            back = back_at_hub(scenario, gone)
            rehomed.update(dict.fromkeys(gone.on_board, back))
            drop_tasks = {t for trip in remaining.pop(quit_courier) for t in trip}
            drop_tasks |= set(gone.on_board)
            dropped.append(quit_courier)
            leaving = scenario.couriers[quit_courier].name
            maps["before"] = _map_state(scenario, progress, until)
            console.print(
                f"        {leaving} drops out at {clock(until)}: {len(gone.on_board)} parcels "
                f"on board go back to the hub (ready {clock(back)}), "
                f"{len(drop_tasks) - len(gone.on_board)} more stops to reassign"
            )
        planned = {task: c for c, trips in remaining.items() for trip in trips for task in trip} | {
            task: state.courier for state in states.values() for task in state.on_board
        }
        new = [t for t in scenario.tasks if _arrived(t, scenario, number)]
        started = time.perf_counter()
        tasks = open_tasks(scenario, until, done, list(states.values()))
        replan = build_replan(
            scenario,
            list(states.values()),
            tasks,
            planned=planned,
            remaining=remaining,
            rehomed=rehomed,
            move_cost=move_cost,
            name=f"re-plan {number}",
        )
        built = time.perf_counter()
        result = solve(
            replan.problem, time_limit_s=limits.replan_s, seed=seed, initial=replan.initial
        )
        wall = time.perf_counter() - started
        served = served_by(replan, result)
        changed, left_out = _changes(replan, served)
        issues = replan_issues(replan, result, done=done, dropped=dropped)
        row = StepRow(
            step=number,
            clock=clock(until),
            time=until,
            new_orders=len({t.order for t in new}),
            open_stops=len(tasks),
            on_board=sum(c.on_board is not None for c in replan.problem.clients),
            couriers=len(states),
            dropped=leaving,
            wall_s=wall,
            build_s=built - started,
            solve_s=result.runtime_s,
            iterations=result.iterations,
            cost=result.cost,
            arc_cost=arc_cost(replan.problem, result),
            unassigned=len(result.unassigned),
            unassigned_stops=_left_out(replan, result),
            warm_start_ok=warm_start_ok(replan),
            changed=changed,
            moved_from_dropped=sum(1 for t in drop_tasks if t in served),
            planned_left_out=left_out,
            feasible=not issues,
            issues=issues,
        )
        if scratch:
            fresh = build_replan(
                scenario, list(states.values()), tasks, rehomed=rehomed, name=f"scratch {number}"
            )
            again = solve(fresh.problem, time_limit_s=limits.scratch_s, seed=seed)
            scratch_issues = replan_issues(fresh, again, done=done, dropped=dropped)
            row.scratch_wall_s = again.runtime_s
            row.scratch_arc_cost = arc_cost(fresh.problem, again)
            row.scratch_unassigned = len(again.unassigned)
            row.scratch_changed = _changes(replan, served_by(fresh, again))[0]
            row.ratio = row.arc_cost / row.scratch_arc_cost if row.scratch_arc_cost else None
            row.scratch_feasible = not scratch_issues
            row.issues += [f"scratch: {issue}" for issue in scratch_issues]
        rows.append(row)
        _print_step(console, row)
        plan = plan_of(replan, result)
        if leaving:
            maps["after"] = _map_plan(scenario, replan, plan)

    final = _finish(scenario, states, plan, done, rehomed)
    report = {
        "scenario": _scenario_summary(scenario),
        "limits": asdict(limits),
        "move_cost": move_cost,
        "position_rule": rule,
        "seed": seed,
        "compile_s": round(compile_s, 3),
        "steps": [asdict(row) for row in rows],
        "final": final,
        "summary": summarise(rows),
        "dropped": [scenario.couriers[c].name for c in dropped],
        "maps": maps,
    }
    return report


def _arrived(task: Task, scenario: Scenario, number: int) -> bool:
    """Whether the order of ``task`` arrived in the batch of re-plan ``number`` (from 1)."""
    before = scenario.replan_times[number - 2] if number > 1 else scenario.shift_start
    return before < task.known_at <= scenario.replan_times[number - 1]


def _finish(
    scenario: Scenario,
    states: Mapping[int, CourierState],
    plan: Mapping[int, Sequence[PlannedTrip]],
    done: dict[int, Done],
    rehomed: Mapping[int, int],
) -> dict[str, Any]:
    """Execute the last plan to its end; check every stop happened once, in order, in time."""
    problems: list[str] = []
    for courier, state in states.items():
        end = advance(scenario, state, plan.get(courier, []), MAX_TIME, rehomed)
        for stop in end.done:
            if stop.task in done:
                problems.append(f"task {stop.task} done twice")
            done[stop.task] = stop
        for left in end.state.on_board:
            problems.append(
                f"task {left} ({scenario.tasks[left].label}) is still on board "
                f"{scenario.couriers[courier].name} when the plan ends"
            )
    for stop in done.values():
        task = scenario.tasks[stop.task]
        if stop.service_start > task.tw_late or stop.service_start < task.tw_early:
            problems.append(f"task {task.id} served at {stop.service_start} outside its window")
        if task.kind == "delivery" and task.partner is not None:
            pickup = done.get(task.partner)
            if pickup is None:
                problems.append(f"task {task.id} delivered but never picked up")
            elif pickup.service_start > stop.service_start:
                problems.append(f"task {task.id} delivered before its pickup")
            elif pickup.courier != stop.courier and task.id not in rehomed:
                problems.append(f"task {task.id} picked up and delivered by different couriers")
    delivered = {t.order for t in scenario.tasks if t.kind != "pickup" and t.id in done}
    return {
        "orders": scenario.n_orders,
        "delivered": len(delivered),
        "not_delivered": sorted(set(range(scenario.n_orders)) - delivered),
        "last_return": clock(max((t[-1].return_time for t in plan.values() if t), default=0)),
        "problems": problems,
    }


def summarise(rows: Sequence[StepRow]) -> dict[str, Any]:
    """Mean and max re-plan time against the target, stops changed, mean cost ratio."""
    replans = [row for row in rows if row.step > 0]
    times = [row.wall_s for row in replans]
    ratios = [row.ratio for row in replans if row.ratio is not None]
    same = [
        row.ratio
        for row in replans
        if row.ratio is not None and row.unassigned == row.scratch_unassigned
    ]
    return {
        "replans": len(replans),
        "mean_s": statistics.fmean(times) if times else None,
        "max_s": max(times) if times else None,
        "target_s": TARGET_S,
        "under_target": all(t < TARGET_S for t in times),
        "changed": sum(row.changed for row in replans),
        "moved_from_dropped": sum(row.moved_from_dropped for row in replans),
        "scratch_changed": sum(row.scratch_changed or 0 for row in replans),
        "unassigned_last": replans[-1].unassigned if replans else rows[-1].unassigned,
        "mean_ratio": statistics.fmean(ratios) if ratios else None,
        "max_ratio": max(ratios) if ratios else None,
        "mean_ratio_same_unassigned": statistics.fmean(same) if same else None,
        "same_unassigned": len(same),
        "warm_starts_on_time": sum(bool(row.warm_start_ok) for row in replans),
        "on_board_left_out": sum(
            1
            for row in rows
            for i in row.issues
            if "is left unassigned" in i and "scratch" not in i
        ),
        "scratch_on_board_left_out": sum(
            1 for row in rows for i in row.issues if "is left unassigned" in i and "scratch" in i
        ),
        "all_ok": all(not row.issues for row in rows),
    }


def _scenario_summary(scenario: Scenario) -> dict[str, Any]:
    kinds = [t.kind for t in scenario.tasks]
    late = {t.order for t in scenario.tasks if t.known_at > scenario.shift_start}
    return {
        "name": scenario.name,
        "orders": scenario.n_orders,
        "hub_parcels": kinds.count("hub"),
        "direct_orders": kinds.count("pickup"),
        "late_orders": len(late),
        "couriers": len(scenario.couriers),
        "capacity": list(scenario.couriers[0].capacity) if scenario.couriers else [],
        "dimensions": list(scenario.dimensions),
        "objective": scenario.objective,
        "shift": [clock(scenario.shift_start), clock(scenario.shift_end)],
        "replan_times": [clock(t) for t in scenario.replan_times],
        "drop_at": (
            clock(scenario.replan_times[scenario.drop_at]) if scenario.drop_at is not None else None
        ),
        "locations": int(scenario.durations.shape[0]),
        "total_kg": sum(t.demand[0] for t in scenario.tasks if t.kind != "pickup"),
    }


# --- output ----------------------------------------------------------------------------------


def _print_step(console: Console, row: StepRow) -> None:
    """The progress line of one step."""
    what = "initial plan" if row.step == 0 else f"re-plan {row.step}"
    scratch = ""
    if row.scratch_arc_cost is not None:
        scratch = (
            f"; scratch {row.scratch_arc_cost} in {row.scratch_wall_s:.1f} s "
            f"({row.scratch_unassigned} unassigned), ratio {row.ratio:.3f}"
        )
    state = "ok" if not row.issues else f"[red]{len(row.issues)} issues[/red]"
    console.print(
        f"[{row.step}] {row.clock} {what}: {row.new_orders} new orders, {row.open_stops} open "
        f"stops ({row.on_board} on board), {row.couriers} couriers; {row.wall_s:.2f} s, "
        f"cost {row.arc_cost}, {row.changed} changed, {row.unassigned} unassigned{scratch}; "
        f"{state}"
    )


def results_table(report: dict[str, Any]) -> Table:
    """One row per step: time, stability, stops left out, warm and from-scratch cost."""
    table = Table(
        title=f"Re-planning benchmark — {report['scenario']['name']}",
        caption="cost = fixed + legs (riding seconds), move costs excluded; "
        "* = the two solves left different numbers of stops out",
    )
    columns: list[tuple[str, JustifyMethod]] = [
        ("step", "left"),
        ("clock", "left"),
        ("new", "right"),
        ("open", "right"),
        ("on board", "right"),
        ("bikes", "right"),
        ("warm start", "left"),
        ("time s", "right"),
        ("changed", "right"),
        ("dropped: moved", "right"),
        ("left out", "right"),
        ("cost", "right"),
        ("scratch cost", "right"),
        ("scratch left out", "right"),
        ("scratch changed", "right"),
        ("ratio", "right"),
        ("checks", "left"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name in ("checks", "dropped: moved"))
    for row in report["steps"]:
        table.add_row(
            "plan" if row["step"] == 0 else str(row["step"]),
            row["clock"],
            str(row["new_orders"]),
            str(row["open_stops"]),
            str(row["on_board"]),
            str(row["couriers"]),
            {None: "", True: "on time", False: "broken"}[row["warm_start_ok"]],
            f"{row['wall_s']:.2f}",
            str(row["changed"]) if row["step"] else "",
            f"{row['dropped']}: {row['moved_from_dropped']}" if row["dropped"] else "",
            str(row["unassigned"]),
            str(row["arc_cost"]),
            _or_blank(row["scratch_arc_cost"]),
            _or_blank(row["scratch_unassigned"]),
            _or_blank(row["scratch_changed"]),
            _ratio_cell(row),
            "ok" if not row["issues"] else f"{len(row['issues'])} fail",
        )
    return table


def _ratio_cell(row: Mapping[str, Any]) -> str:
    """The cost ratio; starred when the two solves left different numbers of stops out."""
    if row["ratio"] is None:
        return ""
    star = "*" if row["unassigned"] != row["scratch_unassigned"] else ""
    return f"{row['ratio']:.3f}{star}"


def _or_blank(value: object) -> str:
    return "" if value is None else str(value)


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The table, the summary lines and any issue found."""
    console.print(results_table(report))
    summary, final = report["summary"], report["final"]
    if summary["replans"]:
        verdict = "under" if summary["under_target"] else "[red]NOT under[/red]"
        console.print(
            f"time per re-plan (build + solve): mean {summary['mean_s']:.2f} s, max "
            f"{summary['max_s']:.2f} s — {verdict} the {TARGET_S:.0f} s target"
        )
        console.print(
            f"stops that changed courier: {summary['changed']} (a from-scratch re-solve would "
            f"have changed {summary['scratch_changed']}); the dropped courier's stops moved to "
            f"others: {summary['moved_from_dropped']}; warm starts still on time: "
            f"{summary['warm_starts_on_time']} of {summary['replans']}"
        )
        if summary["on_board_left_out"] or summary["scratch_on_board_left_out"]:
            console.print(
                f"[red]parcels on board left unassigned by the solver: "
                f"{summary['on_board_left_out']} in the re-plans, "
                f"{summary['scratch_on_board_left_out']} in the from-scratch re-solves[/red]"
            )
    if summary["mean_ratio"] is not None:
        same = summary["mean_ratio_same_unassigned"]
        console.print(
            f"cost warm re-plan / from scratch (arcs + fixed, on the same routes' legs): mean "
            f"{summary['mean_ratio']:.3f}, max {summary['max_ratio']:.3f}"
            + (
                f"; mean {same:.3f} over the {summary['same_unassigned']} re-plans where both "
                "left as many stops unassigned (the others are starred)"
                if same is not None and summary["same_unassigned"] < summary["replans"]
                else ""
            )
        )
    console.print(
        f"delivered {final['delivered']} of {final['orders']} orders; last bike back at "
        f"{final['last_return']}"
    )
    lines = [f"step {row['step']}: {issue}" for row in report["steps"] for issue in row["issues"]]
    lines += [f"execution: {problem}" for problem in final["problems"]]
    for line in lines[:MAX_ISSUE_LINES]:
        console.print(f"[red]{escape(line)}[/red]")
    if len(lines) > MAX_ISSUE_LINES:
        console.print(f"[red]… and {len(lines) - MAX_ISSUE_LINES} more (all in the JSON)[/red]")


def _map_state(scenario: Scenario, progress: Mapping[int, Progress], until: int) -> dict[str, Any]:
    """Each courier's position and the rest of its plan, as location indices, for the map."""
    couriers = {}
    for courier, item in progress.items():
        state = item.state
        path = [state.location]
        for number, trip in enumerate(item.remaining):
            if number or state.at_hub:
                path.append(scenario.hub)
            path += [scenario.tasks[t].location for t in trip]
            path.append(scenario.hub)
        couriers[str(courier)] = {"position": state.location, "path": path}
    return {"time": clock(until), "couriers": couriers}


def _map_plan(
    scenario: Scenario, replan: Replan, plan: Mapping[int, Sequence[PlannedTrip]]
) -> dict[str, Any]:
    couriers = {}
    for t, courier in enumerate(replan.couriers):
        state = replan.states[t]
        path = [state.location]
        for trip in plan.get(courier, []):
            if trip.from_hub:
                path.append(scenario.hub)
            path += [scenario.tasks[s.task].location for s in trip.stops]
            path.append(scenario.hub)
        couriers[str(courier)] = {"position": state.location, "path": path}
    return {"couriers": couriers}


def write_json(report: dict[str, Any], out: Path, stamp: str) -> Path:
    """``replan-<stamp>.json``: every figure of the run."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"replan-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"not JSON: {value!r}")


def write_plot(
    report: dict[str, Any], scenario: Scenario, out: Path, stamp: str, graph: BikeGraph | None
) -> Path:
    """``replan-<stamp>.png``: the routes before and after the drop-out re-plan (when one
    happened and the locations have coordinates), and time and cost ratio per re-plan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    maps = report["maps"]
    drawn = "before" in maps and "after" in maps and scenario.lon is not None
    fig = plt.figure(figsize=(18, 7.5) if drawn else (8, 5))
    grid = fig.add_gridspec(1, 3 if drawn else 1, width_ratios=[1, 1, 0.8] if drawn else [1])
    if drawn:
        assert scenario.lon is not None
        assert scenario.lat is not None
        lon, lat = scenario.lon, scenario.lat
        colours = plt.get_cmap("tab10")
        dropped = {str(c.id) for c in scenario.couriers if c.name in report["dropped"]}
        for panel, key in enumerate(("before", "after")):
            ax = fig.add_subplot(grid[0, panel])
            if graph is not None:
                lines = [np.column_stack(graph.edge_shape(e)) for e in range(graph.n_edges)]
                ax.add_collection(LineCollection(lines, colors="0.85", linewidths=0.5))
            for courier, item in maps[key]["couriers"].items():
                path = item["path"]
                gone = courier in dropped
                colour = "black" if gone else colours(int(courier) % 10)
                ax.plot(
                    lon[path],
                    lat[path],
                    color=colour,
                    linewidth=1.2,
                    linestyle="--" if gone else "-",
                    alpha=0.8,
                    label=scenario.couriers[int(courier)].name + (" (drops)" if gone else ""),
                )
                ax.scatter(lon[path[1:]], lat[path[1:]], s=8, color=colour, zorder=3)
                ax.scatter(
                    lon[item["position"]],
                    lat[item["position"]],
                    s=60,
                    marker="X" if gone else "o",
                    color=colour,
                    edgecolors="white",
                    zorder=4,
                )
            ax.scatter(
                lon[scenario.hub],
                lat[scenario.hub],
                s=180,
                marker="*",
                color="gold",
                edgecolors="black",
                zorder=5,
                label="hub",
            )
            when = maps["before"]["time"]
            title = "plan in force" if key == "before" else "re-plan"
            note = " (dashed: the courier who drops out)" if key == "before" else ""
            ax.set_title(f"{title} at {when}: rest of each courier's route{note}", fontsize=9)
            ax.set_aspect(1 / np.cos(np.radians(float(np.mean(lat)))) if graph else "equal")
            ax.set_axis_off()
            if key == "before":
                ax.legend(loc="lower left", fontsize=7)
        if graph is not None:
            fig.text(0.01, 0.01, "© OpenStreetMap contributors (ODbL)", fontsize=7)
    ax = fig.add_subplot(grid[0, -1])
    steps = [row for row in report["steps"] if row["step"] > 0]
    labels = [row["clock"] + ("\n(drop)" if row["dropped"] else "") for row in steps]
    x = np.arange(len(steps))
    ax.bar(x, [row["wall_s"] for row in steps], color="steelblue", label="re-plan time (s)")
    ax.axhline(TARGET_S, color="crimson", linestyle=":", label=f"{TARGET_S:.0f} s target")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("seconds (build + solve)")
    ratios = [row["ratio"] for row in steps]
    if any(r is not None for r in ratios):
        twin = ax.twinx()
        twin.plot(
            x,
            [r if r is not None else np.nan for r in ratios],
            "o-",
            color="darkorange",
            label="cost warm / scratch",
        )
        twin.set_ylabel("cost ratio warm / from scratch")
        twin.axhline(1.0, color="darkorange", linewidth=0.5)
        twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("time and cost ratio per re-plan", fontsize=9)
    fig.suptitle(
        f"velocal re-planning benchmark — {scenario.name}, {scenario.n_orders} orders, "
        f"{len(scenario.couriers)} couriers",
        fontsize=11,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"replan-{stamp}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults, limits = ScenarioConfig(), Limits()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.replan_bench",
        description="Re-plan a delivery window in Lauf as orders arrive and a courier drops out.",
    )
    parser.add_argument("--extract", type=Path, default=DEFAULT_EXTRACT, help="OSM extract")
    parser.add_argument("--orders", type=int, default=defaults.orders)
    parser.add_argument(
        "--pickups", type=int, default=defaults.pickups, help="orders picked up at a shop"
    )
    parser.add_argument(
        "--late", type=int, default=defaults.late, help="orders arriving during the window"
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=defaults.batches,
        help="batches of late orders, one re-plan each",
    )
    parser.add_argument("--couriers", type=int, default=defaults.couriers)
    parser.add_argument(
        "--initial-limit", type=float, default=limits.initial_s, help="seconds for the initial plan"
    )
    parser.add_argument(
        "--time-limit", type=float, default=limits.replan_s, help="seconds per warm re-plan"
    )
    parser.add_argument(
        "--scratch-limit",
        type=float,
        default=limits.scratch_s,
        help="seconds per from-scratch re-solve",
    )
    parser.add_argument("--no-scratch", action="store_true", help="skip the from-scratch re-solves")
    parser.add_argument(
        "--move-cost",
        type=int,
        default=300,
        help="cost of moving a stop to another courier (seconds of riding)",
    )
    parser.add_argument(
        "--position",
        choices=POSITION_RULES,
        default="finish-leg",
        help="where a courier riding at a re-plan starts: where its ride ends (finish-leg) or "
        "back at its last done stop at the re-plan time (last-stop)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for JSON and PNG")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    return parser.parse_args(argv)


def _usage_error(args: argparse.Namespace, config: ScenarioConfig) -> str | None:
    if not args.extract.is_file():
        return f"extract not found: {args.extract} (pass --extract PATH or set VELOCAL_SHARED_DATA)"
    if min(args.initial_limit, args.time_limit, args.scratch_limit) <= 0:
        return "time limits must be > 0"
    if args.move_cost < 0:
        return "--move-cost must be >= 0"
    found = config.problems()
    return found[0] if found else None


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Run the benchmark; print, write JSON and the plot. Exit 1 on a failed check, 2 on usage."""
    args = parse_args(argv)
    config = ScenarioConfig(
        orders=args.orders,
        pickups=args.pickups,
        late=args.late,
        batches=args.batches,
        couriers=args.couriers,
        seed=args.seed,
    )
    problem = _usage_error(args, config)
    if problem:
        print(f"replan_bench: error: {problem}", file=sys.stderr)
        return 2
    if console is None:
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 160)
    limits = Limits(args.initial_limit, args.time_limit, args.scratch_limit)
    console.print(f"[bold]velocal re-planning benchmark[/bold] on {args.extract}")
    scenario, info, graph = lauf_scenario(args.extract, config)
    console.print(
        f"{scenario.name}: {info['graph_nodes']:,} junctions; hub at "
        f"{info['hub']['lat']:.5f},{info['hub']['lon']:.5f}; {len(info['shops'])} shops, "
        f"{config.orders} addresses; {info['locations']}×{info['locations']} matrix computed "
        f"once up front in {info['matrix_s']:.2f} s (graph and index loaded in "
        f"{info['load_s']:.2f} s; none of this is in the timings below); median ride "
        f"{info['median_ride_s'] / 60:.1f} min"
    )
    summary = _scenario_summary(scenario)
    console.print(
        f"{summary['orders']} orders ({summary['direct_orders']} direct from a shop, "
        f"{summary['late_orders']} arriving late), {summary['total_kg']} kg; "
        f"{summary['couriers']} couriers ({summary['capacity'][0]} kg, "
        f"{summary['capacity'][1]} parcels a trip), shift {summary['shift'][0]}–"
        f"{summary['shift'][1]}; re-plans at {', '.join(summary['replan_times'])}, one courier "
        f"drops out at {summary['drop_at']}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    report = run_benchmark(
        scenario,
        limits=limits,
        move_cost=args.move_cost,
        seed=args.seed,
        console=console,
        scratch=not args.no_scratch,
        rule=args.position,
    )
    from benchmarks.routing_bench import machine_info

    report["setup"] = info
    report["config"] = {
        k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()
    }
    report["machine"] = machine_info()
    report["load_average"] = {"start": round(load, 2), "end": round(os.getloadavg()[0], 2)}
    report["date"] = dt.datetime.now().isoformat(timespec="seconds")
    print_report(console, report)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = write_json(report, args.out, stamp)
    console.print(f"wrote {path}")
    if not args.no_plot:
        console.print(f"wrote {write_plot(report, scenario, args.out, stamp, graph)}")
    ok = report["summary"]["all_ok"] and not report["final"]["problems"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
