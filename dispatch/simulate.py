"""``velocal simulate``: couriers ride their planned routes, their phones reporting GPS fixes.

For demos and tests. Everything goes through the public API, as a courier's phone would: log
in (``POST /api/auth/login``), start the shift if it is still scheduled, fetch the route
(``GET /api/courier/route``: each trip's ``path`` from the hub through the stops and back),
then ride along the path at bike speed with Gaussian noise, one fix per interval, posting the
fixes in batches to ``POST /api/courier/positions``. The courier stands still at each stop for
its planned service time and at the hub between trips. ``speed_up`` compresses time: the
courier rides N times faster, but every fix carries the real time it was taken.

Each run is a new phone session: its device id names the courier and the run's start (to
the millisecond) and its fixes are numbered 1, 2, 3... like the courier app's counter. A batch
resent after a lost answer is stored once, and a second run is a new device, so its fixes are
never taken for the first run's duplicates.

Stops are not completed: a pickup or a load is confirmed with the code printed on the parcel's
label, which the courier's API rightly never shows (only its last two characters), so a
simulator cannot confirm them honestly. Stops are left to the people at the board and on the
phones; so are the shifts, which the simulator starts but never ends.
"""

from __future__ import annotations

import json
import math
import random
import time
import urllib.error
import urllib.request
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEG: Final = 111_320.0
#: A phone's reported accuracy is the radius holding 68 % of its fixes; for a 2-D Gaussian
#: error of σ per axis that is σ·√(−2 ln 0.32) ≈ 1.51 σ.
ACCURACY_PER_SIGMA: Final = math.sqrt(-2 * math.log(0.32))
#: The API takes at most this many fixes in one batch.
MAX_BATCH: Final = 500
#: The demo's staff account, used to find its couriers when none are named.
DEMO_STAFF_EMAIL: Final = "dispatcher@velocal.demo"


class SimulationError(ValueError):
    """The simulation cannot go on: the server is unreachable, a login or route is refused."""


@dataclass(frozen=True)
class SimulateOptions:
    """What to simulate and how; every value but the server and password has a default."""

    base_url: str
    password: str
    #: Courier accounts (e-mails) to ride; empty: every courier of the town with a route.
    couriers: tuple[str, ...] = ()
    #: A staff account (same password) that lists the couriers when none are named.
    staff_email: str = DEMO_STAFF_EMAIL
    speed_kmh: float = 15.0
    noise_m: float = 5.0
    interval_s: float = 2.0
    batch_s: float = 10.0
    speed_up: float = 1.0
    seed: int = 0
    #: Stop after this many (real) seconds even if routes are not finished.
    duration_s: float | None = None
    #: Without a route today, ride the route of the courier's next planned shift instead.
    next_shift: bool = False
    #: Seconds between two progress lines per courier.
    progress_s: float = 60.0
    device_prefix: str = "velocal-sim"


# ── the API, as a phone sees it ────────────────────────────────────────────────────────────


class Api:
    """A small JSON client for velocal's API (standard library only, no extra dependency)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, decoded JSON)``; an unreachable server raises ``SimulationError``."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return answer.status, _decode(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SimulationError(f"cannot reach {self.base_url}: {reason}") from None

    def login(self, email: str, password: str) -> tuple[Api, dict[str, Any]]:
        """A client logged in as ``email`` and the account; a refused login raises."""
        status, body = self.call("POST", "/api/auth/login", {"email": email, "password": password})
        if status != 200:
            raise SimulationError(f"{email}: login refused: {detail(body, status)}")
        return Api(self.base_url, body["token"], self.timeout_s), body["user"]


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")[:200]


def detail(body: Any, status: int) -> str:
    """The API's words for a refusal (``{"detail": ...}``), or the status."""
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return f"HTTP {status}"


# ── the ride: where the courier is after t seconds ─────────────────────────────────────────


