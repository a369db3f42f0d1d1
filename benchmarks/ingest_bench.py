"""Sustained GPS ingest: many couriers' phones posting small batches to a real velocal server.

velocal runs as a separate process (uvicorn, ``--workers`` processes, on loopback) against a
fresh database (a SQLite file, or a new schema in the local PostgreSQL's ``test`` database,
both migrated with Alembic and removed afterwards), seeded with ``--phones`` couriers on duty
and a bearer token each. This process then drives the load with asyncio over HTTP/1.1 (a
minimal client of its own, so the load generator stays cheap next to the server on a 2-core
machine): every phone posts a batch of ``--batch`` fixes on a fixed schedule, so together they
offer ``--rate`` fixes a second, one request in flight per phone as on a real phone. The
defaults are the courier app's own pace (a fix a second, sent ten at a time): 1,000 phones,
each posting every 8.3 s; a phone that posts less often than uvicorn keeps an idle connection
(5 s) connects afresh for each batch, as a real one does. It reports the fixes stored per
second, request latency (p50/p95/p99/max, from the request's send to its answer) and errors,
and checks the stored rows in the database.

The baseline is measured in the same run, against the same server, with the same phones and
request rate: ``GET /healthz`` (the bare stack: routing, a session, ``SELECT 1``). The ratios
say what the ingest path costs on top of serving any request at all.

    python -m benchmarks.ingest_bench [--database sqlite|postgresql|both] [--seconds 10]

Pin it to the machine's two cores when measuring (``taskset -c 0,1``); the load is bounded in
time and count and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

#: uvicorn's default: it closes a kept-alive connection idle this long.
KEEP_ALIVE_S: Final = 5.0
#: A request unanswered this long counts as an error.
REQUEST_TIMEOUT_S: Final = 30.0
#: The target on 2 cores.
TARGET_FIXES_S: Final = 1_000.0
TARGET_P99_MS: Final = 100.0
POSTGRES_ADMIN_URL: Final = os.environ.get(
    "VELOCAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PROJECT_ROOT: Final = Path(__file__).resolve().parents[1]


# ── a database of its own ─────────────────────────────────────────────────────────────────


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A migrated, empty database URL of ``kind``; removed with everything in it afterwards."""
    from sqlalchemy import create_engine, make_url

    from dispatch import migrate

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="velocal-ingest-"))
        try:
            url = f"sqlite:///{folder}/velocal.db"
            migrate.upgrade(url)
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"velocal_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        parsed = make_url(POSTGRES_ADMIN_URL)
        url = parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def seed(url: str, phones: int) -> list[str]:
    """A town, a hub, ``phones`` couriers on duty now, and a bearer token for each."""
    from argon2 import PasswordHasher
    from sqlmodel import Session

    from dispatch import security
    from dispatch.db import make_engine
    from dispatch.models import BikeType, Courier, Hub, Shift, Town, utc_now

    security.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    engine = make_engine(url)
    tokens: list[str] = []
    now = utc_now()
    with Session(engine) as session:
        town = Town(name="Bench")
        session.add(town)
        session.flush()
        assert town.id is not None
        hub = Hub(town_id=town.id, name="Hub", lat=60.17, lon=24.94)
        bike = BikeType(
            town_id=town.id,
            name="Long John",
            capacity_g=50_000,
            capacity_ml=200_000,
            capacity_parcels=8,
        )
        session.add_all([hub, bike])
        session.flush()
        assert hub.id is not None
        assert bike.id is not None
        couriers = [
            Courier(town_id=town.id, name=f"Courier {n}", bike_type_id=bike.id)
            for n in range(phones)
        ]
        session.add_all(couriers)
        session.flush()
        for courier in couriers:
            assert courier.id is not None
            session.add(
                Shift(
                    courier_id=courier.id,
                    hub_id=hub.id,
                    starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(hours=6),
                    status="on_duty",
                )
            )
        session.commit()
        for n, courier in enumerate(couriers):
            user = security.create_user(
                session, f"c{n}@bench.test", "bench-password", "courier", courier_id=courier.id
            )
            token, _ = security.issue_login_token(session, user, kind="bearer")
            tokens.append(token)
    engine.dispose()
    return tokens


def stored_rows(url: str) -> int:
    from sqlmodel import Session, col, func, select

    from dispatch.db import make_engine
    from dispatch.models import Position

    engine = make_engine(url)
    with Session(engine) as session:
        count = int(session.exec(select(func.count(col(Position.id)))).one())
    engine.dispose()
    return count


