"""Small geodesy helpers: great-circle lengths and a local metric projection."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(
    lon1: np.ndarray | float,
    lat1: np.ndarray | float,
    lon2: np.ndarray | float,
    lat2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance in metres (accurate to well under a metre at town scale)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


class LocalProjection:
    """Equirectangular projection to metres around a town's centre.

    Over a town or a region (< 100 km) its distortion is far below GPS noise, and it makes
    nearest-neighbour search a plain Euclidean problem.
    """

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0 = lon0
        self.lat0 = lat0
        self._kx = np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(lat0))
        self._ky = np.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - self.lon0) * self._kx, (np.asarray(lat) - self.lat0) * self._ky

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(x) / self._kx + self.lon0, np.asarray(y) / self._ky + self.lat0
