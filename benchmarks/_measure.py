"""Run one benchmark task in a fresh Python process; report its timings, wall time and peak RSS.

A fresh process per task keeps the figures honest: no warm caches or imports from an earlier
task, and the kernel's peak resident set size (``ru_maxrss`` from ``wait4``) belongs to that
task alone. A task is a module-level function taking JSON-able keyword arguments and returning
a JSON-able dict (its own timings, measured around the step itself, imports excluded).

The child side is this module run as a script::

    python -m benchmarks._measure package.module:function '{"kwarg": 1}' result.json
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: The folder holding the ``benchmarks`` package: children run there so ``-m`` finds it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ChildFailedError(RuntimeError):
    """A task's process exited with an error (its traceback went to stderr)."""


@dataclass(frozen=True)
class ChildRun:
    """What a task returned, plus what the parent saw of its process."""

    label: str
    result: dict[str, Any]
    wall_s: float  # the whole process: interpreter start, imports, the task, exit
    peak_rss_mb: float  # the kernel's high-water mark of the process's resident memory


@dataclass(frozen=True)
class Timings:
    """Repeated timings of one step: best is the least disturbed run, median the typical one."""

    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": [round(s, 6) for s in self.seconds],
            "best_s": round(self.best, 6),
            "median_s": round(self.median, 6),
        }


def time_once(step: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call of ``step`` takes (perf_counter), and what it returned."""
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def time_repeated(step: Callable[[], T], repeat: int) -> tuple[Timings, T]:
    """Call ``step`` ``repeat`` times; the timings and the last call's result.

    Each result is dropped before the next call, so a process's peak memory holds one at most.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    first, value = time_once(step)
    seconds = [first]
    for _ in range(repeat - 1):
        del value
        elapsed, value = time_once(step)
        seconds.append(elapsed)
    return Timings(seconds), value


def current_rss_mb() -> float:
    """This process's resident memory now: the baseline a task's peak is compared with."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def _maxrss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB: Linux counts kilobytes, macOS bytes."""
    return ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def _live_rss_mb(pid: int) -> float | None:
    """The child's resident memory now, for the progress line; None once it is gone."""
    import psutil

    try:
        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except psutil.Error:
        return None


def _wait_showing_progress(
    proc: subprocess.Popen[bytes], label: str, show: Callable[[str], None]
) -> tuple[int, float]:
    """Reap the child with ``wait4`` (for its own rusage) while reporting elapsed time and RSS."""
    started = time.perf_counter()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, _maxrss_mb(usage.ru_maxrss)
        rss = _live_rss_mb(proc.pid)
        memory = f", {rss:,.0f} MB resident" if rss is not None else ""
        show(f"{label} … {time.perf_counter() - started:,.0f} s{memory}")
        time.sleep(0.2)


def run_child(
    target: str,
    kwargs: dict[str, Any],
    *,
    label: str,
    show: Callable[[str], None] = lambda _: None,
) -> ChildRun:
    """Run ``module:function(**kwargs)`` in a fresh interpreter; ChildFailedError if it fails."""
    with tempfile.TemporaryDirectory(prefix="velocal-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "benchmarks._measure",
            target,
            json.dumps(kwargs),
            str(result_path),
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT)
        try:
            returncode, peak_mb = _wait_showing_progress(proc, label, show)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
        if returncode != 0 or not result_path.is_file():
            raise ChildFailedError(f"{label}: the benchmark process exited with code {returncode}")
        result = json.loads(result_path.read_text())
    return ChildRun(label=label, result=result, wall_s=wall, peak_rss_mb=peak_mb)


def _resolve(target: str) -> Callable[..., dict[str, Any]]:
    module_name, _, function_name = target.partition(":")
    function: Callable[..., dict[str, Any]] = getattr(
        importlib.import_module(module_name), function_name
    )
    return function


def child_main(argv: Sequence[str]) -> int:
    """The child's side: call the task and write what it returns as JSON."""
    if len(argv) != 3:
        print(
            "usage: python -m benchmarks._measure module:function KWARGS_JSON OUT", file=sys.stderr
        )
        return 2
    target, kwargs, out = argv
    result = _resolve(target)(**json.loads(kwargs))
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
