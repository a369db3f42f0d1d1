"""JIT options for every numba kernel of the solver, set in one place."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from numba import njit, types

#: Compiled code is cached on disk (``__pycache__``), so only the first run pays for compiling.
#: No fastmath: costs are integers and the search must be deterministic for a given seed.
#: ``error_model="numpy"`` drops Python's division checks from the hot loops.
#: Kernels called only by other kernels get no CPython wrapper (unboxing the solver's arrays
#: costs compile time); the few entry points called from Python use ENTRY_OPTIONS.
ENTRY_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "boundscheck": False,
    "error_model": "numpy",
}
KERNEL_OPTIONS: dict[str, Any] = {**ENTRY_OPTIONS, "no_cpython_wrapper": True}


def _unliteral_calls(dispatcher: Any) -> Any:
    """Make calls from other kernels compile one version per argument *type*.

    numba types a constant argument as a literal (``Literal[int](0)``) and, by default,
    compiles the callee once per distinct constant: with the many small constants the kernels
    pass (slots, flags, -1 for "no second route"), that multiplied the cold compile time several
    times. The callee now sees plain ``int64``/``boolean``; the call converts the literal.
    """
    if not hasattr(dispatcher, "get_call_template"):  # NUMBA_DISABLE_JIT=1: a plain function
        return dispatcher
    original = dispatcher.get_call_template

    def get_call_template(args: tuple, kws: dict) -> Any:
        plain = tuple(types.unliteral(a) for a in args)
        return original(plain, {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def _kernel(**options: Any) -> Any:
    def decorate(function: Any) -> Any:
        return _unliteral_calls(njit(**options)(function))

    return decorate


#: ``@kernel(**KERNEL_OPTIONS)``: ``numba.njit`` without per-constant specialisation, untyped
#: for mypy (kernels are typed loosely, the Python wrappers strictly).
kernel: Any = _kernel


def drop_stale_cache(package: Path) -> bool:
    """Delete numba's on-disk cache of ``package`` when any of its sources changed.

    numba invalidates a cached function only when *its own* file changes, not when a kernel it
    calls in another module does; the kernels of ``solver._core`` call each other across files,
    so a stale cache could run old code. A hash of all the package's sources guards against it.
    Returns True when the cache was dropped.
    """
    sources = sorted(package.glob("*.py"))
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache = package / "__pycache__"
    stamp = cache / "kernels.sha256"
    current = digest.hexdigest()
    try:
        if stamp.read_text() == current:
            return False
    except OSError:
        pass
    dropped = False
    if cache.is_dir():
        for path in cache.iterdir():
            if path.suffix in (".nbi", ".nbc"):
                path.unlink(missing_ok=True)
                dropped = True
    try:
        cache.mkdir(exist_ok=True)
        stamp.write_text(current)
    except OSError:  # a read-only install: numba then caches elsewhere or not at all
        pass
    return dropped


__all__ = ["ENTRY_OPTIONS", "KERNEL_OPTIONS", "drop_stale_cache", "kernel"]
