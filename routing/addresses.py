"""Offline look-up of street addresses and shops in an OpenStreetMap extract.

Dispatchers and shop owners type addresses the way they say them ("5 mannerheimintie",
"Hauptstr. 12 a", "stokmann"). Sending those to an online geocoder would leak customer
addresses and break without network, so this module indexes the ``addr:*`` and ``shop``
tags of the extract that the router already uses and answers free-text queries locally.

Normalised strings are computed once per index, and the fuzzy comparison runs on the few
hundred distinct street and shop names rather than on every entry, so a query on tens of
thousands of entries takes a few milliseconds.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt
import osmium
from rapidfuzz import fuzz, process

from routing.errors import CorruptExtractError, RoutingError, UnsupportedExtractError

__all__ = [
    "SHOP_AMENITIES",
    "SUPPORTED_SUFFIXES",
    "AddressIndex",
    "AddressIndexFormatError",
    "AddressIndexReport",
    "AddressMatch",
    "MatchKind",
    "SearchKind",
    "build_address_index",
    "normalise_text",
]

_T = TypeVar("_T")

MatchKind = Literal["address", "shop"]
SearchKind = Literal["any", "address", "shop"]

#: File name endings read by :func:`build_address_index`, with the osmium format of each.
_FORMATS: Final[dict[str, str]] = {
    ".osm.pbf": "pbf",
    ".osm.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
    ".osm": "osm",
}
SUPPORTED_SUFFIXES: Final[tuple[str, ...]] = tuple(_FORMATS)

#: ``amenity`` values that a customer thinks of as a shop one can order from.
SHOP_AMENITIES: Final[frozenset[str]] = frozenset(
    {"pharmacy", "cafe", "restaurant", "fast_food", "bar", "ice_cream", "marketplace"}
)

_FORMAT_VERSION: Final = 1
_TEXT_COLUMNS: Final = (
    "kind",
    "street",
    "housenumber",
    "postcode",
    "city",
    "name",
    "shop_kind",
    "opening_hours",
)
_FLOAT_COLUMNS: Final = ("lon", "lat")
_COUNT_KEYS: Final = ("skipped_relations", "skipped_ways", "merged_duplicates")

#: Two address points with the same address farther apart than this are distinct places.
_MERGE_DISTANCE_M: Final = 150.0
_METRES_PER_DEGREE: Final = 111_320.0

# Weights of the parts of an address score; a part only counts if the query has it.
_W_STREET: Final = 0.75
_W_HOUSENUMBER: Final = 0.15
_W_POSTCODE: Final = 0.05
_W_CITY: Final = 0.05
#: Fuzzy scores below this are treated as "no match" (WRatio gives ~50 to unrelated words).
_FUZZY_CUTOFF: Final = 60.0
#: Shops found through their address rank just below the address itself.
_SHOP_BY_ADDRESS: Final = 0.9
#: A query that names a shop kind ("bakery") ranks below one that names the shop.
_SHOP_BY_KIND: Final = 0.9
#: Words closer than this (Levenshtein ratio) to a query word make a key worth scoring.
_WORD_CUTOFF: Final = 60
#: City-name words shorter than this ("a", "an", "der") are too common to tell cities apart.
_MIN_CITY_WORD: Final = 4

_FOLD: Final = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
_NON_WORD: Final = re.compile(r"[\W_]+")
_LETTER_DIGIT: Final = re.compile(r"(?<=[^\W\d_])(?=\d)")
_STR_ABBREVIATION: Final = re.compile(r"str\b")
_HOUSENUMBER_TOKEN: Final = re.compile(r"\d{1,4}[^\W\d_]?")
_POSTCODE_TOKEN: Final = re.compile(r"\d{5,}")
_LEADING_NUMBER: Final = re.compile(r"\d+")


class AddressIndexFormatError(RoutingError):
    """Arrays handed to :meth:`AddressIndex.from_arrays` are not a valid cached index."""


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """One search hit, with the fields that make sense for its kind.

    Addresses fill ``street``, ``housenumber``, ``postcode`` and ``city``; shops fill
    ``name``, ``shop_kind`` and ``opening_hours`` plus whichever ``addr:*`` tags they
    carry. Fields that OSM does not tag are ``None``. ``street`` holds ``addr:place``
    for addresses that have no street (hamlets, squares).
    """

    label: str
    kind: MatchKind
    lon: float
    lat: float
    score: float
    street: str | None = None
    housenumber: str | None = None
    postcode: str | None = None
    city: str | None = None
    name: str | None = None
    shop_kind: str | None = None
    opening_hours: str | None = None


@dataclass(frozen=True, slots=True)
class AddressIndexReport:
    """What a build kept and dropped, so a thin index can be explained rather than guessed.

    Attributes
    ----------
    n_addresses, n_shops
        Entries in the index, after merging duplicates.
    skipped_relations
        Relations (multipolygon buildings) carrying address or shop tags; not indexed.
    skipped_ways
        Ways with address or shop tags none of whose nodes is in the extract.
    merged_duplicates
        Address points folded into another with the same address less than 150 m away
        (a building and its entrance, or every shop of a mall repeating the mall's address).
    """

    n_addresses: int
    n_shops: int
    skipped_relations: int
    skipped_ways: int
    merged_duplicates: int


def normalise_text(text: str) -> str:
    """Fold ``text`` into the form both the index and queries are compared in.

    Accents are dropped (NFKD), case is folded (which also maps ß to ss), punctuation
    becomes spaces, a number glued to a word is split off ("tie5" → "tie 5") and the
    German "str." abbreviation is expanded to "strasse".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLD)
    spaced = _LETTER_DIGIT.sub(" ", _NON_WORD.sub(" ", folded))
    return " ".join(_STR_ABBREVIATION.sub("strasse", spaced).split())


