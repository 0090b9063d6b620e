"""Definitions in GraphQL: the types (types.py: Definition, Scenario, Tag, Experiment) and the
queries and mutations (operations.py)."""

from app.definitions.graphql.operations import DefinitionMutation, DefinitionQuery
from app.definitions.graphql.types import Definition, Domain, Experiment, Scenario, Tag

__all__ = [
    "Definition",
    "DefinitionMutation",
    "DefinitionQuery",
    "Domain",
    "Experiment",
    "Scenario",
    "Tag",
]
