"""``velocal simulate`` against a live server (uvicorn in a thread, the seeded demo town), on
SQLite and on PostgreSQL: fixes arrive for the couriers with a route, along their paths, in
increasing sequence; a second run adds fixes without duplicating any; bad input is one line.
"""

from __future__ import annotations

import itertools
import math
import re
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.cli import main
from dispatch.demo import PASSWORD_ENV
from dispatch.models import Plan, PlanRoute, Position, Shift
from dispatch.simulate import ACCURACY_PER_SIGMA, Api, metres_between
from tests.dispatch.conftest import POSTGRES_URL, _url_in_schema, postgres_admin  # noqa: F401
from tests.web.conftest import PASSWORD, LiveServer, start_server

NOISE_M = 4.0
#: A fix more than this far from the path is not "within noise" (P < 1e-7 per fix).
WITHIN_NOISE_M = 6 * NOISE_M + 2.0
RUN = [
    "--password",
    PASSWORD,
    "--speed-up",
    "120",
    "--interval",
    "0.2",
    "--batch",
    "0.6",
    "--duration",
    "2.5",
    "--noise",
    str(NOISE_M),
    "--seed",
    "7",
    "--progress-every",
    "1",
]


def _seeding_moment() -> datetime:
    """07:00 today in the demo's town: its morning window is the one planned, for today."""
    zone = ZoneInfo("Europe/Helsinki")
    today = datetime.now(UTC).astimezone(zone).date()
    return datetime(today.year, today.month, today.day, 7, 0, tzinfo=zone).astimezone(UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One demo town per database for this module, served on a free loopback port."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('simulate')}/velocal.db"
        server = start_server(url, now=_seeding_moment())
        yield server
        server.stop()
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"velocal_test_simulate_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        server = start_server(_url_in_schema(POSTGRES_URL, schema), now=_seeding_moment())
        yield server
        server.stop()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def routed_couriers(engine: Engine) -> set[int]:
    """Couriers whose shift today has a route in a current plan (read from the database)."""
    with Session(engine) as session:
        rows = session.exec(
            select(Shift.courier_id)
            .join(PlanRoute, col(PlanRoute.shift_id) == col(Shift.id))
            .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
            .where(col(Plan.current).is_(True))
        ).all()
    return set(rows)


def positions(engine: Engine) -> list[Position]:
    with Session(engine) as session:
        return list(session.exec(select(Position).order_by(col(Position.id))).all())


def distance_to_line(point: tuple[float, float], line: list[tuple[float, float]]) -> float:
    """Metres from ``point`` to the polyline ``line`` (a local flat projection)."""
    lat0 = math.radians(point[0])

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        return (p[1] - point[1]) * 111_320 * math.cos(lat0), (p[0] - point[0]) * 111_320

    best = math.inf
    for a, b in itertools.pairwise(line):
        (ax, ay), (bx, by) = xy(a), xy(b)
        dx, dy = bx - ax, by - ay
        span = dx * dx + dy * dy
        t = 0.0 if span == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / span))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def courier_paths(live: LiveServer) -> dict[int, list[tuple[float, float]]]:
    """Each courier's whole ride (all trips' paths), as its phone is given it."""
    out: dict[int, list[tuple[float, float]]] = {}
    for login in live.summary.logins:
        if login.role != "courier":
            continue
        api, user = Api(live.url).login(login.email, PASSWORD)
        status, route = api.call("GET", "/api/courier/route")
        if status == 200:
            out[user["courier_id"]] = [
                (p[0], p[1]) for trip in route["trips"] for p in trip["path"]
            ]
    return out


def reported(out: str) -> dict[str, tuple[int, int, int]]:
    """``email: (fixes, stored, duplicates)`` from the command's closing lines."""
    found = re.findall(r"velocal: (\S+) \(\S+\): (\d+) fixes, (\d+) stored, (\d+) duplicates", out)
    return {email: (int(f), int(s), int(d)) for email, f, s, d in found}


