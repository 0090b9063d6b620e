"""`valuerank watch <runId>`: one run's progress bar, fed by the `runProgress` subscription.

The client speaks graphql-transport-ws by hand (connection_init → connection_ack →
subscribe → next… → complete, answering `ping` with `pong`): one subscription needs no
GraphQL client library. Formatting is pure functions of one `Event`, so it is tested alone.

Exit codes: 0 when the run COMPLETED, 1 when it ended FAILED or CANCELLED, 2 when it could
not be watched (`WatchError`: no key, refused key, unknown run, no server).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from app.runs.models import TERMINAL_STATUSES

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
URL_ENV = "VALUERANK_URL"
API_KEY_ENV = "VALUERANK_API_KEY"
PROTOCOL = Subprotocol("graphql-transport-ws")
SUBSCRIPTION = """subscription($id: ID!) { runProgress(runId: $id) {
  runId status at transcriptId costSoFar estimatedTotalCost estimatedSecondsRemaining
  maxBudgetUsd pauseReason
  runProgress { total completed failed percentComplete }
  summarizeProgress { total completed failed } } }"""
OPERATION_ID = "1"
# graphql-transport-ws: the server closes with 4403 when `connection_init` is refused.
FORBIDDEN = 4403
BAR_WIDTH = 20
STATUS_WIDTH = 12  # SUMMARIZING, the longest status, and a space


class WatchError(Exception):
    """The run could not be watched; the message is the one line the user sees."""


@dataclass(frozen=True, slots=True)
class Counts:
    total: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class Event:
    """One `runProgress` result, as the formatting needs it."""

    status: str
    progress: Counts
    percent: float
    summaries: Counts | None
    cost_so_far: float
    estimated_total_cost: float | None
    seconds_remaining: int | None
    max_budget_usd: float | None = None
    pause_reason: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Event:
        progress = data["runProgress"]
        summaries = data.get("summarizeProgress")
        return cls(
            status=str(data["status"]),
            progress=_counts(progress),
            percent=float(progress["percentComplete"]),
            summaries=None if summaries is None else _counts(summaries),
            cost_so_far=float(data["costSoFar"]),
            estimated_total_cost=_optional_float(data.get("estimatedTotalCost")),
            seconds_remaining=_optional_int(data.get("estimatedSecondsRemaining")),
            max_budget_usd=_optional_float(data.get("maxBudgetUsd")),
            pause_reason=data.get("pauseReason"),
        )


def _counts(data: Mapping[str, Any]) -> Counts:
    return Counts(int(data["total"]), int(data["completed"]), int(data["failed"]))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


# Formatting ------------------------------------------------------------------------------


def format_bar(percent: float, width: int = BAR_WIDTH) -> str:
    """`[#########-----------]` for 45%; full only at 100%."""
    filled = math.floor(min(max(percent, 0.0), 100.0) * width / 100)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def format_percent(percent: float) -> str:
    return f"{percent:5.1f}%"


def format_money(usd: float) -> str:
    # Four decimals: a single simulated or small-model probe costs fractions of a cent.
    return f"${usd:.4f}"


def format_cost(so_far: float, estimated_total: float | None) -> str:
    if estimated_total is None:
        return format_money(so_far)
    return f"{format_money(so_far)} of ~{format_money(estimated_total)}"


def format_budget(so_far: float, cap: float | None) -> str | None:
    """`cap $0.0500 (24%)`: the spend against the run's cap; None without a cap."""
    if cap is None:
        return None
    return f"cap {format_money(cap)} ({so_far / cap * 100:.0f}%)"


def format_status(event: Event) -> str:
    """The status, and why the server paused the run: `PAUSED (BUDGET_EXHAUSTED)`."""
    if event.status == "PAUSED" and event.pause_reason:
        return f"PAUSED ({event.pause_reason})"
    return event.status


def format_eta(seconds: int | None) -> str | None:
    """`ETA 12s`, `ETA 2m05s`, `ETA 1h02m`; None when the server has no estimate."""
    if seconds is None:
        return None
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"ETA {seconds}s"
    if seconds < 3600:
        return f"ETA {seconds // 60}m{seconds % 60:02d}s"
    return f"ETA {seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_counts(counts: Counts) -> str:
    return f"{counts.completed} done  {counts.failed} failed / {counts.total}"


def format_progress(event: Event) -> str:
    """`RUNNING     [####----]  45.0%  9 done  0 failed / 20  $0.0123 of ~$0.0270  ETA 12s`."""
    parts = [
        f"{format_status(event).ljust(STATUS_WIDTH - 1)} {format_bar(event.percent)}",
        format_percent(event.percent),
        format_counts(event.progress),
        format_cost(event.cost_so_far, event.estimated_total_cost),
    ]
    budget = format_budget(event.cost_so_far, event.max_budget_usd)
    if budget is not None:
        parts.append(budget)
    # Once every probe is in, the bar is full and the summaries are what the run waits for.
    if event.status == "SUMMARIZING" and event.summaries is not None:
        parts.append(f"summaries {format_counts(event.summaries)}")
    eta = format_eta(event.seconds_remaining)
    if eta is not None:
        parts.append(eta)
    return "  ".join(parts)


def format_final(run_id: str, event: Event) -> str:
    """`Run abc COMPLETED: 20 done  0 failed / 20  summaries 20 done  0 failed / 20  $0.0270`."""
    parts = [f"Run {run_id} {event.status}: {format_counts(event.progress)}"]
    if event.summaries is not None:
        parts.append(f"summaries {format_counts(event.summaries)}")
    parts.append(format_money(event.cost_so_far))
    budget = format_budget(event.cost_so_far, event.max_budget_usd)
    if budget is not None:
        parts.append(budget)
    return "  ".join(parts)


