"""`valuerank watch` against `valuerank serve`, both real processes: a run executed by the
server's own workers with the simulated provider, then the exits a user can meet."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.workers import FAST

ROOT = Path(__file__).resolve().parents[2]
START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""
CANCEL = """mutation($id: ID!) { cancelRun(runId: $id) { status } }"""
DEMO = {"definitionId": "demo-definition-honesty", "models": ["sim-instant", "sim-steady"]}


@dataclass(frozen=True)
class Server:
    url: str
    key: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(database_url: str, data_dir: Path, **env: str) -> Iterator[Server]:
    """`valuerank serve` on this test's database, stopped with SIGTERM; its log in serve.log."""
    environment = {
        **os.environ,
        **FAST,
        "DATABASE_URL": database_url,
        "PORT": str(_free_port()),
        "DATA_DIR": str(data_dir),
        **env,
    }
    with (data_dir / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        yield _read_banner(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The server with its workers: runs execute, with the simulated provider."""
    with serve(database_url, tmp_path) as running:
        yield running


@pytest.fixture
def idle_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The server without workers: a run stays where the test puts it."""
    with serve(database_url, tmp_path, RUN_WORKERS="false") as running:
        yield running


def _read_banner(proc: subprocess.Popen[str]) -> Server:
    lines: dict[str, str] = {}
    assert proc.stdout is not None
    while len(lines) < 2:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early with {proc.wait()}; see serve.log")
        if match := re.match(r"^(GraphiQL|API key): (\S+)$", line.strip()):
            lines[match.group(1)] = match.group(2)
    return Server(url=lines["GraphiQL"], key=lines["API key"])


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
    assert refused.stderr == "watch: the server refused the API key (4403)\n"
