"""``velocal graph|matrix|route|address|profile``: the routing layer from the command line."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from dispatch.cli.maps import save_map
from dispatch.cli.progress import ProgressDisplay
from routing.graph import BikeGraph
from routing.load import load_graph
from routing.matrix import travel_matrix
from routing.path import fastest_path
from routing.profile import get_profile
from routing.snapping import DEFAULT_MAX_SNAP_M, SnappedPoints, snap_points

console = Console()
graph_app = typer.Typer(
    help="Build, inspect and export a town's cargo-bike graph.", no_args_is_help=True
)

ExtractArg = Annotated[
    str,
    typer.Argument(
        help="OSM extract (.osm.pbf, .osm, .osm.bz2, .osm.gz); 'helsinki' is the bundled demo town."
    ),
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="cargo_bike, e_cargo_bike, or a .toml file.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


def _load(extract: str, profile: str, *, quiet: bool, use_cache: bool = True) -> BikeGraph:
    with ProgressDisplay(console, enabled=not quiet) as progress:
        return load_graph(extract, profile, use_cache=use_cache, progress=progress)


@graph_app.command("build")
def graph_build(
    extract: ExtractArg = "helsinki",
    profile: ProfileOpt = "cargo_bike",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Rebuild and do not write the cache.")
    ] = False,
    plot: Annotated[Path | None, typer.Option(help="Also draw the graph to this PNG.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Build (or load from cache) the cargo-bike graph and say what was kept and why."""
    started = time.perf_counter()
    graph = _load(extract, profile, quiet=quiet, use_cache=not no_cache)
    elapsed = time.perf_counter() - started
    _print_report(graph, elapsed)
    if plot is not None:
        save_map(graph, plot)
        console.print(f"map written to {plot}")


def _print_report(graph: BikeGraph, elapsed: float) -> None:
    r = graph.report
    source = f"cache {r.cache_path}" if r.from_cache else "extract"
    console.print(f"[bold]{graph.name}[/] ({graph.profile}) from {source} in {elapsed:.2f} s")
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("nodes kept", f"{graph.n_nodes:,}")
    table.add_row("edges kept", f"{graph.n_edges:,}")
    table.add_row("network", f"{r.network_km:,.1f} km")
    table.add_row("ways read / kept", f"{r.ways_read:,} / {r.ways_kept:,}")
    for reason, count in sorted(r.ways_dropped.items(), key=lambda item: -item[1]):
        table.add_row("  ways dropped", f"{count:,}  {reason}")
    table.add_row(
        "clipped extract",
        f"{r.missing_node_refs:,} missing nodes in {r.ways_clipped:,}"
        f" ways ({r.ways_lost_to_clipping:,} ways lost entirely)",
    )
    table.add_row(
        "barriers",
        f"{r.blocking_barriers:,} blocking, {r.segments_cut_by_barriers:,} way segments cut",
    )
    table.add_row(
        "relations ignored",
        f"{r.highway_relations_ignored:,} highway relations/areas (routing uses ways only)",
    )
    table.add_row(
        "largest component",
        f"removed {r.scc_nodes_removed:,} nodes, "
        f"{r.scc_edges_removed:,} edges in "
        f"{r.scc_components_removed:,} islands",
    )
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in r.seconds.items())
    table.add_row("time", timing)
    if r.cache_path and not r.from_cache:
        table.add_row("cache written", r.cache_path)
    console.print(table)


@graph_app.command("export")
def graph_export(
    output: Annotated[Path, typer.Argument(help="GraphML file to write (osmnx can load it).")],
    extract: Annotated[str, typer.Option(help="OSM extract or 'helsinki'.")] = "helsinki",
    profile: ProfileOpt = "cargo_bike",
    quiet: QuietOpt = False,
) -> None:
    """Export the graph to GraphML for analysis in networkx, osmnx or QGIS."""
    import osmnx

    from routing.export import to_networkx

    graph = _load(extract, profile, quiet=quiet)
    osmnx.save_graphml(to_networkx(graph), output)
    console.print(f"{graph.n_nodes:,} nodes and {graph.n_edges:,} edges written to {output}")


def _read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV with ``lat`` and ``lon`` columns (other columns are ignored)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"lat", "lon"} <= set(rows[0]):
        raise ValueError(f"{path}: needs a header with 'lat' and 'lon' columns")
    try:
        lat = np.array([float(row["lat"]) for row in rows])
        lon = np.array([float(row["lon"]) for row in rows])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return lon, lat


