"""Error policy: every error a client can cause carries a code and says what to fix; anything
else is a bug, logged with the request id and shown as "Unexpected error.".

Codes, after Apollo's conventions (`extensions.code`):

    GRAPHQL_PARSE_FAILED       the document is not GraphQL (syntax)
    GRAPHQL_VALIDATION_FAILED  the document does not fit the schema
    BAD_USER_INPUT             variables of the wrong type, missing, null for non-null, NUL bytes
    QUERY_TOO_COMPLEX          over a depth, token, cost or result-size limit (app/graphql/limits)
    OPERATION_RESOLUTION_FAILURE  several operations and no operationName, or an unknown one
    <domain codes>             app/errors.py: NOT_FOUND, VALIDATION_ERROR, FORBIDDEN, ...
    INTERNAL_SERVER_ERROR      a bug: "Unexpected error." and the request id; the log has the rest

Errors are classified by the phase they come from (parse, validation, variable coercion before
any resolver runs, or a resolver), which this module's extension records; an error that already
carries a code (a domain error, a limit) keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from app.errors import Forbidden, Unauthenticated
from app.graphql.limits import BAD_USER_INPUT, QUERY_TOO_COMPLEX, ResultTooLarge

log = logging.getLogger("app.graphql")

UNEXPECTED = "Unexpected error."
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
# What a scalar's parser raises for a value it cannot take (OverflowError: float() of an
# integer past the float range).
_PARSER_ERRORS = (ValueError, TypeError, ArithmeticError, GraphQLError)
# graphql-core's own wording when the parser stops at `max_tokens`.
_TOKEN_LIMIT = "Document contains more than"


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


class ErrorPolicy(SchemaExtension):
    """Codes client errors, masks and logs bugs, and keeps one error for a result too large."""

    def __init__(self) -> None:
        self.executing = False

    def on_execute(self) -> Iterator[None]:
        self.executing = True
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            self.apply(result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        if getattr(result, "errors", None):
            self.apply(result)
        yield

    def apply(self, result: Any) -> None:
        """Rewrite `result.errors` in place (and drop the data of a result too large)."""
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        errors = [self.classified(e, request_id) for e in result.errors]
        too_large = [e for e in errors if _is_too_large(e)]
        if too_large:
            result.data = None
            errors = too_large[:1]
        result.errors = errors

    def classified(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        if code_of(error) is not None:
            return error
        code = self.client_code(error)
        if code is not None:
            return _with_code(error, code)
        log.error(
            "unexpected error (request %s) at %s: %s",
            request_id,
            error.path,
            error.message,
            exc_info=error.original_error,
        )
        return GraphQLError(
            UNEXPECTED,
            error.nodes,
            path=error.path,
            extensions={"code": INTERNAL, "requestId": request_id},
        )

    def client_code(self, error: GraphQLError) -> str | None:
        return client_code(error, executing=self.executing)


def client_code(error: GraphQLError, *, executing: bool) -> str | None:
    """The code of an error the client caused, or None for a bug. `executing`: whether the
    error came after validation (variable coercion or a resolver)."""
    original = error.original_error
    if isinstance(error, GraphQLSyntaxError):
        return QUERY_TOO_COMPLEX if _TOKEN_LIMIT in error.message else PARSE_FAILED
    if error.path is not None:
        return None  # a resolver's error that is not a domain error
    # A scalar's parser refusing a literal or a variable (an Int literal of 5,000 digits
    # is a ValueError from int()) is the client's input too, not a bug.
    client_input = original is None or isinstance(original, _PARSER_ERRORS)
    if not executing:
        return VALIDATION_FAILED if client_input else None
    # Before any resolver runs, graphql-core coerces the variables (and picks the
    # operation); its errors, and those of a scalar's parser, are the client's input.
    return BAD_USER_INPUT if client_input else None


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


def _is_too_large(error: GraphQLError) -> bool:
    return isinstance(error, ResultTooLarge) or isinstance(error.original_error, ResultTooLarge)


class RequireApiKey(SchemaExtension):
    """Every operation needs a valid key; mutations need the ADMIN role.

    HTTP requests are authenticated at the boundary (app/graphql/http.py) and websockets in
    `connection_init`; this is the role check, decided on the operation graphql-core will run.
    """

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        _require_single_operation(ctx)
        viewer = getattr(ctx.context, "viewer", None)
        if viewer is None:
            raise Unauthenticated()
        if ctx.operation_type == OperationType.MUTATION and not viewer.is_admin:
            raise Forbidden("Admin access required")
        yield


def _require_single_operation(ctx: ExecutionContext) -> None:
    """graphql-core's rule, which Strawberry bypasses by picking the first operation: a
    document with several operations runs only the one `operationName` names."""
    if ctx._provided_operation_name is not None or ctx.graphql_document is None:
        return
    operations = [
        d for d in ctx.graphql_document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    if len(operations) > 1:
        raise GraphQLError(
            "The document has several operations: say which to run with operationName.",
            extensions={"code": OPERATION_RESOLUTION_FAILURE},
        )
