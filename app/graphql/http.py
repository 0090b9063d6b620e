"""GraphQL over HTTP: the boundary where a request is authenticated, bounded and decoded.

In this order, each step before any work the next one costs:
1. the API key (`Authorization: Bearer <key>`): missing or unknown is HTTP 401, before the
   body is read or the document parsed; every operation needs one, introspection included;
2. the body: at most `MAX_REQUEST_BYTES` (413), JSON in UTF-8, an object with `query` and
   optionally `variables`, `operationName` and `extensions` (400 otherwise), variables no
   deeper than `MAX_VARIABLE_DEPTH` and free of NUL bytes and unpaired surrogates;
3. the operation: chosen by `operationName` when the document has several; queries and
   mutations only (subscriptions need the websocket; a GET runs queries only);
4. parsing, validation (with the limits of app/graphql/limits.py) and execution by the schema.

Answers use `application/json`. A request the server could not run (steps 2-3, a document that
does not parse or validate, bad variables) is HTTP 400; an executed operation is HTTP 200, with
its errors in `errors`, each with `extensions.code`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import auth
from app.errors import DomainError, Unauthenticated
from app.graphql import errors as error_policy
from app.graphql.context import Context
from app.graphql.limits import BAD_USER_INPUT, FORBIDDEN_CHARACTERS
from app.graphql.schema import Schema

log = logging.getLogger("app.graphql")

BAD_REQUEST = "BAD_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
MAX_VARIABLE_DEPTH = 32
REQUEST_KEYS = frozenset({"query", "variables", "operationName", "extensions"})
_PRE_EXECUTION = frozenset(
    {
        error_policy.PARSE_FAILED,
        error_policy.VALIDATION_FAILED,
        BAD_USER_INPUT,
        "QUERY_TOO_COMPLEX",
        error_policy.OPERATION_RESOLUTION_FAILURE,
    }
)


class Refused(Exception):
    """A request refused at the boundary: an HTTP status, a code and what to fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


ContextFactory = Callable[[Request], Awaitable[Context]]


class GraphQLHttp:
    """POST (and GET with `query`) on /graphql."""

    def __init__(self, schema: Schema, *, max_request_bytes: int) -> None:
        self.schema = schema
        self.max_request_bytes = max_request_bytes

    async def handle(self, request: Request, make_context: ContextFactory) -> Response:
        context: Context | None = None
        try:
            if request.method not in ("GET", "HEAD", "POST"):
                raise _wrong_method(request.method)
            context = await make_context(request)
            if context.viewer is None:
                raise _unauthenticated(request)
            body = await self._body(request)
            result = await self._execute(request, body, context)
        except Refused as refusal:
            return _refusal(refusal)
        finally:
            if context is not None:
                await context.close()
        request_id = context.request_id
        return _answer(result, request_id)

    async def _body(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query_params)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/json", "application/graphql-response+json"):
            raise Refused(
                415, BAD_REQUEST, "Send the request as JSON: Content-Type: application/json."
            )
        raw = await self._read(request)
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
        except UnicodeDecodeError as exc:
            raise Refused(400, BAD_REQUEST, "The body is not valid UTF-8.") from exc
        except RecursionError as exc:
            raise Refused(
                400,
                BAD_REQUEST,
                f"The body's JSON is nested too deeply: variables may nest {MAX_VARIABLE_DEPTH} "
                "levels at most.",
            ) from exc
        except ValueError as exc:
            raise Refused(400, BAD_REQUEST, f"The body is not valid JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise Refused(
                400, BAD_REQUEST, 'The body must be a JSON object: {"query": "...", ...}.'
            )
        return data

    async def _read(self, request: Request) -> bytes:
        limit = self.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _execute(
        self, request: Request, body: Mapping[str, Any], context: Context
    ) -> ExecutionResult:
        query, variables, operation_name = request_fields(body)
        allowed = (
            (OperationType.QUERY,)
            if request.method == "GET"
            else (OperationType.QUERY, OperationType.MUTATION)
        )
        try:
            return await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=allowed,
            )
        except MissingQueryError as exc:
            raise Refused(400, BAD_REQUEST, "The request has no query.") from exc
        except CannotGetOperationTypeError as exc:
            raise Refused(
                400, error_policy.OPERATION_RESOLUTION_FAILURE, _operation_message(body)
            ) from exc
        except InvalidOperationTypeError as exc:
            raise _wrong_transport(exc.operation_type) from exc


def request_fields(body: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    """`query`, `variables` and `operationName` of a request (HTTP body or websocket
    `subscribe` payload), each of the right type; variables bounded in depth and characters."""
    unknown = sorted(set(body) - REQUEST_KEYS)
    if unknown:
        raise Refused(
            400,
            BAD_REQUEST,
            f"Unknown request field {unknown[0]!r}: send query, variables, operationName "
            "(and extensions).",
        )
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise Refused(400, BAD_REQUEST, 'The request needs "query": a GraphQL document (string).')
    variables = body.get("variables")
    if isinstance(variables, str):  # GET puts them in the URL as JSON
        variables = _json_parameter(variables, "variables")
    if variables is not None and not isinstance(variables, dict):
        raise Refused(400, BAD_REQUEST, '"variables" must be a JSON object (or null).')
    operation_name = body.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise Refused(400, BAD_REQUEST, '"operationName" must be a string (or null).')
    extensions = body.get("extensions")
    if extensions is not None and not isinstance(extensions, dict | str):
        raise Refused(400, BAD_REQUEST, '"extensions" must be a JSON object (or null).')
    if isinstance(extensions, dict) and extensions:
        raise Refused(
            400,
            BAD_REQUEST,
            f"Request extensions are not supported ({', '.join(sorted(extensions))}): "
            "send the full query.",
        )
    _check_values(variables, "variables")
    return query, variables, operation_name or None


def _json_parameter(text: str, name: str) -> Any:
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, BAD_REQUEST, f'"{name}" is not valid JSON.') from exc


