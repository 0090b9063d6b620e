"""Live progress: the commit of a probe's result → its `runProgress` message at 1, 100 and
1,000 graphql-transport-ws subscribers of one `serve` process, beside the raw NOTIFY hop (the
same commit → a plain psycopg LISTEN in the clients' process): the limit. Target: p95 <= 50 ms
at 1,000 subscribers, and the server's Postgres connections constant as subscribers grow.

Three processes, so that no side's CPU is charged to another: this one commits the changes
(each one a probe's real `outcome.store_success` transaction, so `completed` grows by one
and names the change), the server (`python -m app.cli serve`, no workers), and a client
process holding the websockets and the raw LISTEN. Stamps are `time.monotonic()`, Linux's
CLOCK_MONOTONIC, one clock for every process on the machine. The hop can come out below zero:
Postgres signals listeners before the committing client has read its COMMIT reply.

A subscriber that falls behind is sent only the newest state (`live.Mailbox`); its latency for
a change it was not sent is taken at the first state that includes it, and counted as skipped.
Connections are sampled every 0.1 s from pg_stat_activity (this database, not this bench's).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import multiprocessing
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
import uvloop
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app import gc_tuning, pubsub
from app.db import Database, libpq_url
from app.queue import jobs as queue
from app.runs.execution import outcome, slot
from bench._support import fresh_database

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (1, 100, 1000)
CHANGES = 25  # measured per level, after one warm-up change
# Longer than the feed's 0.25 s coalescing window, so that every change is its own event.
SPACING_SECONDS = 0.4
CONNECT_BATCH = 50
TARGET_MS = 50.0
BENCH_APP = "vrbench-live"  # application_name of this bench's own connections (not counted)
PROTOCOL = Subprotocol("graphql-transport-ws")
SUBSCRIPTION = """subscription($id: ID!) { runProgress(runId: $id) {
  runId status at runProgress { total completed failed } costSoFar } }"""
START = "mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"
OUTCOME = slot.SlotOutcome(
    messages=[
        {"role": "user", "content": "What do you do?"},
        {"role": "assistant", "content": "Rating: 4. I would report it."},
    ],
    input_tokens=40,
    output_tokens=12,
    duration_ms=5,
    model_version=None,
)


# The server


@dataclass(frozen=True)
class Server:
    pid: int
    http_url: str
    key: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.http_url.removeprefix("http")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(url: str, data_dir: Path, **overrides: str) -> Iterator[Server]:
    """`python -m app.cli serve` on `url`, stopped with SIGTERM as a supervisor would."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(free_port()),
        "DATA_DIR": str(data_dir),
        "RUN_WORKERS": "false",
        "LOG_LEVEL": "warning",
        **overrides,
    }
    out, err = data_dir / "stdout", data_dir / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        lines = announced(process, out, err)
        yield Server(process.pid, lines["GraphiQL"], lines["API key"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def announced(process: subprocess.Popen[bytes], out: Path, err: Path) -> dict[str, str]:
    """The `GraphiQL:` and `API key:` lines serve prints once it listens."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lines = dict(re.findall(r"^(GraphiQL|API key): (\S+)$", out.read_text(), re.M))
        if len(lines) == 2:
            return lines
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"serve did not start:\n{err.read_text()[-3000:]}")


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The clients' process: N websockets and the raw LISTEN, stamping arrivals


class Subscriber:
    """One websocket with one `runProgress` subscription: when each `completed` count arrived."""

    def __init__(self, ws: ClientConnection, final: int) -> None:
        self.ws = ws
        self.final = final
        self.arrivals: dict[int, float] = {}
        self.errors: list[str] = []
        self.done = asyncio.Event()
        self.first = asyncio.Event()
        self._task = asyncio.create_task(self._receive())

    @classmethod
    async def open(cls, url: str, key: str, run_id: str, final: int) -> Subscriber:
        ws = await connect(url, subprotocols=[PROTOCOL], open_timeout=120, max_size=None)
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"connection_init refused: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"id": run_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        subscriber = cls(ws, final)
        await asyncio.wait_for(subscriber.first.wait(), timeout=120)
        return subscriber

    async def _receive(self) -> None:
        async for raw in self.ws:
            at = time.monotonic()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await self.ws.send('{"type":"pong"}')
            elif kind == "next" and "errors" not in message["payload"]:
                completed = message["payload"]["data"]["runProgress"]["runProgress"]["completed"]
                self.arrivals.setdefault(completed, at)
                self.first.set()
                if completed >= self.final:
                    self.done.set()
            elif kind in ("next", "error", "complete"):
                self.errors.append(str(raw)[:300])
                self.first.set()
                self.done.set()

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Clients:
    """The client process's side of the pipe: `level` connects, stamps, reports, `close`s."""

    def __init__(self, pipe: Connection, listen_url: str, server: Server) -> None:
        self.pipe = pipe
        self.listen_url = listen_url
        self.server = server
        self.heard: list[tuple[float, str]] = []

    async def serve(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.listen_url, autocommit=True, application_name=f"{BENCH_APP}-listen"
        ) as conn:
            await conn.execute(f'LISTEN "{pubsub.RUN_EVENTS}"')
            listener = asyncio.create_task(self._hear(conn))
            self.pipe.send("listening")
            while (command := await asyncio.to_thread(self.pipe.recv))[0] == "level":
                await self.level(*command[1:])
            listener.cancel()

    async def _hear(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for notice in conn.notifies():
            self.heard.append((time.monotonic(), notice.payload))

    async def level(self, run_id: str, count: int, final: int) -> None:
        subscribers: list[Subscriber] = []
        for start in range(0, count, CONNECT_BATCH):
            batch = min(CONNECT_BATCH, count - start)
            subscribers += await asyncio.gather(
                *(
                    Subscriber.open(self.server.ws_url, self.server.key, run_id, final)
                    for _ in range(batch)
                )
            )
        self.heard.clear()
        cpu = time.process_time()
        self.pipe.send("ready")
        within = (final + 1) * SPACING_SECONDS + 60
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in subscribers)), within)
        cpu = time.process_time() - cpu
        errors = [e for s in subscribers for e in s.errors]
        self.pipe.send(([s.arrivals for s in subscribers], list(self.heard), cpu, errors))
        await asyncio.to_thread(self.pipe.recv)  # "close": the bench has counted connections
        for start in range(0, count, CONNECT_BATCH):
            await asyncio.gather(*(s.close() for s in subscribers[start : start + CONNECT_BATCH]))
        self.pipe.send("closed")


