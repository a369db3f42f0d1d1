"""Live push: changes published on commit (never on rollback), the board's stream, catch-up
after ``Last-Event-ID``, the tracking stream's isolation, and fan-out across two uvicorn
worker processes through Redis. Every test runs on SQLite and on PostgreSQL.

Streams are read with a short heartbeat, so a read never waits long: a missing message fails
the test after a bounded number of heartbeats instead of hanging it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch import lifecycle, positions
from dispatch.app import create_app
from dispatch.config import Settings
from dispatch.live import hooks
from dispatch.live.broker import MemoryBroker
from dispatch.models import Event, Order, Parcel, Shift, Stop, utc_now
from tests.dispatch import test_orders_api as base
from tests.dispatch.test_orders_api import (
    World,
    live_headers,
    plan_route,
    ready_order,
)

fake_planning = base.fake_planning
world = base.world

REDIS_URL = os.environ.get("VELOCAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STREAM_ACCEPT = {"Accept": "text/event-stream"}
#: Heartbeats a reader sits through before it gives up on a message that never comes.
PATIENCE = 60
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(engine: Engine, fake_planning: base.FakePlanning) -> FastAPI:
    settings = Settings(database_url="sqlite://", live_broker="memory", live_heartbeat_s=0.25)
    return create_app(settings, engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def heads(session: Session, world: World) -> dict[str, dict[str, str]]:
    return live_headers(session, world)


# ── reading a stream ───────────────────────────────────────────────────────────────────────


@dataclass
class Frame:
    event: str = "message"
    id: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)


class SseReader:
    """Frames of an SSE body, one at a time (heartbeats are frames with a comment only)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines

    def frame(self) -> Frame:
        found = Frame()
        seen = False
        for line in self.lines:
            if line == "":
                if seen:
                    return found
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                found.comments.append(value)
            elif name == "event":
                found.event = value
            elif name == "id":
                found.id = value
            elif name == "data":
                found.data = json.loads(value)
        raise EOFError("the stream ended")

    def until_ready(self) -> None:
        for _ in range(PATIENCE):
            if "ready" in self.frame().comments:
                return
        pytest.fail("the stream never said it was ready")

    def events(self, count: int) -> list[Frame]:
        """The next ``count`` events (heartbeats skipped, at most ``PATIENCE`` of them)."""
        got: list[Frame] = []
        for _ in range(count + PATIENCE):
            frame = self.frame()
            if frame.data is not None:
                got.append(frame)
                if len(got) == count:
                    return got
        pytest.fail(f"expected {count} events, got {len(got)}: {[f.data for f in got]}")

    def rest(self) -> list[Frame]:
        """Every event until the body ends (a one-shot read)."""
        got: list[Frame] = []
        try:
            while True:
                frame = self.frame()
                if frame.data is not None:
                    got.append(frame)
        except EOFError:
            return got


def read_once(client: TestClient, url: str, headers: dict[str, str]) -> list[Frame]:
    response = client.get(url, headers=headers, params={"once": 1})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return SseReader(iter(response.text.split("\n"))).rest()


# ── the world ──────────────────────────────────────────────────────────────────────────────


def fix(seq: int, lat: float) -> dict[str, Any]:
    at = (utc_now() - timedelta(seconds=30) + timedelta(milliseconds=seq)).isoformat()
    return {"seq": seq, "lat": lat, "lon": 24.94, "accuracy_m": 8.0, "at": at}


