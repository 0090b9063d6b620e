"""Real worker processes (`python -m workers`) for tests, and waiting for a run to settle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.db import Database

ROOT = Path(__file__).resolve().parent.parent
# Fast enough for tests: quick polls, short backoff, a sweep every two seconds.
FAST = {
    "POLL_SECONDS": "0.2",
    "RETRY_BASE_SECONDS": "0.2",
    "RECOVERY_CRON": "* * * * * */2",
    "STALLED_WORKER_SECONDS": "3",
    "LOG_LEVEL": "warning",
}


def start_worker(
    database_url: str, *, log: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m workers` on `database_url`; its log goes to the file `log` when given."""
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log.open("ab")) if log is not None else None
        return subprocess.Popen(
            [sys.executable, "-m", "workers", "--database-url", database_url],
            cwd=ROOT,
            env={**os.environ, **FAST, **env},
            stdin=subprocess.DEVNULL,
            stderr=stderr,
        )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def workers(
    database_url: str, count: int = 1, **env: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = [start_worker(database_url, **env) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            stop_worker(process)


async def run_status(db: Database, run_id: str) -> str:
    async with db.session() as session:
        status = (
            await (await session.connection()).execute(
                sa.text("SELECT status FROM runs WHERE id = :id"), {"id": run_id}
            )
        ).scalar_one()
    return str(status)


async def wait_for_status(
    db: Database, run_id: str, wanted: set[str], *, within: float = 90.0
) -> str:
    """Poll until the run reaches one of `wanted` (a generous deadline, not a timing check)."""
    deadline = time.monotonic() + within
    status = ""
    while time.monotonic() < deadline:
        status = await run_status(db, run_id)
        if status in wanted:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} still {status}, wanted {sorted(wanted)}")


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.session() as session:
        return (await (await session.connection()).execute(sa.text(sql), params)).scalar()


async def wait_until(db: Database, sql: str, *, within: float = 60.0, **params: Any) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await scalar(db, sql, **params):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {sql}")


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction() as session:
        await (await session.connection()).execute(sa.text(sql), params)


async def add_model(db: Database, model_id: str, api_config: dict[str, object]) -> None:
    """A simulated model priced at $1 / $2 per million tokens, configured by `api_config`."""
    await execute(
        db,
        """
        INSERT INTO llm_models (id, provider_id, model_id, display_name, cost_input_per_million,
                                cost_output_per_million, api_config)
        SELECT :id, id, :model, :model, 1.0, 2.0, CAST(:config AS jsonb)
        FROM llm_providers WHERE name = 'simulated'
        """,
        id=f"m-{model_id}",
        model=model_id,
        config=json.dumps(api_config),
    )


async def assert_one_transcript_per_slot(db: Database, run_id: str, slots: int) -> None:
    """Nothing lost, nothing doubled: exactly one transcript for each of the run's slots."""
    stored = await scalar(
        db,
        """SELECT count(DISTINCT (scenario_id, model_id, sample_index)) || '/' || count(*)
           FROM transcripts WHERE run_id = :r""",
        r=run_id,
    )
    assert stored == f"{slots}/{slots}"
