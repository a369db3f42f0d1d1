"""``velocal plan --window ID``: plan one delivery window and print its routes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from dispatch.config import get_settings
from dispatch.db import make_engine
from dispatch.models import Courier, PlanRoute, PlanTrip, Shift, Stop
from dispatch.planning import PlanningError, plan_window_timed

console = Console()


def plan(
    window: Annotated[int, typer.Option("--window", help="The delivery window's id.")],
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Database (default: DATABASE_URL / settings)."),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds the search may run.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the search.")] = 0,
) -> None:
    """Plan a closed window: routes per courier, stops, distance, unassigned with reasons."""
    if time_limit is not None and time_limit <= 0:
        raise ValueError(f"--time-limit must be > 0, not {time_limit}")
    engine = make_engine(database_url or get_settings().database_url)
    try:
        with Session(engine) as session:
            try:
                result, timings = plan_window_timed(
                    session, window, time_limit_s=time_limit, seed=seed
                )
            except PlanningError as error:
                raise ValueError(str(error)) from None
            table = Table(title=f"window {window}: plan {result.id}")
            for name in ("courier", "shift", "trips", "stops", "km", "from", "to"):
                table.add_column(
                    name, justify="right" if name in ("trips", "stops", "km") else "left"
                )
            routes = session.exec(
                select(PlanRoute)
                .where(col(PlanRoute.plan_id) == result.id)
                .order_by(col(PlanRoute.id))
            ).all()
            n_stops = 0
            for route in routes:
                shift = session.get(Shift, route.shift_id)
                courier = session.get(Courier, shift.courier_id) if shift is not None else None
                trips = session.exec(
                    select(PlanTrip).where(col(PlanTrip.route_id) == route.id)
                ).all()
                stops = sum(
                    len(session.exec(select(Stop.id).where(col(Stop.trip_id) == t.id)).all())
                    for t in trips
                )
                n_stops += stops
                table.add_row(
                    courier.name if courier is not None else "?",
                    str(route.shift_id),
                    str(len(trips)),
                    str(stops),
                    f"{route.distance_m / 1000:.1f}",
                    f"{route.starts_at:%H:%M}",
                    f"{route.ends_at:%H:%M} UTC",
                )
            console.print(table)
            console.print(
                f"{len(routes)} routes, {n_stops} stops, {result.distance_m / 1000:.1f} km; "
                f"{len(result.unassigned)} parcels unassigned; matrix {timings.matrix_s:.2f} s, "
                f"solve {timings.solve_s:.2f} s, database {timings.read_s + timings.write_s:.2f} s"
            )
            for entry in result.unassigned:
                console.print(
                    f"  unassigned: parcel {entry['parcel_id']} (order {entry['order_id']}): "
                    f"{entry['reason']}",
                    markup=False,
                )
    finally:
        engine.dispose()
