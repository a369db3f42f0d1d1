"""Solver benchmark: velocal's search against OR-Tools, PyVRP and VROOM on published instance sets
(CVRP, Solomon's VRPTW, Li & Lim's PDPTW).

Run from the project root::

    python -m benchmarks.solver_bench --instances ../shared/data/bench/augerat
        [--time-limit 10] [--solvers velocal,ortools,pyvrp,vroom] [--limit N]
        [--pattern 'A-*'] [--seed 0] [--out benchmarks/results/]

or ``velocal bench solver`` with the same options.

How the figures are made:

- Every instance is solved by every solver **one at a time**, never two solves in parallel,
  each with the same wall-clock limit and seed, on one thread (VROOM is told ``nb_threads=1``).
- velocal's JIT is warmed up first (``solver.search.warm_up()``) and that cold compile time is
  reported on its own, so no instance's runtime carries it.
- Every solution, the peers' too, goes through velocal's independent checker
  (``solver.checker.check``): feasibility, cost and distance are the checker's, never a
  solver's own claim. velocal and OR-Tools (a velocal backend) return a velocal ``Result``;
  PyVRP's and VROOM's routes come back as client indices (:mod:`benchmarks.peers`) and are
  turned into a ``Result`` by ``solver.schedule.build_result``, which schedules them under
  velocal's contract (docs/solver-contract.md) and counts the cost afresh.
- The objective is given in the instance's own convention: the checker's integer cost divided
  by the reader's scale (Solomon distances are scaled by 10 and truncated, DIMACS style; X and
  Augerat are rounded euclidean at scale 1). Gap to the best-known solution in the folder's
  ``bks.csv``: ``100 * (objective - bks) / bks``.
- A row counts as feasible when the checker finds no violation and every client is served.
- Li & Lim (pickup and delivery, ``Problem.pairs``) is ranked vehicles first, then distance:
  each row gives the vehicle count and the distance (the checker's distance / 1000; the fixed
  cost per vehicle the reader adds is left out), the vehicle gap (ours − BKS vehicles) and the
  distance gap to ``bks_objective``. Wins compare (vehicles, distance). Solutions are also
  re-timed in double precision (``exact`` column), since the model truncates ride times.
  A solver that cannot model pairs is skipped visibly; one that raises is an ``error`` row.

Output: one progress line per (instance, solver), a table of every run, a summary per solver
(mean gap over feasible runs, feasible count, how often velocal beats it), and in ``--out``:
``solver-<set>-<timestamp>.csv`` (one row per run), ``…-gaps.png`` (gap per instance, sorted
by size) and ``…-time.png`` (mean gap against time from the solvers' anytime curves, with each
solver's final mean runtime and gap; ``…-size.png``, gap against size, when no solver reports
a curve).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import fnmatch
import importlib
import math
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmarks._measure import PROJECT_ROOT
from benchmarks.peers import PEERS, PeerSolution, UnsupportedByPeerError, peer_missing

if TYPE_CHECKING:
    from solver.model import Problem
    from solver.result import Result

#: Every solver the harness knows; velocal's own two backends first, then the peers.
SOLVERS = ("velocal", "ortools", "pyvrp", "vroom")
#: velocal is compared against every other solver for the "wins" figure.
OURS = "velocal"
DEFAULT_SOLVERS = ("velocal", "ortools")
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results"
INSTANCE_SUFFIXES = (".vrp", ".txt")
#: Two objectives this close (relative) count as a tie, not a win.
TIE_TOLERANCE = 1e-9


# --- rows and the arithmetic on them ---------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One solver on one instance: what the checker made of its solution.

    ``status`` is ``ok`` (solved and checked), ``skipped`` (solver unavailable or the instance
    uses a feature it cannot model; ``note`` says which) or ``failed`` (it raised; ``note``).
    ``objective`` is in the instance's convention; ``cost`` is the checker's integer cost in
    model units. ``runtime_s`` is the wall time of the solve call; ``solver_runtime_s`` what the
    solver itself reports.
    """

    set: str
    instance: str
    n: int
    solver: str
    status: str
    objective: float | None = None
    bks: float | None = None
    gap_pct: float | None = None
    routes: int | None = None
    feasible: bool | None = None
    unassigned: int | None = None
    violations: int | None = None
    runtime_s: float | None = None
    solver_runtime_s: float | None = None
    iterations: int | None = None
    compile_s: float | None = None
    cost: int | None = None
    seed: int = 0
    time_limit_s: float = 0.0
    note: str = ""
    #: Li & Lim: ranked by vehicles (``routes``) first, then distance (``objective``).
    vehicles_first: bool = False
    bks_vehicles: int | None = None
    vehicle_gap: int | None = None  # routes − bks_vehicles
    #: Li & Lim: still feasible when re-timed in double precision (the published convention).
    exact_feasible: bool | None = None
    #: Anytime curve (seconds, objective in the instance's convention); kept out of the CSV.
    progress: tuple[tuple[float, float], ...] = field(default=(), repr=False, compare=False)


CSV_FIELDS = tuple(f.name for f in fields(Row) if f.name != "progress")


def gap_pct(objective: float, bks: float) -> float:
    """Percentage gap of ``objective`` above the best-known ``bks``: ``100 * (obj - bks) / bks``."""
    if not bks > 0:
        raise ValueError(f"a best-known objective must be positive to take a gap, not {bks}")
    return 100.0 * (objective - bks) / bks


