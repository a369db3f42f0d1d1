"""Benchmark instances in and solutions out: VRPLIB (CVRP, VRPTW) and Solomon's text format.

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

from solver.errors import InstanceFormatError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.result import Result
from solver.schedule import build_result

Rounding = Literal["auto", "round", "dimacs", "exact"]
InstanceFormat = Literal["auto", "vrplib", "solomon"]

SCALES = {"round": 1, "dimacs": 10, "exact": 1000}

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
    """A VRPLIB ``.sol``: routes of customer numbers (1 = the first client) and its cost."""

    routes: list[list[int]]
    cost: float | None


def read_instance(
    path: str | Path,
    *,
    rounding: Rounding = "auto",
    instance_format: InstanceFormat = "auto",
) -> Problem:
    """Read a CVRP/VRPTW instance (VRPLIB ``.vrp`` or Solomon ``.txt``) into a Problem.

    ``instance_format="auto"`` takes Solomon's layout when the second line says VEHICLE.
    Raises ``FileNotFoundError`` for a missing file and :class:`InstanceFormatError` naming
    the file and the section for one that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"instance file not found: {path}")
    text = path.read_text(errors="replace")
    fmt = instance_format if instance_format != "auto" else _guess_format(text)
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
    """The factor ``read_instance`` multiplied distances and times by (1, 10 or 1000)."""
    name = problem if isinstance(problem, str) else problem.name
    match = _SCALED_NAME.match(name)
    return int(match["scale"]) if match else 1


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
    return BenchSolution(routes, float(cost) if isinstance(cost, int | float) else None)


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
    a ``#`` comment line, which VRPLIB readers skip.
    """
    scale = instance_scale(result.problem_name) if scale is None else scale
    lines = [
        f"Route #{number}: " + " ".join(str(c + 1) for c in trip)
        for number, trip in enumerate(result.trip_routes(), start=1)
    ]
    if result.unassigned:
        lines.append("# unassigned: " + " ".join(str(u.client + 1) for u in result.unassigned))
    lines.append(f"Cost {format_objective(result.cost, scale)}")
    Path(path).write_text("\n".join(lines) + "\n")


def format_objective(cost: int, scale: int) -> str:
    """``cost / scale`` written exactly: 8273 at scale 10 is "827.3"."""
    if scale == 1:
        return str(cost)
    digits = round(math.log10(scale))
    return f"{cost / scale:.{digits}f}"


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


def _guess_format(text: str) -> Literal["vrplib", "solomon"]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "solomon" if len(lines) > 1 and lines[1].upper().startswith("VEHICLE") else "vrplib"


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
    "SCALES",
    "BenchSolution",
    "bks_table",
    "format_objective",
    "instance_name",
    "instance_scale",
    "read_instance",
    "read_solution",
    "result_from_solution",
    "write_solution",
]
