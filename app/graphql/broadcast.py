"""One rendering of a shared subscription event, written to every subscriber of it.

Every subscriber of a run is sent the same state. Strawberry's path costs each subscriber,
for each event: an event object, a per-event executor, the extension hooks around the
result, the `next` message's JSON and the layers of the send. At 1,000 subscribers that was
most of the server's CPU per change, and since those steps interleave across all the
subscribers' tasks, even the first subscriber waited for nearly all of them.

A subscription on a graphql-transport-ws connection gets a `Sink` (`current_sink()`, set by
`app/graphql/ws.py` around the operation's task). Its first event takes Strawberry's whole
path, so validation, errors and the first reply are exactly Strawberry's; the executor that
runs it is adopted (`BasicFieldsExecutionContext` calls `adopt`). Each later event is
rendered once per (source, operation, variables) into the payload's JSON and written to the
websocket as `{"id": …, "type": "next", "payload": …}`. An event whose rendering has errors
goes Strawberry's way instead, so its errors are formatted, coded and logged as usual.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from app.graphql.executor import SharedByState, variables_key

RENDERINGS = 512

# The `next` payloads' JSON, one per state, operation and variables.
_rendered = SharedByState(RENDERINGS)


class Sink:
    """One subscription operation's `next` messages, written straight to its websocket."""

    def __init__(
        self,
        operation_id: str,
        send_text: Callable[[str], Awaitable[None]],
        is_open: Callable[[], bool],
    ) -> None:
        self._prefix = '{"id":' + json.dumps(operation_id) + ',"type":"next","payload":'
        self._send_text = send_text
        self._is_open = is_open
        self._executor: Any = None
        self._variables = ""

    def adopt(self, executor: Any) -> None:
        """The executor that ran this operation's first event renders the later ones."""
        if self._executor is None:
            # A copy without the first event, which refers to this sink: no cycle to collect.
            self._executor = executor.build_per_event_executor(None)
            self._variables = variables_key(executor)

    async def send(self, source: object, event: Callable[[], object]) -> bool:
        """Send the state `source` (`event()` builds the root value, only if no other
        subscriber's rendering of it can be reused); False when the caller must yield the
        event to Strawberry instead: before the first event, or when the rendering failed."""
        if self._executor is None:
            return False
        payload = await _render(self._executor, self._variables, source, event)
        if payload is None:
            return False
        if self._is_open():
            await self._send_text(self._prefix + payload + "}")
        return True


_sink: ContextVar[Sink | None] = ContextVar("graphql_ws_sink", default=None)


def current_sink() -> Sink | None:
    """The running subscription's sink; None outside graphql-transport-ws."""
    return _sink.get()


def set_sink(sink: Sink | None) -> Any:
    """Set for the operation task about to be created (tasks copy the context); returns the
    token to reset it with."""
    return _sink.set(sink)


def reset_sink(token: Any) -> None:
    _sink.reset(token)


async def _render(
    executor: Any, variables: str, source: object, event: Callable[[], object]
) -> str | None:
    found: str | None = _rendered.get(source, executor.operation, variables)
    if found is not None:
        return found
    result = executor.build_per_event_executor(event()).execute_operation(False)
    if executor.is_awaitable(result):
        result = await result
    if result.errors:
        return None
    payload = json.dumps({"data": result.data}, separators=(",", ":"))
    _rendered.put(source, executor.operation, variables, payload)
    return payload