# ── the server, in a process of its own ────────────────────────────────────────────────────


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(url: str, workers: int) -> Iterator[int]:
    """uvicorn serving velocal on a free loopback port (access log off); yields the port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VELOCAL_DATABASE_URL": url,
        "VELOCAL_RUN_SCHEDULER": "false",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "dispatch.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ── the load: phones over kept-alive connections ───────────────────────────────────────────


class Connection:
    """One kept-alive HTTP/1.1 connection: a request at a time, answers with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", token: str | None = None
    ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
        if token is not None:
            head.append(f"Authorization: Bearer {token}")
        if body:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class LoadResult:
    """What one load run saw."""

    name: str
    seconds: float
    requests: int = 0
    fixes_stored: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def requests_s(self) -> float:
        return self.requests / self.seconds

    @property
    def fixes_s(self) -> float:
        return self.fixes_stored / self.seconds


def _batch(seq0: int, size: int, phone: int) -> list[dict[str, Any]]:
    at = datetime.now(UTC).isoformat()
    return [
        {
            "seq": seq0 + i,
            "lat": 60.17 + 0.0001 * ((phone + seq0 + i) % 50),
            "lon": 24.94 + 0.0001 * (phone % 50),
            "accuracy_m": 6.5,
            "at": at,
        }
        for i in range(size)
    ]


async def drive(
    name: str,
    port: int,
    tokens: list[str],
    *,
    ingest: bool,
    batch: int,
    request_rate: float,
    seconds: float,
    device: str,
) -> LoadResult:
    """Every phone sends a request each ``len(tokens) / request_rate`` s for ``seconds`` s
    (staggered, one in flight per phone); a progress line each second."""
    loop = asyncio.get_running_loop()
    result = LoadResult(name, seconds)
    period = len(tokens) / request_rate
    # A phone posting less often than the server keeps an idle connection connects afresh for
    # each batch (and that is part of its latency); a busier one keeps its connection.
    fresh = period > KEEP_ALIVE_S - 0.5
    connections: list[Connection | None] = (
        [None] * len(tokens) if fresh else [await Connection.open(port) for _ in tokens]
    )
    start = loop.time() + 0.2
    deadline = start + seconds

    async def phone(n: int) -> None:
        connection, token = connections[n], tokens[n]
        due = start + period * n / len(tokens)
        seq = 1
        while due < deadline:
            await asyncio.sleep(max(0.0, due - loop.time()))
            sent = loop.time()
            try:
                if connection is None:
                    connection = await Connection.open(port)
                if ingest:
                    fixes = _batch(seq, batch, n)
                    seq += batch
                    body = json.dumps({"device_id": device, "fixes": fixes}).encode()
                    asked = connection.request("POST", "/api/courier/positions", body, token)
                else:
                    asked = connection.request("GET", "/healthz")
                # An unanswered request is an error (a timeout is an OSError), not a hang.
                status, answer = await asyncio.wait_for(asked, REQUEST_TIMEOUT_S)
            except (OSError, ValueError, asyncio.IncompleteReadError) as error:
                status, answer = 0, repr(error).encode()
                if connection is not None:
                    connection.close()
                connection = None
            result.latencies_s.append(loop.time() - sent)
            if fresh and connection is not None:
                connection.close()
                connection = None
            connections[n] = connection
            result.requests += 1
            if status != 200:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{status} {answer[:120]!r}")
            elif ingest:
                result.fixes_stored += int(json.loads(answer)["stored"])
            due += period

    async def progress() -> None:
        while loop.time() < deadline:
            await asyncio.sleep(1.0)
            elapsed = min(seconds, max(0.0, loop.time() - start))
            rate = (result.fixes_stored if ingest else result.requests) / max(elapsed, 1e-9)
            unit = "fixes/s" if ingest else "requests/s"
            print(
                f"\r  {name}: {elapsed:4.1f}/{seconds:g} s, {rate:7,.0f} {unit}, "
                f"{result.errors} errors",
                end="",
                flush=True,
            )
        print()

    try:
        await asyncio.gather(progress(), *(phone(n) for n in range(len(tokens))))
    finally:
        for left in connections:
            if left is not None:
                left.close()
    result.seconds = max(seconds, loop.time() - start)
    return result


