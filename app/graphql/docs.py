"""The schema's descriptions, taken from the code's docstrings so that the GraphiQL docs pane
and `schema.graphql` explain the API where the code is written.

- A type: its class docstring.
- A field declared as an attribute: the string literal on the line after it (an attribute
  docstring); a field with a resolver: the resolver's docstring.
- An argument: a `name: text` line under `Args:` in its resolver's docstring (the Python or
  the GraphQL name), else `RUN_FILTERS` for a field taking them all; `limit` and `offset` of a paged field are
  described from its page size.

An explicit `description=` wins over all of these. tests/unit/test_schema_descriptions.py
fails on anything left without one."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from app.paging import PAGE_SIZE, PageSize

BACKREF = "strawberry-definition"

# The filters of `runs`, `runCount`, `runStats` and `purgeRuns`: described here once, for the
# fields that take all of them.
RUN_FILTERS = {
    "definitionId": "Only runs of this definition.",
    "experimentId": "Only runs of this experiment.",
    "status": "Only runs in this status (PENDING, RUNNING, PAUSED, SUMMARIZING, COMPLETED, "
    "FAILED or CANCELLED).",
    "runCategory": "Only runs of this category (PILOT, PRODUCTION, REPLICATION, VALIDATION, "
    "UNKNOWN_LEGACY).",
    "definitionTagIds": "Only runs whose definition has one of these tags.",
    "runType": "Accepted for ValueRank's clients; every run here is of the same type.",
    "hasAnalysis": "Accepted for ValueRank's clients; runs here have no analysis.",
    "analysisStatus": "Accepted for ValueRank's clients; runs here have no analysis status.",
    "createdAfter": "Only runs created at or after this time.",
    "createdBefore": "Only runs created before this time.",
    "modelId": "Only runs that asked for this model (a model identifier such as gpt-4o-mini).",
}


def describe(schema: GraphQLSchema) -> None:
    """Fill in every description the code's docstrings give and `description=` did not."""
    for named in schema.type_map.values():
        if named.name.startswith("__") or not isinstance(
            named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            continue
        definition = named.extensions.get(BACKREF)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        origin: type = definition.origin
        named.description = named.description or _class_docs(origin).get("") or None
        for field in named.fields.values():
            _describe_field(origin, field)


def _describe_field(owner: type, field: GraphQLField | GraphQLInputField) -> None:
    strawberry_field = field.extensions.get(BACKREF)
    if not isinstance(strawberry_field, StrawberryField):
        return
    resolver = strawberry_field.base_resolver
    arguments: dict[str, str] = {}
    if resolver is None:
        text = _attribute_doc(owner, strawberry_field.python_name)
    else:
        text, arguments = _split(inspect.getdoc(resolver.wrapped_func) or "")
    field.description = field.description or text or None
    if isinstance(field, GraphQLField):
        size = strawberry_field.metadata.get(PAGE_SIZE)
        shared = RUN_FILTERS if RUN_FILTERS.keys() <= field.args.keys() else {}
        for name, argument in field.args.items():
            _describe_argument(name, argument, shared | arguments, size)


def _describe_argument(
    name: str, argument: GraphQLArgument, documented: dict[str, str], size: Any
) -> None:
    python_name = getattr(argument.extensions.get(BACKREF), "python_name", name)
    text = documented.get(name) or documented.get(python_name)
    if text is None and isinstance(size, PageSize):
        text = _paging(name, size)
    argument.description = argument.description or text or None


def _paging(name: str, size: PageSize) -> str | None:
    if name == "limit":
        return f"How many to return: {size.default} when omitted, at most {size.maximum}."
    if name == "offset":
        return "How many to skip first (0 when omitted)."
    return None


def _split(doc: str) -> tuple[str, dict[str, str]]:
    """A resolver's docstring: the field's description, then `Args:` lines `name: text`
    (a line indented further continues the one above)."""
    head, found, tail = ("\n" + doc).partition("\nArgs:\n")
    arguments: dict[str, str] = {}
    current = ""
    for line in textwrap.dedent(tail).splitlines() if found else []:
        name, colon, text = line.partition(":")
        if colon and line[:1].strip() and name.isidentifier():
            current = name
            arguments[name] = text.strip()
        elif current and line.strip():
            arguments[current] += " " + line.strip()
    return " ".join(head.split()), arguments


def _attribute_doc(owner: type, name: str) -> str:
    for cls in owner.__mro__:
        text = _class_docs(cls).get(name)
        if text:
            return text
    return ""


@functools.cache
def _class_docs(cls: type) -> dict[str, str]:
    """A class's docstring (under "") and its attributes' docstrings, read from its source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    node = next(
        (n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)),
        None,
    )
    if node is None:
        return {}
    docs = {"": " ".join((ast.get_docstring(node) or "").split())}
    for before, after in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(before, ast.AnnAssign)
            and isinstance(before.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[before.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs
