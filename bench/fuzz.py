"""10,000 requests a careless or hostile client might send, against `valuerank serve` in its own
process on a fresh database: the contract of tests/fuzzing.py counted rather than asserted.

The mix: 5,000 schema-driven operations (hypothesis-graphql documents, valid or with one schema
violation, as literals or variables, admin or viewer key), 4,000 malformed requests (drawn by
hypothesis, plus byte-level mutations of valid documents), 1,000 amplification and size probes
(the doubling-fragment and 150-alias documents, bodies at and over the cap, deep and long
documents, other HTTP methods), each with admin, viewer, bad or missing keys.

Printed: counts by HTTP status and by error code, the contract's violations (unexpected errors
and 5xx: target 0), ERROR lines in the server's log (target 0), p50/p99 latency of one request
at a time, and the server's peak RSS (VmHWM; workers are off, so it is one process).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bench._support import fresh_database, report
from tests import fuzzing
from tests.serve import Server, start_server, stop_server

TOTAL = 10_000
SCHEMA_DRIVEN, MALFORMED = 5_000, 4_000
# hypothesis-graphql takes ~80 ms to draw one document: a pool, varied per request, keeps the
# bench to minutes.
VALID_POOL, VIOLATION_POOL, MALFORMED_POOL = 500, 200, 1_500
KNOWN = """{ definitions(limit: 20) { id scenarios(limit: 3) { id } }
  llmProviders { id name } llmModels { id modelId } }"""
SEED = 20_260_101


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    unexpected: int = 0
    # Connections the server closed without an answer (e.g. under a body still being sent).
    dropped: list[str] = field(default_factory=list)

    def add(self, request: fuzzing.Request, response: httpx.Response, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[response.status_code] += 1
        content_type = response.headers.get("content-type", "")
        found = fuzzing.violations(request, response.status_code, content_type, response.content)
        self.violations += [f"{problem} <- {_describe(request)}" for problem in found]
        self.unexpected += sum("unexpected error" in problem for problem in found)
        if content_type.startswith("application/json"):
            with contextlib.suppress(ValueError, AttributeError):
                self.codes.update(set(fuzzing.error_codes(response.json())))


def _describe(request: fuzzing.Request) -> str:
    shown = request.content[:160] or request.query_string[:160].encode()
    return f"{request.method} {request.headers.get('Content-Type', '')!r} {shown!r}"


# --- drawing the requests ----------------------------------------------------------------------


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` examples of `strategy`, derandomized so that every run sends the same ones."""
    examples: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        examples.append(example)

    collect()
    return examples


def schema_driven(known: list[str], keys: fuzzing.Keys, rng: random.Random) -> list[Any]:
    """Pools of generated operations, each sent as drawn or with the other key."""
    pool = drawn(fuzzing.operations(known, keys, valid=True), VALID_POOL)
    pool += drawn(fuzzing.operations(known, keys, valid=False), VIOLATION_POOL)
    return [_other_key(rng.choice(pool), keys, rng) for _ in range(SCHEMA_DRIVEN)]


def _other_key(request: fuzzing.Request, keys: fuzzing.Keys, rng: random.Random) -> Any:
    if rng.random() < 0.5:
        return request
    viewer = request.headers["Authorization"] != f"Bearer {keys.viewer}"
    is_mutation = json.loads(request.content)["query"].lstrip().startswith("mutation")
    return fuzzing.Request(
        "POST",
        fuzzing.authorized(keys.viewer if viewer else keys.admin),
        request.content,
        is_viewer_mutation=viewer and is_mutation,
    )


def malformed(keys: fuzzing.Keys, valid: list[Any], rng: random.Random) -> list[Any]:
    """Drawn malformed requests, and byte-level mutations of valid documents."""
    requests = drawn(fuzzing.malformed(keys), MALFORMED_POOL)
    while len(requests) < MALFORMED:
        requests.append(_mutated(rng.choice(valid), rng))
    return requests


def _mutated(request: fuzzing.Request, rng: random.Random) -> fuzzing.Request:
    """A valid request with a few bytes flipped, cut, duplicated or replaced by NUL or a
    surrogate's UTF-8 bytes."""
    content = bytearray(request.content)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(content))
        choice = rng.randrange(5)
        if choice == 0:
            content[at] = rng.randrange(256)
        elif choice == 1:
            del content[at:]
        elif choice == 2:
            content[at:at] = content[at : at + rng.randint(1, 50)] * rng.randint(2, 20)
        elif choice == 3:
            content[at:at] = b"\\u0000"
        else:
            content[at:at] = rng.choice([b"\xed\xa0\x80", b"\\ud800", b"{", b"}", b'"'])
        if not content:
            break
    return fuzzing.Request(request.method, request.headers, bytes(content))


