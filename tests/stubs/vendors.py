"""A local server speaking the OpenAI, Anthropic and Gemini wire formats, scripted per test.

    POST /openai/v1/chat/completions
    POST /anthropic/v1/messages
    POST /gemini/v1beta/models/{model}:generateContent
    GET  /_stub/stats     {"received", "inFlight", "maxInFlight"}   (for a standalone server)
    POST /_stub/reset     forget the received requests and the in-flight maximum

In a test (the server runs in a background thread on a free 127.0.0.1 port):

    script = Script().push(rate_limited(retry_after="2"), success("Rating: 4"))
    with serve(script) as stub:
        target = Target(provider="openai", model="gpt-4o", base_url=stub.openai_base_url)
        ...
        assert stub.script.received[0].body["model"] == "gpt-4o"

Each request takes the next scripted Reply; when the queue is empty, `script.default` answers.
A Reply is vendor-neutral and rendered in the wire format of the path that received it.

Standalone (always succeeds with "Rating: 3" after --latency-ms):

    python -m tests.stubs.vendors --port 8900 --latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    import pytest

Vendor = Literal["openai", "anthropic", "gemini"]
DEFAULT_TEXT = "I weighed both sides of this dilemma.\n\nRating: 3\n\nBoth options have merit."

_ids = itertools.count(1)


# Replies ---------------------------------------------------------------------------------

Renderer = Callable[[Vendor, str], Response]


class Gate:
    """Holds the replies made `.until(gate)` until `open()` (a model that stops answering)."""

    def __init__(self) -> None:
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()


@dataclass(frozen=True)
class Reply:
    """One scripted response. `render(vendor, model)` builds it in that vendor's format."""

    render: Renderer
    delay: float = 0.0  # seconds to wait before answering (ends early if the client leaves)
    label: str = ""
    gate: Gate | None = None  # answer only once it is open (ends early if the client leaves)

    def after(self, seconds: float) -> Reply:
        return replace(self, delay=seconds)

    def until(self, gate: Gate) -> Reply:
        return replace(self, gate=gate)


def success(
    *texts: str,
    model_version: str | None = None,
    input_tokens: int = 12,
    output_tokens: int = 8,
) -> Reply:
    """A normal reply. Several texts become several content blocks / parts."""
    pieces = texts or (DEFAULT_TEXT,)

    def render(vendor: Vendor, model: str) -> Response:
        reported = model_version or model
        return JSONResponse(_success_body(vendor, reported, pieces, input_tokens, output_tokens))

    return Reply(render, label="success")


def empty() -> Reply:
    """A 200 with no reply text."""

    def render(vendor: Vendor, model: str) -> Response:
        return JSONResponse(_success_body(vendor, model, (), 12, 0))

    return Reply(render, label="empty")


def refusal() -> Reply:
    """The vendor's own way of saying the content was blocked (a 200)."""

    def render(vendor: Vendor, model: str) -> Response:
        body = _success_body(vendor, model, (), 12, 0)
        if vendor == "openai":
            body["choices"][0]["finish_reason"] = "content_filter"
        elif vendor == "anthropic":
            body["stop_reason"] = "refusal"
        else:
            body = {
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
                "modelVersion": model,
            }
        return JSONResponse(body)

    return Reply(render, label="refusal")


def rate_limited(retry_after: str | None = "2", *, retry_after_ms: str | None = None) -> Reply:
    """A 429 that is a rate limit (not quota exhaustion), with optional Retry-After headers."""
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    messages = {
        "openai": "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
        "anthropic": "Number of requests has exceeded your per-minute rate limit.",
        "gemini": "Resource has been exhausted (e.g. check quota).",
    }
    codes = {"openai": "rate_limit_exceeded"}
    return _error_reply(429, messages, codes=codes, headers=headers, label="rate_limited")


def quota_exhausted() -> Reply:
    """Out of credit, in each vendor's real shape (OpenAI 429, Anthropic 400, Gemini 429)."""
    openai_message = (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, read the docs."
    )
    anthropic_message = (
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits."
    )
    gemini_message = (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )

    def render(vendor: Vendor, model: str) -> Response:
        if vendor == "openai":
            error = {"message": openai_message, "type": "insufficient_quota", "param": None}
            return JSONResponse({"error": {**error, "code": "insufficient_quota"}}, 429)
        if vendor == "anthropic":
            return _error_response(vendor, 400, anthropic_message)
        return _error_response(vendor, 429, gemini_message)

    return Reply(render, label="quota_exhausted")