@dataclass(frozen=True)
class Ride:
    """One courier's day as a line and a clock: distance along ``points`` against ride time.

    ``knots`` are ``(seconds, metres)`` pairs, linear in between: riding raises the metres at
    bike speed, standing at a stop keeps them. ``stops_at`` holds the ride second each stop is
    reached, ``trips_at`` the second each trip starts.
    """

    points: tuple[tuple[float, float], ...]
    cumulative_m: tuple[float, ...]
    knots: tuple[tuple[float, float], ...]
    stops_at: tuple[float, ...]
    trips_at: tuple[float, ...]

    @property
    def total_s(self) -> float:
        return self.knots[-1][0]

    @property
    def length_m(self) -> float:
        return self.cumulative_m[-1]

    def distance_at(self, t: float) -> float:
        """Metres ridden after ``t`` seconds of ride time."""
        times = [k[0] for k in self.knots]
        if t <= 0:
            return 0.0
        if t >= times[-1]:
            return self.knots[-1][1]
        i = bisect_right(times, t) - 1
        (t0, d0), (t1, d1) = self.knots[i], self.knots[i + 1]
        return d0 if t1 <= t0 else d0 + (d1 - d0) * (t - t0) / (t1 - t0)

    def position_at(self, t: float) -> tuple[float, float]:
        """``(lat, lon)`` on the path after ``t`` seconds of ride time."""
        return self.point_at(self.distance_at(t))

    def point_at(self, d: float) -> tuple[float, float]:
        cum = self.cumulative_m
        if d <= 0 or len(self.points) == 1:
            return self.points[0]
        if d >= cum[-1]:
            return self.points[-1]
        i = bisect_right(cum, d) - 1
        span = cum[i + 1] - cum[i]
        share = 0.0 if span <= 0 else (d - cum[i]) / span
        (a_lat, a_lon), (b_lat, b_lon) = self.points[i], self.points[i + 1]
        return a_lat + (b_lat - a_lat) * share, a_lon + (b_lon - a_lon) * share


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two nearby ``(lat, lon)`` points (equirectangular; a town is small)."""
    mean_lat = math.radians((a[0] + b[0]) / 2)
    dy = (b[0] - a[0]) * M_PER_DEG
    dx = (b[1] - a[1]) * M_PER_DEG * math.cos(mean_lat)
    return math.hypot(dx, dy)


def plan_ride(route: dict[str, Any], *, speed_kmh: float) -> Ride:
    """The ride of ``route`` (the body of ``GET /api/courier/route``) at ``speed_kmh``.

    Each trip's path is ridden in turn; at each stop (the path's nearest point to it, in the
    stops' order) the courier stands for the stop's planned service time, and between two
    trips at the hub for as long as the plan has them apart.
    """
    speed = speed_kmh / 3.6
    points: list[tuple[float, float]] = []
    cumulative: list[float] = []
    knots: list[tuple[float, float]] = [(0.0, 0.0)]
    stops_at: list[float] = []
    trips_at: list[float] = []
    hub = (float(route["hub"]["lat"]), float(route["hub"]["lon"]))
    previous_return: datetime | None = None

    def ride_to(d: float) -> None:
        t, at = knots[-1]
        if d > at:
            knots.append((t + (d - at) / speed, d))

    def stand(seconds: float) -> None:
        if seconds > 0:
            t, at = knots[-1]
            knots.append((t + seconds, at))

    for trip in route["trips"]:
        if previous_return is not None:
            stand((_when(trip["departs_at"]) - previous_return).total_seconds())
        previous_return = _when(trip["returns_at"])
        trips_at.append(knots[-1][0])
        path = [(float(p[0]), float(p[1])) for p in trip.get("path") or []]
        stops = trip["stops"]
        if len(path) < 2:  # no ride path: straight lines from the hub through the stops
            path = [hub, *((float(s["lat"]), float(s["lon"])) for s in stops), hub]
        first = len(points)
        for point in path:
            if points and point == points[-1]:
                continue  # a trip starts where the last one ended (the hub)
            cumulative.append(cumulative[-1] + metres_between(points[-1], point) if points else 0)
            points.append(point)
        searched_from = max(first - 1, 0)
        for stop in stops:
            at = _nearest_ahead(points, searched_from, (float(stop["lat"]), float(stop["lon"])))
            searched_from = at
            ride_to(cumulative[at])
            stops_at.append(knots[-1][0])
            service = _when(stop["planned_departure"]) - _when(stop["planned_arrival"])
            stand(service.total_seconds())
        ride_to(cumulative[-1])
    if not points:
        points, cumulative = [hub], [0.0]
    return Ride(tuple(points), tuple(cumulative), tuple(knots), tuple(stops_at), tuple(trips_at))


def _nearest_ahead(
    points: Sequence[tuple[float, float]], start: int, to: tuple[float, float]
) -> int:
    """The first point from ``start`` on that is (within a metre) the nearest to ``to``: a path
    that passes a stop twice, going and coming back, reaches it the first time."""
    distances = [metres_between(p, to) for p in points[start:]]
    if not distances:
        return max(len(points) - 1, 0)
    best = min(distances)
    return start + next(i for i, d in enumerate(distances) if d <= best + 1.0)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ── one courier's phone ────────────────────────────────────────────────────────────────────


@dataclass
class CourierRun:
    """A courier being simulated: the ride, the phone's unsent fixes and what became of them."""

    email: str
    api: Api
    courier_id: int
    shift_id: int
    ride: Ride
    device_id: str
    noise_m: float
    rng: random.Random
    last_seq: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)
    fixes: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    ride_s: float = 0.0
    finished: bool = False
    stopped: str | None = None

    def take_fix(self, ride_t: float, at: datetime) -> None:
        """The phone reads its GPS: the true position after ``ride_t`` s, plus noise."""
        self.ride_s = min(ride_t, self.ride.total_s)
        lat, lon = self.ride.position_at(self.ride_s)
        north = self.rng.gauss(0.0, self.noise_m) if self.noise_m > 0 else 0.0
        east = self.rng.gauss(0.0, self.noise_m) if self.noise_m > 0 else 0.0
        lat += north / M_PER_DEG
        lon += east / (M_PER_DEG * math.cos(math.radians(lat)))
        self.last_seq += 1
        seq = self.last_seq
        self.pending.append(
            {
                "seq": seq,
                "lat": round(lat, 7),
                "lon": round(lon, 7),
                "accuracy_m": round(max(1.0, ACCURACY_PER_SIGMA * self.noise_m), 1),
                "at": at.isoformat(),
            }
        )
        self.fixes += 1
        if self.ride_s >= self.ride.total_s:
            self.finished = True

    def send(self) -> str | None:
        """Post the unsent fixes; on a network or server failure they wait for the next batch
        (their numbers make a resend safe). Returns why the courier must stop, if it must."""
        while self.pending and self.stopped is None:
            batch = self.pending[:MAX_BATCH]
            try:
                status, body = self.api.call(
                    "POST", "/api/courier/positions", {"device_id": self.device_id, "fixes": batch}
                )
            except SimulationError:
                return None  # try again with the next batch
            if status == 200:
                del self.pending[: len(batch)]
                self.stored += int(body["stored"])
                self.duplicates += int(body["duplicates"])
                self.rejected += len(body["rejected"])
            elif status >= 500 or status == 429:
                return None
            else:
                self.stopped = f"positions refused: {detail(body, status)}"
        return self.stopped

    def progress(self) -> str:
        ride = self.ride
        stops = bisect_right(ride.stops_at, self.ride_s)
        trip = max(bisect_right(ride.trips_at, self.ride_s), 1)
        return (
            f"{self.email}: trip {trip}/{len(ride.trips_at)}, "
            f"{ride.distance_at(self.ride_s) / 1000:.1f} of {ride.length_m / 1000:.1f} km, "
            f"{stops} of {len(ride.stops_at)} stops reached, {self.fixes} fixes "
            f"({self.stored} stored, {self.duplicates} duplicates, {self.rejected} refused)"
        )


