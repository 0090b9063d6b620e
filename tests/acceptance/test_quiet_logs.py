"""What an operator reads, from real processes: a run with planned retries logs no
traceback, and a busy port is one line naming PORT."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from app.db import Database
from tests.factories import gql
from tests.workers import ROOT, add_model, start_worker, stop_worker, wait_for_status

START = "mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"


async def test_a_run_with_planned_retries_logs_no_traceback(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str, tmp_path: Path
) -> None:
    await add_model(db, "sim-half-failing", {"failureRate": 0.5})
    body = await gql(
        app_client,
        START,
        {"input": {"definitionId": "demo-definition-honesty", "models": ["sim-half-failing"]}},
        key=admin_key,
    )
    run_id = body["data"]["startRun"]["run"]["id"]
    log = tmp_path / "worker.log"
    # DEBUG shows Procrastinate's per-job lines, retries included; MAX_ATTEMPTS=2 makes half
    # the slots retry once and fail for good, which the probe stores (not a bug either).
    worker = start_worker(
        database_url,
        log=log,
        LOG_LEVEL="debug",
        LOG_FORMAT="json",
        MAX_ATTEMPTS="2",
        RETRY_BASE_SECONDS="0",
    )
    try:
        await wait_for_status(db, run_id, {"COMPLETED", "FAILED"})
    finally:
        stop_worker(worker)
    text = log.read_text()
    assert ("Error, to retry" in text and "SERVER_ERROR" in text) or "simulated failure" in text
    assert "Traceback" not in text, text[-3000:]


def test_a_busy_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port), "DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "in use" in line and "PORT=" in line
    assert done.stdout == ""
