"""Worker restarts under `serve`: SIGKILL its worker process ten times during one run.

Each kill waits until the worker process has been up for WORKER_STABLE_SECONDS (so every
restart is a "first" one, after WORKER_RESTART_SECONDS) and the run has moved since the last
kill. Restart latency is from the kill to every queue of the replacement being registered in
Procrastinate's worker table (ready to take jobs). Then the run must complete with exactly one
transcript per slot: the killed process's jobs come back through recovery, none doubled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from app.db import Database
from bench._support import fresh_database, report
from bench.live import Server, serving

KILLS = 10
SAMPLES = 100  # x 6 demo scenarios = 600 slots, as in the run that sat at 130/600
RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 30.0
STABLE_SECONDS = 2.0
ENV = {
    "RUN_WORKERS": "true",
    "WORKER_RESTART_SECONDS": str(RESTART_SECONDS),
    "WORKER_RESTART_MAX_SECONDS": str(MAX_RESTART_SECONDS),
    "WORKER_STABLE_SECONDS": str(STABLE_SECONDS),
    "WORKER_CONCURRENCY": "8",
    "POLL_SECONDS": "0.2",
    "RECOVERY_CRON": "* * * * * */2",
    "STALLED_WORKER_SECONDS": "3",
}
START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


async def value(db: Database, sql: str, **params: object) -> int:
    async with db.session() as session:
        return int((await (await session.connection()).exec_driver_sql(sql, params)).scalar() or 0)


async def until(db: Database, sql: str, *, within: float = 300, **params: object) -> None:
    deadline = time.monotonic() + within
    while not await value(db, sql, **params):
        if time.monotonic() > deadline:
            raise RuntimeError(f"never true: {sql}")
        await asyncio.sleep(0.02)


async def start_run(server: Server) -> tuple[str, int]:
    variables = {
        "input": {
            "definitionId": "demo-definition-honesty",
            "models": ["sim-bench-slow"],
            "samplesPerScenario": SAMPLES,
        }
    }
    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.post(
            server.http_url,
            json={"query": START, "variables": variables},
            headers={"Authorization": f"Bearer {server.key}"},
        )
    payload = response.json()["data"]["startRun"]
    return payload["run"]["id"], payload["jobCount"]


async def add_slow_model(db: Database) -> None:
    async with db.transaction() as session:
        await (await session.connection()).exec_driver_sql(
            """INSERT INTO llm_models (id, provider_id, model_id, display_name,
                   cost_input_per_million, cost_output_per_million, api_config)
               SELECT 'm-sim-bench-slow', id, 'sim-bench-slow', 'sim-bench-slow', 1, 2,
                      '{"latencyMs": 300}'::jsonb
               FROM llm_providers WHERE name = 'simulated'"""
        )


async def kill_and_time(db: Database, server: Server, queues: int, run_id: str) -> float:
    """One kill once the worker process is settled; seconds until its replacement is ready."""
    await until(db, "SELECT count(*) >= %(n)s FROM procrastinate_workers", n=queues)
    await asyncio.sleep(STABLE_SECONDS)  # up that long, its next death is a "first" one
    (child,) = children_of(server.pid)
    newest = await value(db, "SELECT coalesce(max(id), 0) FROM procrastinate_workers")
    done = await value(db, "SELECT count(*) FROM transcripts WHERE run_id = %(r)s", r=run_id)
    await until(
        db, "SELECT count(*) > %(d)s FROM transcripts WHERE run_id = %(r)s", r=run_id, d=done
    )
    killed = time.monotonic()
    os.kill(child, signal.SIGKILL)
    await until(
        db,
        "SELECT count(*) >= %(n)s FROM procrastinate_workers WHERE id > %(i)s",
        n=queues,
        i=newest,
    )
    return time.monotonic() - killed


async def run() -> None:
    with (
        fresh_database() as url,
        tempfile.TemporaryDirectory() as data,
        serving(url, Path(data), **ENV) as server,
    ):
        db = Database(url, pool_size=2)
        try:
            await add_slow_model(db)
            queues = await value(db, "SELECT count(*) + 2 FROM llm_providers")
            run_id, slots = await start_run(server)
            latencies = [await kill_and_time(db, server, queues, run_id) for _ in range(KILLS)]
            await until(
                db, "SELECT status = 'COMPLETED' FROM runs WHERE id = %(r)s", r=run_id, within=900
            )
            transcripts = await value(
                db, "SELECT count(*) FROM transcripts WHERE run_id = %(r)s", r=run_id
            )
            doubled = await value(
                db,
                """SELECT count(*) FROM (SELECT 1 FROM transcripts WHERE run_id = %(r)s
                   GROUP BY scenario_id, model_id, sample_index HAVING count(*) > 1) d""",
                r=run_id,
            )
        finally:
            await db.dispose()
    median, worst = statistics.median(latencies), max(latencies)
    floor = f"limit = the first restart delay, {RESTART_SECONDS:g} s, before Python starts"
    report("worker restart latency median", median, RESTART_SECONDS, "s", "<= 3x", floor)
    report("worker restart latency max", worst, MAX_RESTART_SECONDS, "s", "<= 1x", "limit = cap")
    report(
        "transcripts after 10 kills", transcripts, slots, "transcripts", "1.00x", "limit = slots"
    )
    print(f"duplicate transcripts after {KILLS} kills: {doubled} (target 0)", flush=True)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
