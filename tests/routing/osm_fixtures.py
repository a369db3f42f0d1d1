"""Write small synthetic OSM extracts for the routing tests.

``write_osm(path, nodes, ways, relations)`` writes OSM XML (API 0.6, every object at version
1) and picks the container from the file name: ``.osm``/``.osm.xml`` plain, ``.osm.gz`` gzip,
``.osm.bz2`` bzip2, ``.osm.pbf``/``.pbf`` converted with pyosmium. Positions are given in
metres on a small local plane (:func:`lonlat`) so expected lengths are easy to write down.
"""

from __future__ import annotations

import bz2
import gzip
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import osmium

from routing.geo import EARTH_RADIUS_M

Tags = Mapping[str, str]
#: (id, lon, lat) or (id, lon, lat, tags)
NodeSpec = tuple[int, float, float] | tuple[int, float, float, Tags]
#: (id, node ids, tags)
WaySpec = tuple[int, Sequence[int], Tags]
#: (id, members as (type 'n'|'w'|'r' or 'node'|'way'|'relation', ref, role), tags)
RelationSpec = tuple[int, Sequence[tuple[str, int, str]], Tags]

#: The synthetic towns sit here (near Lauf an der Pegnitz); far from the poles and the
#: antimeridian, so the local plane below is accurate to centimetres over a few kilometres.
ORIGIN_LON = 11.28
ORIGIN_LAT = 49.51
_M_PER_DEG_LAT = math.radians(1.0) * EARTH_RADIUS_M
_M_PER_DEG_LON = _M_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT))
_TIMESTAMP = "2024-01-01T00:00:00Z"
_MEMBER_TYPES = {"n": "node", "w": "way", "r": "relation"}


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """Longitude/latitude of a point ``x_m`` metres east and ``y_m`` north of the origin."""
    return ORIGIN_LON + x_m / _M_PER_DEG_LON, ORIGIN_LAT + y_m / _M_PER_DEG_LAT


def node_at(node_id: int, x_m: float, y_m: float, tags: Tags | None = None) -> NodeSpec:
    """A node spec placed in metres on the local plane."""
    lon, lat = lonlat(x_m, y_m)
    return (node_id, lon, lat, dict(tags or {}))


def _tags_xml(tags: Tags, indent: str) -> list[str]:
    return [f"{indent}<tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items()]


def _common(obj_id: int) -> str:
    return f'id="{obj_id}" version="1" timestamp="{_TIMESTAMP}" changeset="1" uid="1" user="test"'


def osm_xml(
    nodes: Iterable[NodeSpec],
    ways: Iterable[WaySpec] = (),
    relations: Iterable[RelationSpec] = (),
) -> str:
    """The OSM XML text of the given objects (sorted by id within each type, as osmium wants)."""
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="velocal-tests">',
    ]
    for spec in sorted(nodes, key=lambda n: n[0]):
        node_id, lon, lat = spec[0], spec[1], spec[2]
        tags: Tags = spec[3] if len(spec) > 3 else {}  # type: ignore[misc]
        head = f'  <node {_common(node_id)} lat="{lat:.7f}" lon="{lon:.7f}"'
        if tags:
            lines.append(head + ">")
            lines.extend(_tags_xml(tags, "    "))
            lines.append("  </node>")
        else:
            lines.append(head + "/>")
    for way_id, refs, tags in sorted(ways, key=lambda w: w[0]):
        lines.append(f"  <way {_common(way_id)}>")
        lines.extend(f'    <nd ref="{ref}"/>' for ref in refs)
        lines.extend(_tags_xml(tags, "    "))
        lines.append("  </way>")
    for rel_id, members, tags in sorted(relations, key=lambda r: r[0]):
        lines.append(f"  <relation {_common(rel_id)}>")
        for kind, ref, role in members:
            kind = _MEMBER_TYPES.get(kind, kind)
            lines.append(f'    <member type="{kind}" ref="{ref}" role={quoteattr(role)}/>')
        lines.extend(_tags_xml(tags, "    "))
        lines.append("  </relation>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def convert(source: Path, target: Path) -> Path:
    """Copy an OSM file into another format (chosen by ``target``'s suffix) with pyosmium."""
    target.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            writer.add(obj)
    return target


def write_osm(
    path: str | Path,
    nodes: Iterable[NodeSpec],
    ways: Iterable[WaySpec] = (),
    relations: Iterable[RelationSpec] = (),
) -> Path:
    """Write an extract; the container (XML, gzip, bzip2 or PBF) follows ``path``'s suffix."""
    path = Path(path)
    data = osm_xml(nodes, ways, relations).encode("utf-8")
    name = path.name.lower()
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif name.endswith(".bz2"):
        path.write_bytes(bz2.compress(data))
    elif name.endswith(".pbf"):
        with tempfile.TemporaryDirectory() as tmp:
            xml = Path(tmp) / "source.osm"
            xml.write_bytes(data)
            convert(xml, path)
    else:
        path.write_bytes(data)
    return path