def client_process(pipe: Connection, listen_url: str, server: Server) -> None:
    # A socket per subscriber: lift the soft descriptor limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Its collector's pauses over 1,000 sockets would be counted as the server's latency.
    gc_tuning.tune_for_service()
    uvloop.run(Clients(pipe, listen_url, server).serve())


# This process: the changes, their commit stamps, and the server's connections


async def receive(pipe: Connection, within: float = 600) -> Any:
    if not await asyncio.to_thread(pipe.poll, within):
        raise RuntimeError("the client process stopped answering")
    return pipe.recv()


class ConnectionCounter:
    """Samples the server's backends every 0.1 s: those on this database that are not this
    bench's own, and of them the LISTEN connection(s)."""

    def __init__(self, url: str) -> None:
        self.url = libpq_url(url)
        self.database = make_url(url).database
        self.samples: list[tuple[float, int, int]] = []  # (at, server's, LISTEN)

    async def count(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        row = await (
            await conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE application_name = 'valuerank-pubsub') "
                "FROM pg_stat_activity WHERE datname = %s AND application_name NOT LIKE %s",
                (self.database, f"{BENCH_APP}%"),
            )
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def sample_forever(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, application_name=f"{BENCH_APP}-count"
        ) as conn:
            while True:
                self.samples.append((time.monotonic(), *await self.count(conn)))
                await asyncio.sleep(0.1)

    def peak(self, start: float, end: float) -> int:
        """The most seen from `start` to `end` (the sample before `end` if none fell within)."""
        within = [n for at, n, _ in self.samples if start <= at <= end]
        before = [n for at, n, _ in self.samples if at <= end][-1:]
        return max(within or before or [0])

    def latest(self) -> tuple[int, int]:
        return self.samples[-1][1:] if self.samples else (0, 0)


async def start_run(http: httpx.AsyncClient, server: Server, samples: int) -> str:
    variables = {
        "input": {
            "definitionId": "demo-definition-honesty",
            "models": ["sim-instant"],
            "samplesPerScenario": samples,
        }
    }
    response = await http.post(
        server.http_url,
        json={"query": START, "variables": variables},
        headers={"Authorization": f"Bearer {server.key}"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return str(body["data"]["startRun"]["run"]["id"])


async def queued_slots(db: Database, run_id: str) -> list[slot.SlotJob]:
    """The probe jobs startRun queued for the run: its real slots."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT args FROM procrastinate_jobs "
                "WHERE task_name = :task AND args->>'runId' = :run ORDER BY id"
            ),
            {"task": queue.PROBE_TASK, "run": run_id},
        )
        return [slot.SlotJob.from_args(args) for (args,) in rows]


async def commit_probe(db: Database, job: slot.SlotJob) -> tuple[str, float]:
    """One probe's success as a worker commits it; (transcript id, moment COMMIT returned)."""
    async with db.transaction() as session:
        plan = await slot.plan_slot(session, job, "simulated")
        assert plan is not None
        transcript_id = await outcome.store_success(session, plan, OUTCOME, attempts=1)
    at = time.monotonic()
    assert transcript_id is not None
    return transcript_id, at


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


@dataclass
class Level:
    subscribers: int
    # Per (subscriber, change): commit → the first message whose `completed` includes it (a
    # subscriber that fell behind is sent the newest state only; it sees the change there).
    latencies: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)  # per change
    first: list[float] = field(default_factory=list)  # per change: the earliest subscriber
    last: list[float] = field(default_factory=list)  # per change: the latest subscriber
    skipped: int = 0  # (subscriber, change) pairs seen only in a later state
    missing: int = 0  # (subscriber, change) pairs never seen
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # seconds, while the changes flowed
    client_cpu: float = 0.0
    connections: int = 0  # with every subscriber connected, after the changes
    listening: int = 0
    peak_connecting: int = 0
    peak_changing: int = 0

    @property
    def pairs(self) -> int:
        return len(self.latencies) + self.missing


def seen_at(arrivals: dict[int, float], completed: int) -> float | None:
    return min((at for count, at in arrivals.items() if count >= completed), default=None)


def tally(level: Level, commits: list[tuple[str, float]], reply: Any) -> None:
    """Latencies of every change but the first (the warm-up)."""
    arrivals, heard, level.client_cpu, level.errors = reply
    heard_at: dict[str, float] = {}
    for at, payload in heard:
        heard_at.setdefault(json.loads(payload).get("transcriptId", ""), at)
    for completed, (transcript_id, committed) in enumerate(commits[1:], start=2):
        if transcript_id in heard_at:
            level.raw.append(heard_at[transcript_id] - committed)
        times = []
        for received in arrivals:
            at = seen_at(received, completed)
            if at is None:
                level.missing += 1
                continue
            level.skipped += completed not in received
            times.append(at - committed)
        level.latencies += times
        if times:
            level.first.append(min(times))
            level.last.append(max(times))


async def measure(
    server: Server,
    db: Database,
    http: httpx.AsyncClient,
    pipe: Connection,
    counter: ConnectionCounter,
    count: int,
) -> Level:
    """`CHANGES + 1` probe commits, `SPACING_SECONDS` apart, watched by `count` subscribers."""
    level = Level(count)
    run_id = await start_run(http, server, samples=(CHANGES + 6) // 6)
    slots = (await queued_slots(db, run_id))[: CHANGES + 1]
    # Started, as a worker's first probe would (a run takes outcomes only while it runs).
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text("UPDATE runs SET status = 'RUNNING', started_at = now() WHERE id = :r"),
            {"r": run_id},
        )
    connecting = time.monotonic()
    pipe.send(("level", run_id, count, len(slots)))
    if (ready := await receive(pipe)) != "ready":
        raise RuntimeError(f"client process: {ready}")
    changing = time.monotonic()
    cpu = server_cpu_seconds(server.pid)
    commits = []
    for job in slots:
        await asyncio.sleep(SPACING_SECONDS)
        commits.append(await commit_probe(db, job))
    tally(level, commits, await receive(pipe))
    level.server_cpu = server_cpu_seconds(server.pid) - cpu
    await asyncio.sleep(0.2)  # a sample with every subscriber still connected
    level.connections, level.listening = counter.latest()
    level.peak_connecting = counter.peak(connecting, changing)
    level.peak_changing = counter.peak(changing, time.monotonic())
    pipe.send("close")
    await receive(pipe)
    return level


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report_level(level: Level) -> None:
    if not level.latencies:
        print(f"live: {level.subscribers} subscribers: nothing arrived {level.errors[:3]}")
        return
    p50, p95 = percentile(level.latencies, 0.5), percentile(level.latencies, 0.95)
    raw50, raw95 = percentile(level.raw, 0.5), percentile(level.raw, 0.95)
    ratio = f"{p95 / raw95:.0f}x" if raw95 > 0 else "n/a (hop <= 0)"
    per_change = len(level.first) + 1
    print(
        f"live: runProgress commit→client p50 {ms(p50)} p95 {ms(p95)} "
        f"with {level.subscribers:,} subscribers | raw NOTIFY hop p50 {ms(raw50)} "
        f"p95 {ms(raw95)} | ratio p95 {ratio} | server pg connections: {level.connections} "
        f"({level.listening} LISTEN; peak {level.peak_connecting} while subscribers connect, "
        f"{level.peak_changing} while changes flow) | per change p95: first subscriber "
        f"{ms(percentile(level.first, 0.95))}, last {ms(percentile(level.last, 0.95))} "
        f"| server CPU {ms(level.server_cpu / per_change)}/change, clients' "
        f"{ms(level.client_cpu / per_change)} | states skipped {level.skipped}/{level.pairs}, "
        f"missing {level.missing}" + (f" | errors: {level.errors[:2]}" if level.errors else ""),
        flush=True,
    )


def report_summary(levels: list[Level]) -> None:
    pool = inspect.signature(Database).parameters
    bound = pool["pool_size"].default + pool["max_overflow"].default + 1
    counts = "/".join(str(level.connections) for level in levels)
    peaks = [max(level.peak_connecting, level.peak_changing) for level in levels]
    sizes = "/".join(f"{level.subscribers:,}" for level in levels)
    if len({level.connections for level in levels}) == 1:
        verdict = "constant"
    elif max(peaks) <= bound:
        verdict = f"NOT constant, but within the pool + LISTEN ({bound}), not per subscriber"
    else:
        verdict = "GROWING with subscribers"
    print(
        f"live: server pg connections {counts} (peak {'/'.join(map(str, peaks))}) at {sizes} "
        f"subscribers: {verdict}",
        flush=True,
    )
    top = levels[-1]
    p95 = percentile(top.latencies, 0.95) * 1000 if top.latencies else float("inf")
    met = p95 <= TARGET_MS and not top.missing
    print(
        f"live: target p95 <= {TARGET_MS:.0f} ms at {top.subscribers:,} subscribers: "
        f"{'met' if met else 'MISSED'} (p95 {p95:.1f} ms)",
        flush=True,
    )


@contextlib.asynccontextmanager
async def client_process_for(url: str, server: Server) -> AsyncIterator[Connection]:
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=client_process, args=(theirs, libpq_url(url), server), daemon=True
    )
    process.start()
    try:
        if (hello := await receive(ours, 60)) != "listening":
            raise RuntimeError(f"client process: {hello}")
        yield ours
    finally:
        with contextlib.suppress(OSError):
            ours.send(("quit",))
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join()


async def run() -> None:
    with fresh_database() as url, tempfile.TemporaryDirectory() as data_dir:
        mine = make_url(url).update_query_dict({"application_name": BENCH_APP})
        db = Database(mine.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
        counter = ConnectionCounter(url)
        sampling = asyncio.create_task(counter.sample_forever())
        try:
            with serving(url, Path(data_dir)) as server:
                async with (
                    client_process_for(url, server) as pipe,
                    httpx.AsyncClient(timeout=120) as http,
                ):
                    levels = []
                    for count in LEVELS:
                        level = await measure(server, db, http, pipe, counter, count)
                        report_level(level)
                        levels.append(level)
                    report_summary(levels)
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
            await db.dispose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