def test_couriers_ride_their_routes_and_a_second_run_adds_without_duplicates(
    live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = routed_couriers(live.engine)
    assert expected, "the demo planned no route today"
    assert not positions(live.engine)

    assert main(["simulate", "--url", live.url, *RUN]) == 0
    first_out = capsys.readouterr().out
    first = positions(live.engine)
    assert {p.courier_id for p in first} == expected
    with Session(live.engine) as session:
        shifts = session.exec(select(Shift).where(col(Shift.courier_id).in_(expected))).all()
        assert {s.courier_id for s in shifts if s.status == "on_duty"} == expected
    first_report = reported(first_out)
    assert len(first_report) == len(expected)
    assert sum(stored for _, stored, _ in first_report.values()) == len(first)
    assert all(dupes == 0 for _, _, dupes in first_report.values())
    assert "riding the route today" in first_out

    paths = courier_paths(live)
    assert set(paths) == expected
    moved: dict[int, float] = {}
    for courier_id in expected:
        mine = [p for p in first if p.courier_id == courier_id]
        assert len(mine) >= 5
        assert len({p.device_id for p in mine}) == 1
        assert [p.seq for p in mine] == list(range(1, len(mine) + 1))
        assert [p.at for p in mine] == sorted(p.at for p in mine)
        assert all(abs(p.at - datetime.now(UTC)) < timedelta(minutes=5) for p in mine)
        assert {p.accuracy_m for p in mine} == {round(ACCURACY_PER_SIGMA * NOISE_M, 1)}
        far = [distance_to_line((p.lat, p.lon), paths[courier_id]) for p in mine]
        assert max(far) <= WITHIN_NOISE_M, f"courier {courier_id}: a fix {max(far):.0f} m off"
        start = (mine[0].lat, mine[0].lon)
        moved[courier_id] = max(metres_between(start, (p.lat, p.lon)) for p in mine)
    # They rode (one may stand at its first stop): 120× for 2.5 s is 1.25 km of riding.
    assert max(moved.values()) > 300

    assert main(["simulate", "--url", live.url, *RUN]) == 0
    second_out = capsys.readouterr().out
    assert "started" not in second_out  # the shifts were on duty already
    every = positions(live.engine)
    added = every[len(first) :]
    second_report = reported(second_out)
    assert all(dupes == 0 for _, _, dupes in second_report.values())
    assert len(added) == sum(stored for _, stored, _ in second_report.values()) > 0
    assert sum(fixes for fixes, _, _ in second_report.values()) == len(added)
    for courier_id in expected:
        devices = {p.device_id for p in added if p.courier_id == courier_id}
        assert len(devices) == 1
        assert devices.isdisjoint(p.device_id for p in first)  # a new phone session
        mine = [p.seq for p in added if p.courier_id == courier_id]
        assert mine == list(range(1, len(mine) + 1))
    keys = [(p.courier_id, p.device_id, p.seq) for p in every]
    assert len(set(keys)) == len(keys)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("velocal: error: ")
    return lines[0]


def test_a_wrong_password_or_a_courier_without_a_route_fails_in_one_line(
    live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--url", live.url, "--password", "not-the-password"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "dispatcher@velocal.demo: login refused: wrong email or password" in line

    unrouted = {
        login.email
        for login in live.summary.logins
        if login.role == "courier"
        and Api(live.url).login(login.email, PASSWORD)[1]["courier_id"]
        not in routed_couriers(live.engine)
    }
    if unrouted:  # the demo leaves its afternoon couriers without a morning route
        email = sorted(unrouted)[0]
        argv = ["simulate", "--url", live.url, "--password", PASSWORD, "--courier", email]
        assert main(argv) == 1
        line = one_error_line(capsys.readouterr().err)
        assert line.endswith(f"no courier to simulate: {email}: no route today")
    shop = live.email("shop")
    argv = ["simulate", "--url", live.url, "--password", PASSWORD, "--courier", shop]
    assert main(argv) == 1
    assert one_error_line(capsys.readouterr().err).endswith(
        f"{shop}: a shop account, not a courier's"
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--speed-up", "0"], "Invalid value for --speed-up: must be more than 0, not 0"),
        (["--interval", "-1"], "Invalid value for --interval: must be more than 0, not -1"),
        (["--noise", "-3"], "Invalid value for --noise: must be 0 or more, not -3"),
        (["--batch", "1"], "Invalid value for --batch: must be at least --interval (2 s), not 1"),
        (["--url", "ftp://x"], "Invalid value for --url: 'ftp://x' is not an http(s) address"),
        (
            ["--speed", "fast"],
            "Invalid value for '--speed': Input should be a valid number, "
            "unable to parse string as a number",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--password", "x", *argv]) == 2
    assert one_error_line(capsys.readouterr().err) == f"velocal: error: {message}"


def test_a_missing_password_or_an_unreachable_server_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert main(["simulate"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"velocal: error: Invalid value for --password: is required (or set {PASSWORD_ENV})"
    )
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["simulate", "--url", url, "--password", "x"]) == 1
    assert one_error_line(capsys.readouterr().err).startswith(
        f"velocal: error: cannot reach {url}: "
    )
