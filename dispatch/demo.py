"""The demo town: ``seed_demo`` fills an empty database with a working town from a real extract.

Shops are real shops of the extract (their OSM names, ``shop=*`` types and opening hours),
customers live at real addresses of its offline index, and the hub sits at a central junction.
Delivery windows, shifts and orders are laid out relative to ``now``, so the demo works
whatever the clock says: the next window to start is closed early (if its cutoff has not
passed yet), its parcels are marked ready by their shops and it is planned with
``dispatch.planning.plan_window``, so a new user sees routes at once. Later windows stay open
and take orders.

Seeding a database that already has a town does nothing (and says so). Passwords are random
per account unless ``VELOCAL_DEMO_PASSWORD`` is set; they are only in the returned summary.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlmodel import Session, col, func, select

from dispatch import lifecycle
from dispatch.models import (
    BikeType,
    Courier,
    Customer,
    DeliveryWindow,
    Event,
    Hub,
    Order,
    OrderItem,
    Parcel,
    Product,
    Shift,
    Shop,
    Stop,
    Town,
    User,
    utc_now,
)
from dispatch.network import get_network
from dispatch.planning import plan_window
from dispatch.security import (
    hash_password,
    new_label_code,
    new_tracking_token,
    normalize_email,
)
from routing import DEFAULT_MAX_SNAP_M, load_address_index, snap_points

#: The environment variable that sets one password for every demo account.
PASSWORD_ENV = "VELOCAL_DEMO_PASSWORD"
#: Every demo account's e-mail ends with this.
EMAIL_DOMAIN = "velocal.demo"
#: Delivery windows per day, local time: (start hour, end hour, same-day cutoff hour).
WINDOWS: tuple[tuple[int, int, int], ...] = ((10, 12, 8), (14, 16, 12), (17, 19, 15))
#: Day-before cutoff: orders for a day are taken until this local hour the evening before.
DAY_BEFORE_CUTOFF_HOUR = 20
#: Orders in the planned window and in the later (open) windows.
PLANNED_ORDERS = 24
LATER_ORDERS = 16
N_SHOPS = 10
N_CUSTOMERS = 30
#: Time zones of the extracts the demo knows; others are read as UTC.
TIME_ZONES = {"helsinki": "Europe/Helsinki"}

#: Per size class: default weight (g) and volume (ml) of one unit.
SIZES = {"S": (300, 1_000), "M": (1_000, 4_000), "L": (3_000, 12_000), "XL": (8_000, 30_000)}

#: Products per shop kind: (name, price in cents, size class, needs a cooled box).
_Item = tuple[str, int, str, bool]
CATALOGUE: dict[str, tuple[_Item, ...]] = {
    "supermarket": (
        ("Weekly grocery bag", 4_590, "L", False),
        ("Dairy box (milk, yoghurt, cheese)", 1_890, "M", True),
        ("Fresh salmon fillet 500 g", 1_490, "S", True),
        ("Rye bread and oat porridge", 690, "S", False),
    ),
    "convenience": (
        ("Breakfast box", 1_290, "M", True),
        ("Coffee, 500 g", 790, "S", False),
        ("Household basics", 1_590, "M", False),
    ),
    "deli": (
        ("Cheese selection", 2_490, "S", True),
        ("Smoked fish platter", 2_990, "M", True),
        ("Antipasti jar set", 1_890, "S", False),
        ("Picnic hamper", 5_900, "L", True),
    ),
    "bakery": (
        ("Sourdough loaf", 690, "S", False),
        ("Cinnamon buns, 6", 1_290, "S", False),
        ("Birthday cake", 3_900, "M", True),
    ),
    "confectionery": (
        ("Chocolate box", 1_990, "S", False),
        ("Liquorice selection", 990, "S", False),
        ("Cream cake", 3_490, "M", True),
    ),
    "tea": (
        ("Green tea, 100 g", 1_290, "S", False),
        ("Tea tasting set", 2_990, "S", False),
        ("Cast-iron teapot", 4_990, "M", False),
    ),
    "florist": (
        ("Seasonal bouquet", 3_490, "M", False),
        ("Potted orchid", 2_990, "M", False),
        ("Large arrangement", 6_900, "L", False),
    ),
    "books": (
        ("Paperback novel", 1_690, "S", False),
        ("Illustrated city guide", 3_290, "S", False),
        ("Children's picture book set", 2_990, "M", False),
        ("Coffee-table art book", 5_490, "M", False),
    ),
    "clothes": (
        ("Merino jumper", 8_900, "M", False),
        ("Rain jacket", 12_900, "M", False),
        ("T-shirt", 2_490, "S", False),
        ("Winter coat", 24_900, "L", False),
    ),
    "boutique": (
        ("Silk scarf", 5_900, "S", False),
        ("Linen dress", 11_900, "M", False),
        ("Leather bag", 18_900, "M", False),
    ),
    "shoes": (
        ("Sneakers", 9_900, "M", False),
        ("Winter boots", 16_900, "M", False),
        ("Shoe care kit", 2_490, "S", False),
    ),
    "jewelry": (
        ("Silver earrings", 6_900, "S", False),
        ("Gold ring", 29_900, "S", False),
        ("Watch", 19_900, "S", False),
    ),
    "cosmetics": (
        ("Face cream", 3_490, "S", False),
        ("Gift set", 4_990, "S", False),
        ("Shampoo and conditioner", 2_290, "S", False),
    ),
    "chemist": (
        ("Toiletries bundle", 1_990, "M", False),
        ("Sunscreen", 1_490, "S", False),
        ("Baby care set", 2_990, "M", False),
    ),
    "pharmacy": (
        ("First-aid kit", 2_490, "S", False),
        ("Vitamin D, 200 tablets", 1_290, "S", False),
        ("Insulin cooler bag", 3_990, "S", True),
    ),
    "gift": (
        ("Design mug", 2_490, "S", False),
        ("Scented candle", 2_990, "S", False),
        ("Moomin gift box", 3_990, "M", False),
    ),
    "toys": (
        ("Wooden train set", 4_990, "M", False),
        ("Board game", 3_990, "M", False),
        ("Plush toy", 1_990, "S", False),
        ("Balance bike", 9_900, "L", False),
    ),
    "baby_goods": (
        ("Baby sleeping bag", 4_990, "M", False),
        ("Nappies, 2 packs", 2_990, "L", False),
        ("Teething toys", 1_490, "S", False),
    ),
    "sports": (
        ("Running shoes", 12_900, "M", False),
        ("Yoga mat", 3_990, "M", False),
        ("Cross-country ski poles", 6_900, "L", False),
    ),
    "outdoor": (
        ("Hiking backpack", 11_900, "M", False),
        ("Camping stove", 6_900, "M", False),
        ("Sleeping bag", 14_900, "L", False),
    ),
    "bicycle": (
        ("Bicycle lights", 3_990, "S", False),
        ("Pannier bag", 7_900, "M", False),
        ("Child seat", 14_900, "L", False),
    ),
    "art": (
        ("Art print", 4_900, "M", False),
        ("Small framed painting", 19_900, "L", False),
        ("Postcard set", 990, "S", False),
    ),
    "interior_decoration": (
        ("Cushion cover", 3_490, "S", False),
        ("Glass vase", 5_900, "M", False),
        ("Floor lamp", 19_900, "XL", False),
    ),
    "houseware": (
        ("Cast-iron pan", 5_990, "M", False),
        ("Kitchen towel set", 1_990, "S", False),
        ("Dinner plate set", 8_900, "L", False),
    ),
    "musical_instrument": (
        ("Guitar strings", 1_490, "S", False),
        ("Ukulele", 7_900, "M", False),
        ("Keyboard stand", 4_990, "L", False),
    ),
    "craft": (
        ("Yarn bundle", 2_990, "M", False),
        ("Knitting needles set", 1_990, "S", False),
        ("Embroidery kit", 2_490, "S", False),
    ),
    "variety_store": (
        ("Party supplies", 1_990, "M", False),
        ("Storage boxes", 2_490, "L", False),
        ("Batteries and bulbs", 1_290, "S", False),
    ),
    "mobile_phone": (
        ("Phone case", 2_490, "S", False),
        ("Charger and cable", 2_990, "S", False),
        ("Wireless earbuds", 8_900, "S", False),
    ),
    "antiques": (
        ("Vintage glassware", 4_900, "M", False),
        ("Antique clock", 24_900, "M", False),
        ("Old map print", 3_900, "S", False),
    ),
}
#: Shop kinds the demo picks first (food that needs the cooled bike, flowers, books).
PREFERRED_KINDS = ("supermarket", "deli", "bakery", "florist", "books")

#: Bike types: (name, profile, kg, litres, parcels, cooled, how many).
FLEET: tuple[tuple[str, str, int, int, int, bool, int], ...] = (
    ("Cargo bike", "cargo_bike", 80, 250, 12, False, 4),
    ("E-cargo bike", "e_cargo_bike", 120, 400, 18, False, 1),
    ("Cooled e-cargo bike", "e_cargo_bike", 100, 300, 15, True, 1),
)
#: Couriers: (name, bike type index, shift start, shift end) in local time.
COURIERS: tuple[tuple[str, int, str, str], ...] = (
    ("Aino Virtanen", 0, "09:30", "16:30"),
    ("Mikko Korhonen", 0, "09:30", "16:30"),
    ("Leena Mäkinen", 0, "13:30", "19:30"),
    ("Juha Nieminen", 0, "13:30", "19:30"),
    ("Sanna Laine", 1, "09:30", "16:30"),
    ("Ville Heikkinen", 2, "09:30", "19:30"),
)
_FIRST = ("Anna", "Eero", "Helmi", "Lauri", "Maria", "Oskari", "Siiri", "Tuomas", "Veera", "Aleksi")
_LAST = ("Koskinen", "Järvinen", "Lehtonen", "Saarinen", "Salminen", "Hämäläinen", "Rantanen")


@dataclass(frozen=True)
class DemoLogin:
    """A demo account: its e-mail, role, who it acts for and its password."""

    email: str
    role: str
    name: str
    password: str


@dataclass
class DemoSummary:
    """What ``seed_demo`` made (or why it made nothing), for the serve command to print."""

    created: bool
    message: str
    town: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    planned_window: str = ""
    planned_window_id: int | None = None
    plan_id: int | None = None
    stops: int = 0
    unassigned: int = 0
    logins: list[DemoLogin] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The summary as printable lines (passwords included: print them once)."""
        if not self.created:
            return [self.message]
        counts = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        out = [self.message, f"  {counts}"]
        if self.planned_window:
            out.append(
                f"  planned {self.planned_window}: plan {self.plan_id}, {self.stops} stops, "
                f"{self.unassigned} parcels unassigned"
            )
        out.append("  logins (POST /api/auth/login; shown only now):")
        width = max((len(login.email) for login in self.logins), default=0)
        for login in self.logins:
            out.append(f"    {login.email:<{width}}  {login.password}  {login.role}: {login.name}")
        return out


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, clock_time(hours, minutes), tzinfo=zone).astimezone(UTC)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def _password() -> str:
    return os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(9)


