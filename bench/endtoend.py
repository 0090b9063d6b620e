"""A whole run end to end: startRun of BENCH_ENDTOEND_SLOTS slots (default 100,000) on the
simulated provider at 0 ms, through its probes and summaries to COMPLETED, with the server in
this process and 2 worker processes (`python -m workers`). Target: the total within 5 minutes.

One line starting with `end to end:` gives probes/s and summaries/s (Procrastinate's event
table, first start to last success of each task), the total from startRun to COMPLETED, the
peak number of database connections (sampled every second) and each process's peak memory
(the kernel's high-water mark of its resident set).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import httpx

from app.db import Database
from bench._support import fresh_database, gql, report, served
from bench.probes import bench_definition, rate, sql, start_workers, stop

SLOTS = int(os.environ.get("BENCH_ENDTOEND_SLOTS", "100000"))
SCENARIOS_PER_DIMENSION = 10  # 1,000 scenarios; the samples make up the slots
PROCESSES = 2
CONCURRENCY = 64
LIMIT_SECONDS = 300.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run() -> None:
    scenarios = SCENARIOS_PER_DIMENSION**3
    samples = max(1, min(100, SLOTS // scenarios))
    with fresh_database() as url:
        async with served(url) as (app, client, key):
            await measure(url, app.state.runtime.db, client, key, samples)


async def start_run(db: Database, client: httpx.AsyncClient, key: str, samples: int) -> str:
    await sql(
        db,
        "UPDATE llm_providers SET max_parallel_requests = 10000, "
        "requests_per_minute = 10000000 WHERE name = 'simulated'",
    )
    definition_id = await bench_definition(db, SCENARIOS_PER_DIMENSION)
    data = await gql(
        client,
        key,
        """mutation($d: ID!, $n: Int) { startRun(input: {definitionId: $d,
           models: ["sim-instant"], samplesPerScenario: $n}) { run { id } } }""",
        {"d": definition_id, "n": samples},
    )
    return str(data["startRun"]["run"]["id"])


async def measure(
    url: str, db: Database, client: httpx.AsyncClient, key: str, samples: int
) -> None:
    began = time.monotonic()
    run_id = await start_run(db, client, key, samples)
    workers = start_workers(url, PROCESSES, CONCURRENCY)
    peak_connections, worker_peaks, status = 0, [0.0] * PROCESSES, ""
    try:
        while status not in ("COMPLETED", "FAILED", "CANCELLED"):
            await asyncio.sleep(1.0)
            row = await sql(
                db,
                "SELECT (SELECT status FROM runs WHERE id = :r) AS status, "
                "(SELECT count(*) FROM pg_stat_activity "
                " WHERE datname = current_database()) AS connections",
                r=run_id,
            )
            status = str(row.status)
            peak_connections = max(peak_connections, int(row.connections))
            worker_peaks = [
                max(p, peak_rss_mb(w.pid)) for p, w in zip(worker_peaks, workers, strict=True)
            ]
        seconds = time.monotonic() - began
    finally:
        stop(workers)
    total = int((await sql(db, "SELECT total_slots FROM runs WHERE id = :r", r=run_id)).total_slots)
    probes, probe_seconds = await rate(db, "probe_scenario")
    summaries, summary_seconds = await rate(db, "summarize_transcript")
    server_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"end to end: {total} slots ({status}), probes {probes / probe_seconds:.0f}/s, "
        f"summaries {summaries / summary_seconds:.0f}/s, total {seconds:.1f} s, "
        f"peak connections {peak_connections}, peak memory MB: server {server_mb:.0f}, "
        + ", ".join(f"worker {i + 1} {mb:.0f}" for i, mb in enumerate(worker_peaks)),
        flush=True,
    )
    report(
        f"a {total}-slot run end to end, 2 worker processes",
        seconds,
        LIMIT_SECONDS,
        "s",
        "<= 1.0x",
        "startRun to COMPLETED, probes and summaries",
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