def _normalise_housenumber(housenumber: str) -> str:
    """Fold a house number so that "12 A", "12a" and "12A" compare equal.

    Numbers stay apart ("12-14" → "12-14", not "1214"), letters join their number.
    """
    folded = ""
    for part in normalise_text(housenumber).split():
        glue = "-" if folded[-1:].isdigit() and part[0].isdigit() else ""
        folded += glue + part
    return folded


def _normalise_postcode(postcode: str) -> str:
    """Fold a postcode so that "SW1A 1AA" and "sw1a1aa" compare equal."""
    return "".join(normalise_text(postcode).split())


def _leading_number(housenumber: str) -> int:
    """The number a house number starts with, or -1: "12-14" → 12, "B" → -1."""
    found = _LEADING_NUMBER.match(housenumber.strip())
    return int(found.group()) if found else -1


@dataclass(frozen=True, slots=True)
class _Record:
    """One entry while the extract is read; empty strings stand for untagged values."""

    kind: MatchKind
    lon: float
    lat: float
    street: str = ""
    housenumber: str = ""
    postcode: str = ""
    city: str = ""
    name: str = ""
    shop_kind: str = ""
    opening_hours: str = ""


@dataclass(frozen=True, slots=True)
class _Query:
    """A query split into the parts an address or shop is compared with."""

    full: str
    texts: tuple[str, ...]
    numbers: tuple[str, ...]
    postcodes: frozenset[str]
    cities: frozenset[str]


def _map_unique(
    values: npt.NDArray[np.str_], func: Callable[[str], _T]
) -> tuple[list[_T], npt.NDArray[np.int64]]:
    """``func`` of each distinct value and, per row, the index of its result.

    Columns repeat a few hundred streets and cities over thousands of rows, so this
    calls ``func`` once per distinct value rather than once per row.
    """
    uniques, inverse = np.unique(values, return_inverse=True)
    return [func(str(v)) for v in uniques], inverse.astype(np.int64).reshape(-1)


