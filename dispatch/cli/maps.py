"""Static maps (PNG) of a town's bike graph, with shops and rides drawn on top."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from routing.graph import BikeGraph
from routing.path import RidePath

ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"


def save_map(
    graph: BikeGraph,
    path: Path,
    *,
    shops: Sequence[tuple[float, float, str]] = (),
    rides: Sequence[RidePath] = (),
    title: str | None = None,
) -> None:
    """Draw the network coloured by cargo-bike speed, then shops (lon, lat, name) and rides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    speeds = graph.length_m / np.maximum(graph.travel_time_s, 1) * 3.6
    lines = [np.column_stack(graph.edge_shape(e)) for e in range(graph.n_edges)]
    fig, ax = plt.subplots(figsize=(10, 10), dpi=120)
    network = LineCollection(
        lines, array=speeds, cmap="viridis", linewidths=0.8, alpha=0.5 if rides else 1.0
    )
    ax.add_collection(network)
    for number, ride in enumerate(rides):
        ax.plot(ride.lon, ride.lat, color="crimson", linewidth=2.5, zorder=3)
        ax.annotate(
            f"ride {number + 1}: {ride.duration_s / 60:.0f} min, {ride.distance_m / 1000:.1f} km",
            (float(ride.lon[-1]), float(ride.lat[-1])),
            fontsize=8,
            color="crimson",
            zorder=5,
        )
    if shops:
        ax.scatter(
            [s[0] for s in shops],
            [s[1] for s in shops],
            s=14,
            color="black",
            zorder=4,
            label="shops",
        )
        ax.legend(loc="upper right")
    ax.autoscale()
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(graph.node_lat)))))
    fig.colorbar(network, ax=ax, shrink=0.6, label="cargo-bike speed (km/h)")
    ax.set_title(
        title or f"{graph.name}: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges ({graph.profile})"
    )
    ax.text(0.99, 0.01, ATTRIBUTION, transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    ax.set_axis_off()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
