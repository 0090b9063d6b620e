"""Soak: BENCH_SOAK_RUNS runs (default 100) kept in flight for BENCH_SOAK_SECONDS (default 600)
on the simulated provider (sim-instant, as in live and end to end), watched by
BENCH_SOAK_SUBSCRIBERS graphql-transport-ws `runProgress` subscribers (default 1,000, spread
over the runs), against `python -m app.cli serve` and 2 worker processes (`python -m workers`).

A run that ends is replaced by a new one until the time is up, then the runs in flight finish.
A subscriber whose run ends subscribes to another live run on the same websocket. The
subscribers live in a client process of their own, as in bench/live.py. Each figure stands
beside its target:

- errors, target 0: GraphQL errors, `error` messages, websockets the server closed, runs that
  ended other than COMPLETED, and ERROR/CRITICAL lines or tracebacks in the stderr of serve
  and the workers;
- push latency: the moment a `runProgress` message arrives minus its `at` (when the server
  read that state; one machine, one wall clock), p95 per tenth of the soak, beside live's
  target (p95 <= 50 ms). A subscription's first message is not a push: it is the run's
  newest state, which a subscriber joining a watched run is given as it was last read;
- memory: each process's resident set (VmRSS) every SAMPLE_SECONDS; the first half is
  warm-up, and a least-squares slope over the second above SLOPE_MB_PER_MIN (1 MB/min) is
  flagged UPWARD;
- connections: serve's and the workers' backends on the bench database (live's
  ConnectionCounter); bounded when the second half's most is within CONNECTION_SLACK of the
  first half's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

import httpx
import sqlalchemy as sa
import uvloop
from sqlalchemy.engine import make_url

from app import gc_tuning
from app.db import Database
from app.runs.models import TERMINAL_STATUSES
from bench import live
from bench._support import fresh_database, report
from bench.probes import start_workers, stop

SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
RUNS = int(os.environ.get("BENCH_SOAK_RUNS", "100"))
SUBSCRIBERS = int(os.environ.get("BENCH_SOAK_SUBSCRIBERS", "1000"))
SAMPLES = 2  # per scenario: 12 slots on the demo definition, a run of some seconds
PROCESSES = 2
CONCURRENCY = 32  # per worker process; the simulated provider admits 50 calls at once
SAMPLE_SECONDS = 10.0
TICK_SECONDS = 1.0  # how often ended runs are replaced
DRAIN_SECONDS = 300.0  # for the runs in flight at the end to finish
SLOPE_MB_PER_MIN = 1.0
CONNECTION_SLACK = 2
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d ")  # a new log line ends the traceback before it
LOGGED_ERROR = re.compile(r"\S+ \S+ (?:ERROR|CRITICAL) ")
VARYING = re.compile(r"[0-9a-f]{8,}|\d+")  # ids, times, counts: errors of a kind differ there
ACTIVE = re.compile(r'^valuerank_subscriptions_active\{field="runProgress"\} (\S+)$', re.M)


# The clients' process: SUBSCRIBERS websockets, each following one live run after another


class Hub:
    """The client process's shared state: the runs that are live, the latencies, the errors."""

    def __init__(self, runs: list[str]) -> None:
        self.start = time.time()  # reset when the soak starts: the tenths count from there
        self.live = list(runs)
        self.ended: set[str] = set()
        self.changed = asyncio.Event()
        self.latencies: list[list[float]] = [[] for _ in range(10)]
        self.errors: list[str] = []
        self.resubscribed = 0
        self.waiting = 0  # subscribers with no live run to follow
        self.following: list[int] = []  # subscribers following a run, every SAMPLE_SECONDS

    def refresh(self, runs: list[str]) -> None:
        """The bench's list of runs in flight (less those a subscriber has already seen end)."""
        self.live = [run for run in runs if run not in self.ended]
        self.changed.set()

    def end(self, run_id: str) -> None:
        self.ended.add(run_id)
        with contextlib.suppress(ValueError):
            self.live.remove(run_id)

    async def pick(self) -> str:
        self.waiting += 1
        try:
            while not self.live:
                self.changed.clear()
                await self.changed.wait()
        finally:
            self.waiting -= 1
        return random.choice(self.live)

    async def count_forever(self, subscribers: int) -> None:
        while True:
            self.following.append(subscribers - self.waiting)
            await asyncio.sleep(SAMPLE_SECONDS)

    def arrived(self, received: float, at: str) -> None:
        tenth = int((received - self.start) / SECONDS * 10)
        latency = received - datetime.fromisoformat(at).timestamp()
        self.latencies[max(0, min(9, tenth))].append(latency)


