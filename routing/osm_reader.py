"""Read the ways and barriers a cargo bike cares about from an OSM extract.

pyosmium parses the file in C++ and fills in node locations; Python sees only highway ways
and barrier nodes. The output is flat numpy arrays, ready for vectorised graph building.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import osmium

from routing import access
from routing.errors import CorruptExtractError, UnsupportedExtractError
from routing.profile import Profile

SUPPORTED_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".osm.xml")
#: osmium's marker for a coordinate it has not seen (a node outside a clipped extract).
_UNDEFINED_COORDINATE = 2**31 - 1
#: OSM stores coordinates as integers of 1e-7 degrees.
COORDINATE_SCALE = 1e-7

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class RawWays:
    """The rideable ways of an extract, as flat arrays (one row per way node)."""

    way_osm_id: np.ndarray  # int64[w]
    way_ptr: np.ndarray  # int64[w+1]: way i's nodes are rows way_ptr[i]:way_ptr[i+1]
    node_ref: np.ndarray  # int64[k] OSM node id of each way node
    node_x: np.ndarray  # int32[k] longitude in 1e-7 degrees, or _UNDEFINED_COORDINATE
    node_y: np.ndarray  # int32[k] latitude in 1e-7 degrees
    forward: np.ndarray  # bool[w]
    backward: np.ndarray  # bool[w]
    speed_kph: np.ndarray  # float64[w]
    way_name: np.ndarray  # int32[w] index into names
    way_highway: np.ndarray  # int32[w] index into highways
    names: list[str]
    highways: list[str]
    blocking_barrier_refs: np.ndarray  # int64 sorted OSM ids of nodes that cut a way
    dropped_ways: Counter[str] = field(default_factory=Counter)
    highway_relations: int = 0

    @property
    def valid_node(self) -> np.ndarray:
        """Which way nodes have a location (False for nodes clipped out of the extract)."""
        return self.node_x != _UNDEFINED_COORDINATE


def check_extract_path(path: Path) -> Path:
    """Refuse a missing file or a name that is not an OSM extract, before parsing anything."""
    if not any(path.name.lower().endswith(suffix) for suffix in SUPPORTED_SUFFIXES):
        raise UnsupportedExtractError(
            f"{path}: not an OSM extract; velocal reads {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"OSM extract not found: {path}")
    return path


def _osmium_format(path: Path) -> str:
    """The libosmium format of an extract, from its (case-insensitive) suffix.

    osmium guesses the format from the name case-sensitively, so 'TOWN.OSM.PBF' would fail.
    """
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    for compression in (".bz2", ".gz"):
        if name.endswith(compression):
            return "osm" + compression
    return "osm"


def read_ways(path: Path, profile: Profile, *, progress: ProgressCallback | None = None) -> RawWays:
    """Read every way a cargo bike may ride, and every barrier node that blocks it."""
    check_extract_path(path)
    way_ids: list[int] = []
    way_lengths: list[int] = []
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    forward: list[bool] = []
    backward: list[bool] = []
    speeds: list[float] = []
    way_names: list[int] = []
    way_highways: list[int] = []
    names: dict[str, int] = {"": 0}
    highways: dict[str, int] = {}
    barriers: list[int] = []
    dropped: Counter[str] = Counter()
    highway_relations = 0
    seen = 0

    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), _osmium_format(path)))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway", "barrier"))
    )
    try:
        for obj in processor:
            obj = cast(Any, obj)  # pyosmium's union type has no common API
            seen += 1
            if progress is not None and seen % 20000 == 0:
                progress("read", seen, 0)
            if obj.is_way():
                tags = dict(obj.tags)
                if "highway" not in tags:
                    continue  # a fence or wall way: not a road, nothing to report
                reason = access.refuse_reason(tags, profile)
                rule = None if reason is not None else access.way_rule(tags, profile)
                if rule is None:
                    dropped[reason or "no direction allowed"] += 1
                    continue
                nodes = obj.nodes
                if len(nodes) < 2:
                    dropped["fewer than two nodes"] += 1
                    continue
                way_ids.append(obj.id)
                way_lengths.append(len(nodes))
                for node in nodes:
                    refs.append(node.ref)
                    xs.append(node.x)
                    ys.append(node.y)
                forward.append(rule.forward)
                backward.append(rule.backward)
                speeds.append(rule.speed_kph)
                name = tags.get("name") or tags.get("ref") or ""
                way_names.append(names.setdefault(name, len(names)))
                highway = tags["highway"]
                way_highways.append(highways.setdefault(highway, len(highways)))
            elif obj.is_node():
                if access.barrier_blocks(dict(obj.tags), profile):
                    barriers.append(obj.id)
            elif "highway" in obj.tags:
                highway_relations += 1
    except RuntimeError as exc:
        raise CorruptExtractError(f"{path}: cannot parse the OSM data ({exc})") from None
    if progress is not None:
        progress("read", seen, seen)

    way_ptr = np.zeros(len(way_lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(way_lengths, dtype=np.int64), out=way_ptr[1:])
    return RawWays(
        way_osm_id=np.asarray(way_ids, dtype=np.int64),
        way_ptr=way_ptr,
        node_ref=np.asarray(refs, dtype=np.int64),
        node_x=np.asarray(xs, dtype=np.int64).astype(np.int32),
        node_y=np.asarray(ys, dtype=np.int64).astype(np.int32),
        forward=np.asarray(forward, dtype=bool),
        backward=np.asarray(backward, dtype=bool),
        speed_kph=np.asarray(speeds, dtype=np.float64),
        way_name=np.asarray(way_names, dtype=np.int32),
        way_highway=np.asarray(way_highways, dtype=np.int32),
        names=list(names),
        highways=list(highways),
        blocking_barrier_refs=np.unique(np.asarray(barriers, dtype=np.int64)),
        dropped_ways=dropped,
        highway_relations=highway_relations,
    )
