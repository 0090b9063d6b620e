"""Exporting a 100,000-transcript run as CSV through the server (`serve`, a real process,
over HTTP) beside PostgreSQL's own `COPY (SELECT ...) TO STDOUT` of the same rows (the limit),
with the server's peak memory growth during the export. Targets: <= 2x, growth < 50 MB."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from app.db import Database, libpq_url
from app.export import transcripts
from bench._support import fresh_database, report
from bench.live import serving
from tests.exports import fill_transcripts

TRANSCRIPTS = 100_000
ROUNDS = 3
MB = 1024 * 1024
RUN = """
INSERT INTO runs (id, definition_id, status, config, total_slots)
SELECT 'bench-export', id, 'COMPLETED', '{"models": ["sim-steady", "sim-instant"]}', :n
FROM definitions ORDER BY created_at LIMIT 1
"""


async def prepare(url: str) -> str:
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            connection = await session.connection()
            await connection.exec_driver_sql(RUN.replace(":n", str(TRANSCRIPTS)))
            await fill_transcripts(session, "bench-export", TRANSCRIPTS)
        autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.exec_driver_sql("VACUUM ANALYZE transcripts")
    finally:
        await db.dispose()
    return "bench-export"


async def through_server(http: httpx.AsyncClient, base: str, key: str, run_id: str) -> int:
    """Bytes of the CSV export, read to the end as a client would."""
    size = 0
    url = f"{base.removesuffix('/graphql')}/export/runs/{run_id}/transcripts.csv"
    headers = {"Authorization": f"Bearer {key}"}
    async with http.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            size += len(chunk)
    return size


async def copy_limit(conn: psycopg.AsyncConnection[object], run_id: str) -> int:
    """Bytes of the same rows from COPY ... TO STDOUT, on a connection already open."""
    copy = "COPY (" + transcripts.csv_select() + ") TO STDOUT WITH (FORMAT csv, HEADER true)"
    statement = sql.SQL(copy).format(run_id=sql.Literal(run_id))
    size = 0
    async with conn.cursor() as cursor, cursor.copy(statement) as out:
        async for data in out:
            size += len(data)
    return size


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs, 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def timed(action: Awaitable[int]) -> tuple[float, int]:
    """Seconds taken and bytes read."""
    start = time.perf_counter()
    size = await action
    return time.perf_counter() - start, size


async def run() -> None:
    with (
        fresh_database() as url,
        tempfile.TemporaryDirectory() as data_dir,
        serving(url, Path(data_dir)) as server,
    ):
        run_id = await prepare(url)
        async with (
            httpx.AsyncClient(timeout=600) as http,
            await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn,
        ):
            # The growth counts from before the first export (cold: whatever it loads or
            # keeps counts too) to the highest point over every export.
            before = memory_kb(server.pid, "VmRSS")
            reset_peak(server.pid)
            await through_server(http, server.http_url, server.key, run_id)  # warm-up
            ours, limit = [], []
            for _ in range(ROUNDS):
                export = through_server(http, server.http_url, server.key, run_id)
                seconds, size = await timed(export)
                ours.append(seconds)
                seconds, copied = await timed(copy_limit(conn, run_id))
                limit.append(seconds)
                assert size == copied, (size, copied)
            growth = memory_kb(server.pid, "VmHWM") - before
    report(
        f"export: transcripts.csv of {TRANSCRIPTS:,} transcripts",
        statistics.median(ours),
        statistics.median(limit),
        "s",
        "<= 2x",
        f"{size / MB:.1f} MB",
    )
    report("export: server peak memory growth", growth / 1024, 50.0, "MB", "< 1x")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
