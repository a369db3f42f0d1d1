"""Export the bike graph to networkx, in the layout osmnx uses, for analysis and plotting."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from shapely.geometry import LineString

from routing.graph import BikeGraph


def to_networkx(graph: BikeGraph, *, geometry: bool = True) -> nx.MultiDiGraph:
    """A ``MultiDiGraph`` keyed by OSM node id, with osmnx's attribute names and units.

    Nodes carry ``x``/``y`` (lon/lat); edges carry ``osmid`` (way), ``name``, ``highway``,
    ``length`` (m), ``travel_time`` (s), ``speed_kph`` and, with ``geometry=True``, a shapely
    ``LineString``, so ``osmnx.plot_graph`` and ``osmnx.graph_to_gdfs`` work on it directly.
    """
    out = nx.MultiDiGraph(crs="epsg:4326", name=graph.name, profile=graph.profile)
    osm_ids = graph.node_osm_id.tolist()
    out.add_nodes_from(
        (osm_id, {"x": float(x), "y": float(y), "velocal_node": i})
        for i, (osm_id, x, y) in enumerate(
            zip(osm_ids, graph.node_lon.tolist(), graph.node_lat.tolist(), strict=True)
        )
    )
    sources = graph.sources
    for edge in range(graph.n_edges):
        piece = int(graph.edge_piece[edge])
        length = float(graph.length_m[edge])
        travel_time = float(graph.travel_time_s[edge])
        attrs: dict[str, Any] = {
            "osmid": int(graph.piece_osm_way[piece]),
            "name": str(graph.names[graph.piece_name[piece]]),
            "highway": str(graph.highways[graph.piece_highway[piece]]),
            "length": length,
            "travel_time": travel_time,
            "speed_kph": round(length / travel_time * 3.6, 1) if travel_time > 0 else 0.0,
            "reversed": bool(graph.edge_reversed[edge]),
            "velocal_edge": edge,
        }
        if geometry:
            lon, lat = graph.edge_shape(edge)
            attrs["geometry"] = LineString(np.column_stack([lon, lat]))
        out.add_edge(osm_ids[int(sources[edge])], osm_ids[int(graph.targets[edge])], **attrs)
    return out
