"""Routing benchmark: velocal against scipy (travel matrices) and osmnx (graph building).

Run from the project root::

    python -m benchmarks.routing_bench [--extract PATH] [--size 1000] [--repeat 3]
                                       [--out benchmarks/results/] [--skip-osmnx]

Every measured step runs in a fresh Python process (:mod:`benchmarks._measure`), so its peak
resident memory is its own and no step profits from another's warm imports. Inside a process,
only the step itself is timed; imports and loading the cached graph are reported apart.

1. A ``size``×``size`` duration matrix between random junctions (seeded): scipy's
   ``csgraph.dijkstra`` against ``travel_matrix(method="dijkstra")`` and
   ``travel_matrix(method="hierarchy")``; the three must agree cell for cell.
2. Building the graph from the ``.osm.pbf``: ``load_graph(use_cache=False)`` against
   ``osmnx.graph_from_xml`` on the same data converted to OSM XML (conversion not counted).

The tasks below (``task_*``) run inside the child processes; heavy imports stay inside them so
that no child carries another's libraries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from benchmarks._measure import (
    PROJECT_ROOT,
    ChildFailedError,
    ChildRun,
    Timings,
    current_rss_mb,
    run_child,
    time_once,
    time_repeated,
)

if TYPE_CHECKING:
    import numpy as np

    from routing import BikeGraph

DEFAULT_EXTRACT = (
    Path(os.environ.get("VELOCAL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    / "osm"
    / "porto-region_roads.osm.pbf"
)
DEFAULT_OUT = PROJECT_ROOT / "benchmarks" / "results"
DEFAULT_SEED = 42
#: Rows of the untimed first matrix call that loads the compiled kernels (and the hierarchy).
WARMUP_ROWS = 8
_MODULE = "benchmarks.routing_bench"


# ---------------------------------------------------------------------------------------------
# Tasks: each runs in its own process and returns JSON-able figures.
# ---------------------------------------------------------------------------------------------


def _import_routing() -> tuple[float, ModuleType]:
    """Import velocal's routing layer (numba, numpy, pyosmium), timed apart from the work."""
    return time_once(lambda: importlib.import_module("routing"))


def _cached_graph(extract: str, cache_dir: str) -> BikeGraph:
    """The graph from the benchmark's own cache folder (never the user's or the extract's)."""
    from routing import load_graph

    graph = load_graph(extract, cache_dir=Path(cache_dir))
    if not graph.report.from_cache:
        raise RuntimeError(f"expected the graph of {extract} to be cached in {cache_dir}")
    return graph


