"""The schema: every domain's queries and mutations, with auth, error masking and caches."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from app.definitions.graphql import DefinitionMutation, DefinitionQuery
from app.graphql import errors
from app.llm.graphql import LlmMutation, LlmQuery
from app.runs.graphql import RunMutation, RunQuery
from app.transcripts.graphql import TranscriptQuery


@strawberry.type
class Query(RunQuery, TranscriptQuery, DefinitionQuery, LlmQuery):
    pass


@strawberry.type
class Mutation(RunMutation, DefinitionMutation, LlmMutation):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Domain errors are answers, not incidents: log only the unexpected ones.
        context: Any = execution_context.context if execution_context else None
        errors.log_unexpected(errors_, getattr(context, "request_id", None))


def build_schema(*, max_depth: int = 12, max_tokens: int = 5000) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            errors.RequireApiKey,
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            errors.mask_errors,
        ],
    )


schema = build_schema()
