"""A town's cargo-bike graph, loaded once per process and shared by every request.

Loading a graph from its cache takes tens of milliseconds and its snapping index and
contraction hierarchy are built on first use; keeping one ``TownNetwork`` per (extract,
profile) means a customer asking for windows or a planner run pays that only once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from dispatch.models import Town
from routing import BikeGraph, load_graph


@dataclass(frozen=True, eq=False)
class TownNetwork:
    """The graph a town's bikes ride, with the extract and profile it was built from."""

    extract: str
    profile: str
    graph: BikeGraph


_CACHE: dict[tuple[str, str], TownNetwork] = {}
_LOCK = threading.Lock()


def network_for(extract: str, profile: str) -> TownNetwork:
    """The network of ``extract`` ridden with ``profile``, loaded on first use."""
    key = (extract, profile)
    found = _CACHE.get(key)
    if found is not None:
        return found
    with _LOCK:  # two requests at start-up load it once
        found = _CACHE.get(key)
        if found is None:
            graph = load_graph(None if extract == "helsinki" else extract, profile)
            found = _CACHE[key] = TownNetwork(extract=extract, profile=profile, graph=graph)
    return found


def get_network(town: Town, *, profile: str | None = None) -> TownNetwork:
    """The town's cargo-bike graph (``town.profile`` unless a bike type names another)."""
    return network_for(town.extract, profile or town.profile)


def clear_cache() -> None:
    """Forget every loaded network (tests; after an operator swaps the extract)."""
    with _LOCK:
        _CACHE.clear()


__all__ = ["TownNetwork", "clear_cache", "get_network", "network_for"]
