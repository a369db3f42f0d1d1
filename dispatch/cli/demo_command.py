"""``velocal demo``: the demo town end to end: graph, shops, customers' doors, matrix and a map."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from dispatch.cli.maps import save_map
from dispatch.cli.progress import ProgressDisplay
from dispatch.cli.routing_commands import ExtractArg, ProfileOpt, QuietOpt, console
from routing.load import load_address_index, load_graph
from routing.matrix import travel_matrix
from routing.path import fastest_path
from routing.snapping import snap_points


def demo(
    extract: ExtractArg = "helsinki",
    profile: ProfileOpt = "cargo_bike",
    shops: Annotated[int, typer.Option(help="How many of the town's shops take part.")] = 12,
    doors: Annotated[int, typer.Option(help="How many customers' addresses to deliver to.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed for picking shops and addresses.")] = 0,
    map_path: Annotated[Path, typer.Option("--map", help="Where to draw the map (PNG).")] = Path(
        "velocal-demo.png"
    ),
    quiet: QuietOpt = False,
) -> None:
    """Load the demo town, pick real shops and addresses, and ride between them."""
    started = time.perf_counter()
    with ProgressDisplay(console, enabled=not quiet) as progress:
        graph = load_graph(extract, profile, progress=progress)
        index = load_address_index(extract)
    arrays = index.to_arrays()
    rng = np.random.default_rng(seed)
    shop_rows = np.flatnonzero(arrays["kind"] == "shop")
    door_rows = np.flatnonzero(arrays["kind"] == "address")
    if shop_rows.size == 0 or door_rows.size == 0:
        raise ValueError(f"{extract}: the extract has no tagged shops or addresses to demo with")
    picked_shops = rng.choice(shop_rows, size=min(shops, shop_rows.size), replace=False)
    picked_doors = rng.choice(door_rows, size=min(doors, door_rows.size), replace=False)
    rows = np.concatenate([picked_shops, picked_doors])
    points = snap_points(graph, arrays["lon"][rows], arrays["lat"][rows])
    with ProgressDisplay(console, enabled=not quiet) as progress:
        matrix = travel_matrix(graph, points, progress=progress)
    n_shops = picked_shops.size
    # Each shop's farthest customer, in time: the rides a courier would dread most.
    from_shops = matrix.duration_s[:n_shops, n_shops:]
    worst = int(np.argmax(from_shops.max(axis=1)))
    far_door = n_shops + int(np.argmax(from_shops[worst]))
    ride = fastest_path(graph, points[worst], points[far_door])
    save_map(
        graph,
        map_path,
        shops=[
            (float(arrays["lon"][r]), float(arrays["lat"][r]), str(arrays["name"][r]))
            for r in picked_shops
        ],
        rides=[ride],
        title=f"{graph.name}: {n_shops} shops, {picked_doors.size} customers' doors",
    )

    console.print(
        f"[bold]{graph.name}[/] ({graph.profile}): {graph.n_nodes:,} junctions, "
        f"{graph.report.network_km:,.1f} km of rideable streets; "
        f"{index.n_shops:,} shops and {index.n_addresses:,} addresses in the offline index"
    )
    off_diagonal = ~np.eye(matrix.shape[0], dtype=bool)
    console.print(
        f"{matrix.shape[0]}×{matrix.shape[1]} travel matrix: median ride "
        f"{np.median(matrix.duration_s[off_diagonal]) / 60:.1f} min, longest "
        f"{matrix.duration_s.max() / 60:.1f} min; farthest snap {points.distance_m.max():.0f} m"
    )
    shop_name = arrays["name"][rows[worst]]
    table = Table(
        title=f"Farthest delivery from a shop: {shop_name} → {_door(arrays, far_door, rows)}"
    )
    table.add_column("street")
    table.add_column("km", justify="right")
    table.add_column("min", justify="right")
    for leg in ride.streets:
        table.add_row(
            leg.name or "(unnamed)", f"{leg.distance_m / 1000:.2f}", f"{leg.duration_s / 60:.1f}"
        )
    table.add_row("[bold]total", f"{ride.distance_m / 1000:.2f}", f"{ride.duration_s / 60:.1f}")
    console.print(table)
    console.print(f"map written to {map_path} ({time.perf_counter() - started:.1f} s in all)")
    console.print("Map data © OpenStreetMap contributors (ODbL)")


def _door(arrays: dict[str, np.ndarray], column: int, rows: np.ndarray) -> str:
    row = rows[column]
    return f"{arrays['street'][row]} {arrays['housenumber'][row]}".strip()