def unauthorized(message: str = "Invalid API key.") -> Reply:
    return error(401, message)


def server_error(status: int = 500, message: str = "The server had an error.") -> Reply:
    return error(status, message)


def overloaded() -> Reply:
    """Anthropic's 529 (the others answer 503 with the same body shape)."""
    return error(529, "Overloaded")


def error(
    status: int, message: str, *, headers: dict[str, str] | None = None, label: str = ""
) -> Reply:
    """Any error status, with the vendor's usual error body around `message`."""
    return _error_reply(
        status,
        dict.fromkeys(("openai", "anthropic", "gemini"), message),
        headers=headers or {},
        label=label or f"error {status}",
    )


def raw(
    status: int, body: Any, *, headers: dict[str, str] | None = None, label: str = "raw"
) -> Reply:
    """Exactly this JSON body for every vendor."""
    return Reply(lambda vendor, model: JSONResponse(body, status, headers=headers), label=label)


def malformed() -> Reply:
    """A 200 whose body is not JSON."""
    return Reply(
        lambda vendor, model: Response("{not json", 200, media_type="application/json"),
        label="malformed",
    )


def drop() -> Reply:
    """Send the status line and part of the body, then close the connection."""
    return Reply(lambda vendor, model: _DroppedResponse(), label="drop")


def slow(seconds: float, *texts: str) -> Reply:
    """A success that takes `seconds` (longer than the client's timeout, to test timeouts)."""
    return success(*texts).after(seconds)


class _DroppedResponse(Response):
    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"choi', "more_body": True})
        # Returning without finishing the body makes uvicorn close the connection.


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OPENAI_TYPES = {429: "requests", 401: "invalid_request_error", 400: "invalid_request_error"}


def _error_reply(
    status: int,
    messages: dict[str, str],
    *,
    headers: dict[str, str],
    label: str,
    codes: dict[str, str] | None = None,
) -> Reply:
    def render(vendor: Vendor, model: str) -> Response:
        code = (codes or {}).get(vendor)
        return _error_response(vendor, status, messages[vendor], headers=headers, code=code)

    return Reply(render, label=label)


