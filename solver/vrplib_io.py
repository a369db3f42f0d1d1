"""Benchmark instances in and solutions out: VRPLIB (CVRP, VRPTW), Solomon's and Li & Lim's text.

Rounding is chosen here, once, so the objective matches each benchmark's convention:

- ``"round"``: ``floor(d + 0.5)`` (CVRPLIB's X and Augerat sets); scale 1.
- ``"dimacs"``: ``floor(10·d)``, i.e. distances and travel times truncated to one decimal
  (the DIMACS convention of Solomon's best-known solutions) and kept as integers in tenths;
  service times and time windows are multiplied by 10 too. Scale 10.
- ``"exact"``: ``floor(1000·d + 0.5)``, thousandths: nearly exact euclidean distances (for
  real-valued objectives such as Li & Lim's). Scale 1000.
- ``"auto"``: ``"dimacs"`` when the instance has time windows, else ``"round"``.

Divide an objective by the scale to compare it with a best-known value. A scale other than 1
is carried by ``Problem.name`` (``"C101 ×10 (dimacs)"``); :func:`instance_scale` and
:func:`instance_name` read it back. Travel times equal distances (VRPLIB has no speeds). The
depot's time window becomes the vehicles' shift. With no ``VEHICLES`` the fleet is free: as
many vehicles as clients.

Li & Lim's PDPTW files (``lc101.txt``: a ``K Q S`` header, then one line per task ``id x y
demand early late service pickup delivery``; task 0 is the depot) are read by
:func:`read_lilim` into a problem with ``Problem.pairs``, always in thousandths (scale 1000,
name ``"lc101 ×1000 (lilim)"``): distances ``floor(1000·d + 0.5)``, durations
``floor(1000·d)``. Their objective is vehicles first, then distance, so every vehicle carries a
fixed cost larger than any solution's total distance (:func:`vehicle_fixed_cost`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import vrplib  # type: ignore[import-untyped]

from solver.errors import InstanceFormatError, ProblemError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.result import Result
from solver.schedule import build_result

Rounding = Literal["auto", "round", "dimacs", "exact"]
InstanceFormat = Literal["auto", "vrplib", "solomon", "lilim"]

SCALES = {"round": 1, "dimacs": 10, "exact": 1000}
#: Li & Lim instances are read in thousandths (see :func:`read_lilim`).
LILIM_SCALE = 1000
#: The rounding tag of Li & Lim problems in ``Problem.name`` (``"lc101 ×1000 (lilim)"``).
LILIM_ROUNDING = "lilim"

#: The VRPLIB data sections this reader understands; any other is an error, not ignored.
KNOWN_SECTIONS = frozenset(
    {
        "NODE_COORD",
        "DEMAND",
        "DEPOT",
        "TIME_WINDOW",
        "SERVICE_TIME",
        "RELEASE_TIME",
        "EDGE_WEIGHT",
        "DISPLAY_DATA",
    }
)

_SCALED_NAME = re.compile(r"^(?P<name>.*) ×(?P<scale>\d+) \((?P<rounding>\w+)\)$")


@dataclass(frozen=True)
class BenchSolution:
    """A VRPLIB ``.sol`` (or a SINTEF Li & Lim solution): routes of customer numbers (1 = the
    first client), its cost if the file (or its SINTEF name) gives one, and, for a SINTEF
    file, its instance name and vehicle count."""

    routes: list[list[int]]
    cost: float | None
    instance: str | None = None
    vehicles: int | None = None


@dataclass(frozen=True)
class LiLimTask:
    """One line of a Li & Lim file, as written: task 0 is the depot; a pickup names its
    delivery in ``delivery`` (``pickup`` 0), a delivery its pickup in ``pickup``; a
    delivery's demand is negative."""

    number: int
    x: float
    y: float
    demand: int
    early: float
    late: float
    service: float
    pickup: int
    delivery: int


