"""What the web pages draw and look up without a tile server: the town's bike network as
GeoJSON, the town's outline for maps, offline address suggestions, and ride paths for routes.

Everything here comes from the town's OSM extract through ``routing`` (no solver): the network
and address index are loaded once per process (``dispatch.network``), the GeoJSON is built once
per network and kept, and a path between two stops is the same fastest path the matrices use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dispatch.models import Town
from dispatch.network import TownNetwork, get_network
from routing import AddressIndex, fastest_path, load_address_index, snap_points
from routing.errors import RoutingError

#: Highway types drawn as bike paths (the rest are streets) on the offline map.
BIKE_PATHS = frozenset({"cycleway", "path", "track", "bridleway"})
#: Coordinates are rounded to this many decimals (about 1 m), which halves the GeoJSON.
DECIMALS = 5

_GEOJSON: dict[int, bytes] = {}
_ADDRESSES: dict[str, AddressIndex] = {}
_LOCK = threading.Lock()


def network_geojson(network: TownNetwork) -> bytes:
    """The network's way pieces as a GeoJSON FeatureCollection of two MultiLineStrings
    (``kind``: "bike_path" and "street"), encoded once per network."""
    key = id(network)
    found = _GEOJSON.get(key)
    if found is not None:
        return found
    graph = network.graph
    # One line per piece: an edge and its way back share the piece.
    pieces = np.unique(graph.edge_piece)
    lines: dict[str, list[list[list[float]]]] = {"bike_path": [], "street": []}
    for piece in pieces.tolist():
        lon, lat = graph.piece_shape(piece)
        highway = str(graph.highways[graph.piece_highway[piece]])
        kind = "bike_path" if highway in BIKE_PATHS else "street"
        coords = np.column_stack([np.round(lon, DECIMALS), np.round(lat, DECIMALS)])
        lines[kind].append(coords.tolist())
    west, south, east, north = graph.bounds
    body = {
        "type": "FeatureCollection",
        "bbox": [west, south, east, north],
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": kind, "pieces": len(parts)},
                "geometry": {"type": "MultiLineString", "coordinates": parts},
            }
            for kind, parts in lines.items()
        ],
    }
    encoded = json.dumps(body, separators=(",", ":")).encode()
    with _LOCK:
        _GEOJSON[key] = encoded
    return encoded


def address_index(town: Town) -> AddressIndex:
    """The town's offline address and shop index, loaded on first use."""
    found = _ADDRESSES.get(town.extract)
    if found is not None:
        return found
    with _LOCK:
        found = _ADDRESSES.get(town.extract)
        if found is None:
            extract = None if town.extract == "helsinki" else town.extract
            found = _ADDRESSES[town.extract] = load_address_index(extract)
    return found


@dataclass(frozen=True)
class TownOutline:
    """Where a map of the town starts: its centre, the network's bounds, and the zone."""

    name: str
    time_zone: str
    centre: tuple[float, float]  # (lat, lon)
    bounds: tuple[float, float, float, float]  # (west, south, east, north)
    zone: list[list[list[float]]] | None


def town_outline(town: Town, hub: tuple[float, float] | None) -> TownOutline:
    """The map's frame for ``town``: centred on the hub if there is one, else the network."""
    west, south, east, north = get_network(town).graph.bounds
    centre = hub if hub is not None else ((south + north) / 2, (west + east) / 2)
    return TownOutline(
        name=town.name,
        time_zone=town.time_zone,
        centre=centre,
        bounds=(west, south, east, north),
        zone=town.zone,
    )


def ride_path(network: TownNetwork, points: Sequence[tuple[float, float]]) -> list[list[float]]:
    """The ride through ``points`` ((lat, lon), in order) as one ``[[lat, lon], ...]`` line.

    A leg that cannot be ridden (a point off the network) is drawn straight, so a map still
    shows the order of the stops. Recent answers are kept: the board and the courier's phone
    ask for the same routes again and again.
    """
    return [list(p) for p in _cached_path(network, tuple((float(a), float(b)) for a, b in points))]


@lru_cache(maxsize=2048)
def _cached_path(
    network: TownNetwork, points: tuple[tuple[float, float], ...]
) -> tuple[tuple[float, float], ...]:
    return tuple((p[0], p[1]) for p in _ride_path(network, points))


def _ride_path(network: TownNetwork, points: Sequence[tuple[float, float]]) -> list[list[float]]:
    if len(points) < 2:
        return [[lat, lon] for lat, lon in points]
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    try:
        snapped = snap_points(network.graph, lons, lats)
    except RoutingError:
        return [[lat, lon] for lat, lon in points]
    line: list[list[float]] = []
    for i in range(len(points) - 1):
        try:
            leg = fastest_path(network.graph, snapped[i : i + 1], snapped[i + 1 : i + 2])
            coords = [
                [round(float(la), DECIMALS), round(float(lo), DECIMALS)]
                for la, lo in zip(leg.lat, leg.lon, strict=True)
            ]
        except RoutingError:
            coords = [[lats[i], lons[i]], [lats[i + 1], lons[i + 1]]]
        line.extend(coords if not line else coords[1:])
    return line


def clear_caches() -> None:
    """Forget the encoded networks and address indexes (tests; a swapped extract)."""
    with _LOCK:
        _GEOJSON.clear()
        _ADDRESSES.clear()
    _cached_path.cache_clear()


__all__: list[str] = [
    "TownOutline",
    "address_index",
    "clear_caches",
    "network_geojson",
    "ride_path",
    "town_outline",
]
