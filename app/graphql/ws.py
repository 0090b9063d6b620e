"""graphql-transport-ws: a `subscribe` payload gets the same checks as an HTTP body.

Strawberry hands the payload's variables to graphql-core as they come; a NUL byte or an
unpaired surrogate then fails deep in a resolver (a masked bug), and variables nested
thousands deep reach recursive coercion. Here they are refused first, with the operation's
`error` message and a code, and the connection stays open for the client's other operations.
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from app.graphql.context import Context
from app.graphql.http import Refused, request_fields


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
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
        await super().handle_subscribe(message)