@dataclass(frozen=True)
class LiLimInstance:
    """A Li & Lim PDPTW file as written: fleet size, capacity, the (ignored) speed column of
    the header and the tasks, ``tasks[0]`` being the depot."""

    name: str
    vehicles: int
    capacity: int
    speed: float
    tasks: tuple[LiLimTask, ...]

    @property
    def requests(self) -> list[tuple[int, int]]:
        """(pickup, delivery) task numbers, in the pickups' order."""
        return [(t.number, t.delivery) for t in self.tasks[1:] if t.delivery]


def read_instance(
    path: str | Path,
    *,
    rounding: Rounding = "auto",
    instance_format: InstanceFormat = "auto",
) -> Problem:
    """Read a CVRP/VRPTW instance (VRPLIB ``.vrp`` or Solomon ``.txt``) or a Li & Lim PDPTW
    ``.txt`` (:func:`read_lilim`) into a Problem.

    ``instance_format="auto"`` takes Solomon's layout when the second line says VEHICLE, and
    Li & Lim's when the first line is three numbers or the second nine. Raises
    ``FileNotFoundError`` for a missing file and :class:`InstanceFormatError` naming the file
    and the section for one that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"instance file not found: {path}")
    text = path.read_text(errors="replace")
    fmt = instance_format if instance_format != "auto" else _guess_format(text)
    if fmt == "lilim":
        return lilim_problem(_parse_lilim(path, text), path=path, rounding=rounding)
    if fmt == "vrplib":
        _check_sections(path, text)
    try:
        data: dict[str, Any] = vrplib.read_instance(
            path, instance_format=fmt, compute_edge_weights=False
        )
    except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as exc:
        raise InstanceFormatError(f"{path}: not a readable {fmt} instance ({exc})") from exc
    if fmt == "solomon":
        data.setdefault("edge_weight_type", "EUC_2D")
        data["dimension"] = len(np.atleast_2d(data.get("node_coord", np.empty((0, 2)))))
    return _build_problem(path, data, rounding)


def instance_scale(problem: Problem | str) -> int:
    """The factor ``read_instance`` multiplied distances and times by (1, 10 or 1000; 1000
    for Li & Lim)."""
    name = problem if isinstance(problem, str) else problem.name
    match = _SCALED_NAME.match(name)
    return int(match["scale"]) if match else 1


def instance_rounding(problem: Problem | str) -> str | None:
    """The rounding tag ``read_instance`` put in the name (``"dimacs"``, ``"exact"``,
    ``"lilim"``), or None for scale 1."""
    name = problem if isinstance(problem, str) else problem.name
    match = _SCALED_NAME.match(name)
    return match["rounding"] if match else None


def vehicles_first(problem: Problem | str) -> bool:
    """Whether the instance's objective is hierarchical (fewest vehicles, then distance), as
    Li & Lim's is: report the vehicle count and ``distance / scale``, not ``cost / scale``."""
    return instance_rounding(problem) == LILIM_ROUNDING


def vehicle_fixed_cost(problem: Problem) -> int:
    """The fixed cost the reader gave each vehicle (0 unless :func:`vehicles_first`)."""
    return max((v.fixed_cost for v in problem.vehicle_types), default=0)


def instance_name(problem: Problem | str) -> str:
    """The instance's name without the scale note (the key of ``bks.csv``)."""
    name = problem if isinstance(problem, str) else problem.name
    match = _SCALED_NAME.match(name)
    return match["name"] if match else name


