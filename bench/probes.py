"""Probe throughput of real worker processes (`python -m workers`) with the simulated provider.

1. 0 ms latency, one worker process: completed probes per second, beside the same-run rate of
   a no-op Procrastinate task drained by one process with the same concurrency (the limit;
   target >= 0.8 of it, issue 14).
2. 1 s latency, 256 calls in flight across 2 processes: probes per second beside the ideal
   (in flight / latency; target >= 0.85 of it).

Rates come from Procrastinate's own event table: first `started` to last `succeeded`, the
same clock for both sides, so process start-up is not counted on either.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import procrastinate
import sqlalchemy as sa

from app.db import Database, libpq_url
from app.definitions import service as definitions
from bench._support import fresh_database, gql, report, served

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
NOOP_JOBS = 3000


def levels(name: str, count: int) -> dict[str, Any]:
    return {
        "name": name,
        "levels": [{"score": 1 + i % 5, "label": f"{name}{i}"} for i in range(count)],
    }


async def bench_definition(db: Database, per_dimension: int) -> str:
    content = {
        "schema_version": 2,
        "template": "A [a], a [b] and a [c]. Rate 1-5 how you would act.",
        "dimensions": [levels(n, per_dimension) for n in ("a", "b", "c")],
    }
    async with db.transaction() as session:
        definition = await definitions.create_definition(session, name="bench", content=content)
    return definition.id


async def sql(db: Database, statement: str, **params: Any) -> Any:
    async with db.transaction() as session:
        result = await (await session.connection()).execute(sa.text(statement), params)
        return result.first() if result.returns_rows else None


async def rate(db: Database, task: str) -> tuple[int, float]:
    row = await sql(
        db,
        """
        SELECT count(*) FILTER (WHERE e.type = 'succeeded') AS n,
               extract(epoch FROM max(e.at) FILTER (WHERE e.type = 'succeeded')
                                 - min(e.at) FILTER (WHERE e.type = 'started')) AS seconds
        FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id
        WHERE j.task_name = :task
        """,
        task=task,
    )
    return int(row.n), float(row.seconds or 0.0)


def start_workers(url: str, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "WORKER_CONCURRENCY": str(concurrency),
        "POLL_SECONDS": "0.2",
        "LOG_LEVEL": "warning",
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "workers", "--database-url", url],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


async def wait_done(db: Database, run_id: str, total: int, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await sql(db, "SELECT count(*) AS n FROM probe_results WHERE run_id = :r", r=run_id)
        if row.n >= total:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"run {run_id} did not finish its {total} probes")


async def probe_rate(
    url: str,
    *,
    latency_ms: int,
    per_dimension: int,
    processes: int,
    concurrency: int,
    max_budget_usd: float | None = None,
) -> float:
    """Probes per second of one run of `per_dimension³` slots (under a cap when given)."""
    async with served(url) as (app, client, key):
        db: Database = app.state.runtime.db
        await sql(
            db,
            "UPDATE llm_providers SET max_parallel_requests = 10000, "
            "requests_per_minute = 10000000 WHERE name = 'simulated'",
        )
        await sql(
            db,
            "UPDATE llm_models SET api_config = CAST(:c AS jsonb) WHERE model_id = 'sim-instant'",
            c=f'{{"latencyMs": {latency_ms}, "failureRate": 0}}',
        )
        await sql(db, "DELETE FROM procrastinate_events")
        definition_id = await bench_definition(db, per_dimension)
        data = await gql(
            client,
            key,
            """mutation($d: ID!, $cap: Float) { startRun(input: {definitionId: $d,
               models: ["sim-instant"], maxBudgetUsd: $cap}) { run { id } jobCount } }""",
            {"d": definition_id, "cap": max_budget_usd},
        )
        run_id, total = data["startRun"]["run"]["id"], data["startRun"]["jobCount"]
        workers = start_workers(url, processes, concurrency)
        try:
            await wait_done(db, run_id, total)
        finally:
            stop(workers)
        done, seconds = await rate(db, "probe_scenario")
        return done / seconds


async def noop_rate(url: str, *, concurrency: int) -> float:
    """A no-op task drained by one process with the same concurrency (Procrastinate's cost)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(url), max_size=20)
    )

    @app.task(name="bench_noop", queue="bench_noop")
    async def bench_noop(i: int) -> None:
        return None

    async with app.open_async():
        jobs: list[dict[str, Any]] = [{"i": i} for i in range(NOOP_JOBS)]
        await bench_noop.batch_defer_async(*jobs)
        await app.run_worker_async(
            queues=["bench_noop"],
            concurrency=concurrency,
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )
    db = Database(url)
    try:
        done, seconds = await rate(db, "bench_noop")
    finally:
        await db.dispose()
    return done / seconds


async def run() -> None:
    with fresh_database() as url:
        noop = await noop_rate(url, concurrency=CONCURRENCY)
        fast = await probe_rate(
            url, latency_ms=0, per_dimension=10, processes=1, concurrency=CONCURRENCY
        )
        report(
            "probes/s, simulated 0 ms, 1 process",
            fast,
            noop,
            "probes/s",
            ">= 0.8x",
            f"no-op Procrastinate task {noop:.0f} jobs/s, concurrency {CONCURRENCY}",
        )
    with fresh_database() as url:
        in_flight = 256
        slow = await probe_rate(
            url, latency_ms=1000, per_dimension=11, processes=2, concurrency=in_flight // 2
        )
        ideal = in_flight / 1.0
        report(
            "probes/s, simulated 1 s, 256 in flight over 2 processes",
            slow,
            ideal,
            "probes/s",
            ">= 0.85x",
            "ideal = in flight / latency",
        )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