class _FuzzyColumn:
    """A text column reduced to its distinct normalised keys, searchable with a scorer.

    rapidfuzz's WRatio costs about 2 µs per pair, too slow for thousands of keys per
    keystroke. Plain Levenshtein ratio on single words is some 30 times cheaper, so keys
    are first narrowed to those sharing a word close to a query word, and only those
    are scored with the real scorer.
    """

    def __init__(
        self,
        values: npt.NDArray[np.str_],
        normalise: Callable[[str], str] = normalise_text,
        scorer: Callable[..., float] = fuzz.WRatio,
    ) -> None:
        """Normalise each distinct value of ``values`` once and index its words."""
        normalised, inverse = _map_unique(values, normalise)
        key_of: dict[str, int] = {}
        unique_key = np.array(
            [key_of.setdefault(k, len(key_of)) if k else -1 for k in normalised], dtype=np.int64
        )
        self.keys = list(key_of)
        self.row_key = unique_key[inverse]
        self._scorer = scorer
        word_of: dict[str, int] = {}
        pairs = [
            (i, word_of.setdefault(w, len(word_of)))
            for i, k in enumerate(self.keys)
            for w in set(k.split())
        ]
        self._words = list(word_of)
        pair_array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        self._pair_key, self._pair_word = pair_array[:, 0], pair_array[:, 1]

    def key_scores(self, queries: Iterable[str]) -> npt.NDArray[np.float64]:
        """Best score (0-100) of any query for each key; 0 below the cut-off."""
        scores = np.zeros(len(self.keys))
        query_list = [q for q in dict.fromkeys(queries) if q]
        if not query_list or not self.keys:
            return scores
        query_words = sorted({w for q in query_list for w in q.split()})
        word_scores = process.cdist(
            query_words, self._words, scorer=fuzz.ratio, score_cutoff=_WORD_CUTOFF, dtype=np.uint8
        )
        close_words = np.asarray(word_scores).any(axis=0).reshape(-1)
        is_candidate = np.zeros(len(self.keys), dtype=np.bool_)
        is_candidate[self._pair_key[close_words[self._pair_word]]] = True
        candidates = np.flatnonzero(is_candidate)
        if candidates.size:
            best = process.cdist(
                query_list,
                [self.keys[i] for i in candidates],
                scorer=self._scorer,
                score_cutoff=_FUZZY_CUTOFF,
                dtype=np.float32,
            ).max(axis=0)
            scores[candidates] = best
        return scores

    def row_scores(self, queries: Iterable[str]) -> npt.NDArray[np.float64]:
        """:meth:`key_scores` spread onto rows; rows with an empty value get 0."""
        padded: npt.NDArray[np.float64] = np.append(self.key_scores(queries), 0.0)
        return padded[self.row_key]