def read_solution(path: str | Path) -> BenchSolution:
    """Read a VRPLIB ``.sol`` file (routes of customer numbers, and ``Cost`` if given)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"solution file not found: {path}")
    try:
        data = vrplib.read_solution(path)
    except (ValueError, RuntimeError, IndexError) as exc:
        raise InstanceFormatError(f"{path}: not a readable VRPLIB solution ({exc})") from exc
    routes = [[int(c) for c in route] for route in data.get("routes", [])]
    if not routes:
        raise InstanceFormatError(f"{path}: no 'Route #' line")
    cost = data.get("cost")
    value = float(cost) if isinstance(cost, int | float) else None
    named = _SINTEF_NAME.match(path.name)
    instance = data.get("instance name")
    vehicles = None
    if named:  # SINTEF's files are named <instance>.<vehicles>_<distance>.txt
        instance = instance or named["instance"]
        vehicles = int(named["vehicles"])
        if len(routes) != vehicles:
            raise InstanceFormatError(
                f"{path}: {len(routes)} routes, but the file name says {vehicles} vehicles"
            )
        value = float(named["distance"]) if value is None else value
    return BenchSolution(
        routes, value, str(instance).strip() if instance else None, vehicles or None
    )


def result_from_solution(problem: Problem, solution: BenchSolution) -> Result:
    """Cost and check a benchmark solution on ``problem``: each route is one vehicle of type 0.

    Customer numbers outside the problem raise :class:`InstanceFormatError`.
    """
    for route in solution.routes:
        for number in route:
            if not 1 <= number <= problem.n_clients:
                raise InstanceFormatError(
                    f"solution names customer {number}, the instance has {problem.n_clients}"
                )
    served = {c - 1 for route in solution.routes for c in route}
    missing = {c: "not in the solution file" for c in range(problem.n_clients) if c not in served}
    trips = [(0, [[c - 1 for c in route]]) for route in solution.routes]
    return build_result(
        problem, trips, unassigned=missing, backend="file", seed=0, runtime_s=0.0, iterations=0
    )


def write_solution(path: str | Path, result: Result, *, scale: int | None = None) -> None:
    """Write ``result`` as a VRPLIB ``.sol``: ``Route #k: c1 c2 ...`` (customers numbered
    from 1, i.e. client index + 1, as CVRPLIB does), then ``Cost`` divided by ``scale``.

    VRPLIB has no multi-trip routes: each trip is written as its own route line. ``scale``
    defaults to the one carried by ``result.problem_name``. Unassigned clients are listed on
    a ``#`` comment line, which VRPLIB readers skip. For a vehicles first problem (Li & Lim)
    ``Cost`` is the distance alone, as its best-known values are (the route lines give the
    vehicle count), not the fixed costs that rank the vehicles.
    """
    scale = instance_scale(result.problem_name) if scale is None else scale
    cost = result.distance if vehicles_first(result.problem_name) else result.cost
    lines = [
        f"Route #{number}: " + " ".join(str(c + 1) for c in trip)
        for number, trip in enumerate(result.trip_routes(), start=1)
    ]
    if result.unassigned:
        lines.append("# unassigned: " + " ".join(str(u.client + 1) for u in result.unassigned))
    lines.append(f"Cost {format_objective(cost, scale)}")
    Path(path).write_text("\n".join(lines) + "\n")


def format_objective(cost: int, scale: int) -> str:
    """``cost / scale`` written exactly: 8273 at scale 10 is "827.3"."""
    if scale == 1:
        return str(cost)
    digits = round(math.log10(scale))
    return f"{cost / scale:.{digits}f}"


def bks_vehicles_table(folder: str | Path) -> dict[str, int]:
    """Best-known vehicle counts by instance name from ``folder/bks.csv``'s ``bks_vehicles``
    column (Li & Lim's); empty when there is no such column."""
    path = Path(folder) / "bks.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "bks_vehicles" not in reader.fieldnames:
            return {}
        table = {}
        for row in reader:
            value = (row.get("bks_vehicles") or "").strip()
            if value:
                try:
                    table[row["instance"].strip()] = int(value)
                except ValueError as exc:
                    raise InstanceFormatError(
                        f"{path}: bks_vehicles of {row['instance']} is {value!r}, not an integer"
                    ) from exc
    return table


def bks_table(folder: str | Path) -> dict[str, float]:
    """Best-known objectives by instance name from ``folder/bks.csv`` (blank values skipped)."""
    path = Path(folder) / "bks.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"instance", "bks_objective"} <= set(reader.fieldnames):
            raise InstanceFormatError(f"{path}: needs the columns instance and bks_objective")
        table = {}
        for row in reader:
            value = (row.get("bks_objective") or "").strip()
            if value:
                table[row["instance"].strip()] = float(value)
    return table


def _guess_format(text: str) -> Literal["vrplib", "solomon", "lilim"]:
    lines = [line.split() for line in text.splitlines() if line.strip()][:2]
    if len(lines) > 1 and lines[1][0].upper().startswith("VEHICLE"):
        return "solomon"
    numeric = [all(_is_number(token) for token in tokens) for tokens in lines]
    if (numeric[:1] == [True] and len(lines[0]) == 3) or (
        len(lines) > 1 and numeric[1] and len(lines[1]) == 9
    ):
        return "lilim"
    return "vrplib"


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --- Li & Lim -----------------------------------------------------------------------------

_SINTEF_NAME = re.compile(
    r"^(?P<instance>[^.]+)\.(?P<vehicles>\d+)_(?P<distance>\d+(\.\d*)?)\.txt$"
)
_LILIM_COLUMNS = "id x y demand early late service pickup delivery"


def read_lilim(path: str | Path) -> LiLimInstance:
    """Parse a Li & Lim PDPTW file as written (no rounding); :func:`lilim_problem` turns it
    into a Problem. Errors name the file, the line and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"instance file not found: {path}")
    return _parse_lilim(path, path.read_text(errors="replace"))


def _parse_lilim(path: Path, text: str) -> LiLimInstance:
    numbered = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise InstanceFormatError(f"{path}: empty file, not a Li & Lim instance")
    (first, header), rows = numbered[0], numbered[1:]
    if len(header) != 3 or not all(_is_number(x) for x in header):
        raise InstanceFormatError(
            f"{path}: line {first}: the header must be three numbers 'vehicles capacity "
            f"speed', not {' '.join(header)!r}"
        )
    vehicles = _whole(path, first, "vehicles", header[0], minimum=1)
    capacity = _whole(path, first, "capacity", header[1], minimum=0)
    speed = float(header[2])
    if len(rows) < 3:
        raise InstanceFormatError(
            f"{path}: {len(rows)} task lines; a Li & Lim instance needs the depot and at least "
            "one pickup and its delivery"
        )
    tasks = []
    for expected, (line, tokens) in enumerate(rows):
        if len(tokens) != 9 or not all(_is_number(x) for x in tokens):
            raise InstanceFormatError(
                f"{path}: line {line}: a task line is nine numbers ({_LILIM_COLUMNS}), not "
                f"{' '.join(tokens)!r}"
            )
        number = _whole(path, line, "task id", tokens[0], minimum=0)
        if number != expected:
            raise InstanceFormatError(
                f"{path}: line {line}: task id {number}, expected {expected} (tasks are "
                "numbered 0, 1, 2, ... in order, 0 being the depot)"
            )
        x, y, early, late, service = (float(tokens[k]) for k in (1, 2, 4, 5, 6))
        for label, value in (("x", x), ("y", y), ("early", early), ("late", late)):
            if not math.isfinite(value) or (label in ("early", "late") and value < 0):
                raise InstanceFormatError(f"{path}: line {line}: task {number} {label} is {value}")
        if not service >= 0 or not math.isfinite(service):
            raise InstanceFormatError(f"{path}: line {line}: task {number} service is {service}")
        if early > late:
            raise InstanceFormatError(
                f"{path}: line {line}: task {number} time window [{early:g}, {late:g}] is empty"
            )
        tasks.append(
            LiLimTask(
                number=number,
                x=x,
                y=y,
                demand=_whole(path, line, "demand", tokens[3], minimum=None),
                early=early,
                late=late,
                service=service,
                pickup=_whole(path, line, "pickup sibling", tokens[7], minimum=0),
                delivery=_whole(path, line, "delivery sibling", tokens[8], minimum=0),
            )
        )
    instance = LiLimInstance(path.stem, vehicles, capacity, speed, tuple(tasks))
    _check_lilim_pairs(path, instance, [line for line, _ in rows])
    return instance


def _whole(path: Path, line: int, label: str, token: str, *, minimum: int | None) -> int:
    value = float(token)
    if not value.is_integer() or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise InstanceFormatError(
            f"{path}: line {line}: {label} must be an integer{bound}, not {token}"
        )
    return int(value)


def _check_lilim_pairs(path: Path, instance: LiLimInstance, lines: list[int]) -> None:
    """Every task but the depot is one half of exactly one request, and the halves agree."""
    tasks = instance.tasks
    depot = tasks[0]
    if depot.demand or depot.pickup or depot.delivery:
        raise InstanceFormatError(
            f"{path}: line {lines[0]}: the depot (task 0) must have demand 0 and no siblings"
        )
    last = len(tasks) - 1
    for task in tasks[1:]:
        where = f"{path}: line {lines[task.number]}: task {task.number}"
        if bool(task.pickup) == bool(task.delivery):
            raise InstanceFormatError(
                f"{where} names {'both' if task.pickup else 'neither'} a pickup and a delivery "
                "sibling; exactly one is expected"
            )
        sibling = task.delivery or task.pickup
        if not 1 <= sibling <= last or sibling == task.number:
            raise InstanceFormatError(f"{where}: sibling task {sibling} is not another task")
        other = tasks[sibling]
        if task.delivery:
            if other.pickup != task.number or other.delivery:
                raise InstanceFormatError(
                    f"{where} is a pickup delivered by task {sibling}, but task {sibling} "
                    f"names pickup {other.pickup} and delivery {other.delivery}"
                )
            if task.demand < 0 or other.demand != -task.demand:
                raise InstanceFormatError(
                    f"{where}: pickup demand {task.demand} and delivery demand {other.demand} "
                    f"(task {sibling}) must be +q and -q"
                )
        elif other.delivery != task.number:
            raise InstanceFormatError(
                f"{where} is the delivery of task {sibling}, which names delivery {other.delivery}"
            )


def lilim_problem(
    instance: LiLimInstance, *, path: str | Path | None = None, rounding: Rounding = "auto"
) -> Problem:
    """A Li & Lim instance as a velocal Problem, in thousandths of the file's units.

    Depot 0 at location 0; client ``k - 1`` is task ``k`` at location ``k``, with its window,
    service and demand (absolute); ``Problem.pairs`` pairs each pickup with its delivery. The
    fleet is the header's vehicle count and capacity, the depot's window its shift.

    Rounding (scale 1000): distances ``floor(1000·d + 0.5)`` (nearest thousandth: each leg off
    by at most 0.0005, a 100-task solution by well under 0.01 %), durations ``floor(1000·d)``
    (truncated: no ride takes longer than in double precision, so every schedule feasible with
    exact times, the best-known solutions' included, stays feasible), windows and service
    times ``×1000``. Travel time = distance: the header's speed column (0 or 1 in the
    published files) is ignored. ``rounding`` must be ``"auto"`` or ``"exact"``.

    Vehicles first: each vehicle's fixed cost exceeds the longest total distance any solution
    can have (the longest leg out of every client plus, per vehicle, the longest leg out of
    the depot), so one vehicle fewer always wins; report ``distance / 1000``.
    """
    where = Path(path) if path is not None else Path(instance.name)
    if rounding not in ("auto", "exact"):
        raise InstanceFormatError(
            f"{where}: Li & Lim instances are read in thousandths (rounding 'auto' or 'exact'), "
            f"not {rounding!r}"
        )
    scale = LILIM_SCALE
    tasks = instance.tasks
    xy = np.array([(t.x, t.y) for t in tasks], dtype=float)
    distances, durations = _thousandths(xy)
    longest = distances.max(axis=1)
    fixed = int(longest[1:].sum() + instance.vehicles * longest[0] + 1)
    clients = tuple(
        Client(
            location=t.number,
            demand=(abs(t.demand),),
            service=_integer(where, "service", t.service, scale),
            tw_early=_integer(where, "early", t.early, scale),
            tw_late=_integer(where, "late", t.late, scale),
            name=str(t.number),
        )
        for t in tasks[1:]
    )
    depot = tasks[0]
    fleet = VehicleType(
        count=instance.vehicles,
        capacity=(instance.capacity,),
        shift_start=_integer(where, "early", depot.early, scale),
        shift_end=_integer(where, "late", depot.late, scale),
        fixed_cost=fixed,
        name="vehicle",
    )
    try:
        return Problem(
            depots=(Depot(location=0, name="depot"),),
            clients=clients,
            vehicle_types=(fleet,),
            durations=durations,
            distances=distances,
            objective="distance",
            dimensions=("load",),
            name=f"{instance.name} ×{scale} ({LILIM_ROUNDING})",
            pairs=tuple((p - 1, d - 1) for p, d in instance.requests),
        )
    except ProblemError as exc:
        raise InstanceFormatError(f"{where}: {exc}") from exc


def _thousandths(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances ×1000 rounded to nearest, and truncated (for durations); exact
    integer arithmetic when the coordinates are whole numbers."""
    delta = xy[:, None, :] - xy[None, :, :]
    if np.all(xy == np.round(xy)):
        squares = np.rint((delta**2).sum(axis=-1)).astype(np.int64) * 1_000_000
        floor = _isqrt(squares)
        # nearest: floor + 1 when (floor + 1/2)² < n, i.e. (2·floor + 1)² < 4n (never equal)
        nearest = floor + ((2 * floor + 1) ** 2 < 4 * squares).astype(np.int64)
        return nearest, floor
    exact = np.sqrt((delta**2).sum(axis=-1)) * 1000
    return np.floor(exact + 0.5).astype(np.int64), np.floor(exact).astype(np.int64)


def lilim_time_violations(instance: LiLimInstance, routes: Sequence[Sequence[int]]) -> list[str]:
    """The time windows and depot closing a solution breaks in double precision, the
    published convention (no rounding at all); ``routes`` hold client indices (task - 1).

    :func:`lilim_problem` truncates durations, which can only make a schedule earlier; this
    says whether a solution feasible in thousandths is feasible with exact times too.
    """
    tasks = instance.tasks
    found = []
    for number, route in enumerate(routes):
        now, here = tasks[0].early, 0
        for client in route:
            task = tasks[client + 1]
            now += math.hypot(tasks[here].x - task.x, tasks[here].y - task.y)
            start = max(now, task.early)
            if start > task.late:
                found.append(
                    f"route {number}: task {task.number} served at {start:.6f}, after its "
                    f"window closes at {task.late:g}"
                )
            now, here = start + task.service, task.number
        now += math.hypot(tasks[here].x - tasks[0].x, tasks[here].y - tasks[0].y)
        if now > tasks[0].late:
            found.append(
                f"route {number}: back at {now:.6f}, after the depot closes at {tasks[0].late:g}"
            )
    return found


def _check_sections(path: Path, text: str) -> None:
    for line in text.splitlines():
        words = line.strip().split()
        if not words or "_SECTION" not in words[0]:
            continue
        name = words[0].rstrip(":").removesuffix("_SECTION")
        if name not in KNOWN_SECTIONS:
            raise InstanceFormatError(
                f"{path}: unknown VRPLIB section {name}_SECTION (known: "
                f"{', '.join(sorted(s + '_SECTION' for s in KNOWN_SECTIONS))})"
            )


def _build_problem(path: Path, data: dict[str, Any], rounding: Rounding) -> Problem:
    dimension = data.get("dimension")
    if not isinstance(dimension, int) or dimension < 2:
        raise InstanceFormatError(f"{path}: DIMENSION must be an integer >= 2, not {dimension!r}")
    has_windows = "time_window" in data
    chosen = ("dimacs" if has_windows else "round") if rounding == "auto" else rounding
    if chosen not in SCALES:
        raise InstanceFormatError(
            f"{path}: rounding must be auto, round, dimacs or exact, not {rounding!r}"
        )
    scale = SCALES[chosen]
    matrix = _matrix(path, data, dimension, chosen)

    depots = np.atleast_1d(np.asarray(data.get("depot", [0]), dtype=np.int64))
    if depots.size != 1:
        raise InstanceFormatError(
            f"{path}: DEPOT_SECTION lists {depots.size} depots; only one is supported"
        )
    depot = int(depots[0])
    if not 0 <= depot < dimension:
        raise InstanceFormatError(
            f"{path}: DEPOT_SECTION names node {depot + 1}, outside 1..{dimension}"
        )

    demand = _column(path, data, "demand", "DEMAND_SECTION", dimension, required=True)
    service = _column(path, data, "service_time", "SERVICE_TIME_SECTION", dimension)
    release = _column(path, data, "release_time", "RELEASE_TIME_SECTION", dimension)
    windows = _windows(path, data, dimension)
    capacity = data.get("capacity")
    if not isinstance(capacity, int | float) or capacity < 0:
        raise InstanceFormatError(f"{path}: CAPACITY must be a number >= 0, not {capacity!r}")

    clients: list[Client] = []
    for node in range(dimension):
        if node == depot:
            continue
        early, late = windows[node]
        clients.append(
            Client(
                location=node,
                demand=(_integer(path, "DEMAND_SECTION", demand[node], 1),),
                service=_integer(path, "SERVICE_TIME_SECTION", service[node], scale),
                tw_early=_integer(path, "TIME_WINDOW_SECTION", early, scale),
                tw_late=_time_limit(path, late, scale),
                release=_integer(path, "RELEASE_TIME_SECTION", release[node], scale),
                name=str(len(clients) + 1),
            )
        )
    vehicles = data.get("vehicles", len(clients))
    if not isinstance(vehicles, int) or vehicles < 1:
        raise InstanceFormatError(f"{path}: VEHICLES must be an integer >= 1, not {vehicles!r}")
    shift_start, shift_end = windows[depot]
    fleet = VehicleType(
        count=vehicles,
        capacity=(_integer(path, "CAPACITY", capacity, 1),),
        shift_start=_integer(path, "TIME_WINDOW_SECTION", shift_start, scale),
        shift_end=_time_limit(path, shift_end, scale),
        name="vehicle",
    )
    name = path.stem if scale == 1 else f"{path.stem} ×{scale} ({chosen})"
    return Problem(
        depots=(Depot(location=depot, name="depot"),),
        clients=tuple(clients),
        vehicle_types=(fleet,),
        durations=matrix,
        distances=matrix,
        objective="distance",
        dimensions=("load",),
        name=name,
    )


def _matrix(path: Path, data: dict[str, Any], dimension: int, rounding: str) -> np.ndarray:
    kind = str(data.get("edge_weight_type", "")).upper()
    if "edge_weight" in data:
        raw = np.asarray(data["edge_weight"], dtype=float)
        if raw.shape != (dimension, dimension):
            raise InstanceFormatError(
                f"{path}: EDGE_WEIGHT_SECTION gives a {raw.shape} matrix, DIMENSION is {dimension}"
            )
        return _round(raw, rounding)
    if "2D" not in kind:
        raise InstanceFormatError(
            f"{path}: EDGE_WEIGHT_TYPE {kind or '(missing)'} needs an EDGE_WEIGHT_SECTION"
        )
    if "node_coord" not in data:
        raise InstanceFormatError(f"{path}: NODE_COORD_SECTION is missing ({kind} needs it)")
    coords = np.asarray(data["node_coord"], dtype=float)
    if coords.ndim != 2 or coords.shape != (dimension, 2):
        raise InstanceFormatError(
            f"{path}: NODE_COORD_SECTION has {len(coords)} rows of "
            f"{coords.shape[-1] if coords.ndim == 2 else '?'} values; DIMENSION {dimension} "
            "needs that many rows of x y"
        )
    squared = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=-1)
    if rounding == "dimacs" and np.all(coords == np.round(coords)):
        return _isqrt(np.rint(squared * 100).astype(np.int64))
    return _round(np.sqrt(squared), rounding)