@dataclass(frozen=True)
class Duel:
    """velocal against one other solver over the instances both ran."""

    peer: str
    wins: int = 0
    ties: int = 0
    losses: int = 0

    @property
    def played(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def win_fraction(self) -> float | None:
        return self.wins / self.played if self.played else None


def _standing(row: Row | None) -> tuple[int, float, float]:
    """Sort key of a result: feasible before infeasible before none, then (vehicles first
    sets only) the vehicle count, then the objective."""
    if row is None or row.status != "ok" or row.objective is None:
        return (2, math.inf, math.inf)
    vehicles = float(row.routes or 0) if row.vehicles_first else 0.0
    return (0 if row.feasible else 1, vehicles, row.objective)


def duel(rows: Iterable[Row], peer: str, *, ours: str = OURS) -> Duel:
    """How often ``ours`` beats ``peer``: a feasible solution beats an infeasible or missing one,
    between two feasible (or two infeasible) ones the lower objective wins (on a vehicles
    first set such as Li & Lim: fewer vehicles, then the lower distance). Instances where
    either solver was skipped, or neither produced anything, are left out."""
    by_instance: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_instance.setdefault(row.instance, {})[row.solver] = row
    wins = ties = losses = 0
    for runs in by_instance.values():
        a, b = runs.get(ours), runs.get(peer)
        if a is None or b is None or "skipped" in (a.status, b.status):
            continue
        sa, sb = _standing(a), _standing(b)
        if sa[0] == sb[0] == 2:
            continue
        if sa[:2] == sb[:2] and math.isclose(sa[2], sb[2], rel_tol=TIE_TOLERANCE):
            ties += 1
        elif sa < sb:
            wins += 1
        else:
            losses += 1
    return Duel(peer=peer, wins=wins, ties=ties, losses=losses)


@dataclass(frozen=True)
class SolverSummary:
    """One solver over the whole run."""

    solver: str
    runs: int
    feasible: int
    skipped: int
    failed: int
    mean_gap_pct: float | None  # over feasible runs with a best-known solution
    max_gap_pct: float | None
    mean_runtime_s: float | None
    duel: Duel | None  # velocal against this solver; None for velocal itself
    # Vehicles first sets (Li & Lim), over feasible runs with a best-known solution:
    mean_vehicle_gap: float | None = None
    #: The distance gap over the feasible runs with exactly the BKS's vehicle count, and how
    #: many such runs there are.
    mean_gap_same_vehicles_pct: float | None = None
    same_vehicles: int = 0
    #: Feasible runs that stay feasible re-timed in double precision.
    exact_feasible: int = 0


def summarise(rows: Sequence[Row], solvers: Sequence[str]) -> list[SolverSummary]:
    """The summary line of each solver, in the order given."""
    summaries = []
    for solver in solvers:
        mine = [r for r in rows if r.solver == solver]
        ran = [r for r in mine if r.status == "ok"]
        gaps = [r.gap_pct for r in ran if r.feasible and r.gap_pct is not None]
        times = [r.runtime_s for r in ran if r.runtime_s is not None]
        ranked = [r for r in ran if r.feasible and r.vehicles_first and r.vehicle_gap is not None]
        level = [r.gap_pct for r in ranked if r.vehicle_gap == 0 and r.gap_pct is not None]
        summaries.append(
            SolverSummary(
                solver=solver,
                runs=len(ran),
                feasible=sum(bool(r.feasible) for r in ran),
                skipped=sum(r.status == "skipped" for r in mine),
                failed=sum(r.status == "failed" for r in mine),
                mean_gap_pct=statistics.fmean(gaps) if gaps else None,
                max_gap_pct=max(gaps) if gaps else None,
                mean_runtime_s=statistics.fmean(times) if times else None,
                duel=None if solver == OURS or OURS not in solvers else duel(rows, solver),
                mean_vehicle_gap=(
                    statistics.fmean(r.vehicle_gap or 0 for r in ranked) if ranked else None
                ),
                mean_gap_same_vehicles_pct=statistics.fmean(level) if level else None,
                same_vehicles=len(level),
                exact_feasible=sum(bool(r.feasible and r.exact_feasible) for r in ran),
            )
        )
    return summaries


# --- input: solver names, instance files, best-known solutions --------------------------------


def parse_solvers(text: str | Sequence[str]) -> tuple[str, ...]:
    """Solver names from ``"velocal,ortools"`` (or a sequence); ValueError names an unknown one."""
    names = [text] if isinstance(text, str) else list(text)
    solvers: list[str] = []
    for chunk in names:
        for name in chunk.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in SOLVERS:
                raise ValueError(f"unknown solver {name!r}; choose from {', '.join(SOLVERS)}")
            if name not in solvers:
                solvers.append(name)
    if not solvers:
        raise ValueError(f"no solver given; choose from {', '.join(SOLVERS)}")
    return tuple(solvers)


def _natural_key(name: str) -> tuple[Any, ...]:
    """Sort ``X-n101`` before ``X-n1001``: digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def find_instances(
    folder: Path, *, pattern: str | None = None, limit: int | None = None
) -> list[Path]:
    """The instance files (``.vrp``, ``.txt``) directly in ``folder``, in natural name order.

    ``pattern`` is a glob matched against the file name and its stem (``A-n3*``, ``C1*``);
    ``limit`` keeps the first N. FileNotFoundError for a missing folder, ValueError when no
    instance is left.
    """
    if not folder.exists():
        raise FileNotFoundError(f"instance folder not found: {folder}")
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder of instances: {folder}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, not {limit}")
    paths = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in INSTANCE_SUFFIXES and not p.name.startswith(".")
    ]
    if not paths:
        raise ValueError(f"no instances (*.vrp, *.txt) in {folder}")
    if pattern:
        paths = [
            p for p in paths if fnmatch.fnmatch(p.name, pattern) or fnmatch.fnmatch(p.stem, pattern)
        ]
        if not paths:
            raise ValueError(f"no instance in {folder} matches {pattern!r}")
    paths.sort(key=lambda p: _natural_key(p.stem))
    return paths[:limit] if limit is not None else paths


def is_pickup_delivery(path: Path) -> bool:
    """True for a pickup-and-delivery file: VRPLIB ``TYPE : PDPTW``, or Li & Lim's layout
    (a ``K Q S`` header, then 9 numbers per task, the last two its pickup/delivery siblings)."""
    try:
        with path.open() as handle:
            lines = [line.split() for line, _ in zip(handle, range(12), strict=False)]
    except (OSError, UnicodeDecodeError):
        return False
    lines = [tokens for tokens in lines if tokens]
    for tokens in lines:
        if tokens[0].upper().startswith("TYPE"):
            return "PDPTW" in " ".join(tokens).upper()
    if len(lines) < 2 or not all(_is_number(x) for tokens in lines for x in tokens):
        return False
    return len(lines[0]) == 3 and all(len(tokens) == 9 for tokens in lines[1:])


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def set_name(folder: Path) -> str:
    """The set's name for file names: the folder's (``solomon-vrplib`` for a ``vrplib/`` child)."""
    folder = folder.resolve()
    if folder.name == "vrplib":
        return f"{folder.parent.name}-vrplib"
    return folder.name


def find_bks_file(folder: Path) -> Path | None:
    """The folder's ``bks.csv``, or its parent's for a ``vrplib/`` layout of the same set."""
    for candidate in (folder / "bks.csv", folder.parent / "bks.csv"):
        if candidate.is_file():
            return candidate
    return None


def load_bks(folder: Path) -> dict[str, float]:
    """Best-known objective per instance name from the folder's ``bks.csv`` (empty if none)."""
    path = find_bks_file(folder)
    if path is None:
        return {}
    from solver import vrplib_io

    return vrplib_io.bks_table(path.parent)


def load_bks_vehicles(folder: Path) -> dict[str, int]:
    """Best-known vehicle count per instance (``bks.csv``'s ``bks_vehicles``, Li & Lim's)."""
    path = find_bks_file(folder)
    if path is None:
        return {}
    from solver import vrplib_io

    return vrplib_io.bks_vehicles_table(path.parent)


# --- the solver side ---------------------------------------------------------------------------


# velocal's solver is imported on first use, through its modules (``checker.check``, not a
# bound name), so importing the harness stays cheap and a test can spy on the checker.


def warm_up_velocal() -> float | None:
    """Compile (or load from numba's disk cache) velocal's kernels; the seconds it took, or
    None when ``solver.search`` has no ``warm_up()``."""
    hook = getattr(importlib.import_module("solver.search"), "warm_up", None)
    if hook is None:
        return None
    started = time.perf_counter()
    hook()
    return time.perf_counter() - started


#: The modules a solver's first call would import; imported before any solve is timed.
_LIBRARIES = {
    "ortools": "solver.ortools_backend",
    "pyvrp": "pyvrp",
    "vroom": "vroom",
}


def preload(solvers: Iterable[str]) -> dict[str, float]:
    """Import each solver's library now, so no instance's runtime pays for the import."""
    seconds = {}
    for solver in solvers:
        module = _LIBRARIES.get(solver)
        if module is not None:
            started = time.perf_counter()
            importlib.import_module(module)
            seconds[solver] = time.perf_counter() - started
    return seconds


def read_problem(path: Path) -> tuple[Problem, float]:
    """The instance as a velocal problem, and the scale its distances and times were multiplied
    by (``solver.vrplib_io``: 1 for rounded CVRP, 10 for Solomon's DIMACS tenths, 1000 for
    Li & Lim)."""
    from solver import vrplib_io

    problem = vrplib_io.read_instance(path)
    return problem, float(vrplib_io.instance_scale(problem))


#: Re-times a solution's trips (client indices) exactly; the violations it finds.
ExactCheck = Callable[[Sequence[Sequence[int]]], list[str]]


def exact_time_check(path: Path, problem: Problem) -> ExactCheck | None:
    """For a Li & Lim problem, a check of a solution's times in double precision (the model
    truncates ride times to thousandths); None for every other set."""
    from solver import vrplib_io

    if not vrplib_io.vehicles_first(problem):
        return None
    instance = vrplib_io.read_lilim(path)
    return lambda routes: vrplib_io.lilim_time_violations(instance, routes)


@dataclass(frozen=True)
class _Solved:
    result: Result
    wall_s: float
    progress: tuple[tuple[float, int], ...]


def _solve_with(solver: str, problem: Problem, *, time_limit_s: float, seed: int) -> _Solved:
    """One solve, timed around the call; a peer's routes become a velocal Result."""
    from solver.solve import Backend, solve

    backends: dict[str, Backend] = {"velocal": "velocal", "ortools": "ortools"}
    started = time.perf_counter()
    if solver in PEERS:
        peer: PeerSolution = PEERS[solver](problem, time_limit_s, seed)
        wall = time.perf_counter() - started
        result = _peer_result(problem, peer, seed)
        return _Solved(result, wall, peer.progress)
    result = solve(problem, backend=backends[solver], time_limit_s=time_limit_s, seed=seed)
    wall = time.perf_counter() - started
    return _Solved(result, wall, _progress_of(result))


def _peer_result(problem: Problem, peer: PeerSolution, seed: int) -> Result:
    """A peer's routes as a velocal Result, scheduled and costed by velocal itself.

    Clients the peer left out are reported unassigned, so the row shows them (and does not
    count as feasible) instead of the checker failing on coverage alone.
    """
    from solver import schedule

    routes = [(r.vehicle_type, [list(trip) for trip in r.trips]) for r in peer.routes]
    served = {client for r in peer.routes for trip in r.trips for client in trip}
    unassigned = {
        c: f"not served by {peer.solver}" for c in range(problem.n_clients) if c not in served
    }
    return schedule.build_result(
        problem,
        routes,
        unassigned=unassigned,
        backend=peer.solver,
        seed=seed,
        runtime_s=peer.runtime_s,
        iterations=peer.iterations or 0,
    )


def _progress_of(result: Any) -> tuple[tuple[float, int], ...]:
    """The solver's anytime curve (seconds, cost), if its Result carries one."""
    for name in ("progress", "history", "trace"):
        curve = getattr(result, name, None)
        if curve:
            return tuple((float(t), int(c)) for t, c in curve)
    return ()


# --- the run ---------------------------------------------------------------------------------


def _row_from(
    *,
    base: dict[str, Any],
    problem: Problem,
    solved: _Solved,
    scale: float,
    bks: float | None,
    bks_vehicles: int | None = None,
    exact: ExactCheck | None = None,
) -> Row:
    from solver import checker

    result = solved.result
    report = checker.check(problem, result)
    used = [route for route in result.routes if route.clients]
    unassigned = len(result.unassigned)
    feasible = bool(report.feasible) and unassigned == 0
    if exact is not None:
        return _ranked_row(
            base, solved, report, len(used), feasible, scale, bks, bks_vehicles, exact
        )
    objective = report.cost / scale
    notes = []
    if unassigned:
        notes.append(f"{unassigned} clients unassigned")
    if report.violations:
        notes.append(f"{len(report.violations)} violations, e.g. {report.violations[0]}")
    if result.cost != report.cost:
        notes.append(f"solver's cost {result.cost} ≠ checker's {report.cost}")
    if bks is not None and feasible and objective < bks * (1 - 1e-9):
        notes.append("below BKS (fleet convention?)")
    return Row(
        **base,
        status="ok",
        objective=objective,
        bks=bks,
        gap_pct=gap_pct(objective, bks) if bks else None,
        routes=len(used),
        feasible=feasible,
        unassigned=unassigned,
        violations=len(report.violations),
        runtime_s=solved.wall_s,
        solver_runtime_s=result.runtime_s,
        iterations=result.iterations,
        compile_s=result.compile_s,
        cost=int(report.cost),
        note="; ".join(notes),
        progress=tuple((t, c / scale) for t, c in solved.progress),
    )


def _ranked_row(
    base: dict[str, Any],
    solved: _Solved,
    report: Any,
    vehicles: int,
    feasible: bool,
    scale: float,
    bks: float | None,
    bks_vehicles: int | None,
    exact: ExactCheck,
) -> Row:
    """A Li & Lim row: vehicles and distance (fixed costs left out), both gaps, exact times."""
    result = solved.result
    unassigned = len(result.unassigned)
    objective = report.distance / scale
    late = exact(result.trip_routes())
    notes = []
    if unassigned:
        notes.append(f"{unassigned} clients unassigned")
    if report.violations:
        notes.append(f"{len(report.violations)} violations, e.g. {report.violations[0]}")
    if result.cost != report.cost:
        notes.append(f"solver's cost {result.cost} ≠ checker's {report.cost}")
    if late:
        notes.append(f"{len(late)} late with exact times, e.g. {late[0]}")
    vehicle_gap = vehicles - bks_vehicles if bks_vehicles is not None else None
    ranked_bks = (bks_vehicles, bks * (1 - 1e-9)) if bks and bks_vehicles is not None else None
    if feasible and ranked_bks is not None and (vehicles, objective) < ranked_bks:
        notes.append("better than the BKS")
    return Row(
        **base,
        status="ok",
        objective=objective,
        bks=bks,
        gap_pct=gap_pct(objective, bks) if bks else None,
        routes=vehicles,
        feasible=feasible,
        unassigned=unassigned,
        violations=len(report.violations),
        runtime_s=solved.wall_s,
        solver_runtime_s=result.runtime_s,
        iterations=result.iterations,
        compile_s=result.compile_s,
        cost=int(report.cost),
        note="; ".join(notes),
        vehicle_gap=vehicle_gap,
        exact_feasible=not late,
    )


def run_benchmark(
    instances_dir: Path | str,
    *,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    time_limit_s: float = 10,
    seed: int = 0,
    limit: int | None = None,
    pattern: str | None = None,
    out_dir: Path | str = DEFAULT_OUT,
    console: Console | None = None,
) -> list[Row]:
    """Solve every instance in ``instances_dir`` with every solver, one solve at a time.

    Checks each solution with velocal's checker, prints a line per run, the table and the
    summary, and writes the CSV and plots to ``out_dir``. Returns one row per (instance,
    solver). A pickup-and-delivery set (Li & Lim) is ranked vehicles first, then distance
    (see the module's docstring).
    """
    console = console or Console()
    folder = Path(instances_dir)
    solvers = parse_solvers(solvers)
    if not time_limit_s > 0:
        raise ValueError(f"the time limit must be positive, not {time_limit_s}")
    paths = find_instances(folder, pattern=pattern, limit=limit)
    name = set_name(folder)
    out = Path(out_dir)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    bks = load_bks(folder)
    bks_vehicles = load_bks_vehicles(folder)

    console.print(
        f"[bold]velocal solver benchmark[/bold]: {name}, {len(paths)} instances × "
        f"{', '.join(solvers)}; {time_limit_s:g} s each, seed {seed}, one solve at a time"
    )
    if not bks:
        console.print(f"[yellow]no bks.csv beside {folder}: gaps are left empty[/yellow]")
    if any(is_pickup_delivery(p) for p in paths):
        console.print(
            "pickup and delivery (Li & Lim): ranked by vehicles, then distance; distances in "
            "thousandths, ride times truncated to thousandths (re-checked exactly)"
        )
    unavailable = {s: reason for s in solvers if s in PEERS and (reason := peer_missing(s))}
    for solver, reason in unavailable.items():
        console.print(f"[yellow]{reason}: skipping {solver}[/yellow]")
    warm_up_s = None
    if OURS in solvers:
        with console.status("warming up velocal's JIT …"):
            warm_up_s = warm_up_velocal()
        if warm_up_s is None:
            console.print("velocal JIT warm-up: no solver.search.warm_up(); not measured apart")
        else:
            console.print(f"velocal JIT warm-up (cold compile or cache load): {warm_up_s:.2f} s")

    loaded = preload(s for s in solvers if s not in unavailable)
    if loaded:
        console.print(
            "libraries imported before timing: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in loaded.items())
        )

    rows: list[Row] = []
    total = len(paths) * len(solvers)
    try:
        for number, path in enumerate(paths):
            rows.extend(
                _run_instance(
                    path,
                    solvers=solvers,
                    set_label=name,
                    bks=bks.get(path.stem),
                    bks_vehicles=bks_vehicles.get(path.stem),
                    time_limit_s=time_limit_s,
                    seed=seed,
                    unavailable=unavailable,
                    console=console,
                    counter=(number * len(solvers), total),
                )
            )
    finally:
        if rows:
            csv_path = write_csv(rows, out / f"solver-{name}-{stamp}.csv")
            console.print(f"CSV written to {csv_path}")
    print_report(console, rows, solvers, warm_up_s=warm_up_s)
    for plot in write_plots(rows, solvers, out, f"solver-{name}-{stamp}", time_limit_s):
        console.print(f"plot written to {plot}")
    return rows


def _run_instance(
    path: Path,
    *,
    solvers: Sequence[str],
    set_label: str,
    bks: float | None,
    time_limit_s: float,
    seed: int,
    unavailable: dict[str, str],
    console: Console,
    counter: tuple[int, int],
    bks_vehicles: int | None = None,
) -> list[Row]:
    done, total = counter
    try:
        problem, scale = read_problem(path)
        exact = exact_time_check(path, problem)
    except Exception as exc:
        console.print(f"[red]{escape(path.name)}: cannot read: {escape(str(exc))}[/red]")
        return [
            Row(
                set=set_label,
                instance=path.stem,
                n=0,
                solver=s,
                status="failed",
                bks=bks,
                seed=seed,
                time_limit_s=time_limit_s,
                note=f"cannot read: {exc}",
            )
            for s in solvers
        ]
    rows = []
    for offset, solver in enumerate(solvers):
        base: dict[str, Any] = {
            "set": set_label,
            "instance": path.stem,
            "n": problem.n_clients,
            "solver": solver,
            "seed": seed,
            "time_limit_s": time_limit_s,
        }
        label = f"[{done + offset + 1}/{total}] {path.stem} (n={problem.n_clients}) {solver}"
        if exact is not None:
            base.update(vehicles_first=True, bks_vehicles=bks_vehicles)
        if solver in unavailable:
            row = Row(**base, status="skipped", bks=bks, note=unavailable[solver])
        else:
            with console.status(f"{label} … solving ({time_limit_s:g} s limit)"):
                row = _run_one(base, problem, scale, bks, time_limit_s, seed, exact)
        console.print(f"{escape(label)}: {describe_row(row)}")
        rows.append(row)
    return rows


def _run_one(
    base: dict[str, Any],
    problem: Problem,
    scale: float,
    bks: float | None,
    time_limit_s: float,
    seed: int,
    exact: ExactCheck | None = None,
) -> Row:
    """One solve and its check; a solver that raises gives a ``failed`` row whose note starts
    with ``error:`` (a backend without pair support, say), never an aborted run."""
    solver = base["solver"]
    try:
        solved = _solve_with(solver, problem, time_limit_s=time_limit_s, seed=seed)
    except UnsupportedByPeerError as exc:
        return Row(**base, status="skipped", bks=bks, note=str(exc))
    except Exception as exc:
        return Row(**base, status="failed", bks=bks, note=f"error: {type(exc).__name__}: {exc}")
    try:
        return _row_from(
            base=base,
            problem=problem,
            solved=solved,
            scale=scale,
            bks=bks,
            bks_vehicles=base.get("bks_vehicles"),
            exact=exact,
        )
    except Exception as exc:
        return Row(
            **base,
            status="failed",
            bks=bks,
            runtime_s=solved.wall_s,
            note=f"error: checking failed: {type(exc).__name__}: {exc}",
        )


def describe_row(row: Row) -> str:
    """The progress line's verdict on one run."""
    if row.status == "failed":
        return f"[red]{escape(row.note)}[/red]"
    if row.status != "ok":
        return f"{row.status} ({escape(row.note)})"
    gap = f"gap {row.gap_pct:+.2f} %" if row.gap_pct is not None else "no BKS"
    verdict = "feasible" if row.feasible else "[red]INFEASIBLE[/red]"
    if row.vehicles_first:
        against = f" (BKS {row.bks_vehicles})" if row.bks_vehicles is not None else ""
        exact = (
            "" if row.exact_feasible or not row.feasible else " [red]late if timed exactly[/red]"
        )
        text = (
            f"{row.routes} vehicles{against}, distance {_number(row.objective)} ({gap}), "
            f"{verdict}{exact}, {row.runtime_s or 0:.1f} s"
        )
    else:
        text = (
            f"{_number(row.objective)} ({gap}), {row.routes} routes, {verdict}, "
            f"{row.runtime_s or 0:.1f} s"
        )
    return f"{text}; {escape(row.note)}" if row.note else text


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


# --- reporting -------------------------------------------------------------------------------


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """One line per run, every field of :class:`Row` but the anytime curve."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            record = asdict(row)
            record.pop("progress")
            writer.writerow({k: _csv_value(v) for k, v in record.items()})
    return path


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 6)
    return value


def _feasible_cell(row: Row) -> str:
    if row.status == "failed":
        return "[red]error[/red]"
    if row.status != "ok":
        return row.status
    return "yes" if row.feasible else "[red]no[/red]"


def ranked_results_table(rows: Sequence[Row]) -> Table:
    """Every run of a vehicles first set (Li & Lim): vehicles, distance, both gaps, feasible,
    exact-time feasible, runtime (why a run was skipped or failed is listed below it)."""
    table = Table(title="solver benchmark (vehicles first, then distance)", title_justify="left")
    for header in ("instance", "n", "solver", "vehicles", "BKS veh.", "veh. gap"):
        table.add_column(header, justify="left" if header in ("instance", "solver") else "right")
    for header in ("distance", "BKS distance", "dist. gap %"):
        table.add_column(header, justify="right")
    table.add_column("feasible")
    table.add_column("exact")
    table.add_column("runtime s", justify="right")
    for row in rows:
        exact = "–"
        if row.exact_feasible is not None:
            exact = "yes" if row.exact_feasible else "[red]no[/red]"
        table.add_row(
            row.instance,
            str(row.n),
            row.solver,
            str(row.routes) if row.routes is not None else "–",
            str(row.bks_vehicles) if row.bks_vehicles is not None else "–",
            f"{row.vehicle_gap:+d}" if row.vehicle_gap is not None else "–",
            _number(row.objective),
            _number(row.bks),
            f"{row.gap_pct:.2f}" if row.gap_pct is not None else "–",
            _feasible_cell(row),
            exact,
            f"{row.runtime_s:.2f}" if row.runtime_s is not None else "–",
        )
    return table


def results_table(rows: Sequence[Row]) -> Table:
    """Every run: instance, size, solver, objective, BKS, gap, routes, feasible, runtime."""
    table = Table(title="solver benchmark", title_justify="left")
    for header in ("instance", "n", "solver", "objective", "BKS", "gap %", "routes"):
        table.add_column(header, justify="left" if header in ("instance", "solver") else "right")
    table.add_column("feasible")
    table.add_column("runtime s", justify="right")
    for row in rows:
        feasible = _feasible_cell(row)
        table.add_row(
            row.instance,
            str(row.n),
            row.solver,
            _number(row.objective),
            _number(row.bks),
            f"{row.gap_pct:.2f}" if row.gap_pct is not None else "–",
            str(row.routes) if row.routes is not None else "–",
            feasible,
            f"{row.runtime_s:.2f}" if row.runtime_s is not None else "–",
        )
    return table


def _record(s: SolverSummary) -> str:
    if s.duel is None or not s.duel.played:
        return "–"
    return (
        f"{s.duel.wins} / {s.duel.ties} / {s.duel.losses} "
        f"({100 * (s.duel.win_fraction or 0):.0f} % wins)"
    )


def _feasible_count(s: SolverSummary) -> str:
    extra = []
    if s.skipped:
        extra.append(f"{s.skipped} skipped")
    if s.failed:
        extra.append(f"{s.failed} errors")
    return f"{s.feasible}/{s.runs}" + (f" ({', '.join(extra)})" if extra else "")


def ranked_summary_table(summaries: Sequence[SolverSummary]) -> Table:
    """Per solver on a vehicles first set: feasible count, mean vehicle gap, mean distance gap
    (all feasible runs, and those with the BKS's vehicle count), exact-time feasible runs,
    mean runtime, and velocal's record by (vehicles, distance)."""
    table = Table(title="summary per solver (vehicles first, then distance)", title_justify="left")
    table.add_column("solver")
    headers = (
        "feasible",
        "exact",
        "mean veh. gap",
        "mean dist. gap %",
        "dist. gap % at BKS veh. (runs)",
        "mean runtime s",
        f"{OURS} better / tie / worse",
    )
    for header in headers:
        table.add_column(header, justify="right")
    for s in summaries:
        level = "–"
        if s.mean_gap_same_vehicles_pct is not None:
            level = f"{s.mean_gap_same_vehicles_pct:.2f} ({s.same_vehicles})"
        table.add_row(
            s.solver,
            _feasible_count(s),
            f"{s.exact_feasible}/{s.feasible}",
            f"{s.mean_vehicle_gap:+.2f}" if s.mean_vehicle_gap is not None else "–",
            f"{s.mean_gap_pct:.2f}" if s.mean_gap_pct is not None else "–",
            level,
            f"{s.mean_runtime_s:.2f}" if s.mean_runtime_s is not None else "–",
            _record(s),
        )
    return table


def summary_table(summaries: Sequence[SolverSummary]) -> Table:
    """Per solver: mean and worst gap over feasible runs, feasible count, velocal's record."""
    table = Table(title="summary per solver", title_justify="left")
    table.add_column("solver")
    for header in ("feasible", "mean gap %", "max gap %", "mean runtime s"):
        table.add_column(header, justify="right")
    table.add_column(f"{OURS} better / tie / worse", justify="right")
    for s in summaries:
        table.add_row(
            s.solver,
            _feasible_count(s),
            f"{s.mean_gap_pct:.2f}" if s.mean_gap_pct is not None else "–",
            f"{s.max_gap_pct:.2f}" if s.max_gap_pct is not None else "–",
            f"{s.mean_runtime_s:.2f}" if s.mean_runtime_s is not None else "–",
            _record(s),
        )
    return table


def print_report(
    console: Console, rows: Sequence[Row], solvers: Sequence[str], *, warm_up_s: float | None
) -> None:
    """The table of every run and the summary per solver."""
    if not rows:
        return
    if any(r.vehicles_first for r in rows):
        _print_ranked_report(console, rows, solvers)
    else:
        console.print(results_table(rows))
        console.print(summary_table(summarise(rows, solvers)))
    if warm_up_s is not None:
        console.print(f"velocal JIT warm-up, not in any runtime above: {warm_up_s:.2f} s")
    skips: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.status == "skipped":
            skips[(r.solver, r.note)] = skips.get((r.solver, r.note), 0) + 1
    for (solver, note), count in skips.items():
        console.print(f"[yellow]{solver} skipped on {count} instances: {escape(note)}[/yellow]")
    errors = [r for r in rows if r.status == "failed"]
    if errors:
        console.print(f"[red]{len(errors)} runs ended in an error:[/red]")
        for r in errors:
            console.print(f"  {escape(r.instance)}/{r.solver}: {escape(r.note)}", markup=True)
    if any(r.vehicles_first for r in rows):
        return
    console.print(
        "Objective: the checker's cost in the instance's convention; gap 100·(obj − BKS)/BKS; "
        "mean gap over feasible runs; feasible = no violation and no client unassigned."
    )
    below = sorted({r.instance for r in rows if "below BKS" in r.note})
    if below:
        console.print(
            f"Below the BKS ({len(below)}: {', '.join(below)}): the best-known value assumes a "
            "fixed fleet (Augerat: exactly k vehicles) while the instance is read with a free "
            "fleet, so a cheaper solution with more routes exists; see bks.csv's notes."
        )
    odd = [r for r in rows if r.status == "ok" and "≠ checker" in r.note]
    if odd:
        console.print(
            f"[red]{len(odd)} runs whose own cost differs from the checker's: "
            f"{', '.join(f'{r.instance}/{r.solver}' for r in odd)}[/red]"
        )


def _print_ranked_report(console: Console, rows: Sequence[Row], solvers: Sequence[str]) -> None:
    console.print(ranked_results_table(rows))
    console.print(ranked_summary_table(summarise(rows, solvers)))
    console.print(
        "Vehicles first: vehicles = routes used; distance = the checker's distance / 1000 (the "
        "fixed cost per vehicle left out); veh. gap = ours − BKS vehicles; dist. gap "
        "100·(distance − BKS)/BKS whatever the vehicle count, means over feasible runs; wins by "
        "(vehicles, distance); feasible = checker (times truncated to thousandths), exact = "
        "also on time re-timed in double precision."
    )
    better = sorted({f"{r.instance}/{r.solver}" for r in rows if "better than the BKS" in r.note})
    if better:
        console.print(f"[bold]Better than the BKS ({len(better)}): {', '.join(better)}[/bold]")


def write_plots(
    rows: Sequence[Row], solvers: Sequence[str], out: Path, stem: str, time_limit_s: float
) -> list[Path]:
    """The gap per instance and the gap against time (or size): PNGs in ``out``."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    ok = [r for r in rows if r.status == "ok" and r.gap_pct is not None]
    if not ok:
        return []
    out.mkdir(parents=True, exist_ok=True)
    ranked = [r for r in ok if r.vehicles_first and r.vehicle_gap is not None]
    label = "distance gap to BKS (%)" if ranked else "gap to BKS (%)"
    paths = [_plot_gaps(ok, solvers, out / f"{stem}-gaps.png", ylabel=label)]
    if ranked:
        paths.append(
            _plot_gaps(
                ranked,
                solvers,
                out / f"{stem}-vehicles.png",
                value=lambda r: float(r.vehicle_gap or 0),
                ylabel="vehicles − BKS vehicles",
                title="vehicle gap per instance, sorted by size (n clients)",
            )
        )
    elif any(r.progress for r in ok):
        paths.append(_plot_gap_vs_time(ok, solvers, out / f"{stem}-time.png", time_limit_s))
    else:
        paths.append(_plot_gap_vs_size(ok, solvers, out / f"{stem}-size.png"))
    return paths


#: One colour and marker per solver, the same in every plot.
STYLE = {
    "velocal": ("tab:blue", "o"),
    "ortools": ("tab:orange", "s"),
    "pyvrp": ("tab:green", "^"),
    "vroom": ("tab:red", "D"),
}


def _plot_gaps(
    rows: Sequence[Row],
    solvers: Sequence[str],
    path: Path,
    *,
    value: Callable[[Row], float] = lambda r: r.gap_pct or 0.0,
    ylabel: str = "gap to BKS (%)",
    title: str = "gap per instance, sorted by size (n clients)",
) -> Path:
    """Dots, one column per instance (sorted by size), one colour per solver; hollow when the
    solution is infeasible. ``value`` is what is drawn (the gap, or the vehicle gap)."""
    import matplotlib.pyplot as plt

    instances = sorted({(r.n, r.instance) for r in rows}, key=lambda k: (k[0], _natural_key(k[1])))
    index = {name: i for i, (_, name) in enumerate(instances)}
    present = [s for s in solvers if any(r.solver == s for r in rows)]
    spread = 0.5 / max(len(present), 1)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.3 * len(instances) + 2), 30.0), 4.8))
    for k, solver in enumerate(present):
        colour, marker = STYLE[solver]
        for feasible in (True, False):
            mine = [r for r in rows if r.solver == solver and bool(r.feasible) is feasible]
            if not mine:
                continue
            ax.scatter(
                [index[r.instance] + (k - (len(present) - 1) / 2) * spread for r in mine],
                [value(r) for r in mine],
                color=colour if feasible else "none",
                edgecolors=colour,
                marker=marker,
                label=solver if feasible else f"{solver} (infeasible)",
                zorder=3,
            )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(instances)))
    ax.set_xticklabels(
        [f"{name} ({n})" for n, name in instances], rotation=70, ha="right", fontsize="small"
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def mean_gap_curve(rows: Sequence[Row], grid: Sequence[float]) -> list[tuple[float, float, int]]:
    """Mean gap over the instances that have a solution by each time: (t, mean gap, count).

    Uses each row's anytime curve (objective in the instance's convention) and its BKS.
    """
    points = []
    for t in grid:
        gaps = []
        for row in rows:
            if not row.bks:
                continue
            found = [obj for seconds, obj in row.progress if seconds <= t]
            if found:
                gaps.append(gap_pct(min(found), row.bks))
        if gaps:
            points.append((t, statistics.fmean(gaps), len(gaps)))
    return points


def _plot_gap_vs_time(
    rows: Sequence[Row], solvers: Sequence[str], path: Path, time_limit_s: float
) -> Path:
    """Anytime curves (mean gap once every traced instance has a solution), log time axis,
    and each solver's final point (mean runtime, mean gap over its feasible runs)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    horizon = max([time_limit_s, *(r.runtime_s or 0 for r in rows)])
    start = min([horizon / 1000, *(t for r in rows for t, _ in r.progress[:1])])
    start = max(start, 1e-4)
    grid = [start * (horizon / start) ** (i / 300) for i in range(301)]
    for solver in solvers:
        mine = [r for r in rows if r.solver == solver]
        if not mine:
            continue
        colour, marker = STYLE[solver]
        traced = [r for r in mine if r.progress and r.bks]
        curve = [p for p in mean_gap_curve(traced, grid) if p[2] == len(traced)]
        if curve:
            ax.plot(
                [p[0] for p in curve],
                [p[1] for p in curve],
                color=colour,
                label=f"{solver} anytime ({len(traced)} instances)",
            )
        feasible = [r for r in mine if r.feasible and r.gap_pct is not None]
        if feasible:
            ax.scatter(
                [statistics.fmean(r.runtime_s or 0 for r in feasible)],
                [statistics.fmean(r.gap_pct or 0 for r in feasible)],
                color=colour,
                marker=marker,
                s=60,
                label=f"{solver} final",
                zorder=3,
            )
    ax.set_xscale("log")
    ax.set_xlabel("time (s, log scale)")
    ax.set_ylabel("mean gap to BKS (%)")
    ax.set_title("mean gap against time (final points: mean runtime, mean gap)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_gap_vs_size(rows: Sequence[Row], solvers: Sequence[str], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for solver in solvers:
        points = [(r.n, r.gap_pct) for r in rows if r.solver == solver and r.feasible]
        if points:
            colour, marker = STYLE[solver]
            ax.scatter(
                [n for n, _ in points],
                [gap or 0.0 for _, gap in points],
                color=colour,
                marker=marker,
                label=solver,
                alpha=0.8,
            )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("clients (n)")
    ax.set_ylabel("gap to BKS (%)")
    ax.set_title("gap against instance size (feasible runs; no solver reported an anytime curve)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.solver_bench",
        description="velocal's solver against OR-Tools (and PyVRP, VROOM) on a VRPLIB set.",
    )
    parser.add_argument("--instances", type=Path, required=True, help="folder of instances")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve")
    parser.add_argument(
        "--solvers", default=",".join(DEFAULT_SOLVERS), help=f"comma list of {', '.join(SOLVERS)}"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N instances only")
    parser.add_argument("--pattern", default=None, help="glob on instance names, e.g. 'A-*'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where CSV and PNGs go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; one-line errors, exit 1."""
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 140)  # a log file: keep table rows on one line
    try:
        run_benchmark(
            args.instances,
            solvers=parse_solvers(args.solvers),
            time_limit_s=args.time_limit,
            seed=args.seed,
            limit=args.limit,
            pattern=args.pattern,
            out_dir=args.out,
            console=console,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"solver_bench: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
