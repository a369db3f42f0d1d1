"""``velocal solve``: one benchmark instance (VRPLIB, Solomon, Li & Lim) solved and checked."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from solver.checker import check
from solver.errors import BackendError
from solver.result import Result
from solver.solve import solve as solve_problem
from solver.vrplib_io import (
    bks_table,
    format_objective,
    instance_name,
    instance_scale,
    read_instance,
    vehicles_first,
    write_solution,
)

console = Console()


class BackendChoice(StrEnum):
    velocal = "velocal"
    ortools = "ortools"


class RoundingChoice(StrEnum):
    auto = "auto"
    round = "round"
    dimacs = "dimacs"
    exact = "exact"


def solve(
    instance: Annotated[
        Path, typer.Argument(help="A VRPLIB .vrp (CVRP, VRPTW) or Solomon .txt instance.")
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.001, help="Seconds of search.")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the search.")] = 0,
    backend: Annotated[
        BackendChoice, typer.Option("--backend", help="velocal's own core, or OR-Tools.")
    ] = BackendChoice.velocal,
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, help="Stop after N iterations.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the solution here (.sol).")
    ] = None,
    rounding: Annotated[
        RoundingChoice,
        typer.Option(
            "--rounding",
            help="auto: floor(d+0.5) for CVRP, tenths truncated (DIMACS) with time windows.",
        ),
    ] = RoundingChoice.auto,
) -> None:
    """Solve a benchmark instance, check it independently and compare with its BKS.

    Exits 1 when the independent checker finds a violated constraint.
    """
    problem = read_instance(instance, rounding=rounding.value)
    try:
        result = solve_problem(
            problem,
            backend=backend.value,
            time_limit_s=time_limit,
            max_iterations=max_iterations,
            seed=seed,
        )
    except BackendError as exc:  # main() prints ValueErrors as one line
        raise ValueError(f"{backend.value} backend: {exc}") from exc
    report = check(problem, result)
    scale = instance_scale(problem)
    name = instance_name(problem)

    # Vehicles-first sets (Li & Lim): the objective is the distance, next to the bikes used.
    value = report.distance if vehicles_first(problem) else report.cost
    objective = format_objective(value, scale)
    bks = _bks(instance, name)
    gap = f", gap {100 * (value / scale - bks) / bks:+.2f}% to BKS {bks:g}" if bks else ""
    bikes = f" with {result.n_routes} vehicles" if vehicles_first(problem) else ""
    console.print(f"[bold]{escape(name)}[/]: objective {objective}{bikes}{gap}")
    console.print(_routes_line(result))
    state = "feasible" if report.feasible else f"INFEASIBLE ({len(report.violations)} violations)"
    console.print(f"independent check: {state}")
    for violation in report.violations[:5]:
        console.print(f"  {violation}", markup=False)
    for item in result.unassigned[:5]:
        console.print(f"  unassigned client {item.client + 1}: {item.reason}", markup=False)
    compile_note = f", {result.compile_s:.2f} s compiling" if result.compile_s else ""
    console.print(
        f"{result.backend} seed {seed}: {result.iterations} iterations in "
        f"{result.runtime_s:.2f} s{compile_note}"
    )
    if output is not None:
        write_solution(output, result, scale=scale)
        console.print(f"solution written to {output}")
    if not report.feasible:
        raise typer.Exit(1)


def _routes_line(result: Result) -> str:
    trips = f" ({result.n_trips} trips)" if result.n_trips != result.n_routes else ""
    return f"{result.n_routes} routes{trips}, {len(result.unassigned)} clients unassigned"


def _bks(instance: Path, name: str) -> float | None:
    """The best-known objective from a bks.csv beside the instance (or one folder up)."""
    for folder in (instance.parent, instance.parent.parent):
        if (folder / "bks.csv").is_file():
            value = bks_table(folder).get(name)
            if value:
                return value
    return None