def _error_response(
    vendor: Vendor,
    status: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    body: dict[str, Any]
    if vendor == "openai":
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    elif vendor == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        name = _GEMINI_STATUSES.get(status, "INTERNAL")
        body = {"error": {"code": status, "message": message, "status": name}}
    return JSONResponse(body, status, headers=headers)


def _success_body(
    vendor: Vendor, model: str, texts: Sequence[str], input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    if vendor == "openai":
        message = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
        return {
            "id": f"chatcmpl-stub{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }
    if vendor == "anthropic":
        return {
            "id": f"msg_stub{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text} for text in texts],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    content: dict[str, Any] = {"role": "model"}
    if texts:
        content["parts"] = [{"text": text} for text in texts]
    return {
        "candidates": [{"content": content, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": input_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": input_tokens + output_tokens,
        },
        "modelVersion": model,
        "responseId": f"stub{next(_ids)}",
    }


# Script and recording --------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the stub saw it (header names lower-cased)."""

    vendor: Vendor
    path: str
    query: str
    headers: dict[str, str]
    body: Any  # the decoded JSON, or None when it was not JSON
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds)


@dataclass
class Script:
    """What the stub answers, and what it has seen. Safe to read from the test's thread."""

    default: Reply = field(default_factory=success)
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    disconnected: int = 0  # requests whose client hung up before the reply was sent
    # Consulted before the queue: a reply chosen from the request itself (e.g. by its turn),
    # for tests whose requests arrive in an order load can change.
    rule: Callable[[Received], Reply | None] | None = None
    _queue: deque[Reply] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def push(self, *replies: Reply) -> Script:
        """Answer the next requests with these, in order (then `default`)."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self, default: Reply | None = None) -> None:
        """Forget queued replies, received requests and the in-flight maximum."""
        with self._lock:
            self._queue.clear()
            self.received.clear()
            self.rule = None
            self.max_in_flight = self.in_flight
            if default is not None:
                self.default = default

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def begin(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            chosen = self.rule(received) if self.rule is not None else None
            if chosen is not None:
                return chosen
            return self._queue.popleft() if self._queue else self.default

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "received": len(self.received),
                "inFlight": self.in_flight,
                "maxInFlight": self.max_in_flight,
            }


# The application -------------------------------------------------------------------------


def create_app(script: Script) -> Starlette:
    async def openai(request: Request) -> Response:
        return await _answer(script, request, "openai")

    async def anthropic(request: Request) -> Response:
        return await _answer(script, request, "anthropic")

    async def gemini(request: Request) -> Response:
        return await _answer(script, request, "gemini", model=request.path_params["model"])

    async def stats(request: Request) -> Response:
        return JSONResponse(script.stats())

    async def reset(request: Request) -> Response:
        script.reset()
        return JSONResponse(script.stats())

    return Starlette(
        routes=[
            Route("/openai/v1/chat/completions", openai, methods=["POST"]),
            Route("/anthropic/v1/messages", anthropic, methods=["POST"]),
            Route("/gemini/v1beta/models/{model}:generateContent", gemini, methods=["POST"]),
            Route("/_stub/stats", stats, methods=["GET"]),
            Route("/_stub/reset", reset, methods=["POST"]),
        ]
    )


async def _answer(
    script: Script, request: Request, vendor: Vendor, model: str | None = None
) -> Response:
    raw_body = await request.body()
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    if model is None:
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
    received = Received(
        vendor=vendor,
        path=request.url.path,
        query=request.url.query,
        headers=dict(request.headers),
        body=body,
    )
    reply = script.begin(received)
    try:
        waited = await _sleep_unless_disconnected(request, reply.delay)
        if waited and reply.gate is not None:
            waited = await _hold_unless_disconnected(request, reply.gate)
        if not waited:
            with script._lock:
                script.disconnected += 1
        return reply.render(vendor, model)
    finally:
        script.end()


async def _sleep_unless_disconnected(request: Request, seconds: float) -> bool:
    """Wait, but stop as soon as the client hangs up (so shutdown never waits on a slow reply).
    False when the client hung up."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(min(0.05, remaining))
    return True


async def _hold_unless_disconnected(request: Request, gate: Gate) -> bool:
    """Wait for the gate to open, but stop as soon as the client hangs up (False then)."""
    while not gate.is_open:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(0.05)
    return True


# Running it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StubServer:
    url: str  # http://127.0.0.1:<port>
    script: Script

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/openai/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"{self.url}/anthropic/v1"

    @property
    def gemini_base_url(self) -> str:
        return f"{self.url}/gemini/v1beta"

    def base_url(self, vendor: Vendor) -> str:
        return {
            "openai": self.openai_base_url,
            "anthropic": self.anthropic_base_url,
            "gemini": self.gemini_base_url,
        }[vendor]


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _server(script: Script) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(script),
        log_config=None,  # leave the host process's logging alone
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
        backlog=2048,
    )
    return uvicorn.Server(config)


@contextmanager
def serve(script: Script | None = None, *, host: str = "127.0.0.1") -> Iterator[StubServer]:
    """Run the stub in a background thread on a free port; stop it on exit."""
    script = script if script is not None else Script()
    sock = _listening_socket(host, 0)
    server = _server(script)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="vendor-stub", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the vendor stub did not start")
            time.sleep(0.01)
        port = sock.getsockname()[1]
        yield StubServer(url=f"http://{host}:{port}", script=script)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def openai_stub(
    monkeypatch: pytest.MonkeyPatch, default: Reply | None = None, *, key: str = "sk-test"
) -> Iterator[StubServer]:
    """The stub, with the demo's OpenAI provider pointed at it: OPENAI_BASE_URL and a key set
    for this process and the worker processes it starts. `default` answers every request no
    rule or queued reply takes."""
    with serve() as server:
        if default is not None:
            server.script.reset(default=default)
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        yield server


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.stubs.vendors",
        description="Serve the OpenAI/Anthropic/Gemini stub; every call answers 'Rating: 3'.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each reply")
    args = parser.parse_args(argv)
    script = Script(default=success(DEFAULT_TEXT).after(args.latency_ms / 1000))
    sock = _listening_socket(args.host, args.port)
    port = sock.getsockname()[1]
    # Accepting already (the socket listens): a parent process may connect once it reads this.
    print(f"vendor stub listening on http://{args.host}:{port}", flush=True)
    _server(script).run(sockets=[sock])


if __name__ == "__main__":
    main()
