"""Live push latency: GPS fix POSTed → received by each of many connected board clients.

``python -m benchmarks.push_bench [--clients 100] [--fixes 200] [--rate 20]``

A throw-away SQLite database (couriers on duty, a dispatcher) and a Redis stream of the run's
own; ``uvicorn --workers 2`` serves the app on a free loopback port (live broker: Redis). This
process connects ``--clients`` board streams (asyncio, one process); a second process POSTs
``--fixes`` fixes at ``--rate`` per second, round-robin over the couriers, noting when each
POST started. Latency is from a fix's POST start to a client's receipt of its push, for every
(fix, client) pair: p50, p95, p99 and max, with the POST's own round trip (p50) measured in
the same run as the baseline. Target: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import redis

ROOT = Path(__file__).resolve().parents[1]
COURIERS = 5
REDIS_URL = os.environ.get("VELOCAL_REDIS_URL", "redis://127.0.0.1:6379/0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_url: str) -> tuple[str, list[str]]:
    """Couriers on duty and a dispatcher: the dispatcher's and the couriers' bearer tokens."""
    from sqlmodel import Session

    from dispatch.db import create_schema, make_engine
    from dispatch.models import BikeType, Courier, Hub, Shift, Town
    from dispatch.security import create_user, issue_login_token

    engine = make_engine(database_url)
    create_schema(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        town = Town(name="Bench")
        session.add(town)
        session.commit()
        assert town.id is not None
        hub = Hub(town_id=town.id, name="Hub", lat=60.17, lon=24.94)
        bike = BikeType(
            town_id=town.id, name="Bike", capacity_g=1, capacity_ml=1, capacity_parcels=1
        )
        session.add_all([hub, bike])
        session.commit()
        assert hub.id is not None
        assert bike.id is not None
        dispatcher = create_user(session, "disp@bench", "bench password 1", "dispatcher")
        board_token, _ = issue_login_token(session, dispatcher, kind="bearer")
        tokens = []
        for n in range(COURIERS):
            courier = Courier(town_id=town.id, name=f"Courier {n}", bike_type_id=bike.id)
            session.add(courier)
            session.commit()
            assert courier.id is not None
            shift = Shift(
                courier_id=courier.id,
                hub_id=hub.id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=5),
                status="on_duty",
            )
            session.add(shift)
            user = create_user(
                session, f"c{n}@bench", "bench password 1", "courier", courier_id=courier.id
            )
            token, _ = issue_login_token(session, user, kind="bearer")
            tokens.append(token)
    engine.dispose()
    return board_token, tokens


def post_fixes(url: str, tokens: list[str], fixes: int, rate: float, out: str) -> None:
    """The second process: POST ``fixes`` fixes at ``rate``/s; write each one's start time."""
    sent: dict[str, float] = {}
    round_trips: list[float] = []
    with httpx2.Client(base_url=url, timeout=30) as http:
        started = time.perf_counter()
        for seq in range(1, fixes + 1):
            pause = started + (seq - 1) / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            token = tokens[seq % len(tokens)]
            lat = round(60.1 + seq * 1e-5, 6)
            at = datetime.now(UTC).isoformat()
            body = {"device_id": "bench", "fixes": [{"seq": seq, "lat": lat, "lon": 24.94,
                                                      "accuracy_m": 5.0, "at": at}]}  # fmt: skip
            t0 = time.time()
            answer = http.post(
                "/api/courier/positions", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            round_trips.append(time.time() - t0)
            answer.raise_for_status()
            sent[f"{lat:.6f}"] = t0
    Path(out).write_text(json.dumps({"sent": sent, "round_trips": round_trips}))


async def board_client(
    url: str, token: str, got: dict[str, float], ready: asyncio.Event, count: list[int]
) -> None:
    """One board stream: the receipt time of each position push, by its latitude."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with (
        httpx2.AsyncClient(timeout=None) as http,
        http.stream("GET", f"{url}/api/live/board", headers=headers) as answer,
    ):
        answer.raise_for_status()
        event = ""
        async for line in answer.aiter_lines():
            if line == ": ready":
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "position":
                got[f"{json.loads(line[6:])['lat']:.6f}"] = time.time()
                count[0] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(url: str, board_token: str, tokens: list[str], args: argparse.Namespace) -> int:
    received: list[dict[str, float]] = [{} for _ in range(args.clients)]
    readies = [asyncio.Event() for _ in range(args.clients)]
    count = [0]
    tasks = [
        asyncio.create_task(board_client(url, board_token, received[i], readies[i], count))
        for i in range(args.clients)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    print(f"{args.clients} board clients connected; posting {args.fixes} fixes at {args.rate}/s")
    out = tempfile.mktemp(suffix=".json")
    poster = multiprocessing.get_context("spawn").Process(
        target=post_fixes, args=(url, tokens, args.fixes, args.rate, out)
    )
    poster.start()
    expected = args.clients * args.fixes
    deadline = time.monotonic() + args.fixes / args.rate + 60
    while time.monotonic() < deadline and (poster.is_alive() or count[0] < expected):
        print(f"\r  received {count[0]:>7} / {expected} pushes", end="", flush=True)
        await asyncio.sleep(0.5)
    print(f"\r  received {count[0]:>7} / {expected} pushes")
    poster.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    posted = json.loads(Path(out).read_text())
    os.unlink(out)
    latencies = [
        got[key] - start for got in received for key, start in posted["sent"].items() if key in got
    ]
    missing = expected - len(latencies)
    base = statistics.median(posted["round_trips"])
    print(f"\nPOST /api/courier/positions round trip (baseline): p50 {base * 1000:.1f} ms")
    print(f"push latency over {len(latencies)} deliveries ({missing} missing):")
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        value = percentile(latencies, q)
        print(f"  {name:>4} {value * 1000:8.1f} ms   ({value / base:5.1f}× the POST round trip)")
    verdict = percentile(latencies, 0.99) < 1.0 and missing == 0
    print(f"target p99 < 1 s, none missing: {'met' if verdict else 'NOT met'}")
    return 0 if verdict else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--fixes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="fixes per second")
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).ping()
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/bench.db"
        board_token, tokens = seed(database_url)
        stream = f"velocal:bench:{uuid.uuid4().hex}"
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "VELOCAL_LIVE_BROKER": "redis",
            "VELOCAL_REDIS_URL": REDIS_URL,
            "VELOCAL_LIVE_STREAM": stream,
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "dispatch.app:create_app"]
        command += ["--workers", "2", "--port", str(port), "--log-level", "warning"]
        command += ["--limit-concurrency", "1000"]
        server = subprocess.Popen(command, env=env, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.1)
            else:
                print("the server did not start", file=sys.stderr)
                return 2
            return asyncio.run(measure(url, board_token, tokens, args))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            redis.Redis.from_url(REDIS_URL).delete(stream)


if __name__ == "__main__":
    sys.exit(main())
