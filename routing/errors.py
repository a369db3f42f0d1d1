"""Errors raised by the routing layer, each named after what went wrong."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error the routing layer raises on purpose."""


class ExtractError(RoutingError):
    """An OSM extract cannot be used."""


class UnsupportedExtractError(ExtractError):
    """The file is not a kind of OSM extract velocal reads."""


class CorruptExtractError(ExtractError):
    """The file has a supported name but its content cannot be parsed."""


class EmptyNetworkError(ExtractError):
    """The extract holds no way a cargo bike may ride."""


class ProfileError(RoutingError):
    """A speed profile is unknown or has invalid values."""


class PointTooFarError(RoutingError):
    """A point lies farther from the bike network than the snapping limit."""

    def __init__(self, index: int, lon: float, lat: float, distance_m: float, limit_m: float):
        self.index = index
        self.lon = lon
        self.lat = lat
        self.distance_m = distance_m
        self.limit_m = limit_m
        super().__init__(
            f"point {index} ({lat:.6f}, {lon:.6f}) is {distance_m:.0f} m from the bike network; "
            f"the limit is {limit_m:.0f} m"
        )


class InvalidPointError(RoutingError):
    """A coordinate is not a valid longitude/latitude pair."""


class NoPathError(RoutingError):
    """No path exists between two points on the bike network."""
