"""`valuerank serve` as a real subprocess (uvicorn), for tests that need a real server."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[str]
    url: str  # http://127.0.0.1:<port>/graphql
    key: str  # the local admin key `serve` printed
    console: str = ""  # the runs console's address `serve` printed
    signed_in: str | None = None  # GraphiQL with the local admin key (printed when it made one)

    @property
    def ws_url(self) -> str:
        return "ws://" + self.url.removeprefix("http://")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    database_url: str,
    data_dir: Path,
    *,
    log: Path | None = None,
    stderr: int | IO[str] | None = None,
    **env: str,
) -> Server:
    """Start `serve` and wait for the addresses it prints (GraphiQL, the API key, the runs
    console, GraphiQL signed in); its log (and its worker
    process's) goes to the file `log`, or to `stderr` (a pipe, say), or nowhere."""
    environment = dict(
        os.environ,
        DATABASE_URL=database_url,
        PORT=str(free_port()),
        DATA_DIR=str(data_dir),
        **env,
    )
    with contextlib.ExitStack() as files:
        if log is not None:
            stderr = files.enter_context(log.open("a"))
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if stderr is None else stderr,
            text=True,
        )
    lines: dict[str, str] = {}
    assert process.stdout is not None
    while "Runs console" not in lines or ("API key" in lines and _more_to_come(lines)):
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early with {process.wait()}")
        if match := re.match(
            r"^(GraphiQL|API key|Runs console|GraphiQL, signed in): (\S+)$", line.strip()
        ):
            lines[match.group(1)] = match.group(2)
    return Server(
        process,
        lines["GraphiQL"],
        lines["API key"],
        lines["Runs console"],
        lines.get("GraphiQL, signed in"),
    )


def _more_to_come(lines: dict[str, str]) -> bool:
    """The signed-in GraphiQL link follows the console's when `serve` made the admin key."""
    return lines["API key"] != "None" and "GraphiQL, signed in" not in lines


def stop_server(server: Server) -> int:
    """SIGTERM, as a supervisor would; uvicorn shuts down gracefully, then re-raises it."""
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        code = server.process.wait()
    assert server.process.stdout is not None
    server.process.stdout.close()
    return code


@contextlib.contextmanager
def served(
    database_url: str, data_dir: Path, *, log: Path | None = None, **env: str
) -> Iterator[Server]:
    server = start_server(database_url, data_dir, log=log, stderr=None, **env)
    try:
        yield server
    finally:
        stop_server(server)