def matrix(
    extract: ExtractArg = "helsinki",
    points: Annotated[Path | None, typer.Option(help="CSV with lat,lon columns.")] = None,
    random: Annotated[int, typer.Option(help="Use this many random network nodes instead.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed for --random.")] = 0,
    output: Annotated[
        Path | None,
        typer.Option(help="Write duration_s and distance_m to this .npz or .csv (durations)."),
    ] = None,
    max_snap_m: Annotated[float, typer.Option(help="Snapping limit, m.")] = DEFAULT_MAX_SNAP_M,
    method: Annotated[
        str, typer.Option(help="auto, hierarchy (contraction hierarchy) or dijkstra.")
    ] = "auto",
    profile: ProfileOpt = "cargo_bike",
    quiet: QuietOpt = False,
) -> None:
    """Compute the travel-time and distance matrix between points."""
    if method not in ("auto", "hierarchy", "dijkstra"):
        raise typer.BadParameter(f"--method must be auto, hierarchy or dijkstra, not {method!r}")
    if (points is None) == (random <= 0):
        raise typer.BadParameter("give either --points FILE or --random N")
    graph = _load(extract, profile, quiet=quiet)
    started = time.perf_counter()
    if points is not None:
        lon, lat = _read_points(points)
        endpoints: SnappedPoints | np.ndarray = snap_points(
            graph, lon, lat, max_distance_m=max_snap_m
        )
    else:
        rng = np.random.default_rng(seed)
        endpoints = rng.choice(graph.n_nodes, size=min(random, graph.n_nodes), replace=False)
    snapped = time.perf_counter()
    with ProgressDisplay(console, enabled=not quiet) as progress:
        result = travel_matrix(graph, endpoints, progress=progress, method=method)  # type: ignore[arg-type]
    done = time.perf_counter()
    n = result.shape[0]
    off = ~np.eye(n, dtype=bool)
    console.print(
        f"{n}×{n} matrix in {done - snapped:.2f} s (snapping {snapped - started:.2f} s); "
        f"median {np.median(result.duration_s[off]) / 60:.1f} min, "
        f"max {result.duration_s.max() / 60:.1f} min, "
        f"median {np.median(result.distance_m[off]) / 1000:.2f} km"
    )
    if output is not None:
        if output.suffix == ".csv":
            np.savetxt(output, result.duration_s, fmt="%d", delimiter=",")
        else:
            np.savez(output, duration_s=result.duration_s, distance_m=result.distance_m)
        console.print(f"written to {output}")


def _parse_lat_lon(text: str, role: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = text.split(",")
        return float(lon_text), float(lat_text)
    except ValueError:
        raise typer.BadParameter(f"{role} must be 'lat,lon', got {text!r}") from None


def route(
    origin: Annotated[str, typer.Argument(help="'lat,lon' where the ride starts.")],
    destination: Annotated[str, typer.Argument(help="'lat,lon' where it ends.")],
    extract: Annotated[str, typer.Option(help="OSM extract or 'helsinki'.")] = "helsinki",
    geojson: Annotated[Path | None, typer.Option(help="Write the path as GeoJSON.")] = None,
    profile: ProfileOpt = "cargo_bike",
    quiet: QuietOpt = False,
) -> None:
    """Show the fastest cargo-bike path between two points, street by street."""
    o_lon, o_lat = _parse_lat_lon(origin, "origin")
    d_lon, d_lat = _parse_lat_lon(destination, "destination")
    graph = _load(extract, profile, quiet=quiet)
    points = snap_points(graph, [o_lon, d_lon], [o_lat, d_lat])
    ride = fastest_path(graph, points[0], points[1])
    console.print(f"{ride.distance_m / 1000:.2f} km in {ride.duration_s / 60:.1f} min")
    for leg in ride.streets:
        console.print(f"  {leg.distance_m:6.0f} m  {leg.name or '(unnamed way)'}")
    if geojson is not None:
        geojson.write_text(json.dumps(ride.to_geojson()), encoding="utf-8")
        console.print(f"written to {geojson}")


def address(
    query: Annotated[str, typer.Argument(help="An address or shop name, as a person types it.")],
    extract: Annotated[str, typer.Option(help="OSM extract or 'helsinki'.")] = "helsinki",
    limit: Annotated[int, typer.Option(help="How many matches to show.")] = 5,
) -> None:
    """Look up an address or shop in the extract, offline."""
    from routing.load import load_address_index

    index = load_address_index(extract)
    matches = index.search(query, limit=limit)
    if not matches:
        raise ValueError(f"no address or shop matches {query!r}")
    for match in matches:
        console.print(f"{match.score:5.1f}  {match.label}  ({match.lat:.6f}, {match.lon:.6f})")


def profile(
    name: Annotated[str, typer.Argument(help="cargo_bike, e_cargo_bike or a .toml file.")] = (
        "cargo_bike"
    ),
) -> None:
    """Print a speed profile as TOML: a starting point for a town's own profile."""
    data = get_profile(name).to_dict()
    lines = [f'name = "{data.pop("name")}"']
    tables = {k: data.pop(k) for k in ("highway_speeds_kph", "surface_factors")}
    barriers = data.pop("blocking_barriers")
    lines += [f"{key} = {value}" for key, value in data.items()]
    lines.append("blocking_barriers = [" + ", ".join(f'"{b}"' for b in barriers) + "]")
    for table, values in tables.items():
        lines.append(f"\n[{table}]")
        for key, value in values.items():
            quoted = f'"{key}"' if ":" in key else key
            lines.append(f"{quoted} = {value}")
    # Plain print, not rich: the output is TOML to be saved and edited, never wrapped.
    print("\n".join(lines))