def amplification(keys: fuzzing.Keys, rng: random.Random) -> list[fuzzing.Request]:
    """Documents that cost much more to run than to write, bodies at and past the cap, and
    methods /graphql does not serve."""
    makers: list[Callable[[], fuzzing.Request]] = [
        lambda: _document(keys, rng, _doubling_fragments(rng.randint(5, 60))),
        lambda: _document(keys, rng, _amplifying_aliases(rng.choice([1, 50, 150, 500]))),
        lambda: _document(keys, rng, "{ definitionCount }" + " " * rng.choice([1 << 19, 1 << 20])),
        lambda: _document(keys, rng, "{ " + "definitionCount " * rng.randint(100, 6_000) + "}"),
        lambda: _document(keys, rng, '{ run(id: "' + "x" * rng.randint(1, 1 << 20) + '") { id } }'),
        lambda: _document(keys, rng, _deep_selection(rng.randint(10, 3_000))),
        lambda: _document(keys, rng, _many_operations(rng.randint(2, 2_000))),
        lambda: _method(keys, rng),
    ]
    return [rng.choice(makers)() for _ in range(TOTAL - SCHEMA_DRIVEN - MALFORMED)]


def _key(keys: fuzzing.Keys, rng: random.Random) -> tuple[dict[str, str], bool]:
    """Headers with the admin's, the viewer's, a bad or no key; and whether it is refused."""
    kind = rng.choice(["admin", "viewer", "bad", "missing"])
    if kind == "missing":
        return {"Content-Type": "application/json"}, True
    key = getattr(keys, kind) if kind != "bad" else "vrk_" + "0" * 43
    return fuzzing.authorized(key), kind == "bad"


def _document(keys: fuzzing.Keys, rng: random.Random, document: str) -> fuzzing.Request:
    headers, refused = _key(keys, rng)
    return fuzzing.Request("POST", headers, fuzzing.body({"query": document}), expects_401=refused)


def _method(keys: fuzzing.Keys, rng: random.Random) -> fuzzing.Request:
    headers, refused = _key(keys, rng)
    method = rng.choice(["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
    query_string = "query=%7B%20definitionCount%20%7D" if method == "GET" else ""
    # A method /graphql does not serve is refused first (405), whatever the key.
    answered_405 = method not in ("GET", "HEAD", "POST")
    return fuzzing.Request(
        method, headers, query_string=query_string, expects_401=refused and not answered_405
    )


def _doubling_fragments(levels: int) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ definitionCount }}")
    return "query { ...F0 } " + " ".join(fragments)


def _amplifying_aliases(count: int) -> str:
    fields = " ".join(
        f"a{i}: definitions {{ scenarios {{ definition {{ runs {{ id name status }} }} }} }}"
        for i in range(count)
    )
    return "{ " + fields + " }"


def _deep_selection(depth: int) -> str:
    return "{ " + "definitions { parent { " * depth + "id" + " } }" * depth + " }"


def _many_operations(count: int) -> str:
    return " ".join(f"query Q{i} {{ definitionCount }}" for i in range(count))


# --- sending them ------------------------------------------------------------------------------


def send_all(server: Server, requests: list[fuzzing.Request]) -> Tally:
    """One request at a time, so that each latency is the server's alone."""
    tally = Tally()
    with httpx.Client(timeout=120) as client:
        for request in requests:
            url = server.url + (f"?{request.query_string}" if request.query_string else "")
            start = time.perf_counter()
            try:
                response = client.request(
                    request.method, url, headers=request.headers, content=request.content or None
                )
            except httpx.TransportError as exc:
                tally.dropped.append(f"{type(exc).__name__}: {exc} <- {_describe(request)}")
                continue
            tally.add(request, response, time.perf_counter() - start)
    return tally


def _floor(keys: fuzzing.Keys) -> list[fuzzing.Request]:
    document = fuzzing.body({"query": "{ __typename }"})
    return [fuzzing.Request("POST", fuzzing.authorized(keys.admin), document)] * 200


