"""graphql-transport-ws: a `subscribe` payload gets the same checks as an HTTP body, and a
connection lives only as long as its API key: revoking the key (`valuerank api-key revoke`,
from any process) closes it with 4403 at once, through the LISTEN broker.

Strawberry hands the payload's variables to graphql-core as they come; a NUL byte or an
unpaired surrogate then fails deep in a resolver (a masked bug), and variables nested
thousands deep reach recursive coercion. Here they are refused first, with the operation's
`error` message and a code, and the connection stays open for the client's other operations.

A refused `connection_init` closes with 4403 and the refusal in words as the close reason
(Strawberry's own is "Forbidden"): a browser's client shows the reason, not just the code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from starlette.websockets import WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected as StarletteSocketClosed
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from app import pubsub
from app.graphql import broadcast
from app.graphql.context import Context
from app.graphql.http import Refused, request_fields

REVOKED_CODE = 4403
REVOKED_REASON = "API key revoked"
# Close reasons are at most 123 bytes.
INVALID_KEY = "Invalid API key: it is unknown or revoked."
NO_KEY = 'Authentication required: send {"Authorization": "Bearer <key>"} in connection_init.'


class ExplainedRefusal(AsyncWebSocketAdapter):
    """The handler's websocket, closing a refused `connection_init` with the reason
    `on_ws_connect` gave (`Context.ws_refusal`) instead of Strawberry's bare "Forbidden"."""

    def __init__(self, inner: AsyncWebSocketAdapter, context: Context) -> None:
        super().__init__(inner.view)
        self._inner = inner
        self._context = context

    def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        return self._inner.iter_json(ignore_parsing_errors=ignore_parsing_errors)

    async def send_json(self, message: Mapping[str, object]) -> None:
        # A socket closed by this server (a revoked key) or by the client (it left) has
        # nowhere to take an operation's last messages: they are dropped, not logged as a
        # bug, and the handler's shutdown cancels the operations (bench/soak.py found them).
        with contextlib.suppress(StarletteSocketClosed, WebSocketDisconnected):
            await self._inner.send_json(message)

    async def send_text(self, text: str) -> None:
        """A message already encoded (`broadcast.Sink`). To a socket that has closed (the
        client left, or its key was revoked) it is dropped: the handler's shutdown cancels
        the operation, and a client leaving is not the server's error."""
        ws: Any = getattr(self._inner, "ws")  # noqa: B009 (Strawberry's ASGI adapter)
        with contextlib.suppress(WebSocketDisconnect, StarletteSocketClosed):
            await ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if code == REVOKED_CODE and self._context.ws_refusal:
            reason = self._context.ws_refusal
        await self._inner.close(code, reason)


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
    _stop_hearing: Callable[[], None] | None = None
    _closing: asyncio.Task[None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._socket = ExplainedRefusal(self.websocket, self.context)
        self.websocket = self._socket

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        viewer, live = self.context.viewer, self.context.live
        if self.connection_acknowledged and viewer is not None and live is not None:
            self._stop_hearing = live.broker.subscribe(
                pubsub.api_key_topic(viewer.key_id), self._on_revoked
            )

    def _on_revoked(self, message: pubsub.Message | None) -> None:
        if message is not None and message.get("event") == "apiKeyRevoked":
            self._closing = asyncio.create_task(
                self.websocket.close(code=REVOKED_CODE, reason=REVOKED_REASON)
            )

    async def shutdown(self) -> None:
        if self._stop_hearing is not None:
            self._stop_hearing()
            self._stop_hearing = None
        await super().shutdown()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if self.connection_acknowledged and isinstance(payload, dict):
            try:
                request_fields(payload)
            except Refused as refusal:
                await self.send_message(
                    {
                        "id": message["id"],
                        "type": "error",
                        "payload": [
                            {"message": refusal.message, "extensions": {"code": refusal.code}}
                        ],
                    }
                )
                return
        # The operation's task, created in there, inherits the sink (tasks copy the context).
        operation_id = message["id"]
        token = broadcast.set_sink(
            broadcast.Sink(operation_id, self._socket.send_text, lambda: self._open(operation_id))
        )
        try:
            await super().handle_subscribe(message)
        finally:
            broadcast.reset_sink(token)

    def _open(self, operation_id: str) -> bool:
        operation = self.operations.get(operation_id)
        return operation is not None and not operation.completed and self._closing is None