class Watcher(live.Subscriber):
    """live's subscriber, for the whole soak: when its stream completes (after a terminal state,
    else an error) it subscribes to another live run on the same websocket."""

    hub: ClassVar[Hub]  # the client process has one

    def __init__(self, ws: Any, final: int) -> None:
        self.closing = False
        self.subscription = 1  # live.Subscriber.open subscribed as "1"
        self.status = ""
        self._next: asyncio.Task[None] | None = None
        super().__init__(ws, final)

    async def _receive(self) -> None:
        async for raw in self.ws:
            received = time.time()
            message = json.loads(raw)
            kind, payload = message.get("type"), message.get("payload") or {}
            if kind == "ping":
                await self.ws.send('{"type":"pong"}')
            elif kind == "next" and "errors" not in payload:
                event = payload["data"]["runProgress"]
                if self.status:  # the first event answers the subscribe; later ones are pushes
                    self.hub.arrived(received, event["at"])
                self.status = event["status"]
                self.first.set()
                if self.status in TERMINAL_STATUSES:
                    self.hub.end(event["runId"])
            elif kind == "complete" and message.get("id") == str(self.subscription):
                if self.status not in TERMINAL_STATUSES:  # the bench counts how runs end
                    self.hub.errors.append(f"runProgress completed at {self.status or 'no state'}")
                self._next = asyncio.create_task(self._resubscribe())
            else:
                self.hub.errors.append(str(raw)[:300])
                self.first.set()
        if not self.closing:
            self.hub.errors.append(f"the server closed a websocket: {self.ws.close_reason}")

    async def _resubscribe(self) -> None:
        run_id = await self.hub.pick()
        self.subscription += 1
        self.status = ""
        self.hub.resubscribed += 1
        payload = {"query": live.SUBSCRIPTION, "variables": {"id": run_id}}
        subscribe = {"id": str(self.subscription), "type": "subscribe", "payload": payload}
        await self.ws.send(json.dumps(subscribe))

    async def close(self) -> None:
        self.closing = True
        if self._next is not None:
            self._next.cancel()
        await super().close()


async def watch(pipe: Connection, server: live.Server, runs: list[str]) -> None:
    Watcher.hub = hub = Hub(runs)
    watchers: list[live.Subscriber] = []
    for first in range(0, SUBSCRIBERS, live.CONNECT_BATCH):
        watchers += await asyncio.gather(
            *(
                Watcher.open(server.ws_url, server.key, runs[i % len(runs)], 0)
                for i in range(first, min(SUBSCRIBERS, first + live.CONNECT_BATCH))
            )
        )
    pipe.send("ready")
    hub.start = time.time()
    counting = asyncio.create_task(hub.count_forever(len(watchers)))
    while (command := await asyncio.to_thread(pipe.recv))[0] == "live":
        hub.refresh(command[1])
    counting.cancel()
    for first in range(0, len(watchers), live.CONNECT_BATCH):
        await asyncio.gather(*(w.close() for w in watchers[first : first + live.CONNECT_BATCH]))
    pipe.send((hub.latencies, hub.errors, hub.resubscribed, hub.following))


def client_process(pipe: Connection, server: live.Server, runs: list[str]) -> None:
    # A socket per subscriber: lift the soft descriptor limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gc_tuning.tune_for_service()  # as live's clients: their collector's pauses are not the server's
    uvloop.run(watch(pipe, server, runs))