def _round(values: np.ndarray, rounding: str) -> np.ndarray:
    if rounding == "round":
        return np.floor(values + 0.5).astype(np.int64)
    if rounding == "dimacs":
        return np.floor(values * 10 + 1e-9).astype(np.int64)
    return np.floor(values * 1000 + 0.5).astype(np.int64)


def _isqrt(squares: np.ndarray) -> np.ndarray:
    """Exact ``floor(sqrt(n))`` for integers: float sqrt, then fixed by one where it is off."""
    root = np.floor(np.sqrt(squares.astype(float))).astype(np.int64)
    root -= (root * root > squares).astype(np.int64)
    root += ((root + 1) * (root + 1) <= squares).astype(np.int64)
    return root


def _column(
    path: Path,
    data: dict[str, Any],
    key: str,
    section: str,
    dimension: int,
    *,
    required: bool = False,
) -> np.ndarray:
    if key not in data:
        if required:
            raise InstanceFormatError(f"{path}: {section} is missing")
        return np.zeros(dimension)
    values = np.atleast_1d(np.asarray(data[key], dtype=float))
    if values.size == 1 and dimension > 1 and section == "SERVICE_TIME_SECTION":
        return np.full(dimension, float(values[0]))  # SERVICE_TIME : s (one value for all)
    if values.shape != (dimension,):
        raise InstanceFormatError(
            f"{path}: {section} has {len(values)} rows, DIMENSION is {dimension}"
        )
    return values


def _windows(path: Path, data: dict[str, Any], dimension: int) -> Sequence[Sequence[float]]:
    if "time_window" not in data:
        return [(0.0, math.inf)] * dimension
    windows = np.asarray(data["time_window"], dtype=float)
    if windows.shape != (dimension, 2):
        raise InstanceFormatError(
            f"{path}: TIME_WINDOW_SECTION has {len(windows)} rows, DIMENSION is {dimension}"
        )
    return windows.tolist()


def _integer(path: Path, section: str, value: Any, scale: int) -> int:
    """``value × scale`` rounded to nearest (exact for values with few decimals)."""
    scaled = float(value) * scale
    if not math.isfinite(scaled) or scaled < 0:
        raise InstanceFormatError(f"{path}: {section} holds {value!r}, not a number >= 0")
    return math.floor(scaled + 0.5)


def _time_limit(path: Path, value: Any, scale: int) -> int:
    return (
        MAX_TIME
        if math.isinf(float(value))
        else _integer(path, "TIME_WINDOW_SECTION", value, scale)
    )


__all__ = [
    "KNOWN_SECTIONS",
    "LILIM_ROUNDING",
    "LILIM_SCALE",
    "SCALES",
    "BenchSolution",
    "LiLimInstance",
    "LiLimTask",
    "bks_table",
    "bks_vehicles_table",
    "format_objective",
    "instance_name",
    "instance_rounding",
    "instance_scale",
    "lilim_problem",
    "lilim_time_violations",
    "read_instance",
    "read_lilim",
    "read_solution",
    "result_from_solution",
    "vehicle_fixed_cost",
    "vehicles_first",
    "write_solution",
]