def known_ids(server: Server) -> list[str]:
    response = httpx.post(
        server.url, json={"query": KNOWN}, headers={"Authorization": f"Bearer {server.key}"}
    )
    found: set[str] = set()
    _collect(response.json()["data"], found)
    return sorted(found)


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        found.update(v for k, v in value.items() if k in ("id", "modelId", "name"))
        for inner in value.values():
            _collect(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _collect(inner, found)


def viewer_key(database_url: str) -> str:
    import asyncio

    from app import auth
    from app.db import Database

    async def create() -> str:
        db = Database(database_url)
        try:
            async with db.transaction() as session:
                _, raw = await auth.create_api_key(session, role="VIEWER", name="fuzz")
            return raw
        finally:
            await db.dispose()

    return asyncio.run(create())


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


@dataclass
class ServerLog:
    """The server's stderr, drained by a thread (a full pipe would stall the server)."""

    stream: IO[str]
    errors: list[str] = field(default_factory=list)
    # A bug's whole record (its message and traceback), to print after the figures.
    details: list[str] = field(default_factory=list)

    def drain(self) -> None:
        in_traceback = False
        for line in self.stream:
            text = line.rstrip()
            if " ERROR " in text[:40] or text.startswith("Traceback"):
                self.errors.append(text)
                in_traceback = True
            elif not line[:1].isspace() and not text.startswith(("Traceback", "During")):
                in_traceback = in_traceback and not text[:4].isdigit()
            if in_traceback and len(self.details) < 200:
                self.details.append(text)


@dataclass
class Served:
    server: Server
    log: ServerLog


@contextlib.contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[Served]:
    server = start_server(
        database_url,
        data_dir,
        stderr=subprocess.PIPE,
        RUN_WORKERS="false",
        LOG_LEVEL="warning",
    )
    assert server.process.stderr is not None and server.process.stdout is not None
    log = ServerLog(server.process.stderr)
    threading.Thread(target=log.drain, daemon=True).start()
    threading.Thread(target=server.process.stdout.read, daemon=True).start()
    try:
        yield Served(server, log)
    finally:
        stop_server(server)


# --- the figures ---------------------------------------------------------------------------------


def print_figures(tally: Tally, log: ServerLog, floor: float, rss: float) -> None:
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
    codes = ", ".join(f"{c}: {n}" for c, n in tally.codes.most_common())
    print(f"fuzz: {sum(tally.statuses.values()):,} requests by status: {statuses}", flush=True)
    print(f"fuzz: answers by error code: {codes}", flush=True)
    fives = sum(n for s, n in tally.statuses.items() if s >= 500)
    # Targets of zero: a ratio means nothing, the count is the figure.
    print(
        f"fuzz: unexpected errors {tally.unexpected} (target 0); 5xx {fives} (target 0); "
        f"contract violations {len(tally.violations)} (target 0); ERROR lines in the server "
        f"log {len(log.errors)} (target 0)",
        flush=True,
    )
    print(f"fuzz: connections closed without an answer {len(tally.dropped)}", flush=True)
    for line in (tally.violations + log.errors + tally.dropped)[:12]:
        print(f"  {line[:400]}", flush=True)
    for line in log.details[:80]:
        print(f"  | {line[:300]}", flush=True)
    ordered = sorted(tally.latencies)
    p50, p99 = statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000
    report(
        "fuzz: latency p50, one request at a time",
        p50,
        floor * 1000,
        "ms",
        "report",
        f"p99 {p99:.1f} ms, max {ordered[-1] * 1000:.0f} ms; limit = p50 of an authenticated "
        f"{{ __typename }}; server peak RSS {rss:.0f} MiB (VmHWM)",
    )


def run() -> None:
    rng = random.Random(SEED)
    with (
        fresh_database() as url,
        tempfile.TemporaryDirectory() as data_dir,
        serve(url, Path(data_dir)) as served,
    ):
        keys = fuzzing.Keys(admin=served.server.key, viewer=viewer_key(url))
        started = time.perf_counter()
        operations = schema_driven(known_ids(served.server), keys, rng)
        requests = operations + malformed(keys, operations, rng) + amplification(keys, rng)
        rng.shuffle(requests)
        print(f"fuzz: {len(requests):,} requests drawn in {time.perf_counter() - started:.0f} s")
        floor = statistics.median(send_all(served.server, _floor(keys)).latencies)
        tally = send_all(served.server, requests)
        rss = peak_rss_mib(served.server.process.pid)
        print_figures(tally, served.log, floor, rss)


def main() -> None:
    run()


if __name__ == "__main__":
    main()
