"""graphql-transport-ws clients for tests: over Starlette's TestClient websocket, and over a
real socket; every wait has a deadline."""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import anyio
from starlette.testclient import TestClient, WebSocketTestSession
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

PROTOCOL = "graphql-transport-ws"
PROGRESS = """subscription($id: ID!) { runProgress(runId: $id) {
  runId status at transcriptId costSoFar estimatedTotalCost estimatedSecondsRemaining
  runProgress { total completed failed percentComplete byModel { modelId completed failed } }
  summarizeProgress { total completed failed } } }"""
START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""


def receive(ws: WebSocketTestSession, within: float = 60.0) -> dict[str, Any]:
    """The next message, or a failure after `within` seconds (a deadline, not a timing check)."""

    async def next_message() -> dict[str, Any]:
        with anyio.fail_after(within):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    ws._raise_on_close(message)
    return dict(json.loads(message["text"]))


class Connection:
    """One websocket speaking graphql-transport-ws; `subscribe` returns the operation id."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        # Messages of other operations that arrived while one was awaited: kept for them, as
        # two subscriptions' messages may come in either order.
        self._held: dict[str, collections.deque[dict[str, Any]]] = {}

    def held(self, operation: str) -> list[dict[str, Any]]:
        """Messages of `operation` that arrived while another was awaited."""
        return list(self._held.get(operation, ()))

    def complete(self, operation: str) -> None:
        """The client ends `operation` (graphql-transport-ws `complete`)."""
        self.ws.send_json({"id": operation, "type": "complete"})

    def message(self, operation: str, within: float = 60.0) -> dict[str, Any]:
        """The next message of `operation` (one held earlier first)."""
        held = self._held.get(operation)
        if held:
            return held.popleft()
        while True:
            message = receive(self.ws, within)
            if message.get("id") == operation:
                return message
            self._held.setdefault(str(message.get("id")), collections.deque()).append(message)

    def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.ws.send_json({"type": "connection_init", "payload": payload})
        return receive(self.ws)

    def subscribe(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> str:
        operation = str(next(self._ids))
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            payload["operationName"] = operation_name
        self.ws.send_json({"id": operation, "type": "subscribe", "payload": payload})
        return operation

    def next(self, operation: str, field: str, within: float = 60.0) -> dict[str, Any] | None:
        """The next `data[field]` of `operation`, or None when it completed."""
        while True:
            message = self.message(operation, within)
            if message["type"] == "complete":
                return None
            assert message["type"] == "next" and "errors" not in message["payload"], message
            return dict(message["payload"]["data"][field])

    def events(self, operation: str, field: str, within: float = 90.0) -> list[dict[str, Any]]:
        """`data[field]` of every result of `operation` until it completes (errors fail)."""
        found = []
        for payload in self.results(operation, within):
            assert "errors" not in payload, payload
            found.append(payload["data"][field])
        return found

    def results(self, operation: str, within: float = 90.0) -> list[dict[str, Any]]:
        """Every `next` payload of `operation` until its `complete`; an `error` fails."""
        found: list[dict[str, Any]] = []
        while True:
            message = self.message(operation, within)
            if message["type"] == "complete":
                return found
            if message["type"] == "error":
                raise AssertionError(f"subscription error: {message}")
            found.append(message["payload"])


@contextlib.contextmanager
def connect(client: TestClient, key: str) -> Iterator[Connection]:
    """A websocket past `connection_init` with the key (acknowledged, or this fails)."""
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        connection = Connection(ws)
        reply = connection.init({"Authorization": f"Bearer {key}"})
        assert reply == {"type": "connection_ack"}, reply
        yield connection


def post(client: TestClient, key: str, query: str, **variables: Any) -> dict[str, Any]:
    """A GraphQL request over HTTP that must succeed; returns `data`."""
    body = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert "errors" not in body, body
    return dict(body["data"])


def start_run(client: TestClient, key: str, **input_: Any) -> tuple[str, int]:
    started = post(client, key, START, input=input_)["startRun"]
    return started["run"]["id"], started["jobCount"]


class Socket:
    """A graphql-transport-ws client on a real socket (the `websockets` library)."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, key: str) -> Socket:
        connection = await ws_connect(url, subprotocols=[Subprotocol(PROTOCOL)])
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(await connection.recv()) == {"type": "connection_ack"}
        return cls(connection)

    async def subscribe(self, query: str, variables: dict[str, Any], operation: str = "1") -> None:
        message = {
            "id": operation,
            "type": "subscribe",
            "payload": {"query": query, "variables": variables},
        }
        await self.connection.send(json.dumps(message))

    async def next(self, field: str, within: float = 60.0) -> dict[str, Any] | None:
        """The next `data[field]`, or None once the operation completed."""
        while True:
            with anyio.fail_after(within):
                message = json.loads(await self.connection.recv())
            if message["type"] == "ping":
                await self.connection.send(json.dumps({"type": "pong"}))
            elif message["type"] == "complete":
                return None
            else:
                assert message["type"] == "next" and "errors" not in message["payload"], message
                return dict(message["payload"]["data"][field])

    async def close(self) -> None:
        await self.connection.close()
