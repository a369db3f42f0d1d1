"""velocal's routing layer: OSM extract → cargo-bike graph → snapping, matrices, paths.

Typical use::

    from routing import load_graph, snap_points, travel_matrix, fastest_path

    graph = load_graph("town.osm.pbf", "e_cargo_bike")      # cached after the first build
    points = snap_points(graph, lons, lats)                   # nearest edges, ≤ 250 m away
    matrix = travel_matrix(graph, points)                     # seconds and metres, int64
    ride = fastest_path(graph, points[0], points[1])          # polyline and street names
"""

from routing.addresses import AddressIndex, build_address_index
from routing.errors import (
    CorruptExtractError,
    EmptyNetworkError,
    ExtractError,
    InvalidPointError,
    NoPathError,
    PointTooFarError,
    ProfileError,
    RoutingError,
    UnsupportedExtractError,
)
from routing.export import to_networkx
from routing.extracts import default_extract
from routing.graph import BikeGraph, BuildReport
from routing.hierarchy import ContractionHierarchy, build_hierarchy, hierarchy_for
from routing.load import load_address_index, load_graph
from routing.matrix import UNREACHABLE, TravelMatrix, travel_matrix
from routing.path import RidePath, StreetLeg, fastest_path
from routing.profile import CARGO_BIKE, E_CARGO_BIKE, PROFILES, Profile, get_profile, load_profile
from routing.snapping import DEFAULT_MAX_SNAP_M, SnappedPoints, snap_points

__all__ = [
    "CARGO_BIKE",
    "DEFAULT_MAX_SNAP_M",
    "E_CARGO_BIKE",
    "PROFILES",
    "UNREACHABLE",
    "AddressIndex",
    "BikeGraph",
    "BuildReport",
    "ContractionHierarchy",
    "CorruptExtractError",
    "EmptyNetworkError",
    "ExtractError",
    "InvalidPointError",
    "NoPathError",
    "PointTooFarError",
    "Profile",
    "ProfileError",
    "RidePath",
    "RoutingError",
    "SnappedPoints",
    "StreetLeg",
    "TravelMatrix",
    "UnsupportedExtractError",
    "build_address_index",
    "build_hierarchy",
    "default_extract",
    "fastest_path",
    "get_profile",
    "hierarchy_for",
    "load_address_index",
    "load_graph",
    "load_profile",
    "snap_points",
    "to_networkx",
    "travel_matrix",
]
