"""Providers and models in GraphQL: the types (types.py) and the queries and mutations
(operations.py)."""

from app.llm.graphql.operations import LlmMutation, LlmQuery
from app.llm.graphql.types import LlmModel, LlmProvider

__all__ = ["LlmModel", "LlmMutation", "LlmProvider", "LlmQuery"]
