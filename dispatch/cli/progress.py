"""Progress display for long steps (reading extracts, contracting, matrices)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

_LABELS = {
    "read": "reading the extract (objects)",
    "build": "building the graph",
    "hierarchy": "contracting the graph (nodes)",
    "matrix": "travel matrix (rows)",
}


class ProgressDisplay:
    """A context manager whose instance is the ``progress(stage, done, total)`` callback."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._progress.add_task(_LABELS.get(stage, stage), total=total or None)
            self._tasks[stage] = task
        if total:
            self._progress.update(task, completed=done, total=total)
        else:
            self._progress.update(task, completed=done)