def send_fix(client: Any, head: dict[str, str], seq: int, lat: float) -> None:
    answer = client.post(
        "/api/courier/positions",
        json={"device_id": "phone", "fixes": [fix(seq, lat)]},
        headers=head,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1, answer.text


def start_shift(client: Any, shift: Shift, head: dict[str, str]) -> None:
    answer = client.post(f"/api/courier/shifts/{shift.id}/start", headers=head)
    assert answer.status_code == 200, answer.text


def pick_up(client: Any, session: Session, stop: Stop, head: dict[str, str]) -> None:
    parcel = session.get(Parcel, stop.parcel_id)
    assert parcel is not None
    answer = client.post(
        f"/api/courier/stops/{stop.id}/pickup", json={"label_code": parcel.label_code}, headers=head
    )
    assert answer.status_code == 200, answer.text


def deliver(client: Any, stop: Stop, head: dict[str, str]) -> None:
    answer = client.post(
        f"/api/courier/stops/{stop.id}/deliver", json={"recipient": "Ann"}, headers=head
    )
    assert answer.status_code == 200, answer.text


# ── publishing ─────────────────────────────────────────────────────────────────────────────


class RecordingBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def publish(self, items: Any) -> list[str]:
        self.published.extend(items)
        return super().publish(items)


def test_changes_are_published_on_commit_and_never_on_rollback(
    engine: Engine, session: Session, world: World
) -> None:
    broker = RecordingBroker()
    hooks.attach(engine, broker)
    try:
        shift = session.get(Shift, world.shifts[0].id)
        assert shift is not None
        lifecycle.perform(session, shift, "start", actor_role=lifecycle.DISPATCHER)
        session.flush()  # the event row is written, but the transaction is rolled back
        session.rollback()
        assert broker.published == []

        session.refresh(shift)
        assert shift.status == "scheduled"
        lifecycle.perform(session, shift, "start", actor_role=lifecycle.DISPATCHER)
        assert broker.published == []  # not before the commit either
        session.commit()
        assert [
            (m["kind"], m["board"]["entity"], m["board"]["action"]) for m in broker.published
        ] == [("change", "shift", "start")]
        event = session.exec(select(Event).where(col(Event.entity) == "shift")).one()
        assert broker.published[0]["board"]["id"] == event.id
        assert broker.published[0]["board"]["to_status"] == "on_duty"

        fixes = [positions.Fix(1, 60.171, 24.94, 5.0, utc_now())]
        positions.ingest(session, world.couriers[0].id or 0, "phone", fixes)
        session.rollback()
        assert len(broker.published) == 1
        positions.ingest(session, world.couriers[0].id or 0, "phone", fixes)
        session.commit()
        assert broker.published[-1]["kind"] == "position"
        assert broker.published[-1]["board"]["lat"] == pytest.approx(60.171)
        assert broker.published[-1]["courier_id"] == world.couriers[0].id
    finally:
        hooks.detach(engine)
    # Detached: the engine's commits publish nothing any more.
    lifecycle.perform(session, world.shifts[1], "start", actor_role=lifecycle.DISPATCHER)
    session.commit()
    assert len(broker.published) == 2


# ── the board ──────────────────────────────────────────────────────────────────────────────


def test_board_stream_delivers_a_stop_change_and_a_position(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    order_id = ready_order(client, world, heads)
    stops = plan_route(session, world, order_id)
    start_shift(client, world.shifts[0], heads["aino"])
    headers = {**heads["dispatcher"], **STREAM_ACCEPT}
    with client.stream("GET", "/api/live/board", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response.iter_lines())
        reader.until_ready()
        send_fix(client, heads["aino"], 1, 60.1712)
        pick_up(client, session, stops["pickup0"], heads["aino"])
        first, *changes = reader.events(4)  # the fix; the stop, its parcel and its order
    assert first.event == "position"
    assert first.data["courier_id"] == world.couriers[0].id
    assert first.data["lat"] == pytest.approx(60.1712)
    assert [(f.event, f.data["entity"], f.data["to_status"]) for f in changes] == [
        ("change", "stop", "done"),
        ("change", "parcel", "picked_up"),
        ("change", "order", "out_for_delivery"),
    ]
    assert changes[0].data["entity_id"] == stops["pickup0"].id
    ids = [f.id for f in (first, *changes)]
    assert None not in ids
    assert len(set(ids)) == 4


def test_board_stream_is_for_staff_only(
    client: TestClient, heads: dict[str, dict[str, str]]
) -> None:
    assert client.get("/api/live/board", headers=STREAM_ACCEPT).status_code == 401
    refused = client.get("/api/live/board", headers={**heads["aino"], **STREAM_ACCEPT})
    assert refused.status_code == 403
    assert "dispatcher" in refused.json()["detail"]


def test_reconnecting_with_last_event_id_catches_up(
    client: TestClient, world: World, heads: dict[str, dict[str, str]]
) -> None:
    board = {**heads["dispatcher"], **STREAM_ACCEPT}
    with client.stream("GET", "/api/live/board", headers=board) as response:
        reader = SseReader(response.iter_lines())
        reader.until_ready()
        start_shift(client, world.shifts[0], heads["aino"])
        (seen,) = reader.events(1)
    assert seen.data["entity"] == "shift"
    # Missed while away: a fix and the other courier's shift.
    send_fix(client, heads["aino"], 1, 60.1713)
    start_shift(client, world.shifts[1], heads["bo"])

    assert seen.id is not None
    missed = read_once(client, "/api/live/board", {**heads["dispatcher"], "Last-Event-ID": seen.id})
    assert [f.event for f in missed] == ["position", "change"]
    assert missed[1].data["entity_id"] == world.shifts[1].id

    # A streaming reconnect first gets what it missed, then goes on live.
    with client.stream(
        "GET", "/api/live/board", headers={**board, "Last-Event-ID": seen.id}
    ) as response:
        reader = SseReader(response.iter_lines())
        again = reader.events(2)
        assert [f.id for f in again] == [f.id for f in missed]
        send_fix(client, heads["aino"], 2, 60.1714)
        (later,) = reader.events(1)
    assert later.event == "position"
    assert later.data["lat"] == pytest.approx(60.1714)

    # An id the broker does not know (trimmed, or before a restart): reload everything.
    unknown = client.get("/api/live/board", headers={**heads["dispatcher"], "Last-Event-ID": "1-0"})
    assert "event: resync" in unknown.text
    malformed = client.get(
        "/api/live/board", headers={**heads["dispatcher"], "Last-Event-ID": "yesterday"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"].startswith("Last-Event-ID header")


# ── tracking ───────────────────────────────────────────────────────────────────────────────


def pushed(frames: list[Frame]) -> list[Frame]:
    """The changes and positions among ``frames`` (an unknown id also brings a resync)."""
    return [f for f in frames if f.event in ("change", "position")]


def _own_changes(session: Session, order_id: int) -> list[tuple[str, str, str]]:
    """What the order's tracking link may see, from the event log: the order's, its parcels'
    and its delivery stops' events, in order."""
    parcels = list(session.exec(select(Parcel.id).where(col(Parcel.order_id) == order_id)))
    deliveries = list(
        session.exec(
            select(Stop.id).where(col(Stop.parcel_id).in_(parcels), col(Stop.kind) == "delivery")
        )
    )
    rows = session.exec(select(Event).order_by(col(Event.id))).all()
    mine = {("order", order_id), *(("parcel", p) for p in parcels)}
    mine |= {("stop", s) for s in deliveries}
    return [(e.entity, e.action, e.to_status) for e in rows if (e.entity, e.entity_id) in mine]


def test_tracking_stream_sends_only_its_own_order_and_courier(
    client: TestClient, world: World, heads: dict[str, dict[str, str]], session: Session
) -> None:
    """Two orders, two couriers: order A's link sees A's changes and, only while A's delivery
    is courier 1's next stop, courier 1's position (lat, lon, at); nothing of B or courier 2."""
    order_a = ready_order(client, world, heads)
    order_b = ready_order(client, world, heads)
    stops_a = plan_route(session, world, order_a, courier=0)
    stops_b = plan_route(session, world, order_b, courier=1)
    token_a = session.get(Order, order_a).tracking_token  # type: ignore[union-attr]
    token_b = session.get(Order, order_b).tracking_token  # type: ignore[union-attr]
    aino, bo = heads["aino"], heads["bo"]

    before = pushed(read_once(client, f"/api/live/track/{token_a}", {"Last-Event-ID": "1-0"}))
    assert before, "placing and readiness are A's changes too"
    with client.stream("GET", f"/api/live/track/{token_a}", headers=STREAM_ACCEPT) as response:
        assert response.status_code == 200
        live_a = SseReader(response.iter_lines())
        live_a.until_ready()
        start_shift(client, world.shifts[0], aino)
        start_shift(client, world.shifts[1], bo)
        send_fix(client, aino, 1, 60.1001)  # A's pickup is next: not A's delivery
        send_fix(client, bo, 1, 60.2001)
        pick_up(client, session, stops_a["pickup0"], aino)
        pick_up(client, session, stops_b["pickup0"], bo)
        send_fix(client, aino, 2, 60.1002)  # now A's delivery is next: shown
        send_fix(client, bo, 2, 60.2002)  # B's delivery is next: never on A's link
        deliver(client, stops_a["delivery0"], aino)
        deliver(client, stops_b["delivery0"], bo)
        send_fix(client, aino, 3, 60.1003)  # delivered: not shown any more
        send_fix(client, bo, 3, 60.2003)
        # Everything the channel would ever send for A, from the start (an unknown id).
        everything = pushed(
            read_once(client, f"/api/live/track/{token_a}", {"Last-Event-ID": "1-0"})
        )
        streamed = live_a.events(len(everything) - len(before))

    session.expire_all()
    expected = _own_changes(session, order_a)
    assert ("stop", "complete", "done") in expected  # A's delivery stop
    assert ("parcel", "deliver", "delivered") in expected
    for record in (everything, streamed):
        changes = [
            (f.data["entity"], f.data["action"], f.data["status"])
            for f in record
            if f.event == "change"
        ]
        # The live stream began after the orders were placed: it holds the log's tail.
        assert changes == expected[len(expected) - len(changes) :]
        assert {tuple(sorted(f.data)) for f in record if f.event == "change"} == {
            ("action", "at", "entity", "status")
        }
        moves = [f.data for f in record if f.event == "position"]
        assert [sorted(m) for m in moves] == [["at", "lat", "lon"]]
        assert moves[0]["lat"] == pytest.approx(60.1002)
    # The catch-up holds every one of A's changes, placing and readiness included.
    assert len([f for f in everything if f.event == "change"]) == len(expected)
    assert [f.id for f in streamed] == [f.id for f in everything[len(before) :]]
    # B's link, read the same way, holds B's courier's fix and none of A's.
    of_b = read_once(client, f"/api/live/track/{token_b}", {"Last-Event-ID": "1-0"})
    assert [f.data["lat"] for f in of_b if f.event == "position"] == [pytest.approx(60.2002)]
    assert client.get("/api/live/track/not-a-token", params={"once": 1}).status_code == 404


# ── two worker processes ───────────────────────────────────────────────────────────────────


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_stream() -> Iterator[str]:
    """A stream name of this test's own, deleted afterwards (or a skip without Redis)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error})")
    name = f"velocal:test:{uuid.uuid4().hex}"
    yield name
    client.delete(name)
    client.close()


@pytest.fixture
def server(database_url: str, engine: Engine, redis_stream: str) -> Iterator[tuple[str, int]]:
    """``uvicorn --workers 2`` on the test's database and Redis stream: its URL and pid."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VELOCAL_LIVE_BROKER": "redis",
        "VELOCAL_REDIS_URL": REDIS_URL,
        "VELOCAL_LIVE_STREAM": redis_stream,
        "VELOCAL_LIVE_HEARTBEAT_S": "0.25",
        "VELOCAL_RUN_SCHEDULER": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "dispatch.app:create_app"]
    command += ["--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited with {process.returncode}")
            try:
                if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not answer /healthz")
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class BoardClient(threading.Thread):
    """One board stream read in a thread until it has ``wanted`` events (set later)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.ready = threading.Event()
        self.wanted: int | None = None
        self.frames: list[Frame] = []
        self.error: BaseException | None = None
        self.port: int | None = None

    def run(self) -> None:
        try:
            with (
                httpx2.Client(timeout=30) as http,
                http.stream("GET", f"{self.url}/api/live/board", headers=self.headers) as answer,
            ):
                assert answer.status_code == 200, answer.read()
                reader = SseReader(answer.iter_lines())
                reader.until_ready()
                self.ready.set()
                idle = 0
                while idle < 4 * PATIENCE:
                    if self.wanted is not None and len(self.frames) >= self.wanted:
                        return
                    frame = reader.frame()
                    if frame.data is None:
                        idle += 1
                    else:
                        self.frames.append(frame)
        except BaseException as error:
            self.error = error
            self.ready.set()


def _workers_serving(server_pids: list[int], port: int) -> set[int]:
    """The worker processes holding an established connection on ``port``."""
    psutil = pytest.importorskip("psutil")
    serving = set()
    for pid in server_pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "ESTABLISHED":
                serving.add(pid)
    return serving


def test_two_workers_fan_out_every_event_to_every_client_in_order(
    server: tuple[str, int],
    engine: Engine,
    redis_stream: str,
    fake_planning: base.FakePlanning,
    session: Session,
    world: World,
    heads: dict[str, dict[str, str]],
) -> None:
    url, server_pid = server
    # Orders are placed in-process (planning is faked there); everything else goes through
    # the two workers.
    settings = Settings(database_url="sqlite://", live_broker="memory")
    with TestClient(create_app(settings, engine)) as local:
        order_id = ready_order(local, world, heads)
    stops = plan_route(session, world, order_id)
    psutil = pytest.importorskip("psutil")
    port = int(url.rsplit(":", 1)[1])
    master = psutil.Process(server_pid)
    workers = [
        child.pid for child in master.children() if "spawn_main" in " ".join(child.cmdline())
    ]
    assert len(workers) == 2

    clients: list[BoardClient] = []
    board = {**heads["dispatcher"], **STREAM_ACCEPT}
    for _ in range(40):  # connect until both workers serve some (at least six clients)
        client = BoardClient(url, board)
        client.start()
        assert client.ready.wait(30), "a board stream never became ready"
        assert client.error is None, client.error
        clients.append(client)
        if len(clients) >= 6 and len(_workers_serving(workers, port)) == 2:
            break
    assert _workers_serving(workers, port) == set(workers), "every client on one worker"

    with httpx2.Client(base_url=url, timeout=30) as api:
        start_shift(api, world.shifts[0], heads["aino"])
        start_shift(api, world.shifts[1], heads["bo"])
        for seq in range(1, 6):
            send_fix(api, heads["aino"] if seq % 2 else heads["bo"], seq, 60.17 + seq / 1000)
        pick_up(api, session, stops["pickup0"], heads["aino"])
        deliver(api, stops["delivery0"], heads["aino"])

    # Every commit published before its answer came back: the stream is complete now.
    stream = redis.Redis.from_url(REDIS_URL).xrange(redis_stream)
    ids = [entry_id.decode() for entry_id, _ in stream]
    for client in clients:
        client.wanted = len(ids)
    for client in clients:
        client.join(60)
        assert client.error is None, client.error
        assert [f.id for f in client.frames] == ids
    frames = clients[0].frames
    assert [f.data["entity_id"] for f in frames[:2]] == [s.id for s in world.shifts]
    fixes = [round(f.data["lat"], 3) for f in frames if f.event == "position"]
    assert fixes == [round(60.17 + seq / 1000, 3) for seq in range(1, 6)]
    done = [f.data for f in frames if f.event == "change" and f.data["entity"] == "stop"]
    assert [(d["entity_id"], d["to_status"]) for d in done] == [
        (stops["pickup0"].id, "done"),
        (stops["delivery0"].id, "done"),
    ]
