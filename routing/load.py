"""Load a town's graph, building it once and caching it beside the extract."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from routing.addresses import AddressIndex, build_address_index
from routing.build import build_graph
from routing.errors import RoutingError
from routing.extracts import resolve_extract
from routing.graph import GRAPH_FORMAT_VERSION, BikeGraph, BuildReport
from routing.osm_reader import check_extract_path, read_ways
from routing.profile import Profile, get_profile

log = logging.getLogger("velocal.routing")

#: What reading a damaged ``.npz`` cache raises (an empty or truncated file is no zip at all).
_UNREADABLE_CACHE = (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile)

ProgressCallback = Callable[[str, int, int], None]


def load_graph(
    extract: str | Path | None = None,
    profile: str | Path | Profile = "cargo_bike",
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
) -> BikeGraph:
    """Load the cargo-bike graph of an OSM extract (default: the bundled Helsinki centre).

    The first load builds the graph and caches it as ``<extract>.velocal-<profile>-<key>.npz``
    beside the extract (or in ``cache_dir``/the user cache when that folder is read-only);
    the key covers the file's content, the profile's values and the graph format, so any change
    rebuilds. ``graph.report.seconds`` says where the time went and whether the cache was used.
    """
    path = check_extract_path(resolve_extract(extract))
    chosen = get_profile(profile)
    started = time.perf_counter()
    key = _cache_key(path, chosen)
    hashed = time.perf_counter() - started
    candidates = _cache_candidates(path, chosen, key, cache_dir)
    if use_cache:
        for candidate in candidates:
            if candidate.is_file():
                try:
                    graph = BikeGraph.load(candidate)
                except _UNREADABLE_CACHE as exc:
                    log.warning("ignoring unreadable graph cache %s: %s", candidate, exc)
                    continue
                seconds = {
                    "hash": round(hashed, 3),
                    "cache_load": round(time.perf_counter() - started - hashed, 3),
                }
                log.info("loaded %s from cache %s", path.name, candidate)
                return replace(
                    graph,
                    report=replace(
                        graph.report, seconds=seconds, cache_path=str(candidate), from_cache=True
                    ),
                )

    read_started = time.perf_counter()
    raw = read_ways(path, chosen, progress=progress)
    read_seconds = time.perf_counter() - read_started
    if progress is not None:
        progress("build", 0, 1)
    report = BuildReport(
        extract=str(path),
        profile=chosen.name,
        ways_dropped=dict(raw.dropped_ways.most_common()),
        highway_relations_ignored=raw.highway_relations,
        seconds={"hash": round(hashed, 3), "read": round(read_seconds, 3)},
    )
    graph = build_graph(raw, name=_town_name(path), profile=chosen.name, report=report)
    if progress is not None:
        progress("build", 1, 1)
    if use_cache:
        written = _write_cache(graph, candidates)
        graph = replace(graph, report=replace(graph.report, cache_path=str(written or "")))
    log.info(
        "built %s: %d nodes, %d edges, %.1f km in %.2f s",
        path.name,
        graph.n_nodes,
        graph.n_edges,
        graph.report.network_km,
        time.perf_counter() - started,
    )
    return graph


def _town_name(path: Path) -> str:
    name = path.name
    for suffix in (".pbf", ".bz2", ".gz", ".xml", ".osm"):
        name = name.removesuffix(suffix)
    return name


def _cache_key(path: Path, profile: Profile | None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    fingerprint = profile.fingerprint() if profile is not None else "addresses"
    digest.update(f"{fingerprint}:{GRAPH_FORMAT_VERSION}".encode())
    return digest.hexdigest()[:16]


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "velocal" / "graphs"


def _cache_candidates(path: Path, profile: Profile, key: str, cache_dir: Path | None) -> list[Path]:
    filename = f"{path.name}.velocal-{profile.name}-{key}.npz"
    if cache_dir is not None:
        return [cache_dir / filename]
    return _beside_or_user_cache(path, filename)


def _beside_or_user_cache(path: Path, filename: str) -> list[Path]:
    """Beside the extract when its folder is meant to be written, else the user cache.

    The mode bits are checked as well as ``os.access``: root may write anywhere, but a
    folder marked read-only (a shared data set) must stay untouched.
    """
    folder = path.parent
    writable = os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    if writable:
        return [path.with_name(filename), user_cache_dir() / filename]
    return [user_cache_dir() / filename]


def _write_cache(graph: BikeGraph, candidates: list[Path]) -> Path | None:
    """Write the cache to the first writable place and remove stale caches of the same town."""
    for candidate in candidates:
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            graph.save(candidate)
        except OSError:
            continue
        prefix = candidate.name.rsplit("-", 1)[0]
        for stale in candidate.parent.glob(f"{prefix}-*.npz"):
            if stale != candidate:
                stale.unlink(missing_ok=True)
        return candidate
    log.warning("could not write the graph cache to any of %s", candidates)
    return None


def load_address_index(extract: str | Path | None = None) -> AddressIndex:
    """The offline address and shop index of an extract, cached beside it like the graph."""
    path = check_extract_path(resolve_extract(extract))
    key = _cache_key(path, None)
    filename = f"{path.name}.velocal-addresses-{key}.npz"
    candidates = _beside_or_user_cache(path, filename)
    for candidate in candidates:
        if candidate.is_file():
            try:
                with np.load(candidate, allow_pickle=False) as data:
                    return AddressIndex.from_arrays({k: data[k] for k in data.files})
            except (*_UNREADABLE_CACHE, RoutingError) as exc:
                log.warning("ignoring unreadable address cache %s: %s", candidate, exc)
    index = build_address_index(path)
    for candidate in candidates:
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            tmp = candidate.with_name(candidate.name + ".tmp.npz")
            arrays: dict[str, Any] = index.to_arrays()
            np.savez(tmp, **arrays)
            tmp.replace(candidate)
            break
        except OSError:
            continue
    return index
