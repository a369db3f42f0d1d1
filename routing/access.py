"""Which OSM ways and barriers a cargo bike may use, in which direction, at what speed.

Tags arrive as a plain ``dict[str, str]``. The rules follow the OSM wiki's access and
``oneway`` conventions; the speeds come from a :class:`routing.profile.Profile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from routing.profile import Profile

_BIKE_YES = frozenset({"yes", "designated", "permissive", "official"})
_ACCESS_NO = frozenset({"no", "private", "military", "agricultural", "forestry", "discouraged"})
#: Highways that only carry bikes when ``bicycle=yes|designated|permissive`` says so.
_BIKE_ONLY_IF_TAGGED = frozenset(
    {
        "footway",
        "pedestrian",
        "bridleway",
        "trunk",
        "trunk_link",
        "motorway",
        "motorway_link",
        "busway",
    }
)
_NEVER = frozenset(
    {
        "steps",
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "disused",
        "razed",
        "platform",
        "raceway",
        "bus_guideway",
        "elevator",
        "escalator",
        "corridor",
        "via_ferrata",
        "no",
        "emergency_bay",
        "rest_area",
        "services",
    }
)
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_CONTRAFLOW_LANE_KEY = re.compile(r"^cycleway:(left|right|both)(:oneway)?$")
_WIDTH = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(m|cm)?\s*$")

# Reasons a way is not ridden, as reported in the build summary.
REASON_NOT_HIGHWAY = "not a highway"
REASON_AREA = "area"
REASON_NOT_FOR_BIKES = "highway type not for bikes"
REASON_FOOT_ONLY = "footway/pedestrian without bicycle=yes"
REASON_MOTOR_ONLY = "motorway/trunk/busway without bicycle=yes"
REASON_STEPS = "steps"
REASON_CONSTRUCTION = "under construction or disused"
REASON_NO_ACCESS = "access forbidden (private/no)"
REASON_BIKE_FORBIDDEN = "bicycle=no"
REASON_TOO_NARROW = "narrower than the bike"


@dataclass(frozen=True)
class WayRule:
    """How a cargo bike may use one way."""

    forward: bool
    backward: bool
    speed_kph: float


def parse_width_m(value: str | None) -> float | None:
    """Read a ``maxwidth``/``width`` value in metres ('0.8', '80 cm', '0,8'); None if unreadable."""
    if not value:
        return None
    match = _WIDTH.match(value)
    if match is None:
        return None
    number = float(match.group(1).replace(",", "."))
    return number / 100 if match.group(2) == "cm" else number


def _parse_speed_kph(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip().lower()
    try:
        if text.endswith("mph"):
            return float(text[:-3]) * 1.609
        return float(text.removesuffix("km/h").strip())
    except ValueError:
        return None


def refuse_reason(tags: Mapping[str, str], profile: Profile) -> str | None:
    """Say why a cargo bike may not ride this way, or None when it may."""
    highway = tags.get("highway")
    if highway is None:
        return REASON_NOT_HIGHWAY
    if highway == "steps":
        return REASON_STEPS
    if highway in _NEVER or (
        "construction" in tags and tags.get("construction") not in (None, "no")
    ):
        return REASON_CONSTRUCTION
    if tags.get("area") == "yes":
        return REASON_AREA
    bicycle = tags.get("bicycle")
    if bicycle == "no" or (bicycle == "use_sidepath" and highway in _BIKE_ONLY_IF_TAGGED):
        return REASON_BIKE_FORBIDDEN
    bike_tagged_ok = bicycle in _BIKE_YES
    if highway not in profile.highway_speeds_kph:
        return REASON_NOT_FOR_BIKES
    if highway in _BIKE_ONLY_IF_TAGGED and not bike_tagged_ok:
        if highway in ("footway", "pedestrian", "bridleway"):
            return REASON_FOOT_ONLY
        return REASON_MOTOR_ONLY
    if not bike_tagged_ok:
        for key in ("vehicle", "access"):
            if tags.get(key) in _ACCESS_NO:
                return REASON_NO_ACCESS
    width = parse_width_m(tags.get("maxwidth:physical") or tags.get("maxwidth"))
    if width is not None and width < profile.width_m:
        return REASON_TOO_NARROW
    return None


def allowed_directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """Return (forward, backward): may a bike ride along and against the way's node order."""
    highway = tags.get("highway", "")
    oneway = tags.get("oneway", "").strip().lower()
    forward, backward = True, True
    if oneway in _ONEWAY_FORWARD or (
        oneway == ""
        and (
            tags.get("junction") in ("roundabout", "circular")
            or highway in ("motorway", "motorway_link")
        )
    ):
        backward = False
    elif oneway in _ONEWAY_BACKWARD:
        forward = False
    if forward and backward:
        bike_oneway = tags.get("oneway:bicycle", "").strip().lower()
        if bike_oneway in _ONEWAY_FORWARD:
            backward = False
        elif bike_oneway in _ONEWAY_BACKWARD:
            forward = False
        return forward, backward
    if _has_contraflow(tags):
        return True, True
    return forward, backward