class AddressIndex:
    """Addresses and shops of one extract, searchable by free text without network.

    Build it with :func:`build_address_index`; cache it with :meth:`to_arrays` and
    ``np.savez`` and load it back with :meth:`from_arrays`.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], report: AddressIndexReport) -> None:
        """Keep validated ``columns`` (see :meth:`from_arrays`) and precompute search keys."""
        self._kind: npt.NDArray[np.str_] = columns["kind"]
        self._lon: npt.NDArray[np.float64] = columns["lon"]
        self._lat: npt.NDArray[np.float64] = columns["lat"]
        self._street: npt.NDArray[np.str_] = columns["street"]
        self._housenumber: npt.NDArray[np.str_] = columns["housenumber"]
        self._postcode: npt.NDArray[np.str_] = columns["postcode"]
        self._city: npt.NDArray[np.str_] = columns["city"]
        self._name: npt.NDArray[np.str_] = columns["name"]
        self._shop_kind: npt.NDArray[np.str_] = columns["shop_kind"]
        self._opening_hours: npt.NDArray[np.str_] = columns["opening_hours"]
        self.report = report

        self._is_shop = self._kind == "shop"
        self._shop_rows = np.flatnonzero(self._is_shop)
        self._streets = _FuzzyColumn(self._street)
        hn_keys, hn_index = _map_unique(self._housenumber, _normalise_housenumber)
        self._hn_keys = np.array(hn_keys, dtype=np.str_).reshape(-1)[hn_index]
        hn_nums, _ = _map_unique(self._housenumber, _leading_number)
        self._hn_num = np.array(hn_nums, dtype=np.int64).reshape(-1)[hn_index]
        postcodes, postcode_index = _map_unique(self._postcode, _normalise_postcode)
        self._postcode_keys = np.array(postcodes, dtype=np.str_).reshape(-1)[postcode_index]
        self._postcode_vocab = frozenset(postcodes) - {""}
        cities = _FuzzyColumn(self._city)
        self._city_key = cities.row_key
        self._city_words = [frozenset(k.split()) for k in cities.keys]
        self._city_vocab = frozenset(
            w
            for words in self._city_words
            for w in words
            if len(w) >= _MIN_CITY_WORD and not w.isdigit()
        )
        self._names = _FuzzyColumn(self._name)
        self._shop_kinds = _FuzzyColumn(self._shop_kind)
        # "Alko Mannerheimintie" or "Alko Mannerheimintie 20" names one branch of a chain.
        with_street, with_number = [""] * len(self._kind), [""] * len(self._kind)
        for i in self._shop_rows:
            with_street[i] = f"{self._name[i]} {self._street[i]}"
            with_number[i] = f"{with_street[i]} {self._housenumber[i]}"
        self._shop_addresses = [
            _FuzzyColumn(np.array(keys, dtype=np.str_).reshape(-1), scorer=fuzz.token_sort_ratio)
            for keys in (with_street, with_number)
        ]

    # -- persistence -----------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (unicode, float, int; no objects) for ``np.savez``."""
        arrays: dict[str, np.ndarray] = {"format_version": np.array(_FORMAT_VERSION)}
        for name in (*_TEXT_COLUMNS, *_FLOAT_COLUMNS):
            arrays[name] = getattr(self, f"_{name}").copy()
        for name in _COUNT_KEYS:
            arrays[name] = np.array(getattr(self.report, name), dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> AddressIndex:
        """Rebuild an index from :meth:`to_arrays` output, e.g. an ``np.load``-ed ``.npz``.

        Raises
        ------
        AddressIndexFormatError
            If a key is missing, the format version differs, a column has the wrong dtype
            or length, or ``kind`` holds something other than "address" and "shop".
        """
        missing = [
            k
            for k in ("format_version", *_TEXT_COLUMNS, *_FLOAT_COLUMNS, *_COUNT_KEYS)
            if k not in arrays
        ]
        if missing:
            raise AddressIndexFormatError(f"address index arrays lack {', '.join(missing)}")
        version = int(np.asarray(arrays["format_version"]))
        if version != _FORMAT_VERSION:
            raise AddressIndexFormatError(
                f"address index format {version} is not the supported {_FORMAT_VERSION}; "
                "rebuild it from the extract"
            )
        columns: dict[str, np.ndarray] = {}
        for name in _TEXT_COLUMNS:
            column = np.asarray(arrays[name])
            if column.dtype.kind != "U" and column.size:
                raise AddressIndexFormatError(
                    f"column {name!r} must be a unicode array, not {column.dtype}"
                )
            columns[name] = np.array(column, dtype=np.str_).reshape(-1)
        for name in _FLOAT_COLUMNS:
            columns[name] = np.array(arrays[name], dtype=np.float64).reshape(-1)
        lengths = {len(c) for c in columns.values()}
        if len(lengths) > 1:
            raise AddressIndexFormatError(f"address index columns differ in length: {lengths}")
        bad_kinds = set(np.unique(columns["kind"]).tolist()) - set(get_args(MatchKind))
        if bad_kinds:
            raise AddressIndexFormatError(f"unknown entry kinds {sorted(bad_kinds)}")
        is_shop = columns["kind"] == "shop"
        counts = {k: int(np.asarray(arrays[k])) for k in _COUNT_KEYS}
        report = AddressIndexReport(
            n_addresses=int(np.count_nonzero(~is_shop)),
            n_shops=int(np.count_nonzero(is_shop)),
            **counts,
        )
        return cls(columns, report)

    # -- sizes -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of entries, addresses and shops together."""
        return len(self._kind)

    def __repr__(self) -> str:
        """Counts, since the entries themselves are too many to show."""
        return f"AddressIndex({self.n_addresses} addresses, {self.n_shops} shops)"

    @property
    def n_addresses(self) -> int:
        """Number of address entries."""
        return self.report.n_addresses

    @property
    def n_shops(self) -> int:
        """Number of shop entries."""
        return self.report.n_shops

    # -- look-up ---------------------------------------------------------------------

    def shops(self) -> list[AddressMatch]:
        """Every shop, in name order, each with score 100 (they are not ranked)."""
        return [self._match(int(i), 100.0) for i in self._shop_rows]

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kind: SearchKind = "any",
        min_score: float = 70.0,
    ) -> list[AddressMatch]:
        """Find addresses and shops matching what a person typed, best first.

        Parameters
        ----------
        query
            Free text: "Mannerheimintie 5", "5 mannerheimintie 00100", "Hauptstr 12a",
            "Stockman". Case, accents, word order and small typos do not matter.
        limit
            At most this many matches are returned.
        kind
            Restrict to "address" or "shop" entries; "any" returns both.
        min_score
            Matches scoring below this (0-100) are dropped as noise.

        Returns
        -------
        list of AddressMatch
            Highest score first. For a known street with a house number missing from the
            index, the street's nearest numbers come first. Empty if nothing is similar.

        Raises
        ------
        ValueError
            If ``query`` is empty or blank, ``limit`` is below 1 or ``kind`` is unknown.
        """
        if not query.strip():
            raise ValueError("query must not be empty")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if kind not in get_args(SearchKind):
            raise ValueError(f"kind must be one of {get_args(SearchKind)}, got {kind!r}")
        parsed = self._parse(query)
        if parsed is None or len(self) == 0:
            return []
        address = self._address_scores(parsed)
        if kind == "address":
            scores = np.where(self._is_shop, 0.0, address)
        else:
            shop = np.maximum(self._shop_scores(parsed), _SHOP_BY_ADDRESS * address)
            shop_scores = np.where(self._is_shop, shop, 0.0)
            scores = shop_scores if kind == "shop" else np.where(self._is_shop, shop, address)
        candidates = np.flatnonzero(scores >= min_score)
        order = candidates[np.argsort(-scores[candidates], kind="stable")][:limit]
        return [self._match(int(i), float(scores[i])) for i in order]

    def _parse(self, query: str) -> _Query | None:
        """Split ``query`` into house-number, postcode, city and street/name words."""
        merged: list[str] = []
        for token in normalise_text(query).split():
            if merged and len(token) == 1 and token.isalpha() and merged[-1].isdigit():
                merged[-1] += token  # "12 a" is house number "12a"
            else:
                merged.append(token)
        if not merged:
            return None
        numbers = [t for t in merged if _HOUSENUMBER_TOKEN.fullmatch(t)]
        postcodes = {t for t in merged if t in self._postcode_vocab or _POSTCODE_TOKEN.fullmatch(t)}
        words = [t for t in merged if t not in postcodes and t not in numbers]
        cities = frozenset(t for t in words if t in self._city_vocab)
        texts = dict.fromkeys(
            t for t in (" ".join(words), " ".join(t for t in words if t not in cities)) if t
        )
        return _Query(
            full=" ".join(merged),
            texts=tuple(texts),
            numbers=tuple(numbers),
            postcodes=frozenset(postcodes),
            cities=cities,
        )

    def _address_scores(self, q: _Query) -> npt.NDArray[np.float64]:
        """Score 0-100 of every row as an address: street, then number, postcode, city."""
        n = len(self)
        if not q.texts and not q.postcodes:
            return np.zeros(n)  # a bare number says nothing about where
        total = np.zeros(n)
        weight = 0.0
        street = np.ones(n)
        if q.texts:
            street = self._streets.row_scores(q.texts) / 100
            total += _W_STREET * street
            weight += _W_STREET
        if q.numbers:
            total += _W_HOUSENUMBER * self._housenumber_part(q.numbers)
            weight += _W_HOUSENUMBER
        if q.postcodes:
            has = self._postcode_keys != ""
            same = np.isin(self._postcode_keys, list(q.postcodes))
            total += _W_POSTCODE * np.where(same, 1.0, np.where(has, 0.0, 0.5))
            weight += _W_POSTCODE
        if q.cities:
            per_city = [1.0 if q.cities & words else 0.0 for words in self._city_words]
            city = np.array([*per_city, 0.5])[self._city_key]
            total += _W_CITY * city
            weight += _W_CITY
        scores = 100 * total / weight
        scores[(street == 0) | (self._streets.row_key < 0)] = 0.0
        return scores

    def _housenumber_part(self, numbers: tuple[str, ...]) -> npt.NDArray[np.float64]:
        """1 for the exact number, 0.85 for another letter, less the farther the number.

        The first number of the query counts fully; later ones ("Tie 5 A 3": staircase,
        flat) are only tried as fall-backs.
        """
        best = np.zeros(len(self))
        for i, number in enumerate(numbers):
            wanted = _leading_number(number)
            distance = np.abs(self._hn_num - wanted)
            part = np.where(
                self._hn_keys == number,
                1.0,
                np.where(
                    distance == 0,
                    0.85,
                    np.where(self._hn_num >= 0, 0.7 / (1.0 + distance / 4.0), 0.3),
                ),
            )
            best = np.maximum(best, part if i == 0 else 0.9 * part)
        return best

    def _shop_scores(self, q: _Query) -> npt.NDArray[np.float64]:
        """Score 0-100 of every row as a shop: by name, name and address, or kind."""
        variants = dict.fromkeys((q.full, *q.texts))
        by_name = self._names.row_scores(variants)
        by_kind = _SHOP_BY_KIND * self._shop_kinds.row_scores(q.texts)
        scores = np.maximum(by_name, by_kind)
        for column in self._shop_addresses:
            scores = np.maximum(scores, column.row_scores(variants))
        return scores

    def _match(self, i: int, score: float) -> AddressMatch:
        """The public view of row ``i``."""

        def text(column: npt.NDArray[np.str_]) -> str | None:
            return str(column[i]) or None

        street, housenumber = text(self._street), text(self._housenumber)
        postcode, city = text(self._postcode), text(self._city)
        where = " ".join(p for p in (street, housenumber) if p)
        lon, lat = float(self._lon[i]), float(self._lat[i])
        if not self._is_shop[i]:
            place = " ".join(p for p in (postcode, city) if p)
            label = f"{where}, {place}" if place else where
            return AddressMatch(
                label, "address", lon, lat, round(score, 2), street, housenumber, postcode, city
            )
        name, shop_kind = text(self._name), str(self._shop_kind[i])
        label = f"{name or 'Unnamed'} ({shop_kind})" + (f", {where}" if where else "")
        return AddressMatch(
            label,
            "shop",
            lon,
            lat,
            round(score, 2),
            street,
            housenumber,
            postcode,
            city,
            name=name,
            shop_kind=shop_kind,
            opening_hours=text(self._opening_hours),
        )


