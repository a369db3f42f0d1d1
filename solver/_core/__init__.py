"""The search core: numba kernels over flat arrays (private; ``solver.search`` wraps them)."""

from __future__ import annotations

from pathlib import Path

from solver._jit import drop_stale_cache

drop_stale_cache(Path(__file__).resolve().parent)
