"""Public map data for every page: the town's frame, its bike network as GeoJSON (the map
that works without a tile server) and offline address suggestions for checkout.

No login: it is OpenStreetMap data of the town, the same for everyone, and checkout must work
for a customer without an account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import SQLModel, col, select

from dispatch.api.deps import SessionDep
from dispatch.api.routes.orders import planning
from dispatch.api.routes.setup import get_town
from dispatch.models import Hub
from dispatch.network import get_network
from dispatch.town_map import address_index, network_geojson, town_outline

router = APIRouter(prefix="/town", tags=["map"])


class TownMap(SQLModel):
    name: str
    time_zone: str
    #: ``[lat, lon]`` where maps start.
    centre: list[float]
    #: ``[west, south, east, north]`` of the bike network.
    bounds: list[float]
    #: The delivery zone as GeoJSON polygon rings (``[[[lon, lat], ...]]``), or none.
    zone: list[list[list[float]]] | None
    hubs: list[list[float]]


class AddressSuggestion(SQLModel):
    label: str
    kind: str
    lat: float
    lon: float
    #: False when the address is outside the delivery zone (click & collect only).
    in_zone: bool


@router.get("/map")
def read_town_map(session: SessionDep) -> TownMap:
    """Where the town's maps start, its bounds, delivery zone and hubs."""
    town = get_town(session)
    hubs = session.exec(select(Hub).where(col(Hub.town_id) == town.id).order_by(col(Hub.id))).all()
    outline = town_outline(town, (hubs[0].lat, hubs[0].lon) if hubs else None)
    return TownMap(
        name=outline.name,
        time_zone=outline.time_zone,
        centre=list(outline.centre),
        bounds=list(outline.bounds),
        zone=outline.zone,
        hubs=[[h.lat, h.lon] for h in hubs],
    )


@router.get(
    "/network.geojson",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def read_network_geojson(session: SessionDep, request: Request) -> Response:
    """The bike network as GeoJSON lines (bike paths and streets): the offline base map."""
    body = network_geojson(get_network(get_town(session)))
    etag = f'"{hash(body) & 0xFFFFFFFF:08x}-{len(body)}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


@router.get("/addresses")
def suggest_addresses(
    session: SessionDep,
    q: Annotated[str, Query(min_length=2, max_length=200, description="What was typed so far")],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[AddressSuggestion]:
    """Addresses of the town matching what the customer typed (offline, typo-tolerant)."""
    town = get_town(session)
    if not q.strip():
        return []
    zone_test = planning().in_zone
    matches = address_index(town).search(q, limit=limit, kind="address")
    return [
        AddressSuggestion(
            label=m.label,
            kind=m.kind,
            lat=m.lat,
            lon=m.lon,
            in_zone=zone_test(town, m.lat, m.lon),
        )
        for m in matches
    ]