# -- building ------------------------------------------------------------------------


def _extract_format(path: Path) -> str:
    """The osmium format name for ``path``, judged by its (case-insensitive) suffix."""
    lowered = path.name.lower()
    for suffix, fmt in _FORMATS.items():
        if lowered.endswith(suffix):
            return fmt
    raise UnsupportedExtractError(
        f"{path} is not an OSM extract velocal reads; "
        f"expected a name ending in {', '.join(SUPPORTED_SUFFIXES)}"
    )


def _tagged_objects(path: Path, fmt: str) -> Iterator[Any]:
    """Nodes, ways and relations with address or shop tags, ways with node locations.

    Only errors of the reader are turned into :class:`CorruptExtractError`; the objects
    are valid until the next one is requested.
    """
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("addr:housenumber", "shop", "amenity"))
    )
    try:
        yield from processor
    except (RuntimeError, ValueError) as exc:
        raise CorruptExtractError(f"cannot parse OSM extract {path}: {exc}") from exc


def _location(obj: Any) -> tuple[float, float] | None:
    """Node location, or the mean of a way's nodes present in the extract."""
    if obj.is_node():
        loc = obj.location
        return (loc.lon, loc.lat) if loc.valid() else None
    refs = list(obj.nodes)
    if len(refs) > 1 and obj.is_closed():
        refs = refs[:-1]  # the closing node would count twice
    points = [(r.location.lon, r.location.lat) for r in refs if r.location.valid()]
    if not points:
        return None
    lons, lats = zip(*points, strict=True)
    return sum(lons) / len(lons), sum(lats) / len(lats)


