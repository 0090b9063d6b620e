"""`X-Request-ID` on every HTTP response: the client's own when it sent a usable one (so a
proxy's or a client's id follows the request into our logs), else a new one. GraphQL's masked
errors carry the same id in `extensions.requestId`, and the log line of the bug carries it
too, so a user's report can be matched to the traceback."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import log_context

HEADER = "x-request-id"
# Ids are echoed into headers and logs: printable, short, no separators that could split a
# header or a log line.
_USABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_of(scope: Scope) -> str:
    """The id the middleware chose for this request (a fresh one outside of it)."""
    state = scope.get("state") or {}
    found = state.get("request_id")
    return found if isinstance(found, str) else new_request_id()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = supplied if _USABLE.fullmatch(supplied) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.encode()
                ]
                headers.append((HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with log_context(request_id=request_id):
            # A websocket's messages carry no headers: its sends go straight through.
            outgoing = send if scope["type"] == "websocket" else send_with_id
            await self.app(scope, receive, outgoing)
