"""The ``velocal`` command line."""

from dispatch.cli.main import app, main, run

__all__ = ["app", "main", "run"]
