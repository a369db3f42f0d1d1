"""Planning benchmark: one delivery window of a town, from cutoff to stored routes.

Run from the project root::

    python -m benchmarks.planning_bench [--extract PATH] [--orders 300] [--couriers 15]
        [--shops 12] [--mode hub|direct] [--time-limit 10] [--seed 0] [--no-postgres]
        [--out benchmarks/results/]

The scenario (seeded): Lauf an der Pegnitz's cargo-bike graph (the shared extract, or
``VELOCAL_SHARED_DATA``), a hub at the address nearest the middle of the town's addresses,
``--shops`` real shops and ``--orders`` real addresses from routing's offline address index,
one parcel per order (1–8 kg, 2–30 l), a three-hour window and ``--couriers`` couriers on
shift with 100 kg / 400 l / 12-parcel cargo bikes. The database is seeded (SQLite in a
temporary file, and PostgreSQL in a scratch schema when reachable), the window's cutoff
passes, and ``plan_window`` runs: the figure is its wall time with the split between
database reads, the travel matrix, the solve and the writes (target: ≤ 15 s in all).

The graph is loaded and numba's kernels are compiled before the clock starts (a running
service has both); the travel matrix, snapping included, is inside the figure. Output: a
table and ``planning-<timestamp>.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, func, select

from benchmarks._measure import PROJECT_ROOT
from dispatch import lifecycle
from dispatch.db import create_schema, make_engine
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryWindow,
    Hub,
    Order,
    Parcel,
    Shift,
    Shop,
    Stop,
    Town,
)
from dispatch.network import network_for
from dispatch.planning import plan_window_timed, window_has_room
from routing import load_address_index

SHARED_DATA = Path(os.environ.get("VELOCAL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
LAUF = SHARED_DATA / "osm" / "lauf-an-der-pegnitz_2020-01-15.osm.pbf"
POSTGRES_URL = os.environ.get(
    "VELOCAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DAY = date(2020, 1, 15)
START = datetime(2020, 1, 15, 13, 0, tzinfo=UTC)
END = START + timedelta(hours=3)
CUTOFF = START - timedelta(hours=2)
TARGET_S = 15.0

console = Console(width=120)


def pick_places(extract: Path, orders: int, shops: int, seed: int) -> dict[str, Any]:
    """Real shops and doors of the extract, and a hub near the middle of its addresses."""
    arrays = load_address_index(extract).to_arrays()
    rng = np.random.default_rng(seed)
    doors = np.flatnonzero(arrays["kind"] == "address")
    shop_rows = np.flatnonzero(arrays["kind"] == "shop")
    lat, lon = arrays["lat"], arrays["lon"]
    mid_lat, mid_lon = float(np.median(lat[doors])), float(np.median(lon[doors]))
    hub = int(doors[np.argmin(np.hypot(lat[doors] - mid_lat, lon[doors] - mid_lon))])
    picked_doors = rng.choice(doors, size=min(orders, doors.size), replace=False)
    picked_shops = rng.choice(shop_rows, size=min(shops, shop_rows.size), replace=False)
    return {
        "hub": (float(lat[hub]), float(lon[hub])),
        "doors": [(float(lat[r]), float(lon[r])) for r in picked_doors],
        "shops": [
            (str(arrays["name"][r]) or "shop", float(lat[r]), float(lon[r])) for r in picked_shops
        ],
    }


def seed_database(
    engine: Engine, places: dict[str, Any], *, extract: Path, mode: str, couriers: int, seed: int
) -> int:
    """The town, its fleet and the window's orders; returns the window's id."""
    rng = np.random.default_rng(seed + 1)
    with Session(engine) as session:
        town = Town(name="Lauf", extract=str(extract), mode=mode, time_zone="Europe/Berlin")
        session.add(town)
        session.flush()
        assert town.id is not None
        hub = Hub(town_id=town.id, name="Hub", lat=places["hub"][0], lon=places["hub"][1])
        window = DeliveryWindow(
            town_id=town.id, day=DAY, starts_at=START, ends_at=END, cutoff_at=CUTOFF
        )
        bike = BikeType(
            town_id=town.id,
            name="cargo",
            capacity_g=100_000,
            capacity_ml=400_000,
            capacity_parcels=12,
        )
        shops = [Shop(town_id=town.id, name=n, lat=la, lon=lo) for n, la, lo in places["shops"]]
        customer = Customer(name="bench")
        session.add_all([hub, window, bike, *shops, customer])
        session.flush()
        assert hub.id is not None
        assert bike.id is not None
        assert customer.id is not None
        for number in range(couriers):
            courier = Courier(town_id=town.id, name=f"Courier {number + 1}", bike_type_id=bike.id)
            session.add(courier)
            session.flush()
            assert courier.id is not None
            session.add(
                Shift(
                    courier_id=courier.id,
                    hub_id=hub.id,
                    starts_at=START - timedelta(minutes=30),
                    ends_at=END + timedelta(minutes=30),
                )
            )
        assert window.id is not None
        orders = [
            Order(
                town_id=town.id,
                customer_id=customer.id,
                window_id=window.id,
                lat=la,
                lon=lo,
                tracking_token=uuid.uuid4().hex,
            )
            for la, lo in places["doors"]
        ]
        session.add_all(orders)
        session.flush()
        for number, order in enumerate(orders):
            assert order.id is not None
            shop = shops[number % len(shops)]
            assert shop.id is not None
            session.add(
                Parcel(
                    order_id=order.id,
                    shop_id=shop.id,
                    weight_g=int(rng.integers(1000, 8000)),
                    volume_ml=int(rng.integers(2000, 30000)),
                    label_code=uuid.uuid4().hex[:12],
                    ready_at=CUTOFF + timedelta(minutes=int(rng.integers(0, 90))),
                )
            )
        session.commit()
        return window.id


def run_one(
    engine: Engine, label: str, window_id: int, time_limit: float, seed: int
) -> dict[str, Any]:
    with Session(engine) as session:
        window = session.get(DeliveryWindow, window_id)
        assert window is not None
        door = session.exec(select(Order).where(col(Order.window_id) == window_id)).first()
        assert door is not None
        assert door.lat is not None
        assert door.lon is not None
        room_started = time.perf_counter()
        room = window_has_room(
            session, window, lat=door.lat, lon=door.lon, weight_g=3000, volume_ml=10_000, count=1
        )
        room_s = time.perf_counter() - room_started
    started = time.perf_counter()
    with Session(engine) as session:
        lifecycle.close_due_windows(session, now=CUTOFF + timedelta(seconds=1))
        session.commit()
        close_s = time.perf_counter() - started
        plan, timings = plan_window_timed(session, window_id, time_limit_s=time_limit, seed=seed)
        wall = time.perf_counter() - started
        stops = session.exec(
            select(func.count()).select_from(Stop).where(col(Stop.status) == "planned")
        ).one()
        return {
            "database": label,
            "wall_s": round(wall, 3),
            "close_s": round(close_s, 3),
            "read_s": round(timings.read_s, 3),
            "matrix_s": round(timings.matrix_s, 3),
            "solve_s": round(timings.solve_s, 3),
            "write_s": round(timings.write_s, 3),
            "stops": int(stops),
            "unassigned": len(plan.unassigned),
            "distance_km": round(plan.distance_m / 1000, 1),
            "cost": plan.cost,
            "within_target": wall <= TARGET_S,
            "room_test_s": round(room_s, 4),
            "room_test": {"ok": room.ok, "reason": room.reason},
        }


def _postgres_engine() -> tuple[Engine, Engine, str] | None:
    admin = create_engine(
        make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    schema = f"velocal_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as error:  # unreachable: SQLite only
        console.print(f"PostgreSQL skipped: {str(error).splitlines()[0]}")
        admin.dispose()
        return None
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return admin, make_engine(url.render_as_string(hide_password=False)), schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, default=LAUF)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--couriers", type=int, default=15)
    parser.add_argument("--shops", type=int, default=12)
    parser.add_argument("--mode", choices=("hub", "direct"), default="hub")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if not args.extract.is_file():
        print(
            f"planning_bench: extract not found: {args.extract} (set VELOCAL_SHARED_DATA)",
            file=sys.stderr,
        )
        return 2

    prepared = time.perf_counter()
    network_for(str(args.extract), "cargo_bike")  # a running service has its graph loaded
    places = pick_places(args.extract, args.orders, args.shops, args.seed)
    _warm_up(args.extract, places)
    console.print(f"prepared in {time.perf_counter() - prepared:.1f} s (graph, addresses, JIT)")

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        create_schema(engine)
        window_id = seed_database(
            engine,
            places,
            extract=args.extract,
            mode=args.mode,
            couriers=args.couriers,
            seed=args.seed,
        )
        runs.append(run_one(engine, "sqlite", window_id, args.time_limit, args.seed))
        engine.dispose()
    postgres = None if args.no_postgres else _postgres_engine()
    if postgres is not None:
        admin, engine, schema = postgres
        try:
            create_schema(engine)
            window_id = seed_database(
                engine,
                places,
                extract=args.extract,
                mode=args.mode,
                couriers=args.couriers,
                seed=args.seed,
            )
            runs.append(run_one(engine, "postgresql", window_id, args.time_limit, args.seed))
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()

    table = Table(
        title=f"planning: {args.orders} orders, {args.couriers} couriers, {args.mode} mode"
    )
    for name in (
        "database",
        "wall_s",
        "read_s",
        "matrix_s",
        "solve_s",
        "write_s",
        "stops",
        "unassigned",
        "distance_km",
    ):
        table.add_column(name, justify="left" if name == "database" else "right")
    for run in runs:
        table.add_row(
            *(
                str(run[k])
                for k in (
                    "database",
                    "wall_s",
                    "read_s",
                    "matrix_s",
                    "solve_s",
                    "write_s",
                    "stops",
                    "unassigned",
                    "distance_km",
                )
            )
        )
    console.print(table)
    for run in runs:
        state = "within" if run["within_target"] else "OVER"
        verdict = "room" if run["room_test"]["ok"] else f"no room ({run['room_test']['reason']})"
        console.print(
            f"{run['database']}: room test for order {args.orders + 1} took "
            f"{run['room_test_s'] * 1000:.1f} ms: {verdict}"
        )
        console.print(
            f"{run['database']}: {run['wall_s']:.2f} s cutoff → stored routes, "
            f"{state} the {TARGET_S:.0f} s target"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"planning-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    payload = {
        "scenario": {
            "extract": args.extract.name,
            "orders": args.orders,
            "couriers": args.couriers,
            "shops": args.shops,
            "mode": args.mode,
            "time_limit_s": args.time_limit,
            "seed": args.seed,
        },
        "target_s": TARGET_S,
        "runs": runs,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {path}")
    return 0


def _warm_up(extract: Path, places: dict[str, Any]) -> None:
    """Compile the solver's kernels on a throw-away window of five orders."""
    small = {"hub": places["hub"], "doors": places["doors"][:5], "shops": places["shops"][:2]}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/warm.db")
        create_schema(engine)
        for mode in ("hub", "direct"):
            window_id = seed_database(engine, small, extract=extract, mode=mode, couriers=2, seed=0)
            with Session(engine) as session:
                window = session.get(DeliveryWindow, window_id)
                assert window is not None
                lifecycle.perform(session, window, "close", actor_role=lifecycle.SYSTEM)
                session.commit()
                plan_window_timed(session, window_id, time_limit_s=0.2)
            _drop_all(engine)  # the next mode seeds the same window again
        engine.dispose()


def _drop_all(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)


if __name__ == "__main__":
    sys.exit(main())