def sample_nodes(n_nodes: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct random junctions: the same ones in every process for one seed."""
    import numpy as np

    return np.random.default_rng(seed).choice(n_nodes, size=size, replace=False).astype(np.int64)


def task_prepare_graph(extract: str, cache_dir: str) -> dict[str, Any]:
    """Build the graph into the benchmark cache, so later tasks only load it."""
    from routing import load_graph

    graph = load_graph(extract, cache_dir=Path(cache_dir))
    return {"nodes": graph.n_nodes, "edges": graph.n_edges, "cache_path": graph.report.cache_path}


def task_build_ours(extract: str) -> dict[str, Any]:
    """A first run on a new extract: read the .pbf and build the graph, no cache involved."""
    import_s, routing = _import_routing()
    baseline = current_rss_mb()
    build_s, graph = time_once(lambda: routing.load_graph(extract, use_cache=False))
    return {
        "import_s": import_s,
        "build_s": build_s,
        "baseline_rss_mb": baseline,
        "stages_s": graph.report.seconds,
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
    }


def task_load_cached(extract: str, cache_dir: str, repeat: int) -> dict[str, Any]:
    """Every later run: hash the extract and load the cached arrays."""
    import_s, routing = _import_routing()
    baseline = current_rss_mb()
    timings, graph = time_repeated(
        lambda: routing.load_graph(extract, cache_dir=Path(cache_dir)), repeat
    )
    if not graph.report.from_cache:
        raise RuntimeError("the graph was rebuilt instead of loaded from the cache")
    return {"import_s": import_s, "baseline_rss_mb": baseline, **timings.to_json()}


def task_build_osmnx(xml: str) -> dict[str, Any]:
    """osmnx's own route from a file: ``graph_from_xml`` (parse, graph, simplify, largest SCC)."""
    import_s, ox = time_once(lambda: importlib.import_module("osmnx"))
    baseline = current_rss_mb()
    build_s, graph = time_once(
        lambda: ox.graph_from_xml(xml, bidirectional=False, simplify=True, retain_all=False)
    )
    return {
        "import_s": import_s,
        "build_s": build_s,
        "baseline_rss_mb": baseline,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
    }


def task_hierarchy_build(extract: str, cache_dir: str, repeat: int) -> dict[str, Any]:
    """Contract the graph (one-off preprocessing) and save it where matrix queries find it."""
    import_s, _ = _import_routing()
    from routing.hierarchy import build_hierarchy, hierarchy_path

    graph = _cached_graph(extract, cache_dir)
    warmup_s, _ = time_once(lambda: build_hierarchy(graph))
    baseline = current_rss_mb()
    timings, hierarchy = time_repeated(lambda: build_hierarchy(graph), repeat)
    path = hierarchy_path(graph)
    if path is None:
        raise RuntimeError("the benchmark graph has no cache path to keep its hierarchy beside")
    hierarchy.save(path)
    return {
        "import_s": import_s,
        "first_build_s": warmup_s,
        "baseline_rss_mb": baseline,
        "shortcuts": hierarchy.n_shortcuts,
        **timings.to_json(),
    }


def task_matrix_ours(
    extract: str, cache_dir: str, size: int, seed: int, repeat: int, method: str, out: str
) -> dict[str, Any]:
    """Our ``size``×``size`` matrix with one method, after an untimed warm-up call."""
    import numba
    import numpy as np

    import_s, routing = _import_routing()
    from routing.hierarchy import cached_hierarchy

    graph = _cached_graph(extract, cache_dir)
    nodes = sample_nodes(graph.n_nodes, size, seed)
    if method == "hierarchy" and cached_hierarchy(graph) is None:
        raise RuntimeError("no saved hierarchy: task_hierarchy_build must run first")
    warmup_s, _ = time_once(
        lambda: routing.travel_matrix(graph, nodes[:WARMUP_ROWS], method=method)
    )
    baseline = current_rss_mb()
    timings, matrix = time_repeated(
        lambda: routing.travel_matrix(graph, nodes, method=method), repeat
    )
    np.save(out, matrix.duration_s)
    return {
        "import_s": import_s,
        "warmup_s": warmup_s,
        "baseline_rss_mb": baseline,
        "numba_threads": numba.get_num_threads(),
        **timings.to_json(),
    }


def min_weight_csr(graph: BikeGraph) -> Any:
    """Travel times as a scipy CSR matrix, keeping the fastest of parallel edges.

    ``csr_matrix`` would *sum* duplicate (from, to) entries, so duplicates are dropped first;
    0-second edges stay as explicit zeros, which csgraph treats as edges.
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    n = graph.n_nodes
    sources = graph.sources.astype(np.int64)
    targets = graph.targets.astype(np.int64)
    times = graph.travel_time_s.astype(np.int64)
    order = np.lexsort((times, targets, sources))
    sources, targets, times = sources[order], targets[order], times[order]
    first = np.ones(sources.shape[0], dtype=bool)
    first[1:] = (sources[1:] != sources[:-1]) | (targets[1:] != targets[:-1])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sources[first], minlength=n), out=indptr[1:])
    return csr_matrix(
        (times[first].astype(np.float64), targets[first].astype(np.int32), indptr), shape=(n, n)
    )


def task_matrix_scipy(
    extract: str, cache_dir: str, size: int, seed: int, repeat: int, out: str
) -> dict[str, Any]:
    """scipy's reference: one Dijkstra per source over the whole graph, single-threaded."""
    import numpy as np
    from scipy.sparse.csgraph import dijkstra

    import_s, _ = _import_routing()
    graph = _cached_graph(extract, cache_dir)
    nodes = sample_nodes(graph.n_nodes, size, seed)
    csr_s, csr = time_once(lambda: min_weight_csr(graph))
    warmup_s, _ = time_once(lambda: dijkstra(csr, directed=True, indices=nodes[:WARMUP_ROWS]))
    baseline = current_rss_mb()
    timings, dist = time_repeated(lambda: dijkstra(csr, directed=True, indices=nodes), repeat)
    chosen = dist[:, nodes]
    del dist
    durations = np.where(np.isinf(chosen), -1, chosen).astype(np.int64)
    np.save(out, durations)
    return {
        "import_s": import_s,
        "csr_build_s": csr_s,
        "warmup_s": warmup_s,
        "baseline_rss_mb": baseline,
        "csr_edges": int(csr.nnz),
        **timings.to_json(),
    }


# ---------------------------------------------------------------------------------------------
# The parent: runs the tasks, checks the matrices agree, prints and saves the figures.
# ---------------------------------------------------------------------------------------------


def bench_cache_dir() -> Path:
    """The benchmark's own cache (graph, hierarchy, XML): never the shared data folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "velocal" / "bench"


def osm_xml_for(pbf: Path, cache: Path) -> tuple[Path, float | None]:
    """The extract as OSM XML for osmnx, converted once with pyosmium.

    Returns the path and the seconds the conversion took, None when an earlier run did it.
    """
    import osmium

    stat = pbf.stat()
    town = pbf.name.removesuffix(".pbf").removesuffix(".osm")
    xml = cache / "xml" / f"{town}-{stat.st_size}-{stat.st_mtime_ns}.osm"
    if xml.is_file():
        return xml, None
    xml.parent.mkdir(parents=True, exist_ok=True)
    for stale in xml.parent.glob(f"{town}-*.osm"):
        stale.unlink()
    tmp = xml.with_name(xml.name + ".tmp.osm")
    tmp.unlink(missing_ok=True)
    started = time.perf_counter()
    with osmium.SimpleWriter(str(tmp)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    tmp.replace(xml)
    return xml, time.perf_counter() - started


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where the figures come from: CPU, memory, OS and library versions."""
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for package in ("velocal", "numpy", "scipy", "numba", "osmium", "osmnx", "networkx"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numba_threads_env": os.environ.get("NUMBA_NUM_THREADS", ""),
        "git": _git_revision(),
        "versions": versions,
    }


def _git_revision() -> str:
    """The commit measured, marked ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _step(console: Console, label: str, task: str, **kwargs: Any) -> ChildRun:
    """Run one task in a fresh process, with a live line (elapsed, memory) and a summary line."""
    console.print(f"▶ {label}")
    with console.status(label) as status:
        run = run_child(f"{_MODULE}:{task}", kwargs, label=label, show=status.update)
    console.print(
        f"  done in {run.wall_s:,.1f} s (whole process), peak RSS {run.peak_rss_mb:,.0f} MB"
    )
    return run


def _measured(run: ChildRun) -> dict[str, Any]:
    """One row of the report: the task's figures plus its process's wall time and peak RSS."""
    return {
        **run.result,
        "process_wall_s": round(run.wall_s, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
    }


def _fresh_builds(console: Console, extract: Path, repeat: int) -> dict[str, Any]:
    """Our fresh build ``repeat`` times, each in a new process; peak RSS is the largest seen."""
    runs = [
        _step(
            console,
            f"velocal build {i + 1}/{repeat} (fresh process, no cache)",
            "task_build_ours",
            extract=str(extract),
        )
        for i in range(repeat)
    ]
    return _merge_runs(runs, "build_s")


def _osmnx_builds(console: Console, xml: Path, repeat: int) -> dict[str, Any]:
    """osmnx's build ``repeat`` times, each in a new process."""
    runs = [
        _step(
            console,
            f"osmnx graph_from_xml {i + 1}/{repeat} (fresh process)",
            "task_build_osmnx",
            xml=str(xml),
        )
        for i in range(repeat)
    ]
    return _merge_runs(runs, "build_s")


def _merge_runs(runs: list[ChildRun], key: str) -> dict[str, Any]:
    """Several one-shot processes as one row: their times, best, median, and the largest peak."""
    timings = Timings([run.result[key] for run in runs])
    last = runs[-1].result
    return {
        **{k: v for k, v in last.items() if k not in (key, "import_s", "baseline_rss_mb")},
        **timings.to_json(),
        "import_s": statistics.median(run.result["import_s"] for run in runs),
        "baseline_rss_mb": max(run.result["baseline_rss_mb"] for run in runs),
        "peak_rss_mb": round(max(run.peak_rss_mb for run in runs), 1),
        "process_wall_s": [round(run.wall_s, 3) for run in runs],
    }


def compare_matrices(reference: Path, candidates: dict[str, Path]) -> dict[str, int]:
    """How many cells of each candidate differ from the reference (0 = identical)."""
    import numpy as np

    expected = np.load(reference)
    differing = {}
    for name, path in candidates.items():
        got = np.load(path)
        differing[name] = (
            int(np.count_nonzero(got != expected)) if got.shape == expected.shape else got.size
        )
    return differing


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator > 0 else float("inf")


def matrix_ratios(matrix: dict[str, Any]) -> dict[str, dict[str, float]]:
    """scipy's time over ours, for the best and the median run of each method."""
    ratios: dict[str, dict[str, float]] = {}
    scipy = matrix["scipy"]
    for stat in ("best_s", "median_s"):
        ratios[stat.removesuffix("_s")] = {
            "dijkstra": _ratio(scipy[stat], matrix["ours_dijkstra"][stat]),
            "hierarchy": _ratio(scipy[stat], matrix["ours_hierarchy"][stat]),
            "hierarchy_incl_build": _ratio(scipy[stat], matrix["hierarchy_incl_build"][stat]),
        }
    return ratios


def build_ratios(build: dict[str, Any]) -> dict[str, dict[str, float]]:
    """osmnx's build time over our fresh build and over our load from the cache."""
    osmnx = build["osmnx"]
    return {
        stat.removesuffix("_s"): {
            "fresh": _ratio(osmnx[stat], build["ours_fresh"][stat]),
            "cached": _ratio(osmnx[stat], build["ours_cached"][stat]),
        }
        for stat in ("best_s", "median_s")
    }


def _incl_build(hierarchy: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    """A first matrix on a new graph: contracting it, then the query."""
    return {
        "best_s": round(hierarchy["best_s"] + query["best_s"], 6),
        "median_s": round(hierarchy["median_s"] + query["median_s"], 6),
    }


def run_matrix_bench(
    console: Console, extract: Path, cache: Path, work: Path, size: int, repeat: int, seed: int
) -> dict[str, Any]:
    """Part 1: scipy, our Dijkstra and our hierarchy on the same matrix; results must agree."""
    common = {"extract": str(extract), "cache_dir": str(cache), "size": size, "seed": seed}
    hierarchy = _step(
        console,
        "contraction hierarchy build (one-off, saved beside the graph cache)",
        "task_hierarchy_build",
        extract=str(extract),
        cache_dir=str(cache),
        repeat=repeat,
    )
    outs = {name: work / f"{name}.npy" for name in ("scipy", "ours_dijkstra", "ours_hierarchy")}
    scipy = _step(
        console,
        f"scipy csgraph.dijkstra {size}×{size}",
        "task_matrix_scipy",
        repeat=repeat,
        out=str(outs["scipy"]),
        **common,
    )
    dijkstra = _step(
        console,
        f"velocal travel_matrix dijkstra {size}×{size}",
        "task_matrix_ours",
        repeat=repeat,
        method="dijkstra",
        out=str(outs["ours_dijkstra"]),
        **common,
    )
    ch = _step(
        console,
        f"velocal travel_matrix hierarchy {size}×{size}",
        "task_matrix_ours",
        repeat=repeat,
        method="hierarchy",
        out=str(outs["ours_hierarchy"]),
        **common,
    )
    differing = compare_matrices(outs["scipy"], {k: v for k, v in outs.items() if k != "scipy"})
    matrix: dict[str, Any] = {
        "size": size,
        "seed": seed,
        "repeat": repeat,
        "cells_differing_from_scipy": differing,
        "identical": not any(differing.values()),
        "scipy": _measured(scipy),
        "ours_dijkstra": _measured(dijkstra),
        "ours_hierarchy": _measured(ch),
        "hierarchy_build": _measured(hierarchy),
    }
    matrix["hierarchy_incl_build"] = _incl_build(
        matrix["hierarchy_build"], matrix["ours_hierarchy"]
    )
    matrix["ratios_scipy_over_ours"] = matrix_ratios(matrix)
    return matrix


def run_build_bench(
    console: Console,
    extract: Path,
    cache: Path,
    repeat: int,
    osmnx_repeat: int,
    skip_osmnx: bool,
) -> dict[str, Any]:
    """Part 2: our build (fresh and cached) against osmnx's, each in fresh processes."""
    build: dict[str, Any] = {"ours_fresh": _fresh_builds(console, extract, repeat)}
    cached = _step(
        console,
        "velocal load_graph from its cache (fresh process)",
        "task_load_cached",
        extract=str(extract),
        cache_dir=str(cache),
        repeat=repeat,
    )
    build["ours_cached"] = _measured(cached)
    if skip_osmnx:
        build["osmnx"] = {"skipped": True}
        return build
    console.print("▶ converting the .pbf to OSM XML for osmnx (pyosmium; not counted)")
    xml, convert_s = osm_xml_for(extract, bench_cache_dir())
    build["xml"] = {"path": str(xml), "bytes": xml.stat().st_size, "convert_s": convert_s}
    console.print(
        f"  {xml} ({xml.stat().st_size / 2**20:,.0f} MB, "
        + (f"converted in {convert_s:.1f} s)" if convert_s is not None else "cached)")
    )
    try:
        build["osmnx"] = _osmnx_builds(console, xml, osmnx_repeat)
    except ChildFailedError as exc:
        console.print(f"[red]osmnx failed: {exc}[/red]")
        build["osmnx"] = {"error": str(exc)}
        return build
    build["ratios_osmnx_over_ours"] = build_ratios(build)
    return build


# ---------------------------------------------------------------------------------------------
# Output: table, JSON, plot.
# ---------------------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


def _times(row: dict[str, Any]) -> tuple[str, str]:
    return _seconds(row.get("best_s")), _seconds(row.get("median_s"))


def _mb(row: dict[str, Any]) -> str:
    if "peak_rss_mb" not in row:
        return "–"
    return f"{row['peak_rss_mb']:,.0f} MB (base {row.get('baseline_rss_mb', 0):,.0f})"


def _x(ratios: dict[str, dict[str, float]] | None, key: str) -> str:
    if not ratios:
        return "–"
    return f"{ratios['best'][key]:,.1f}× / {ratios['median'][key]:,.1f}×"


def matrix_table(matrix: dict[str, Any]) -> Table:
    """Part 1 as a table: times, speed-up over scipy (best / median), peak memory."""
    size, repeat = matrix["size"], matrix["repeat"]
    ratios = matrix["ratios_scipy_over_ours"]
    table = Table(title=f"{size}×{size} duration matrix (best / median of {repeat}; numba warm)")
    for column in ("method", "best", "median", "scipy ÷ ours", "peak RSS (process)"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row("scipy csgraph.dijkstra", *_times(matrix["scipy"]), "1×", _mb(matrix["scipy"]))
    table.add_row(
        "velocal dijkstra (numba, parallel)",
        *_times(matrix["ours_dijkstra"]),
        _x(ratios, "dijkstra"),
        _mb(matrix["ours_dijkstra"]),
    )
    table.add_row(
        "velocal hierarchy (query)",
        *_times(matrix["ours_hierarchy"]),
        _x(ratios, "hierarchy"),
        _mb(matrix["ours_hierarchy"]),
    )
    table.add_row(
        "hierarchy build (one-off, cached)",
        *_times(matrix["hierarchy_build"]),
        "",
        _mb(matrix["hierarchy_build"]),
    )
    table.add_row(
        "velocal hierarchy incl. build",
        *_times(matrix["hierarchy_incl_build"]),
        _x(ratios, "hierarchy_incl_build"),
        "",
    )
    return table


def build_table(build: dict[str, Any]) -> Table:
    """Part 2 as a table: build times, osmnx's time over ours (best / median), peak memory."""
    ratios = build.get("ratios_osmnx_over_ours")
    table = Table(title="graph from the .osm.pbf (each build in a fresh process; imports apart)")
    for column in ("builder", "best", "median", "osmnx ÷ ours", "peak RSS (process)", "import"):
        table.add_column(column, justify="left" if column == "builder" else "right")
    osmnx = build["osmnx"]
    osmnx_note = "skipped" if osmnx.get("skipped") else osmnx.get("error", "")
    table.add_row(
        "osmnx graph_from_xml",
        *_times(osmnx),
        "1×" if ratios else osmnx_note,
        _mb(osmnx),
        _seconds(osmnx.get("import_s")),
    )
    fresh, cached = build["ours_fresh"], build["ours_cached"]
    table.add_row(
        "velocal load_graph, fresh build",
        *_times(fresh),
        _x(ratios, "fresh"),
        _mb(fresh),
        _seconds(fresh.get("import_s")),
    )
    table.add_row(
        "velocal load_graph, from cache",
        *_times(cached),
        _x(ratios, "cached"),
        _mb(cached),
        _seconds(cached.get("import_s")),
    )
    return table


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The figures on stdout: machine, both tables, the agreement check, the notes."""
    machine, matrix, build = report["machine"], report["matrix"], report["build"]
    console.print()
    console.print(
        f"[bold]machine[/bold]: {machine['cpu']}, {machine['usable_cpus']} usable CPUs, "
        f"{machine['memory_gb']} GB; numba threads {matrix['ours_dijkstra']['numba_threads']}; "
        f"Python {machine['python']}; velocal {machine['git']}"
    )
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    load = report["load_average"]
    console.print(f"load average (1 min): {load['start']} at the start, {load['end']} at the end")
    graph = report["graph"]
    console.print(
        f"extract: {report['extract']} → {graph['nodes']:,} junctions, {graph['edges']:,} edges"
    )
    console.print(matrix_table(matrix))
    verdict = "[green]yes[/green]" if matrix["identical"] else "[red bold]NO[/red bold]"
    console.print(
        f"identical: {verdict} (all {matrix['size'] ** 2:,} durations, both methods vs scipy)"
    )
    console.print(build_table(build))
    for note in report["notes"]:
        console.print(f"• {note}")


def report_notes(matrix: dict[str, Any], build: dict[str, Any]) -> list[str]:
    """What each figure includes and excludes, printed under the tables and kept in the JSON."""
    notes = [
        "Matrix times cover the call only: imports, loading the cached graph and an untimed "
        f"{WARMUP_ROWS}-row warm-up call (numba compile or cache load) are excluded; "
        f"warm-up took {matrix['ours_dijkstra']['warmup_s']:.2f} s (dijkstra), "
        f"{matrix['ours_hierarchy']['warmup_s']:.2f} s (hierarchy, incl. loading it from disk).",
        "scipy's dijkstra is single-threaded and searches the whole graph from each source "
        f"(its CSR, min over parallel edges, took {matrix['scipy']['csr_build_s']:.2f} s to "
        "build, not counted); ours stop once every destination is settled and run in parallel.",
        "Hierarchy build: best/median after an untimed first build "
        f"({matrix['hierarchy_build']['first_build_s']:.2f} s incl. JIT); "
        f"{matrix['hierarchy_build']['shortcuts']:,} shortcuts.",
        "Peak RSS: the kernel's high-water mark of each whole process (imports, graph and the "
        "step); 'base' is the resident memory just before the timed step.",
    ]
    if "xml" in build:
        osmnx = build["osmnx"]
        graph = f"{osmnx['nodes']:,} nodes, {osmnx['edges']:,} edges" if "nodes" in osmnx else ""
        notes.append(
            "osmnx reads OSM XML only: the .pbf was converted once with pyosmium "
            f"({build['xml']['bytes'] / 2**20:,.0f} MB; not counted). graph_from_xml keeps every "
            f"way in the file ({graph}) and computes no travel times; ours applies the cargo-bike "
            "profile and computes them."
        )
    return notes


def write_json(report: dict[str, Any], out: Path) -> Path:
    """``routing-<date>.json`` in ``out``: every figure of the run."""
    path = out / f"routing-{report['date'][:10]}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    return path


def write_plot(report: dict[str, Any], out: Path) -> Path:
    """``routing.png``: median times (log scale) of both parts and each process's peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix, build = report["matrix"], report["build"]
    size = matrix["size"]
    panels: list[tuple[str, bool, dict[str, float]]] = [
        (
            f"{size}×{size} matrix (median, s)",
            True,
            {
                "scipy": matrix["scipy"]["median_s"],
                "ours\ndijkstra": matrix["ours_dijkstra"]["median_s"],
                "ours\nhierarchy": matrix["ours_hierarchy"]["median_s"],
                "hierarchy\nincl. build": matrix["hierarchy_incl_build"]["median_s"],
            },
        ),
        ("graph from .pbf (median, s)", True, _build_bars(build, "median_s")),
        ("peak RSS per process (MB)", False, _memory_bars(matrix, build)),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.8))
    for ax, (title, seconds, bars) in zip(axes, panels, strict=True):
        _bar_panel(ax, title, bars, seconds=seconds)
    machine = report["machine"]
    fig.suptitle(
        f"velocal routing benchmark — {Path(report['extract']).name}, {machine['cpu']}, "
        f"{machine['usable_cpus']} CPUs, {report['date'][:10]}",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / "routing.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _build_bars(build: dict[str, Any], stat: str) -> dict[str, float]:
    bars = {}
    if stat in build["osmnx"]:
        bars["osmnx"] = build["osmnx"][stat]
    bars["ours\nfresh"] = build["ours_fresh"][stat]
    bars["ours\ncached"] = build["ours_cached"][stat]
    return bars


def _memory_bars(matrix: dict[str, Any], build: dict[str, Any]) -> dict[str, float]:
    bars = {
        "scipy\nmatrix": matrix["scipy"]["peak_rss_mb"],
        "ours\ndijkstra": matrix["ours_dijkstra"]["peak_rss_mb"],
        "ours\nhierarchy": matrix["ours_hierarchy"]["peak_rss_mb"],
        "hierarchy\nbuild": matrix["hierarchy_build"]["peak_rss_mb"],
    }
    if "peak_rss_mb" in build["osmnx"]:
        bars["osmnx\nbuild"] = build["osmnx"]["peak_rss_mb"]
    bars["ours\nbuild"] = build["ours_fresh"]["peak_rss_mb"]
    return bars


def _bar_panel(ax: Any, title: str, bars: dict[str, float], *, seconds: bool) -> None:
    """One bar chart, each bar labelled: times on a log scale (they span 1000×), MB linear."""
    colours = ["#9e9e9e" if name.startswith(("scipy", "osmnx")) else "#2e7d32" for name in bars]
    drawn = ax.bar(list(bars), list(bars.values()), color=colours)
    ax.set_yscale("log" if seconds else "linear")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("seconds (log scale)" if seconds else "MB")
    ax.tick_params(axis="x", labelsize=8)
    labels = [_seconds(v) if seconds else f"{v:,.0f}" for v in bars.values()]
    ax.bar_label(drawn, labels=labels, fontsize=8)
    ax.margins(y=0.15)


# ---------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.routing_bench",
        description="Time velocal's routing against scipy (matrices) and osmnx (graph build).",
    )
    parser.add_argument(
        "--extract",
        type=Path,
        default=DEFAULT_EXTRACT,
        help=f"OSM extract (.osm.pbf); default {DEFAULT_EXTRACT}",
    )
    parser.add_argument("--size", type=int, default=1000, help="matrix rows = columns")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each matrix and of our builds"
    )
    parser.add_argument(
        "--osmnx-repeat", type=int, default=1, help="osmnx builds (each takes a minute or more)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the random nodes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for JSON and PNG")
    parser.add_argument("--skip-osmnx", action="store_true", help="leave out the osmnx build")
    return parser.parse_args(argv)


def _usage_error(args: argparse.Namespace) -> str | None:
    """One line saying what is wrong with the arguments, or None."""
    if not args.extract.is_file():
        return f"extract not found: {args.extract} (pass --extract PATH)"
    if args.size < 1 or args.repeat < 1 or args.osmnx_repeat < 1:
        return "--size, --repeat and --osmnx-repeat must be at least 1"
    return None


def _console() -> Console:
    """Rich output; wide enough in a log file that table rows stay on one line."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    return console


def _load_average() -> float:
    """The 1-minute load average: other busy processes inflate every timing here."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else 0.0


def _warn_if_busy(console: Console) -> float:
    """Say so when the machine is busy before the run starts; return the load average."""
    load = _load_average()
    cpus = os.cpu_count() or 1
    if load > 0.5:
        console.print(
            f"[yellow]warning: load average {load} on {cpus} CPUs: other processes are busy "
            "and will inflate the timings[/yellow]"
        )
    return load


def _matrices_agree(console: Console, matrix: dict[str, Any]) -> bool:
    """Loudly refuse to go on when any duration differs from scipy's."""
    if matrix["identical"]:
        console.print("identical: yes")
        return True
    console.print(
        f"[red bold]identical: NO — cells differing from scipy: "
        f"{matrix['cells_differing_from_scipy']}[/red bold]"
    )
    return False


def _prepare(console: Console, extract: Path, cache: Path, size: int) -> dict[str, Any] | None:
    """Build the graph into the benchmark cache; None (after one line) if ``size`` is too big."""
    graph = _step(
        console,
        "preparing the graph cache",
        "task_prepare_graph",
        extract=str(extract),
        cache_dir=str(cache),
    ).result
    if size > graph["nodes"]:
        print(
            f"routing_bench: error: --size {size} exceeds the graph's {graph['nodes']} junctions",
            file=sys.stderr,
        )
        return None
    return graph


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts, print the tables, write the JSON and the plot.

    Exit status: 0 when all went well, 1 when the matrices differ or osmnx failed, 2 on a usage
    error (such as a missing extract).
    """
    args = parse_args(argv)
    problem = _usage_error(args)
    if problem:
        print(f"routing_bench: error: {problem}", file=sys.stderr)
        return 2
    extract, out = args.extract.resolve(), args.out.resolve()
    cache = bench_cache_dir() / "graphs"
    console = _console()
    console.print(f"[bold]velocal routing benchmark[/bold] on {extract}")
    load_start = _warn_if_busy(console)
    graph = _prepare(console, extract, cache, args.size)
    if graph is None:
        return 2
    with tempfile.TemporaryDirectory(prefix="velocal-bench-") as work:
        matrix = run_matrix_bench(
            console, extract, cache, Path(work), args.size, args.repeat, args.seed
        )
    if not _matrices_agree(console, matrix):
        return 1
    build = run_build_bench(
        console, extract, cache, args.repeat, args.osmnx_repeat, args.skip_osmnx
    )
    report = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.routing_bench", *(argv or sys.argv[1:])]),
        "extract": str(extract),
        "extract_bytes": extract.stat().st_size,
        "graph": {"nodes": graph["nodes"], "edges": graph["edges"]},
        "machine": machine_info(),
        "load_average": {"start": load_start, "end": _load_average()},
        "matrix": matrix,
        "build": build,
        "notes": report_notes(matrix, build),
    }
    print_report(console, report)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json(report, out), write_plot(report, out)]
    console.print("wrote " + ", ".join(str(path) for path in written))
    return 1 if "error" in build["osmnx"] else 0


if __name__ == "__main__":
    sys.exit(main())