def has_town(session: Session) -> Town | None:
    """The database's town, if it has one."""
    return session.exec(select(Town).order_by(col(Town.id))).first()


def seed_demo(
    session: Session,
    *,
    extract: str = "helsinki",
    seed: int = 0,
    now: datetime | None = None,
    time_limit_s: float | None = 5.0,
    max_iterations: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Fill an empty database with the demo town of ``extract`` and plan its next window.

    ``now`` (default: the clock) places the windows, shifts and orders; ``seed`` picks the
    shops, customers and orders. A database with a town already is left alone. Commits.
    """
    say = progress or (lambda _line: None)
    existing = has_town(session)
    if existing is not None:
        return DemoSummary(
            created=False,
            message=f"the database already has a town ({existing.name}): no demo data added",
            town=existing.name,
        )
    moment = (now or utc_now()).astimezone(UTC)
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    zone = ZoneInfo(TIME_ZONES.get(extract, "UTC"))

    started = time.perf_counter()
    say(f"loading the {extract} graph and address index")
    probe = Town(name="demo", extract=extract)
    graph = get_network(probe).graph
    get_network(probe, profile="e_cargo_bike")
    arrays = load_address_index(None if extract == "helsinki" else extract).to_arrays()
    timings["graph"] = time.perf_counter() - started

    # Which index rows a bike can reach (a shop in a courtyard 400 m off the street is out).
    reachable = np.zeros(arrays["kind"].shape[0], dtype=bool)
    if reachable.size:
        snapped = snap_points(graph, arrays["lon"], arrays["lat"], max_distance_m=1e9)
        reachable = snapped.distance_m <= DEFAULT_MAX_SNAP_M

    # ── the town and its hub ─────────────────────────────────────────────────────────────
    margin = 0.002
    west, east = float(graph.node_lon.min()) - margin, float(graph.node_lon.max()) + margin
    south, north = float(graph.node_lat.min()) - margin, float(graph.node_lat.max()) + margin
    name = "Helsinki centre" if extract == "helsinki" else str(graph.name)
    town = Town(
        name=name,
        extract=extract,
        profile="cargo_bike",
        time_zone=zone.key,
        mode="hub",
        zone=[[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    )
    session.add(town)
    session.flush()
    lat0, lon0 = float(np.median(graph.node_lat)), float(np.median(graph.node_lon))
    scale = np.cos(np.radians(lat0))
    middle = int(np.argmin(np.hypot(graph.node_lat - lat0, (graph.node_lon - lon0) * scale)))
    hub = Hub(
        town_id=_id(town),
        name=f"{name} hub",
        lat=float(graph.node_lat[middle]),
        lon=float(graph.node_lon[middle]),
    )
    session.add(hub)

    # ── shops and their catalogues ───────────────────────────────────────────────────────
    shop_rows = _pick_shops(arrays, reachable, rng)
    if not shop_rows:
        raise ValueError(f"{extract}: the extract has no named shops a cargo bike can reach")
    shops: list[Shop] = []
    products: dict[int, list[tuple[Product, bool]]] = {}
    for row in shop_rows:
        kind = str(arrays["shop_kind"][row])
        shop = Shop(
            town_id=_id(town),
            name=str(arrays["name"][row]),
            kind=kind,
            address=f"{arrays['street'][row]} {arrays['housenumber'][row]}".strip(),
            lat=float(arrays["lat"][row]),
            lon=float(arrays["lon"][row]),
            opening_hours=str(arrays["opening_hours"][row]),
        )
        session.add(shop)
        shops.append(shop)
    session.flush()
    for shop in shops:
        items = CATALOGUE[shop.kind]
        count = min(len(items), int(rng.integers(3, 6)))
        rows = []
        for item_name, price, size, cooled in items[:count]:
            weight, volume = SIZES[size]
            product = Product(
                shop_id=_id(shop),
                name=item_name,
                price_cents=price,
                size_class=size,
                weight_g=weight,
                volume_ml=volume,
            )
            session.add(product)
            rows.append((product, cooled))
        products[_id(shop)] = rows
    session.flush()

    # ── fleet, couriers and shifts ───────────────────────────────────────────────────────
    bike_types = [
        BikeType(
            town_id=_id(town),
            name=bike_name,
            profile=profile,
            capacity_g=kg * 1000,
            capacity_ml=litres * 1000,
            capacity_parcels=parcels,
            cooled=cooled,
            count=count,
        )
        for bike_name, profile, kg, litres, parcels, cooled, count in FLEET
    ]
    session.add_all(bike_types)
    session.flush()
    couriers = [
        Courier(town_id=_id(town), name=courier_name, bike_type_id=_id(bike_types[bike]))
        for courier_name, bike, _, _ in COURIERS
    ]
    session.add_all(couriers)
    session.flush()

    # ── windows: today's still to come and tomorrow's, in local time ─────────────────────
    today = moment.astimezone(zone).date()
    windows: list[DeliveryWindow] = []
    for day in (today, today + timedelta(days=1)):
        for start_h, end_h, cutoff_h in WINDOWS:
            starts = _local(day, f"{start_h}:00", zone)
            if starts <= moment:
                continue
            windows.append(
                DeliveryWindow(
                    town_id=_id(town),
                    day=day,
                    starts_at=starts,
                    ends_at=_local(day, f"{end_h}:00", zone),
                    cutoff_at=_local(day, f"{cutoff_h}:00", zone),
                    day_before_cutoff_at=_local(
                        day - timedelta(days=1), f"{DAY_BEFORE_CUTOFF_HOUR}:00", zone
                    ),
                    max_orders=60,
                )
            )
    session.add_all(windows)
    shifts: list[Shift] = []
    for day in sorted({w.day for w in windows}):
        for courier, (_, _, shift_start, shift_end) in zip(couriers, COURIERS, strict=True):
            shifts.append(
                Shift(
                    courier_id=_id(courier),
                    hub_id=_id(hub),
                    starts_at=_local(day, shift_start, zone),
                    ends_at=_local(day, shift_end, zone),
                )
            )
    session.add_all(shifts)
    session.flush()

    # ── customers and orders ─────────────────────────────────────────────────────────────
    doors = np.flatnonzero((arrays["kind"] == "address") & reachable)
    if doors.size == 0:
        raise ValueError(f"{extract}: the extract has no addresses a cargo bike can reach")
    picked_doors = rng.choice(doors, size=min(N_CUSTOMERS, doors.size), replace=False)
    customers: list[tuple[Customer, int]] = []
    for number, row in enumerate(picked_doors, start=1):
        person = f"{_FIRST[number % len(_FIRST)]} {_LAST[(number * 3) % len(_LAST)]}"
        customer = Customer(
            name=person,
            email=f"customer{number}@{EMAIL_DOMAIN}",
            phone=f"+358 40 {1000000 + number * 7919:07d}",
        )
        session.add(customer)
        customers.append((customer, int(row)))
    session.flush()

    planned = windows[0]
    plan_parcels: list[Parcel] = []
    placements = [planned] * PLANNED_ORDERS
    later = windows[1:] or [planned]
    placements += [later[i % len(later)] for i in range(LATER_ORDERS)]
    for number, window in enumerate(placements):
        customer, row = customers[number % len(customers)]
        n_shops = 2 if rng.random() < 0.2 else 1
        order_shops = rng.choice(len(shops), size=n_shops, replace=False)
        placed_at = min(moment, window.cutoff_at) - timedelta(
            minutes=int(rng.integers(30, 24 * 60))
        )
        order = Order(
            town_id=_id(town),
            customer_id=_id(customer),
            window_id=_id(window),
            address=f"{arrays['street'][row]} {arrays['housenumber'][row]}".strip(),
            lat=float(arrays["lat"][row]),
            lon=float(arrays["lon"][row]),
            tracking_token=new_tracking_token(),
            created_at=placed_at,
        )
        session.add(order)
        session.flush()
        total = 0
        for pick in order_shops:
            shop = shops[int(pick)]
            catalogue = products[_id(shop)]
            lines = rng.choice(len(catalogue), size=int(rng.integers(1, 3)), replace=False)
            weight = volume = 0
            cooled = False
            for line in lines:
                product, needs_cold = catalogue[int(line)]
                quantity = int(rng.integers(1, 3)) if product.size_class == "S" else 1
                session.add(
                    OrderItem(
                        order_id=_id(order),
                        product_id=_id(product),
                        shop_id=_id(shop),
                        quantity=quantity,
                        price_cents=product.price_cents,
                    )
                )
                total += quantity * product.price_cents
                weight += quantity * product.weight_g
                volume += quantity * product.volume_ml
                cooled = cooled or needs_cold
            parcel = Parcel(
                order_id=_id(order),
                shop_id=_id(shop),
                weight_g=weight,
                volume_ml=volume,
                needs="cooled" if cooled else "",
                label_code=new_label_code(session),
            )
            session.add(parcel)
            if window is planned:
                plan_parcels.append(parcel)
        order.total_cents = total
        session.add(
            Event(
                at=placed_at,
                entity="order",
                entity_id=_id(order),
                action="place",
                to_status="placed",
                detail={"source": "demo"},
            )
        )
    session.flush()

    # ── accounts ─────────────────────────────────────────────────────────────────────────
    say("creating the demo accounts")
    logins: list[DemoLogin] = []

    def account(
        email: str,
        role: str,
        who: str,
        *,
        shop_id: int | None = None,
        courier_id: int | None = None,
        customer_id: int | None = None,
    ) -> User:
        password = _password()
        user = User(
            email=normalize_email(email),
            name=who,
            password_hash=hash_password(password),
            role=role,
            shop_id=shop_id,
            courier_id=courier_id,
            customer_id=customer_id,
        )
        session.add(user)
        logins.append(DemoLogin(user.email, role, who, password))
        return user

    account(f"operator@{EMAIL_DOMAIN}", "operator", "Demo operator")
    account(f"dispatcher@{EMAIL_DOMAIN}", "dispatcher", "Demo dispatcher")
    shop_users = {
        _id(shop): account(f"shop{n}@{EMAIL_DOMAIN}", "shop", shop.name, shop_id=_id(shop))
        for n, shop in enumerate(shops, start=1)
    }
    for n, courier in enumerate(couriers, start=1):
        account(f"courier{n}@{EMAIL_DOMAIN}", "courier", courier.name, courier_id=_id(courier))
    first_customer = customers[0][0]
    account(
        f"customer@{EMAIL_DOMAIN}", "customer", first_customer.name, customer_id=_id(first_customer)
    )
    session.flush()

    # ── the planned window: shops mark its parcels ready, it closes and is planned ───────
    for parcel in plan_parcels:
        ready = min(moment, planned.starts_at) - timedelta(minutes=int(rng.integers(5, 40)))
        lifecycle.perform(
            session,
            parcel,
            "mark_ready",
            actor_role=lifecycle.SHOP,
            actor_user_id=shop_users[parcel.shop_id].id,
            detail={"source": "demo"},
            now=ready,
        )
        parcel.ready_at = ready
        session.add(parcel)
    early = planned.cutoff_at > moment
    lifecycle.perform(
        session,
        planned,
        "close",
        actor_role=lifecycle.OPERATOR if early else lifecycle.SYSTEM,
        detail={"reason": "demo: closed early to show a plan"}
        if early
        else {"cutoff_at": planned.cutoff_at.isoformat()},
        now=moment,
    )
    session.commit()
    timings["seed"] = time.perf_counter() - started - timings["graph"]

    label = _window_label(planned, zone)
    say(f"planning {label} ({len(plan_parcels)} parcels)")
    plan_started = time.perf_counter()
    plan = plan_window(
        session, _id(planned), time_limit_s=time_limit_s, max_iterations=max_iterations, seed=seed
    )
    timings["plan"] = time.perf_counter() - plan_started
    stops = session.exec(
        select(func.count(col(Stop.id))).where(
            col(Stop.parcel_id).in_([_id(p) for p in plan_parcels])
        )
    ).one()

    counts = {
        "shops": len(shops),
        "products": sum(len(rows) for rows in products.values()),
        "bike types": len(bike_types),
        "couriers": len(couriers),
        "shifts": len(shifts),
        "windows": len(windows),
        "customers": len(customers),
        "orders": len(placements),
        "parcels": int(session.exec(select(func.count(col(Parcel.id)))).one()),
        "accounts": len(logins),
    }
    return DemoSummary(
        created=True,
        message=(
            f"demo town {name}: hub at {hub.lat:.5f},{hub.lon:.5f}; "
            f"seeded in {sum(timings.values()):.1f} s"
        ),
        town=name,
        counts=counts,
        planned_window=label,
        planned_window_id=_id(planned),
        plan_id=plan.id,
        stops=int(stops),
        unassigned=len(plan.unassigned),
        logins=logins,
        seconds={k: round(v, 2) for k, v in timings.items()},
    )


def _window_label(window: DeliveryWindow, zone: ZoneInfo) -> str:
    starts, ends = window.starts_at.astimezone(zone), window.ends_at.astimezone(zone)
    return f"window {window.id} ({starts:%a %d %b %H:%M}–{ends:%H:%M} {zone.key})"


def _pick_shops(
    arrays: dict[str, np.ndarray], reachable: np.ndarray, rng: np.random.Generator
) -> list[int]:
    """Index rows of ``N_SHOPS`` named, reachable shops, one per kind the catalogue knows."""
    usable = (arrays["kind"] == "shop") & (arrays["name"] != "") & reachable
    by_kind: dict[str, list[int]] = {}
    for row in np.flatnonzero(usable):
        kind = str(arrays["shop_kind"][row])
        if kind in CATALOGUE:
            by_kind.setdefault(kind, []).append(int(row))
    first = [k for k in PREFERRED_KINDS if k in by_kind]
    rest = sorted(set(by_kind) - set(first))
    order: Sequence[str] = first + [rest[i] for i in rng.permutation(len(rest))]
    picked: list[int] = []
    for kind in order[:N_SHOPS]:
        rows = by_kind[kind]
        hours = [r for r in rows if arrays["opening_hours"][r] != ""]
        pool = hours or rows
        picked.append(pool[int(rng.integers(len(pool)))])
    return picked


__all__ = ["DemoLogin", "DemoSummary", "has_town", "seed_demo"]
