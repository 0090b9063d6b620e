"""The schema: every domain's queries and mutations, with auth, error masking and caches."""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.comparison.graphql import ComparisonQuery
from app.definitions.graphql import DefinitionMutation, DefinitionQuery
from app.graphql import errors, prefetch
from app.graphql.docs import describe
from app.graphql.executor import BasicFieldsExecutionContext
from app.graphql.limits import query_limits_rule
from app.llm.graphql import LlmMutation, LlmQuery
from app.prometheus import OperationMetrics
from app.queue.graphql import QueueMutation, QueueQuery
from app.runs.graphql.mutation import RunMutation
from app.runs.graphql.query import RunQuery
from app.runs.graphql.retention import RetentionMutation
from app.runs.graphql.subscriptions import RunSubscription
from app.transcripts.graphql import TranscriptMutation, TranscriptQuery


@strawberry.type
class Query(RunQuery, QueueQuery, TranscriptQuery, DefinitionQuery, LlmQuery, ComparisonQuery):
    """Reads: runs, definitions, transcripts, the model catalog, the queue. Any valid API key
    (VIEWER or ADMIN); without one, HTTP 401 UNAUTHENTICATED."""


@strawberry.type
class Mutation(
    RunMutation,
    RetentionMutation,
    QueueMutation,
    DefinitionMutation,
    LlmMutation,
    TranscriptMutation,
):
    """Changes: every mutation needs an ADMIN key (a VIEWER key gets FORBIDDEN). Domain errors
    come in errors[] with extensions.code: NOT_FOUND, VALIDATION_ERROR, RUN_STATE_ERROR."""


@strawberry.type
class Subscription(RunSubscription):
    """Live streams over WebSocket (graphql-transport-ws), with any valid API key."""


class SafeParserCache(ParserCache):
    """Strawberry's parser cache parses in the extension hook, outside the `try` that turns a
    syntax error into a pre-execution error: over a websocket the error escaped the operation
    task (logged as a bug, the client got a bare `complete`). A document that does not parse is
    left to Strawberry's own parse, which reports it; only good documents are cached."""

    def on_parse(self) -> Iterator[None]:
        try:
            yield from super().on_parse()
        except GraphQLError:
            yield


class Schema(strawberry.Schema):
    def process_errors(
        self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # errors.ErrorPolicy classifies, masks and logs, once it knows each error's phase.
        return None


def build_schema(*, max_depth: int = 12, max_tokens: int = 5000, max_cost: int = 50_000) -> Schema:
    # One rule class for the schema's lifetime: ValidationCache keys on the rules.
    limits_rule = query_limits_rule(max_depth=max_depth, max_cost=max_cost)
    execution_context_class = type(
        "LimitedExecutionContext", (BasicFieldsExecutionContext,), {"max_fields": max_cost}
    )
    built = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=execution_context_class,
        extensions=[
            # First, so that it sees each operation's errors once ErrorPolicy has coded them.
            OperationMetrics,
            errors.ErrorPolicy,
            errors.RequireApiKey,
            lambda: AddValidationRules([limits_rule]),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: SafeParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )
    describe(built._schema)
    prefetch.install(built._schema)
    return built


schema = build_schema()
