"""Errors of the solver, each named after what went wrong."""

from __future__ import annotations


class SolverError(Exception):
    """Base class of every error the solver raises on purpose."""


class ProblemError(SolverError, ValueError):
    """The problem data is invalid; the message names the field."""


class InstanceFormatError(SolverError, ValueError):
    """A benchmark instance file (VRPLIB) cannot be read; the message says where and why."""


class BackendError(SolverError):
    """A solver backend is unavailable or failed."""
