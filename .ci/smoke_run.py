"""Start `make run` with no DATABASE_URL, read its two lines, query with and without the key,
stop it with SIGTERM, and check it stopped cleanly (embedded PostgreSQL included)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

QUERY = "{ llmProviders { name models { modelId status } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, key: str | None) -> tuple[int, dict]:
    """The status and JSON body of a POST, whatever the status (no key is a 401 with a body)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(
        url, data=json.dumps({"query": QUERY}).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def main() -> int:
    data_dir = tempfile.mkdtemp(prefix="valuerank-smoke-")
    env = dict(os.environ, PORT=str(free_port()), DATA_DIR=data_dir)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "-s", "run"], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    lines: dict[str, str] = {}
    assert proc.stdout is not None
    while len(lines) < 2:
        line = proc.stdout.readline()
        if not line:
            print("make run exited before printing its two lines", file=sys.stderr)
            return 1
        match = re.match(r"^(GraphiQL|API key): (\S+)$", line.strip())
        if match:
            lines[match.group(1)] = match.group(2)
    print(f"make run up in {time.monotonic() - started:.1f}s at {lines['GraphiQL']}")
    try:
        status, body = post(lines["GraphiQL"], lines["API key"])
        assert status == 200, (status, body)
        names = sorted(p["name"] for p in body["data"]["llmProviders"])
        assert "simulated" in names and "openai" in names, body
        status, refused = post(lines["GraphiQL"], None)
        assert status == 401, (status, refused)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
        print(f"answered with key ({len(names)} providers); refused without one")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=30)
    leftover = subprocess.run(["pgrep", "-f", data_dir], capture_output=True, text=True)
    if leftover.stdout.strip():
        print(f"processes still running for {data_dir}: {leftover.stdout}", file=sys.stderr)
        return 1
    print(f"stopped cleanly (exit {code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
