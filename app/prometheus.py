"""Prometheus metrics of the server (`/metrics`), with prometheus-client.

Names follow Prometheus conventions (`valuerank_` prefix, `_total` counters, `_seconds`
durations); every label has a bounded set of values: routes are the app's own paths, error
codes are the API's, and operation names (which clients choose) are kept to the first
`MAX_OPERATION_NAMES` seen, as identifiers of at most 64 characters, the rest counted as
`other`. No run, key or request id is ever a label.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

ROUTES = frozenset(
    {
        "/graphql",
        "/healthz",
        "/readyz",
        "/health",
        "/metrics",
        "/export/runs.json",
        "/export/runs.csv",
        "/export/runs/{id}/transcripts.csv",
        "/export/runs/{id}/transcripts.jsonl",
        "/export/runs/{id}/manifest.json",
    }
)
# A run's export: its id becomes `{id}` in the label (a label never holds an id).
_RUN_EXPORT = re.compile(r"^/export/runs/[^/]+/")
MAX_OPERATION_NAMES = 100
ANONYMOUS = "anonymous"
OTHER = "other"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Request durations from a millisecond to a minute.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "valuerank_http_requests_total",
    "HTTP requests answered, by route, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "valuerank_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=_BUCKETS,
)
OPERATIONS = Counter(
    "valuerank_graphql_operations_total",
    "GraphQL operations run, by type, name and outcome (ok, or error when any error came back).",
    ["type", "name", "outcome"],
)
OPERATION_DURATION = Histogram(
    "valuerank_graphql_operation_duration_seconds",
    "Time to run a GraphQL query or mutation (a subscription: to set it up), by type and name.",
    ["type", "name"],
    buckets=_BUCKETS,
)
OPERATION_ERRORS = Counter(
    "valuerank_graphql_errors_total",
    "Errors returned by GraphQL operations, by operation name and error code.",
    ["name", "code"],
)
SUBSCRIPTIONS = Gauge(
    "valuerank_subscriptions_active",
    "Subscriptions open now, by field.",
    ["field"],
)
LISTEN_RECONNECTS = Counter(
    "valuerank_listen_reconnects_total",
    "Times the LISTEN connection feeding subscriptions was re-established after a loss.",
)

# Worker processes (their own /metrics, WORKER_METRICS_PORT).
PROVIDER_CALLS = Counter(
    "valuerank_provider_calls_total",
    "Calls to LLM providers, by provider and outcome (success, or the error kind: "
    "RATE_LIMIT, SERVER_ERROR, TIMEOUT, QUOTA_EXHAUSTED, ..., or aborted).",
    ["provider", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "valuerank_provider_call_duration_seconds",
    "Time one provider call took, whatever its outcome, by provider.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
CALLS_IN_FLIGHT = Gauge(
    "valuerank_provider_calls_in_flight",
    "Provider calls started and not yet answered in this process, by provider.",
    ["provider"],
)
JOBS = Counter(
    "valuerank_jobs_total",
    "Jobs a worker process ran, by queue (probe_<provider>, summarize, maintenance) and "
    "outcome: done, retry (planned: it runs again later), aborted (a cancel or a shutdown) "
    "or error.",
    ["queue", "outcome"],
)
SPEND = Counter(
    "valuerank_spend_usd_total",
    "USD spent on provider calls as the ledger settles them (estimated when the vendor "
    "reported no usage), by provider id and purpose (probe or summary).",
    ["provider_id", "purpose"],
)
QUEUE_JOBS = Gauge(
    "valuerank_queue_jobs",
    "Jobs waiting (todo) or running (doing) in each queue, read from the database at scrape.",
    ["queue", "status"],
)

_names: set[str] = set()
_names_lock = threading.Lock()


@contextlib.contextmanager
def subscribed(field: str) -> Iterator[None]:
    """Counts one open subscription of `field` while the block runs."""
    gauge = SUBSCRIPTIONS.labels(field)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return ANONYMOUS
    if not _NAME.fullmatch(name):
        return OTHER
    with _names_lock:
        if name in _names:
            return name
        if len(_names) < MAX_OPERATION_NAMES:
            _names.add(name)
            return name
    return OTHER


def route_label(path: str) -> str:
    path = _RUN_EXPORT.sub("/export/runs/{id}/", path)
    return path if path in ROUTES else OTHER


class OperationMetrics(SchemaExtension):
    """Counts and times every operation the schema runs, and its errors by code."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        try:
            kind = ctx.operation_type.value
        except RuntimeError:  # the document did not parse, or named no operation
            kind = "unknown"
        name = operation_label(ctx.operation_name)
        OPERATION_DURATION.labels(kind, name).observe(time.perf_counter() - started)
        errors = (ctx.result.errors if ctx.result else None) or ctx.pre_execution_errors or []
        OPERATIONS.labels(kind, name, "error" if errors else "ok").inc()
        for error in errors:
            code = (error.extensions or {}).get("code")
            OPERATION_ERRORS.labels(name, code if isinstance(code, str) else "UNKNOWN").inc()


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by route, method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = route_label(scope["path"])
            HTTP_REQUESTS.labels(route, _method(scope["method"]), str(status)).inc()
            HTTP_DURATION.labels(route).observe(time.perf_counter() - started)


def _method(method: str) -> str:
    return method if method in ("GET", "POST", "OPTIONS", "HEAD") else OTHER


async def metrics(request: Request) -> Response:
    """The Prometheus text format; open like /healthz (it holds counts, no data)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
