"""velocal's vehicle-routing solver: model, solve, check, benchmark files.

Build a :class:`Problem`, call :func:`solve`, and read the :class:`Result`; :func:`check`
verifies any result independently. ``docs/solver-contract.md`` defines what the numbers mean.
"""

from solver import errors
from solver.checker import CheckReport, check
from solver.errors import BackendError, InstanceFormatError, ProblemError, SolverError
from solver.model import MAX_TIME, Client, Depot, Problem, VehicleType
from solver.result import Break, Result, Route, Stop, Trip, Unassigned
from solver.solve import solve
from solver.unserviceable import find_unserviceable
from solver.vrplib_io import read_instance, read_solution, write_solution

__all__ = [
    "MAX_TIME",
    "BackendError",
    "Break",
    "CheckReport",
    "Client",
    "Depot",
    "InstanceFormatError",
    "Problem",
    "ProblemError",
    "Result",
    "Route",
    "SolverError",
    "Stop",
    "Trip",
    "Unassigned",
    "VehicleType",
    "check",
    "errors",
    "find_unserviceable",
    "read_instance",
    "read_solution",
    "solve",
    "write_solution",
]