def _tag(tags: Any, key: str) -> str:
    """A tag value without surrounding blanks, "" when untagged."""
    return str(tags.get(key, "")).strip()


def _records(path: Path, fmt: str) -> tuple[list[_Record], int, int]:
    """Address and shop records of the extract, skipped relations and skipped ways."""
    records: list[_Record] = []
    skipped_relations = skipped_ways = 0
    for obj in _tagged_objects(path, fmt):
        tags = obj.tags
        housenumber = _tag(tags, "addr:housenumber")
        street = _tag(tags, "addr:street") or _tag(tags, "addr:place")
        amenity = _tag(tags, "amenity")
        shop_kind = _tag(tags, "shop") or (amenity if amenity in SHOP_AMENITIES else "")
        is_address = bool(housenumber and street)
        if not (is_address or shop_kind):
            continue
        if obj.is_relation():
            skipped_relations += 1
            continue
        location = _location(obj)
        if location is None:
            skipped_ways += int(obj.is_way())
            continue
        lon, lat = location
        addr = {
            "street": street,
            "housenumber": housenumber,
            "postcode": _tag(tags, "addr:postcode"),
            "city": _tag(tags, "addr:city"),
        }
        if is_address:
            records.append(_Record("address", lon, lat, **addr))
        if shop_kind:
            records.append(
                _Record(
                    "shop",
                    lon,
                    lat,
                    **addr,
                    name=_tag(tags, "name"),
                    shop_kind=shop_kind,
                    opening_hours=_tag(tags, "opening_hours"),
                )
            )
    return records, skipped_relations, skipped_ways