@dataclass(frozen=True)
class CourierSummary:
    """What one courier's phone sent and the server made of it."""

    email: str
    courier_id: int
    shift_id: int
    device_id: str
    fixes: int
    stored: int
    duplicates: int
    rejected: int
    unsent: int
    finished: bool
    stopped: str | None


@dataclass(frozen=True)
class SimulationReport:
    couriers: list[CourierSummary]
    skipped: list[str]
    seconds: float


# ── who rides ──────────────────────────────────────────────────────────────────────────────


def courier_emails(options: SimulateOptions, say: Callable[[str], None]) -> list[str]:
    """The couriers to ride: those named, or every active courier account of the town (listed
    through the staff account with the same password)."""
    if options.couriers:
        return list(options.couriers)
    staff, _ = Api(options.base_url).login(options.staff_email, options.password)
    status, body = staff.call("GET", "/api/accounts?role=courier")
    if status != 200:
        raise SimulationError(
            f"{options.staff_email}: cannot list couriers: {detail(body, status)}"
        )
    emails = [a["email"] for a in body if a.get("active", True)]
    if not emails:
        raise SimulationError("the town has no courier accounts")
    say(f"{len(emails)} courier accounts found through {options.staff_email}")
    return emails


def _route_of(api: Api, next_shift: bool) -> tuple[dict[str, Any] | None, str]:
    status, body = api.call("GET", "/api/courier/route")
    if status == 200:
        return body, "today"
    if status != 404:
        return None, f"route refused: {detail(body, status)}"
    if next_shift:
        status, shifts = api.call("GET", "/api/courier/shifts")
        now = datetime.now(UTC)
        for shift in shifts if status == 200 else []:
            if shift["status"] in ("scheduled", "on_duty") and _when(shift["ends_at"]) > now:
                status, body = api.call("GET", f"/api/courier/route?shift_id={shift['id']}")
                if status == 200:
                    return body, f"of the shift starting {shift['starts_at']}"
    return None, "no route today"


