"""``velocal bench solver``: the solver against its peers on VRPLIB sets; ``velocal bench replan``:
re-planning a delivery window in Lauf."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
bench_app = typer.Typer(
    help="Benchmarks: velocal's solver against its peers on published instance sets, and "
    "re-planning a delivery window in Lauf.",
    no_args_is_help=True,
)


@bench_app.command("solver")
def solver(
    instances: Annotated[
        Path,
        typer.Option(
            "--instances",
            help="Folder of VRPLIB, Solomon or Li & Lim instances with a bks.csv, e.g. "
            "../shared/data/bench/augerat.",
        ),
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds per solve, the same for every solver.")
    ] = 10.0,
    solvers: Annotated[
        str,
        typer.Option(
            "--solvers", help="Comma list of velocal, ortools, pyvrp, vroom (peers if installed)."
        ),
    ] = "velocal,ortools",
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the first N instances (name order).")
    ] = None,
    pattern: Annotated[
        str | None, typer.Option("--pattern", help="Glob on instance names, e.g. 'A-n3*'.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed given to every solver.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the CSV and plots (default: benchmarks/results)."),
    ] = None,
) -> None:
    """Solve every instance with every solver, one at a time; check, tabulate, plot."""
    # Imported here: the harness pulls in the solver, the peers and matplotlib.
    from benchmarks.solver_bench import DEFAULT_OUT, parse_solvers, run_benchmark

    if not console.is_terminal:
        console.width = max(console.width, 140)  # a log file: keep table rows on one line
    run_benchmark(
        instances,
        solvers=parse_solvers(solvers),
        time_limit_s=time_limit,
        seed=seed,
        limit=limit,
        pattern=pattern,
        out_dir=out if out is not None else DEFAULT_OUT,
        console=console,
    )


@bench_app.command(
    "replan",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def replan(ctx: typer.Context) -> None:
    """Re-plan a delivery window in Lauf as orders arrive and a courier drops out (options as
    python -m benchmarks.replan_bench; --help lists them)."""
    from benchmarks.replan_bench import main  # the harness pulls in the solver and matplotlib

    status = main(ctx.args, console=console)
    if status:
        raise typer.Exit(status)
