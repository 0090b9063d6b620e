"""`valuerank watch` against `valuerank serve`, both real processes: a run executed by the
server's own workers with the simulated provider, then the exits a user can meet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve import ROOT, Server, served
from tests.workers import FAST

START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""
CANCEL = """mutation($id: ID!) { cancelRun(runId: $id) { status } }"""
DEMO = {"definitionId": "demo-definition-honesty", "models": ["sim-instant", "sim-steady"]}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The server with its workers: runs execute, with the simulated provider."""
    with served(database_url, tmp_path, **FAST) as running:
        yield running


@pytest.fixture
def idle_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The server without workers: a run stays where the test puts it."""
    with served(database_url, tmp_path, **FAST, RUN_WORKERS="false") as running:
        yield running


def post(server: Server, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        server.url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def start_run(server: Server) -> tuple[str, int]:
    started = post(server, START, {"input": DEMO})["startRun"]
    return started["run"]["id"], int(started["jobCount"])


def watch(server: Server, run_id: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "watch", run_id, "--url", server.url, "--api-key", key],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "warning"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_watch_follows_a_run_to_completion(server: Server) -> None:
    run_id, jobs = start_run(server)
    result = watch(server, run_id, server.key)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) >= 2, result.stdout
    assert lines[-1].startswith(f"Run {run_id} COMPLETED: {jobs} done  0 failed / {jobs}")
    progress = lines[:-1]
    assert progress[-1].startswith("COMPLETED")
    assert f"{jobs} done" in progress[-1] and "100.0%" in progress[-1]
    done = [int(re.findall(r"(\d+) done", line)[0]) for line in progress]
    assert done == sorted(done)
    assert all(
        line.split()[0] in {"PENDING", "RUNNING", "SUMMARIZING", "COMPLETED"} for line in progress
    )


def test_a_cancelled_run_exits_1(idle_server: Server) -> None:
    run_id, jobs = start_run(idle_server)
    assert post(idle_server, CANCEL, {"id": run_id})["cancelRun"]["status"] == "CANCELLED"

    result = watch(idle_server, run_id, idle_server.key)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        f"Run {run_id} CANCELLED: 0 done  0 failed / {jobs}"
    )


def test_watch_refuses_an_unknown_run_and_a_wrong_key(idle_server: Server) -> None:
    unknown = watch(idle_server, "nope", idle_server.key)
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr == "watch: Run not found: nope\n"

    refused = watch(idle_server, "nope", "not-a-key")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        "watch: the server refused the API key (4403: Invalid API key: it is unknown or revoked.)\n"
    )