# ── the report ─────────────────────────────────────────────────────────────────────────────


def _line(result: LoadResult, unit_rate: str) -> str:
    return (
        f"  {result.name:<26} {unit_rate:>16}  {result.requests_s:7,.0f} req/s  "
        f"p50 {result.percentile_ms(0.50):6.1f}  p95 {result.percentile_ms(0.95):6.1f}  "
        f"p99 {result.percentile_ms(0.99):6.1f}  max {1000 * max(result.latencies_s):6.1f} ms  "
        f"errors {result.errors}"
    )


def run_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Baseline and ingest against one database; the figures and whether the target is met."""
    print(
        f"\n{kind}: {args.phones} phones, {args.batch} fixes a batch, offering "
        f"{args.rate:,.0f} fixes/s for {args.seconds:g} s; {args.workers} uvicorn worker(s)"
    )
    request_rate = args.rate / args.batch
    with fresh_database(kind) as url:
        tokens = seed(url, args.phones)
        with server(url, args.workers) as port:
            common = {"batch": args.batch, "request_rate": request_rate}
            asyncio.run(
                drive("warm-up", port, tokens, ingest=True, seconds=2.0, device="warm", **common)
            )
            before = stored_rows(url)
            baseline = asyncio.run(
                drive(
                    "baseline GET /healthz",
                    port,
                    tokens,
                    ingest=False,
                    seconds=args.seconds,
                    device="",
                    **common,
                )
            )
            ingest = asyncio.run(
                drive(
                    f"ingest POST {args.batch} fixes",
                    port,
                    tokens,
                    ingest=True,
                    seconds=args.seconds,
                    device="bench",
                    **common,
                )
            )
        rows = stored_rows(url) - before
    print(_line(baseline, "—"))
    print(_line(ingest, f"{ingest.fixes_s:,.0f} fixes/s"))
    for sample in ingest.error_samples + baseline.error_samples:
        print(f"    error: {sample}")
    ratio_p50 = ingest.percentile_ms(0.5) / baseline.percentile_ms(0.5)
    ratio_p99 = ingest.percentile_ms(0.99) / baseline.percentile_ms(0.99)
    print(
        f"  ingest / baseline latency: p50 {ratio_p50:.2f}×, p99 {ratio_p99:.2f}×; "
        f"rows in the database {rows:,} (acknowledged {ingest.fixes_stored:,})"
    )
    met = (
        ingest.fixes_s >= TARGET_FIXES_S
        and ingest.percentile_ms(0.99) < TARGET_P99_MS
        and ingest.errors == 0
        and rows == ingest.fixes_stored
    )
    print(
        f"  target ≥ {TARGET_FIXES_S:,.0f} fixes/s with p99 < {TARGET_P99_MS:g} ms: "
        f"{'met' if met else 'MISSED'}"
    )
    return {"database": kind, "met": met, "fixes_s": ingest.fixes_s, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if a target was missed or rows went astray."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_bench", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="Seconds of each load run.")
    # As the courier app sends them: a fix a second, posted in batches of 10 (every ~10 s), so
    # 1,200 fixes/s offered is 1,000 phones each posting every 8.3 s on a fresh connection.
    parser.add_argument("--phones", type=int, default=1000, help="Simulated phones (couriers).")
    parser.add_argument("--batch", type=int, default=10, help="Fixes per POST.")
    parser.add_argument("--rate", type=float, default=1_200.0, help="Fixes per second offered.")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes.")
    args = parser.parse_args(argv)
    for name in ("seconds", "rate"):
        if getattr(args, name) <= 0 or getattr(args, name) > (600 if name == "seconds" else 1e5):
            parser.error(f"--{name} is out of range: {getattr(args, name)}")
    if not 1 <= args.phones <= 1000 or not 1 <= args.batch <= 500 or not 1 <= args.workers <= 8:
        parser.error("--phones must be 1–1000, --batch 1–500 and --workers 1–8")
    load = os.getloadavg()[0]
    print(
        f"ingest benchmark: {os.cpu_count()} CPUs, 1-min load average {load:.2f} at the start"
        + ("  (other processes are busy: figures will be low)" if load > 1.0 else "")
    )
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [run_database(kind, args) for kind in kinds]
    print(
        f"\n1-min load average {os.getloadavg()[0]:.2f} at the end; median of fixes/s "
        f"{statistics.median(r['fixes_s'] for r in results):,.0f}"
    )
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
