"""The schema: every domain's queries and mutations, with auth, error masking and caches."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.definitions.graphql import DefinitionMutation, DefinitionQuery
from app.graphql import errors
from app.graphql.executor import BasicFieldsExecutionContext
from app.llm.graphql import LlmMutation, LlmQuery
from app.runs.graphql import RunMutation, RunQuery
from app.runs.subscriptions import RunSubscription
from app.transcripts.graphql import TranscriptQuery


@strawberry.type
class Query(RunQuery, TranscriptQuery, DefinitionQuery, LlmQuery):
    pass


@strawberry.type
class Mutation(RunMutation, DefinitionMutation, LlmMutation):
    pass


@strawberry.type
class Subscription(RunSubscription):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Domain errors are answers, not incidents: log only the unexpected ones.
        context: Any = execution_context.context if execution_context else None
        errors.log_unexpected(errors_, getattr(context, "request_id", None))


def build_schema(*, max_depth: int = 12, max_tokens: int = 5000) -> Schema:
    # One rule class for the schema's lifetime: ValidationCache keys on the rules, and
    # QueryDepthLimiter builds a new class per request, which would defeat the cache.
    depth_rule = QueryDepthLimiter(max_depth=max_depth).validation_rules[0]
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=BasicFieldsExecutionContext,
        extensions=[
            errors.RequireApiKey,
            lambda: AddValidationRules([depth_rule]),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            errors.mask_errors,
        ],
    )


schema = build_schema()
