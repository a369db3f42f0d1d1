"""The ``velocal`` command line."""

from dispatch.cli import simulate_command
from dispatch.cli.main import app, main, run

app.command("simulate")(simulate_command.simulate_command)

__all__ = ["app", "main", "run"]