def _not_json(constant: str) -> Any:
    # Python's json accepts NaN and Infinity, which JSON does not (and PostgreSQL's jsonb
    # refuses, so they would reach the database and fail there as a bug).
    raise ValueError(f"{constant} is not a JSON value")


def _check_values(value: Any, where: str) -> None:
    """Depth, characters and numbers of every value in `value`, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_VARIABLE_DEPTH:
            raise Refused(
                400,
                BAD_USER_INPUT,
                f"The {where} are nested more than {MAX_VARIABLE_DEPTH} levels deep.",
            )
        if isinstance(item, str):
            if FORBIDDEN_CHARACTERS.search(item):
                raise Refused(
                    400,
                    BAD_USER_INPUT,
                    f"The {where} hold a string with a NUL character or an unpaired surrogate, "
                    "which cannot be stored: remove it.",
                )
        elif isinstance(item, float) and not math.isfinite(item):
            # 1e400 parses as infinity: no column or jsonb value can hold it.
            raise Refused(
                400,
                BAD_USER_INPUT,
                f"The {where} hold a number too large to represent: send a finite one.",
            )
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _operation_message(body: Mapping[str, Any]) -> str:
    name = body.get("operationName")
    if name:
        return f"The document has no operation named {name!r}."
    return "The document has several operations (or none): say which to run with operationName."


def _wrong_transport(operation_type: OperationType) -> Refused:
    if operation_type == OperationType.SUBSCRIPTION:
        return Refused(
            400,
            BAD_REQUEST,
            "Subscriptions run over a websocket (graphql-transport-ws on /graphql), not HTTP.",
        )
    return Refused(405, METHOD_NOT_ALLOWED, "Mutations need POST; GET runs queries only.")


def _wrong_method(method: str) -> Refused:
    # The route may hand every method here, so that a PUT is answered in JSON with a code
    # rather than by the router's plain-text 405.
    return Refused(405, METHOD_NOT_ALLOWED, f"{method} is not served: send POST (or GET).")


def _unauthenticated(request: Request) -> Refused:
    supplied = auth.bearer_token(request.headers.get("authorization"))
    message = (
        "Invalid API key: it is unknown or revoked." if supplied else Unauthenticated().message
    )
    return Refused(401, Unauthenticated.code, message)


def _too_large(limit: int) -> Refused:
    return Refused(
        413, PAYLOAD_TOO_LARGE, f"The request body is over the limit of {limit:,} bytes."
    )


def _refusal(refusal: Refused) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="valuerank"'} if refusal.status == 401 else {}
    if refusal.status == 405:
        headers["Allow"] = "GET, POST"
    body = {
        "data": None,
        "errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}],
    }
    return _json(body, refusal.status, headers)


def _answer(result: ExecutionResult, request_id: str) -> Response:
    payload: dict[str, Any] = {"data": result.data}
    status = 200
    if result.errors:
        errors = [_final(e, request_id) for e in result.errors]
        payload["errors"] = [e.formatted for e in errors]
        if result.data is None and all(error_policy.code_of(e) in _PRE_EXECUTION for e in errors):
            status = 400
    if result.extensions:
        payload["extensions"] = result.extensions
    return _json(payload, status)


def _final(error: GraphQLError, request_id: str) -> GraphQLError:
    """The last guard, for errors raised around the extensions (a document that failed to
    parse in the parser cache, a refusal in `on_execute`): code them, or mask a bug."""
    if error_policy.code_of(error) is not None or isinstance(error.original_error, DomainError):
        return error
    code = error_policy.client_code(error, executing=False)
    if code is not None:
        return GraphQLError(
            error.message, error.nodes, error.source, error.positions, extensions={"code": code}
        )
    log.error(
        "unexpected error (request %s): %s",
        request_id,
        error.message,
        exc_info=error.original_error,
    )
    return GraphQLError(
        error_policy.UNEXPECTED,
        extensions={"code": error_policy.INTERNAL, "requestId": request_id},
    )


def _json(body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        _encoded(body), status, headers=dict(headers or {}), media_type="application/json"
    )


def _encoded(body: Any) -> bytes:
    """The body as compact UTF-8 JSON. orjson encodes a run with 1,000 transcripts in 0.06 ms
    where the standard library takes 1 ms; what orjson refuses (an integer past 64 bits inside
    a JSON value, a lone surrogate) goes through the standard library as before. Non-finite
    floats cannot reach here: Float fields refuse them and jsonb cannot hold them."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
