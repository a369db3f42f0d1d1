"""The cargo-bike graph: a directed graph in CSR arrays, with the shape and name of every edge.

Nodes are street junctions and dead ends. Each directed edge runs along one *piece* of an OSM
way (the part between two junctions); the piece keeps the way's shape, name and highway type,
and an edge either follows the piece's node order or runs against it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

#: Bumped whenever the arrays or the build rules change, so old caches are rebuilt.
GRAPH_FORMAT_VERSION = 3


@dataclass(frozen=True)
class BuildReport:
    """What the builder kept and dropped, and why: printed by ``velocal graph build``."""

    extract: str
    profile: str
    ways_read: int = 0
    ways_kept: int = 0
    ways_dropped: dict[str, int] = field(default_factory=dict)
    highway_relations_ignored: int = 0
    missing_node_refs: int = 0
    ways_clipped: int = 0
    ways_lost_to_clipping: int = 0
    blocking_barriers: int = 0
    segments_cut_by_barriers: int = 0
    self_loops_dropped: int = 0
    nodes_before_scc: int = 0
    edges_before_scc: int = 0
    scc_nodes_removed: int = 0
    scc_edges_removed: int = 0
    scc_components_removed: int = 0
    nodes: int = 0
    edges: int = 0
    network_km: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    cache_path: str = ""
    from_cache: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BuildReport:
        return cls(**json.loads(text))


@dataclass(frozen=True, eq=False)
class BikeGraph:
    """A town's cargo-bike network, ready for snapping, matrices and paths.

    Build or load one with :func:`routing.load_graph`. Arrays are read-only views; the graph
    is safe to share between threads.
    """

    name: str
    profile: str
    node_lon: np.ndarray  # float64[n]
    node_lat: np.ndarray  # float64[n]
    node_osm_id: np.ndarray  # int64[n]
    offsets: np.ndarray  # int32[n+1]: node i's out-edges are offsets[i]:offsets[i+1]
    targets: np.ndarray  # int32[m]
    length_m: np.ndarray  # int32[m]
    travel_time_s: np.ndarray  # int32[m]
    edge_piece: np.ndarray  # int32[m]: the way piece the edge runs along
    edge_reversed: np.ndarray  # bool[m]: True if the edge runs against the piece's node order
    piece_shape_ptr: np.ndarray  # int64[p+1]: piece j's shape is shape_*[ptr[j]:ptr[j+1]]
    shape_lon: np.ndarray  # float64
    shape_lat: np.ndarray  # float64
    piece_name: np.ndarray  # int32[p]: index into names ('' when unnamed)
    piece_highway: np.ndarray  # int32[p]: index into highways
    piece_osm_way: np.ndarray  # int64[p]
    names: np.ndarray  # str[]
    highways: np.ndarray  # str[]
    report: BuildReport

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.targets.shape[0])

    @property
    def n_pieces(self) -> int:
        return int(self.piece_name.shape[0])

    @property
    def sources(self) -> np.ndarray:
        """The source node of every edge (derived from the CSR offsets)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.offsets))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the network's nodes."""
        return (
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    def piece_shape(self, piece: int) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes along a way piece, in its node order."""
        start, end = self.piece_shape_ptr[piece], self.piece_shape_ptr[piece + 1]
        return self.shape_lon[start:end], self.shape_lat[start:end]

    def edge_shape(self, edge: int) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes along a directed edge, from its source to its target."""
        lon, lat = self.piece_shape(int(self.edge_piece[edge]))
        if self.edge_reversed[edge]:
            return lon[::-1], lat[::-1]
        return lon, lat

    def edge_name(self, edge: int) -> str:
        return str(self.names[self.piece_name[self.edge_piece[edge]]])

    def save(self, path: Path) -> None:
        """Write the graph as an uncompressed .npz (loads in milliseconds, no pickle)."""
        arrays: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        arrays["meta"] = np.array(
            json.dumps(
                {
                    "format": GRAPH_FORMAT_VERSION,
                    "name": self.name,
                    "profile": self.profile,
                    "report": self.report.to_json(),
                }
            )
        )
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> BikeGraph:
        """Read a graph written by :meth:`save`; ValueError if it is of another format."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != GRAPH_FORMAT_VERSION:
                raise ValueError(f"{path}: graph format {meta.get('format')} is not current")
            arrays = {f.name: data[f.name] for f in fields(cls) if f.name in data.files}
        return cls(
            name=meta["name"],
            profile=meta["profile"],
            report=BuildReport.from_json(meta["report"]),
            **arrays,
        )