def _has_contraflow(tags: Mapping[str, str]) -> bool:
    """Whether a one-way street lets bikes ride against its direction."""
    if tags.get("oneway:bicycle", "").strip().lower() == "no":
        return True
    if tags.get("cycleway", "").startswith("opposite"):
        return True
    for key, value in tags.items():
        match = _CONTRAFLOW_LANE_KEY.match(key)
        if match is None:
            continue
        if match.group(2):  # cycleway:left:oneway=-1 / no: a lane against or in both directions
            if value in ("-1", "no"):
                return True
        elif value.startswith("opposite"):
            return True
    return False


def speed_kph(tags: Mapping[str, str], profile: Profile) -> float:
    """Cruising speed on this way: highway type × surface, capped by the bike and maxspeed."""
    highway = tags["highway"]
    if tags.get("bicycle") == "dismount":
        return profile.push_speed_kph
    base = profile.highway_speeds_kph[highway]
    surface = tags.get("surface")
    if surface is not None:
        factor = profile.surface_factors.get(surface, profile.unknown_surface_factor)
    elif highway in ("track", "path") and tags.get("tracktype") not in (None, "grade1"):
        factor = profile.surface_factors.get("gravel", profile.unknown_surface_factor)
    else:
        factor = 1.0
    speed = min(base * factor, profile.max_speed_kph)
    limit = _parse_speed_kph(tags.get("maxspeed"))
    if limit is not None and limit > 0:
        speed = min(speed, limit)
    return max(speed, 1.0)


def way_rule(tags: Mapping[str, str], profile: Profile) -> WayRule | None:
    """The direction and speed a cargo bike uses on this way, or None if it may not ride it."""
    if refuse_reason(tags, profile) is not None:
        return None
    forward, backward = allowed_directions(tags)
    if not (forward or backward):
        return None
    return WayRule(forward=forward, backward=backward, speed_kph=speed_kph(tags, profile))


def barrier_blocks(tags: Mapping[str, str], profile: Profile) -> bool:
    """Whether a node's barrier stops a cargo bike (bollards and open gates do not)."""
    barrier = tags.get("barrier")
    if barrier is None:
        return False
    bicycle = tags.get("bicycle")
    if bicycle == "no":
        return True
    width = parse_width_m(tags.get("maxwidth:physical") or tags.get("maxwidth"))
    if width is not None:
        return width < profile.width_m
    if bicycle in _BIKE_YES and barrier != "cycle_barrier":
        # A cycle barrier signed for bikes still stops a 2.5 m long cargo bike.
        return False
    if barrier in ("gate", "lift_gate", "swing_gate"):
        return tags.get("access") in _ACCESS_NO or tags.get("locked") == "yes"
    return barrier in profile.blocking_barriers