# Inputs ----------------------------------------------------------------------------------


def resolve_url(explicit: str | None, environ: Mapping[str, str]) -> str:
    return explicit or environ.get(URL_ENV) or DEFAULT_URL


def resolve_api_key(explicit: str | None, environ: Mapping[str, str], key_file: Path) -> str:
    """`--api-key`, else `$VALUERANK_API_KEY`, else the admin key `serve` keeps locally."""
    key = explicit or environ.get(API_KEY_ENV)
    if key:
        return key
    try:
        key = key_file.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        raise WatchError(
            f"no API key: pass --api-key, set {API_KEY_ENV}, or run `valuerank serve` "
            f"once to write {key_file}"
        )
    return key


def websocket_url(url: str) -> str:
    """The GraphQL endpoint's websocket address: http → ws, https → wss."""
    scheme, separator, rest = url.partition("://")
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if not separator or scheme.lower() not in schemes:
        raise WatchError(f"not an http(s) or ws(s) URL: {url}")
    return f"{schemes[scheme.lower()]}://{rest}"


# Output ----------------------------------------------------------------------------------


class Screen:
    """On a terminal, one line redrawn in place; otherwise one line per event (logs, pipes)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._drawn = 0  # length of the line under the cursor, 0 when there is none

    def show(self, line: str) -> None:
        if not self.tty:
            self._write(line + "\n")
            return
        # A line wider than the terminal wraps, and `\r` would then redraw only its tail.
        line = line[: max(shutil.get_terminal_size().columns - 1, 1)]
        self._write("\r" + line.ljust(self._drawn))
        self._drawn = len(line)

    def end(self, line: str) -> None:
        """The last line: on a terminal it replaces the bar."""
        if self.tty:
            self._write("\r" + line.ljust(self._drawn) + "\n")
            self._drawn = 0
        else:
            self._write(line + "\n")

    def release(self) -> None:
        """Move off a half-drawn line, so what follows (an error) starts on its own."""
        if self._drawn:
            self._write("\n")
            self._drawn = 0

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


# The protocol ----------------------------------------------------------------------------


async def watch(run_id: str, *, url: str, api_key: str, out: TextIO) -> int:
    """Show the run's progress until it ends: 0 when COMPLETED, 1 when FAILED or CANCELLED."""
    address = websocket_url(url)
    screen = Screen(out)
    connection = await _open(address)
    try:
        async with connection:
            last = await _follow(
                connection, api_key, run_id, lambda e: screen.show(format_progress(e))
            )
    except ConnectionClosed as exc:
        raise WatchError(_closed_message(exc, address)) from exc
    finally:
        screen.release()
    screen.end(format_final(run_id, last))
    return 0 if last.status == "COMPLETED" else 1


async def _open(address: str) -> ClientConnection:
    try:
        return await connect(address, subprotocols=[PROTOCOL])
    except (OSError, InvalidHandshake, InvalidURI) as exc:  # OSError covers TimeoutError
        raise WatchError(f"cannot connect to {address}: {str(exc) or type(exc).__name__}") from exc


async def _follow(
    connection: ClientConnection, api_key: str, run_id: str, on_event: Callable[[Event], None]
) -> Event:
    """Subscribe to the run; every result goes to `on_event`; returns the terminal one."""
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {api_key}"}}
    await _send(connection, init)
    acknowledged = await _receive(connection)
    if acknowledged.get("type") != "connection_ack":
        raise WatchError(f"expected connection_ack, got {acknowledged.get('type')!r}")
    query = {"query": SUBSCRIPTION, "variables": {"id": run_id}}
    await _send(connection, {"id": OPERATION_ID, "type": "subscribe", "payload": query})
    last: Event | None = None
    while True:
        message = await _receive(connection)
        if message.get("id") != OPERATION_ID:
            continue
        kind = message.get("type")
        if kind == "next":
            last = _event(message.get("payload"))
            on_event(last)
        elif kind == "error":  # the operation was refused before it ran (validation)
            raise WatchError(_first_error(message.get("payload")))
        elif kind == "complete":
            if last is None or last.status not in TERMINAL_STATUSES:
                raise WatchError("the server ended the subscription before the run ended")
            return last


async def _send(connection: ClientConnection, message: dict[str, Any]) -> None:
    await connection.send(json.dumps(message))


async def _receive(connection: ClientConnection) -> dict[str, Any]:
    """The next message that is not a ping (pings are answered on the way)."""
    while True:
        message = json.loads(await connection.recv())
        if not isinstance(message, dict):
            raise WatchError(f"unexpected message from the server: {message!r}")
        if message.get("type") == "ping":
            await _send(connection, {"type": "pong"})
            continue
        return message


def _event(payload: Any) -> Event:
    if not isinstance(payload, dict):
        raise WatchError(f"unexpected result from the server: {payload!r}")
    if payload.get("errors"):
        raise WatchError(_first_error(payload["errors"]))
    return Event.from_data(payload["data"]["runProgress"])


def _first_error(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", errors[0]))
    return f"the server refused the subscription: {errors!r}"


def _closed_message(exc: ConnectionClosed, address: str) -> str:
    if exc.rcvd is None:
        return f"lost the connection to {address}"
    reason = f": {exc.rcvd.reason}" if exc.rcvd.reason else ""
    if exc.rcvd.code == FORBIDDEN:  # the reason says which: unknown, revoked, missing
        return f"the server refused the API key ({FORBIDDEN}{reason})"
    return f"the server closed the connection ({exc.rcvd.code}{reason})"
