"""Speed profiles: how fast a cargo bike rides on each kind of way.

A profile holds every number the graph builder uses, so that a town can tune them in one
TOML file (``velocal graph build --profile my.toml``) without touching code. The access rules
(which ways a cargo bike may ride at all) live in :mod:`routing.access`; they are law and
tagging conventions, not tuning.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from routing.errors import ProfileError

#: Speed on roads of each ``highway=*`` value, km/h, for a loaded cargo bike without motor.
_CARGO_BIKE_SPEEDS = {
    "cycleway": 15.0,
    "primary": 14.0,
    "primary_link": 14.0,
    "secondary": 14.0,
    "secondary_link": 14.0,
    "tertiary": 15.0,
    "tertiary_link": 15.0,
    "unclassified": 15.0,
    "residential": 15.0,
    "road": 13.0,
    "living_street": 10.0,
    "service": 12.0,
    "track": 11.0,
    "path": 11.0,
    "bridleway": 8.0,
    "footway": 9.0,
    "pedestrian": 8.0,
    "trunk": 14.0,
    "trunk_link": 14.0,
    "motorway": 14.0,
    "motorway_link": 14.0,
    "busway": 14.0,
}

#: Pedal-assisted cargo bikes (EU pedelecs) are limited to 25 km/h; loaded they cruise lower.
_E_CARGO_BIKE_SPEEDS = {
    "cycleway": 20.0,
    "primary": 20.0,
    "primary_link": 20.0,
    "secondary": 20.0,
    "secondary_link": 20.0,
    "tertiary": 20.0,
    "tertiary_link": 20.0,
    "unclassified": 20.0,
    "residential": 19.0,
    "road": 17.0,
    "living_street": 12.0,
    "service": 15.0,
    "track": 14.0,
    "path": 14.0,
    "bridleway": 10.0,
    "footway": 11.0,
    "pedestrian": 9.0,
    "trunk": 20.0,
    "trunk_link": 20.0,
    "motorway": 20.0,
    "motorway_link": 20.0,
    "busway": 20.0,
}

#: Multipliers on speed by ``surface=*``: heavy bikes shake and slow on setts and gravel.
_SURFACE_FACTORS = {
    "asphalt": 1.0,
    "paved": 1.0,
    "concrete": 1.0,
    "concrete:plates": 0.95,
    "concrete:lanes": 0.9,
    "chipseal": 0.95,
    "metal": 0.9,
    "wood": 0.85,
    "paving_stones": 0.9,
    "paving_stones:lanes": 0.85,
    "bricks": 0.8,
    "sett": 0.65,
    "cobblestone": 0.55,
    "unhewn_cobblestone": 0.45,
    "cobblestone:flattened": 0.65,
    "compacted": 0.85,
    "fine_gravel": 0.8,
    "gravel": 0.6,
    "pebblestone": 0.55,
    "rock": 0.4,
    "unpaved": 0.6,
    "ground": 0.55,
    "dirt": 0.55,
    "earth": 0.55,
    "grass": 0.45,
    "grass_paver": 0.6,
    "woodchips": 0.45,
    "sand": 0.3,
    "mud": 0.3,
}

#: Barrier values that a cargo bike (about 0.9 m wide, 2.5 m long) cannot pass.
_BLOCKING_BARRIERS = (
    "cycle_barrier",
    "stile",
    "turnstile",
    "full-height_turnstile",
    "kissing_gate",
    "motorcycle_barrier",
    "horse_stile",
    "log",
    "wall",
    "fence",
    "hedge",
    "chain",
    "rope",
    "kent_carriage_gap",
    "sally_port",
    "hampshire_gate",
    "jersey_barrier",
    "ditch",
)


@dataclass(frozen=True)
class Profile:
    """Every tunable number of one kind of cargo bike.

    Build one with :func:`get_profile` or :func:`load_profile`; vary one with ``.replace()``.
    """

    name: str
    #: km/h per ``highway=*`` value; a highway missing here is not ridden.
    highway_speeds_kph: Mapping[str, float]
    #: multiplier on speed per ``surface=*`` value; unknown surfaces use ``unknown_surface_factor``.
    surface_factors: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict(_SURFACE_FACTORS))
    )
    unknown_surface_factor: float = 0.9
    #: speed when the bike must be pushed (``bicycle=dismount``), km/h.
    push_speed_kph: float = 4.0
    #: the legal or motor limit of the bike, km/h; a way's ``maxspeed`` below it also caps speed.
    max_speed_kph: float = 25.0
    #: ``barrier=*`` values that cut the way for this bike.
    blocking_barriers: frozenset[str] = frozenset(_BLOCKING_BARRIERS)
    #: the bike's width, m: a barrier or way with a smaller ``maxwidth`` cannot be passed.
    width_m: float = 0.9

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("name must not be empty")
        if not self.highway_speeds_kph:
            problems.append("highway_speeds_kph must name at least one highway type")
        for key, kph in self.highway_speeds_kph.items():
            if not 0 < kph <= 60:
                problems.append(f"highway_speeds_kph[{key!r}] must be in (0, 60], got {kph}")
        for key, factor in self.surface_factors.items():
            if not 0 < factor <= 1.5:
                problems.append(f"surface_factors[{key!r}] must be in (0, 1.5], got {factor}")
        if not 0 < self.unknown_surface_factor <= 1.5:
            problems.append("unknown_surface_factor must be in (0, 1.5]")
        if not 0 < self.push_speed_kph <= 10:
            problems.append("push_speed_kph must be in (0, 10]")
        if not 0 < self.max_speed_kph <= 60:
            problems.append("max_speed_kph must be in (0, 60]")
        if not 0 < self.width_m <= 3:
            problems.append("width_m must be in (0, 3]")
        if problems:
            raise ProfileError(f"profile {self.name!r}: " + "; ".join(problems))
        # Freeze the mappings so a profile cannot change after its cache key is taken.
        object.__setattr__(
            self, "highway_speeds_kph", MappingProxyType(dict(self.highway_speeds_kph))
        )
        object.__setattr__(self, "surface_factors", MappingProxyType(dict(self.surface_factors)))
        object.__setattr__(self, "blocking_barriers", frozenset(self.blocking_barriers))

    def replace(self, **changes: Any) -> Profile:
        """Return a copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. to write a TOML profile to start from."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["highway_speeds_kph"] = dict(self.highway_speeds_kph)
        data["surface_factors"] = dict(self.surface_factors)
        data["blocking_barriers"] = sorted(self.blocking_barriers)
        return data

    def fingerprint(self) -> str:
        """A short hash of every value, so a cached graph is rebuilt when the profile changes."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


CARGO_BIKE = Profile(name="cargo_bike", highway_speeds_kph=_CARGO_BIKE_SPEEDS, max_speed_kph=18.0)
E_CARGO_BIKE = Profile(
    name="e_cargo_bike", highway_speeds_kph=_E_CARGO_BIKE_SPEEDS, max_speed_kph=25.0
)

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {CARGO_BIKE.name: CARGO_BIKE, E_CARGO_BIKE.name: E_CARGO_BIKE}
)


def get_profile(name_or_path: str | Path | Profile) -> Profile:
    """Return a built-in profile by name, or load one from a TOML file."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    text = str(name_or_path)
    if text in PROFILES:
        return PROFILES[text]
    if text.endswith(".toml"):
        return load_profile(Path(text))
    raise ProfileError(
        f"unknown profile {text!r}: use one of {', '.join(PROFILES)} or a .toml file"
    )