def prepare(
    options: SimulateOptions, say: Callable[[str], None], *, run: str
) -> tuple[list[CourierRun], list[str]]:
    """Log every courier in, find their routes, start their shifts: the runs, and the skipped
    couriers with why. A named courier who cannot log in is an error; a listed one is skipped.
    """
    runs: list[CourierRun] = []
    skipped: list[str] = []
    named = bool(options.couriers)
    for email in courier_emails(options, say):
        try:
            api, user = Api(options.base_url).login(email, options.password)
        except SimulationError as error:
            if named:
                raise
            skipped.append(str(error))
            continue
        if user["role"] != "courier" or user.get("courier_id") is None:
            message = f"{email}: a {user['role']} account, not a courier's"
            if named:
                raise SimulationError(message)
            skipped.append(message)
            continue
        route, which = _route_of(api, options.next_shift)
        if route is None:
            skipped.append(f"{email}: {which}")
            continue
        shift_id = int(route["shift_id"])
        if route["shift_status"] == "scheduled":
            status, body = api.call("POST", f"/api/courier/shifts/{shift_id}/start")
            if status != 200:
                skipped.append(f"{email}: cannot start shift {shift_id}: {detail(body, status)}")
                continue
            say(f"{email}: shift {shift_id} started")
        elif route["shift_status"] != "on_duty":
            skipped.append(f"{email}: shift {shift_id} is {route['shift_status']}")
            continue
        ride = plan_ride(route, speed_kmh=options.speed_kmh)
        courier_id = int(user["courier_id"])
        runs.append(
            CourierRun(
                email=email,
                api=api,
                courier_id=courier_id,
                shift_id=shift_id,
                ride=ride,
                device_id=f"{options.device_prefix}-c{courier_id}-{run}",
                noise_m=options.noise_m,
                rng=random.Random(f"{options.seed}:{courier_id}"),
            )
        )
        say(
            f"{email}: riding the route {which}: {len(ride.trips_at)} trips, "
            f"{len(ride.stops_at)} stops, {ride.length_m / 1000:.1f} km, "
            f"{ride.total_s / options.speed_up / 60:.1f} min at {options.speed_up:g}× speed"
        )
    return runs, skipped


# ── the clock ──────────────────────────────────────────────────────────────────────────────


def simulate(
    options: SimulateOptions,
    *,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SimulationReport:
    """Ride every courier's route until all are done or ``duration_s`` has passed.

    One fix per ``interval_s`` and courier, posted every ``batch_s`` (and at the end); the
    fixes' timestamps are the real time, ride time runs ``speed_up`` times faster.
    """
    started = clock()
    runs, skipped = prepare(options, say, run=_base36(int(time.time() * 1000)))
    for line in skipped:
        say(f"skipped {line}")
    if not runs:
        raise SimulationError("no courier to simulate: " + "; ".join(skipped or ["none found"]))
    begin = clock()
    next_batch = begin + options.batch_s
    next_progress = begin + options.progress_s
    tick = 0
    active = list(runs)
    try:
        while active:
            now = clock()
            elapsed = now - begin
            if options.duration_s is not None and elapsed >= options.duration_s:
                break
            at = datetime.now(UTC)
            for run in active:
                run.take_fix(elapsed * options.speed_up, at)
            due = now >= next_batch
            for run in active:
                if due or run.finished:
                    _send(run, say)
            while next_batch <= now:
                next_batch += options.batch_s
            for run in [r for r in active if r.finished or r.stopped]:
                active.remove(run)
                if run.stopped is None:
                    say(f"{run.email}: route finished. {run.progress()}")
            if now >= next_progress:
                for run in active:
                    say(run.progress())
                next_progress += options.progress_s
            tick += 1
            wait = begin + tick * options.interval_s - clock()
            if wait > 0 and active:
                sleep(wait)
    finally:
        for run in runs:
            if run.pending and run.stopped is None:
                _send(run, say)
    return SimulationReport(
        couriers=[
            CourierSummary(
                email=r.email,
                courier_id=r.courier_id,
                shift_id=r.shift_id,
                device_id=r.device_id,
                fixes=r.fixes,
                stored=r.stored,
                duplicates=r.duplicates,
                rejected=r.rejected,
                unsent=len(r.pending),
                finished=r.finished,
                stopped=r.stopped,
            )
            for r in runs
        ],
        skipped=skipped,
        seconds=clock() - started,
    )


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if number == 0:
            return out


def _send(run: CourierRun, say: Callable[[str], None]) -> None:
    why = run.send()
    if why is not None:
        say(f"{run.email}: stopped: {why}")


__all__ = [
    "Api",
    "CourierSummary",
    "Ride",
    "SimulateOptions",
    "SimulationError",
    "SimulationReport",
    "metres_between",
    "plan_ride",
    "simulate",
]
