"""Entry point of the ``velocal`` command: sub-command groups and one-line errors."""

from __future__ import annotations

import sys

import typer

from dispatch.cli import (
    bench_command,
    demo_command,
    plan_command,
    routing_commands,
    serve_command,
    solve_command,
)
from routing.errors import RoutingError

app = typer.Typer(
    name="velocal",
    help="Cargo-bike delivery dispatch and route optimisation for a town's local shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(routing_commands.graph_app, name="graph")
app.command("matrix")(routing_commands.matrix)
app.command("route")(routing_commands.route)
app.command("address")(routing_commands.address)
app.command("profile")(routing_commands.profile)
app.command("demo")(demo_command.demo)
app.command("solve")(solve_command.solve)
app.command("plan")(plan_command.plan)
app.command("serve")(serve_command.serve)
app.add_typer(bench_command.bench_app, name="bench")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a failure prints one line on stderr and exits non-zero.

    Usage errors (a bad option or argument) exit with 2, failures of the work itself with 1.
    """
    try:
        result = app(args=argv, prog_name="velocal", standalone_mode=False)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except (RoutingError, FileNotFoundError, ValueError) as exc:
        print(f"velocal: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # typer's usage errors (click's ClickException, vendored or not): one line, no box.
        format_message = getattr(exc, "format_message", None)
        if format_message is None:
            raise
        message = format_message()
        if message:  # empty when no arguments were given and the help was shown instead
            print(f"velocal: error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        print("velocal: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