def _number(path: Path, key: str, value: object) -> float:
    """A profile value as a float, or a ProfileError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{path}: {key} must be a number, got {value!r}")
    return float(value)


def load_profile(path: str | Path) -> Profile:
    """Load a profile from TOML: a built-in ``base`` profile with some values overridden.

    Example::

        name = "heavy_trike"
        base = "cargo_bike"
        width_m = 1.2
        [highway_speeds_kph]
        residential = 12
        footway = 0        # 0 removes a highway type

    Tables are merged into the base profile's, so a file lists only what differs.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"profile file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile file {path} is not valid TOML: {exc}") from None
    base_name = data.pop("base", "cargo_bike")
    if base_name not in PROFILES:
        raise ProfileError(f"{path}: base must be one of {', '.join(PROFILES)}, got {base_name!r}")
    base = PROFILES[base_name]
    known = set(base.to_dict())
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProfileError(f"{path}: unknown field(s) {', '.join(unknown)}")
    changes: dict[str, Any] = {"name": data.pop("name", path.stem)}
    for table in ("highway_speeds_kph", "surface_factors"):
        if table in data:
            entries = data.pop(table)
            if not isinstance(entries, dict):
                raise ProfileError(f"{path}: {table} must be a table of numbers, got {entries!r}")
            merged = dict(getattr(base, table))
            for key, value in entries.items():
                number = _number(path, f"{table}[{key!r}]", value)
                if number == 0:
                    merged.pop(key, None)
                else:
                    merged[key] = number
            changes[table] = merged
    if "blocking_barriers" in data:
        barriers = data.pop("blocking_barriers")
        if not isinstance(barriers, list) or not all(isinstance(b, str) for b in barriers):
            raise ProfileError(
                f"{path}: blocking_barriers must be a list of barrier names, got {barriers!r}"
            )
        changes["blocking_barriers"] = frozenset(barriers)
    for key, value in data.items():
        changes[key] = _number(path, key, value)
    try:
        return base.replace(**changes)
    except TypeError as exc:
        raise ProfileError(f"{path}: {exc}") from None