def _same_place(a: _Record, b: _Record) -> bool:
    """Whether two points with the same street and number are one address.

    They are if they lie within 150 m and their postcodes and cities do not contradict
    each other (one may lack them: a building way often has fewer tags than its entrance).
    """
    for mine, theirs in ((a.postcode, b.postcode), (a.city, b.city)):
        if mine and theirs and normalise_text(mine) != normalise_text(theirs):
            return False
    dx = (a.lon - b.lon) * np.cos(np.radians(a.lat)) * _METRES_PER_DEGREE
    dy = (a.lat - b.lat) * _METRES_PER_DEGREE
    return bool(dx * dx + dy * dy <= _MERGE_DISTANCE_M**2)


def _merge_duplicates(records: list[_Record]) -> tuple[list[_Record], int]:
    """Fold address points repeating one address into one at their mean location.

    Without this, "Kaivokatu 1" would be listed once per shop of the railway station.
    """
    groups: dict[tuple[str, str], list[list[_Record]]] = {}
    kept: list[_Record] = []
    for record in records:
        if record.kind != "address":
            kept.append(record)
            continue
        key = (normalise_text(record.street), _normalise_housenumber(record.housenumber))
        clusters = groups.setdefault(key, [])
        for cluster in clusters:
            if _same_place(cluster[0], record):
                cluster.append(record)
                break
        else:
            clusters.append([record])
    merged = 0
    for clusters in groups.values():
        for cluster in clusters:
            first = cluster[0]
            kept.append(
                _Record(
                    "address",
                    lon=sum(r.lon for r in cluster) / len(cluster),
                    lat=sum(r.lat for r in cluster) / len(cluster),
                    street=first.street,
                    housenumber=first.housenumber,
                    postcode=next((r.postcode for r in cluster if r.postcode), ""),
                    city=next((r.city for r in cluster if r.city), ""),
                )
            )
            merged += len(cluster) - 1
    return kept, merged


def _sort_key(record: _Record) -> tuple[int, str, int, str, str, str, str]:
    """Addresses before shops, then by street/name and house number, for stable ties."""
    if record.kind == "address":
        primary = normalise_text(record.street)
    else:
        primary = normalise_text(record.name or record.shop_kind)
    return (
        int(record.kind == "shop"),
        primary,
        _leading_number(record.housenumber),
        _normalise_housenumber(record.housenumber),
        normalise_text(record.postcode),
        normalise_text(record.city),
        record.shop_kind,
    )


def build_address_index(path: str | Path) -> AddressIndex:
    """Index the addresses and shops of an OSM extract for offline search.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` file. A clipped extract
        is fine: ways are placed at the mean of their nodes that are present.

    Returns
    -------
    AddressIndex
        With ``index.report`` counting what was kept and skipped.

    Raises
    ------
    UnsupportedExtractError
        If the file name has none of the supported suffixes.
    FileNotFoundError
        If there is no file at ``path``.
    CorruptExtractError
        If osmium cannot parse the file.
    """
    path = Path(path)
    fmt = _extract_format(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "OSM extract not found", str(path))
    records, skipped_relations, skipped_ways = _records(path, fmt)
    records, merged = _merge_duplicates(records)
    records.sort(key=_sort_key)
    columns: dict[str, np.ndarray] = {
        name: np.array([getattr(r, name) for r in records], dtype=np.str_).reshape(-1)
        for name in _TEXT_COLUMNS
    }
    for name in _FLOAT_COLUMNS:
        columns[name] = np.array([getattr(r, name) for r in records], dtype=np.float64)
    n_shops = sum(r.kind == "shop" for r in records)
    report = AddressIndexReport(
        n_addresses=len(records) - n_shops,
        n_shops=n_shops,
        skipped_relations=skipped_relations,
        skipped_ways=skipped_ways,
        merged_duplicates=merged,
    )
    return AddressIndex(columns, report)
