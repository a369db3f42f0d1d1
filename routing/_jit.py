"""JIT options for every numba kernel of the routing layer, set in one place."""

from __future__ import annotations

from typing import Any

from numba import njit

#: Compiled code is cached on disk (``__pycache__``), so only the first run pays for compiling.
#: No fastmath: matrices must equal a reference Dijkstra exactly.
KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "boundscheck": False}
PARALLEL_KERNEL_OPTIONS: dict[str, Any] = {**KERNEL_OPTIONS, "parallel": True}

#: ``numba.njit`` seen as untyped, so ``@kernel(**KERNEL_OPTIONS)`` type-checks.
kernel: Any = njit