@contextlib.asynccontextmanager
async def subscribers(server: live.Server, runs: list[str]) -> AsyncIterator[Connection]:
    """The client process, once its SUBSCRIBERS are subscribed; the soak starts then."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=client_process, args=(theirs, server, runs), daemon=True
    )
    process.start()
    try:
        if (hello := await live.receive(ours, 600)) != "ready":
            raise RuntimeError(f"client process: {hello}")
        yield ours
    finally:
        process.join(timeout=60)
        if process.is_alive():
            process.terminate()
            process.join()


# This process: the runs, the samples, the logs


@dataclass
class Soak:
    server: live.Server
    workers: list[subprocess.Popen[bytes]]
    db: Database
    http: httpx.AsyncClient
    counter: live.ConnectionCounter
    in_flight: dict[str, float] = field(default_factory=dict)  # run id → started (monotonic)
    ended: dict[str, int] = field(default_factory=dict)  # status → runs
    durations: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (seconds into the soak, MB per process: serve then the workers)
    memory: list[tuple[float, list[float]]] = field(default_factory=list)
    flying: list[int] = field(default_factory=list)  # runs in flight, every SAMPLE_SECONDS
    gauge: list[int] = field(default_factory=list)  # the server's runProgress subscriptions
    began: float = 0.0  # monotonic
    seconds: float = 0.0
    tenths: list[list[float]] = field(default_factory=list)  # push latencies, per tenth
    resubscribed: int = 0
    following: list[int] = field(default_factory=list)  # subscribers following a run

    async def top_up(self) -> None:
        """Start runs, one at a time, until RUNS are in flight (a refusal is an error, and the
        next tick tries again)."""
        while len(self.in_flight) < RUNS:
            try:
                run_id = await live.start_run(self.http, self.server, SAMPLES)
            except (RuntimeError, httpx.HTTPError) as exc:
                self.errors.append(f"startRun: {exc}"[:300])
                return
            self.in_flight[run_id] = time.monotonic()

    async def reap(self) -> None:
        """Drop the runs that ended, counting how."""
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(
                sa.text("SELECT id, status FROM runs WHERE id = ANY(:ids) AND status = ANY(:end)"),
                {"ids": list(self.in_flight), "end": list(TERMINAL_STATUSES)},
            )
            for run_id, status in rows:
                self.durations.append(time.monotonic() - self.in_flight.pop(run_id))
                self.ended[status] = self.ended.get(status, 0) + 1
                if status != "COMPLETED":
                    self.errors.append(f"run {run_id} ended {status}")

    async def sample_forever(self) -> None:
        pids = [self.server.pid, *(w.pid for w in self.workers)]
        while True:
            self.memory.append((time.monotonic() - self.began, [rss_mb(pid) for pid in pids]))
            self.flying.append(len(self.in_flight))
            metrics = (
                await self.http.get(self.server.http_url.replace("/graphql", "/metrics"))
            ).text
            self.gauge += [int(float(n)) for n in ACTIVE.findall(metrics)]
            await asyncio.sleep(SAMPLE_SECONDS)

    async def run(self, pipe: Connection) -> None:
        """Keep RUNS in flight until SECONDS have passed, then let them finish."""
        self.began = time.monotonic()
        deadline = self.began + SECONDS
        while self.in_flight or time.monotonic() < deadline:
            await asyncio.sleep(TICK_SECONDS)
            await self.reap()
            if time.monotonic() < deadline:
                await self.top_up()
            elif time.monotonic() > deadline + DRAIN_SECONDS:
                self.errors.append(f"{len(self.in_flight)} runs still in flight after the soak")
                break
            pipe.send(("live", list(self.in_flight)))
        self.seconds = time.monotonic() - self.began


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """This process's stdout and stderr into `path` for the moment: start_workers' processes
    inherit them, so their logs can be read for errors."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def logged_errors(*logs: Path) -> list[str]:
    """ERROR and CRITICAL lines, each with its traceback's exceptions."""
    found = []
    for log in logs:
        in_traceback = False
        for line in log.read_text(errors="replace").splitlines():
            if LOG_LINE.match(line):
                in_traceback = False
                if LOGGED_ERROR.match(line):
                    found.append(f"{log.name}: {line}")
            elif line.startswith("Traceback "):
                in_traceback = True
            elif in_traceback and line and not line.startswith((" ", "During ", "The above ")):
                # Each exception of the chain, on the ERROR line that logged it.
                found[-1:] = [f"{found[-1]} | {line}" if found else f"{log.name}: {line}"]
    return found


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    """Least squares over the second half of the samples (the first is warm-up)."""
    tail = points[len(points) // 2 :]
    if len(tail) < 2:
        return 0.0
    seconds, mb = zip(*tail, strict=True)
    return statistics.linear_regression(seconds, mb).slope * 60


# Reporting


def report_runs(soak: Soak) -> None:
    started = sum(soak.ended.values()) + len(soak.in_flight)
    others = ", ".join(f"{n} {s}" for s, n in soak.ended.items() if s != "COMPLETED")
    print(
        f"soak: {soak.seconds:.0f} s, {RUNS} runs kept in flight (sampled median "
        f"{statistics.median(soak.flying or [0]):.0f}), {SUBSCRIBERS:,} runProgress "
        f"subscribers (following a run: median {statistics.median(soak.following or [0]):.0f}, "
        f"server's gauge {statistics.median(soak.gauge or [0]):.0f}; "
        f"{soak.resubscribed:,} re-subscriptions), serve + {PROCESSES} workers: {started:,} "
        f"runs started, {soak.ended.get('COMPLETED', 0):,} COMPLETED"
        + (f", {others}" if others else "")
        + (f", {len(soak.in_flight)} unfinished" if soak.in_flight else "")
        + f"; median run {statistics.median(soak.durations or [0]):.1f} s",
        flush=True,
    )


def report_errors(errors: list[str]) -> None:
    """The count, then each kind's count and its first instance, most frequent first."""
    kinds = collections.Counter(VARYING.sub("#", error) for error in errors)
    first: dict[str, str] = {}
    for error in errors:
        first.setdefault(VARYING.sub("#", error), error)
    shown = "; ".join(f"{n} x {first[kind][:3000]}" for kind, n in kinds.most_common(6))
    print(f"soak: errors {len(errors)} (target 0)" + (f": {shown}" if shown else ""), flush=True)


def report_latency(tenths: list[list[float]]) -> None:
    p95 = [live.percentile(t, 0.95) * 1000 if t else float("nan") for t in tenths]
    p50 = [live.percentile(t, 0.5) * 1000 if t else float("nan") for t in tenths]
    print(
        f"soak: push latency (arrival - event's `at`) per {SECONDS / 10:.0f} s, ms: "
        f"p95 {' '.join(f'{v:.0f}' for v in p95)} | p50 {' '.join(f'{v:.0f}' for v in p50)} "
        f"| {sum(map(len, tenths)):,} messages",
        flush=True,
    )
    worst = max((v for v in p95 if v == v), default=float("inf"))  # v == v: not NaN
    report(
        "soak push latency p95, worst tenth",
        worst,
        live.TARGET_MS,
        "ms",
        "<= 1.0x",
        "limit = live's p95 target at 1,000 subscribers",
    )


def report_memory(soak: Soak) -> None:
    names = ["serve", *(f"worker {i + 1}" for i in range(PROCESSES))]
    for index, name in enumerate(names):
        points = [(at, mbs[index]) for at, mbs in soak.memory]
        slope = slope_mb_per_min(points)
        series = " ".join(f"{mb:.0f}" for _, mb in points)
        report(
            f"soak memory slope after warm-up, {name}",
            slope,
            SLOPE_MB_PER_MIN,
            "MB/min",
            "<= 1.0x",
            f"{'UPWARD' if slope > SLOPE_MB_PER_MIN else 'flat'}; "
            f"MB every {SAMPLE_SECONDS:.0f} s: {series}",
        )


def report_connections(soak: Soak) -> None:
    middle = soak.began + soak.seconds / 2
    first = soak.counter.peak(soak.began, middle)
    second = soak.counter.peak(middle, soak.began + soak.seconds)
    report(
        "soak pg connections, most in 2nd half",
        second,
        first + CONNECTION_SLACK,
        "connections",
        "<= 1.0x",
        f"{'bounded' if second <= first + CONNECTION_SLACK else 'GROWING'}; limit = the "
        f"1st half's most ({first}) + {CONNECTION_SLACK}; serve's and the workers'",
    )


# The whole


async def soak(url: str, data_dir: Path) -> Soak:
    """The soak against serve and the workers; their logs are read once they have stopped."""
    mine = make_url(url).update_query_dict({"application_name": live.BENCH_APP})
    db = Database(mine.render_as_string(hide_password=False), pool_size=2, max_overflow=0)
    counter = live.ConnectionCounter(url)
    counting = asyncio.create_task(counter.sample_forever())
    logs = [data_dir / f"worker{i + 1}.log" for i in range(PROCESSES)]
    try:
        with live.serving(url, data_dir) as server:
            workers = []
            for log in logs:
                with output_to(log):
                    workers += start_workers(url, 1, CONCURRENCY)
            try:
                async with httpx.AsyncClient(timeout=120) as http:
                    state = Soak(server, workers, db, http, counter)
                    await state.top_up()
                    if not state.in_flight:
                        raise RuntimeError(f"no run started: {state.errors}")
                    await drive(state)
            finally:
                stop(workers)
    finally:
        counting.cancel()
        await asyncio.gather(counting, return_exceptions=True)
        await db.dispose()
    state.errors += logged_errors(data_dir / "stderr", *logs)
    return state


async def drive(state: Soak) -> None:
    async with subscribers(state.server, list(state.in_flight)) as pipe:
        sampling = asyncio.create_task(state.sample_forever())
        try:
            await state.run(pipe)
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
            pipe.send(("stop",))
        state.tenths, errors, state.resubscribed, state.following = await live.receive(pipe, 300)
        state.errors += errors


async def run() -> None:
    with fresh_database() as url, tempfile.TemporaryDirectory() as data_dir:
        state = await soak(url, Path(data_dir))
    report_runs(state)
    report_errors(state.errors)
    report_latency(state.tenths)
    report_memory(state)
    report_connections(state)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
