"""What one request may ask of the server: depth, cost, strings, and the size of its result.

Checked twice, so that neither can be gamed:
- **Before execution** (a validation rule, cached with the document): the selected fields are
  expanded through fragments, inline fragments and aliases, and each field costs 1 plus, for a
  list, its page size times the cost of what is selected under it. A page size comes from the
  field's `limit` argument when it is a literal, the field's declared maximum when it is a
  variable, and the field's declared default when it is absent (`PageSize` in app/paging.py; a
  list field that declares nothing counts `UNDECLARED_LIST_SIZE`). Each fragment is costed once
  and memoised, so the check is linear in the document, whatever its nesting of spreads.
- **During execution**: every object completed adds its selected fields to a per-request
  count, and the request stops with `QUERY_TOO_COMPLEX` when the count passes the same limit.
  That covers what the estimate cannot know, such as a run's transcripts fetched without a
  `limit`.

String literals may not hold NUL or lone surrogates (PostgreSQL text cannot store them).
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from graphql import (
    FieldNode,
    FloatValueNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from app.paging import PAGE_SIZE, PageSize

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
BAD_USER_INPUT = "BAD_USER_INPUT"
# A list field that declares no size (tags, a run's models, ...) is costed as this many items.
UNDECLARED_LIST_SIZE = 20
# `__schema` / `__type` are costed as a whole: their size is the schema's, not the data's.
INTROSPECTION_COST = 5_000
# Fragment spreads nested inside one another, beyond the selection depth: no real query needs
# more, and the bound keeps the walk's recursion far from Python's limit.
MAX_FRAGMENT_NESTING = 50
# Digits a number literal may have: a double's range ends near 1.8e308.
MAX_NUMBER_DIGITS = 309
FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class QueryLimits(ValidationRule):
    """Depth and cost limits on every operation, and numbers and strings no column can hold;
    `query_limits_rule` makes the subclass that carries a schema's limits."""

    max_depth: ClassVar[int]
    max_cost: ClassVar[int]

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        if root is None:
            return
        walk = _Walk(self.context, self.max_depth)
        cost, depth = walk.selection_set(node.selection_set, root)
        name = f"Operation {node.name.value!r}" if node.name else "The operation"
        if walk.too_deep or depth > self.max_depth:
            self.report_error(
                _limit_error(
                    f"{name} is nested more than {self.max_depth} levels deep (the limit is "
                    f"{self.max_depth}): select fewer levels.",
                    node,
                )
            )
        elif cost > self.max_cost:
            self.report_error(
                _limit_error(
                    f"{name} could return about {cost:,} fields, over the limit of "
                    f"{self.max_cost:,}: ask for smaller pages (limit), fewer fields or fewer "
                    "aliases.",
                    node,
                )
            )

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
        self._require_finite(node)

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        # graphql-core checks an Int's own range; a Float or JSON takes any integer.
        if _named_input(self.context.get_input_type()) is not GraphQLInt:
            self._require_finite(node)

    def _require_finite(self, node: FloatValueNode | IntValueNode) -> None:
        # 1e400, or an integer of 400 digits for a Float, parses as infinity, which no
        # column or jsonb value can hold; past 4,300 digits int() itself refuses.
        digits = len(node.value.lstrip("-"))
        if digits > MAX_NUMBER_DIGITS or not math.isfinite(float(node.value)):
            self.report_error(
                GraphQLError(
                    f"The number {_shortened(node.value)} is too large or too long to "
                    "represent: send one a double can hold.",
                    node,
                    extensions={"code": BAD_USER_INPUT},
                )
            )

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if FORBIDDEN_CHARACTERS.search(node.value):
            self.report_error(
                GraphQLError(
                    "String values may not contain NUL characters or unpaired surrogates.",
                    node,
                    extensions={"code": BAD_USER_INPUT},
                )
            )


def query_limits_rule(*, max_depth: int, max_cost: int) -> type[ValidationRule]:
    """A validation rule class enforcing `max_depth` and `max_cost` on every operation."""
    return type("QueryLimits", (QueryLimits,), {"max_depth": max_depth, "max_cost": max_cost})


def _shortened(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}..."


def _limit_error(message: str, node: OperationDefinitionNode) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": QUERY_TOO_COMPLEX})


class _Walk:
    """Cost and depth of selection sets, each fragment costed once (memoised by name).

    `height` counts the walk's own nesting (fields and fragment hops): past the depth limit
    plus `MAX_FRAGMENT_NESTING` the walk stops and marks the operation too deep, so neither a
    deep document nor a chain of spreads can exhaust the stack.
    """

    def __init__(self, context: ValidationContext, max_depth: int) -> None:
        self.context = context
        self.max_height = max_depth + MAX_FRAGMENT_NESTING
        self.fragments: dict[str, tuple[int, int]] = {}
        self.visiting: set[str] = set()
        self.height = 0
        self.too_deep = False

    def selection_set(self, node: SelectionSetNode, parent: GraphQLNamedType) -> tuple[int, int]:
        """(cost, depth) of a selection set on `parent`."""
        if self.height >= self.max_height:
            self.too_deep = True
            return 0, 0
        self.height += 1
        try:
            return self._selections(node, parent)
        finally:
            self.height -= 1

    def _selections(self, node: SelectionSetNode, parent: GraphQLNamedType) -> tuple[int, int]:
        cost = depth = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                part = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._type(condition.name.value) if condition else None
                part = self.selection_set(selection.selection_set, inner or parent)
            elif isinstance(selection, FragmentSpreadNode):
                part = self.spread(selection.name.value)
            else:  # pragma: no cover - the grammar has no other selection
                continue
            cost += part[0]
            depth = max(depth, part[1])
        return cost, depth

    def spread(self, name: str) -> tuple[int, int]:
        if name in self.fragments:
            return self.fragments[name]
        fragment = self.context.get_fragment(name)
        if fragment is None or name in self.visiting:
            return 0, 0  # unknown fragments and cycles are other rules' errors
        parent = self._type(fragment.type_condition.name.value)
        if parent is None:
            return 0, 0
        self.visiting.add(name)
        result = self.selection_set(fragment.selection_set, parent)
        self.visiting.discard(name)
        self.fragments[name] = result
        return result

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> tuple[int, int]:
        name = node.name.value
        if name in ("__schema", "__type"):
            return INTROSPECTION_COST, 1
        definition = _field_of(parent, name)
        if definition is None:
            return 1, 1
        size = _list_size(definition, node)
        if node.selection_set is None:
            return size, 1  # a leaf, or a list of leaves
        child_cost, child_depth = self.selection_set(node.selection_set, _named(definition.type))
        return 1 + size * child_cost, 1 + child_depth

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.context.schema.get_type(name)


def _field_of(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _named(output: GraphQLOutputType) -> GraphQLNamedType:
    while isinstance(output, GraphQLNonNull | GraphQLList):
        output = output.of_type
    return output


def _named_input(input_type: GraphQLInputType | None) -> GraphQLInputType | None:
    while isinstance(input_type, GraphQLNonNull | GraphQLList):
        input_type = input_type.of_type
    return input_type


def _is_list(output: GraphQLOutputType) -> bool:
    if isinstance(output, GraphQLNonNull):
        output = output.of_type
    return isinstance(output, GraphQLList)


def _list_size(definition: GraphQLField, node: FieldNode) -> int:
    if not _is_list(definition.type):
        return 1
    declared = _declared_size(definition)
    if declared is None:
        return UNDECLARED_LIST_SIZE
    for argument in node.arguments or ():
        if argument.name.value != "limit":
            continue
        literal = argument.value
        if isinstance(literal, IntValueNode) and len(literal.value) <= MAX_NUMBER_DIGITS:
            return max(0, min(int(literal.value), declared.maximum))
        if isinstance(literal, IntValueNode):
            return 0  # past int()'s digit limit: another rule refuses it
        return declared.estimate or declared.maximum  # a variable: the most it may return
    return declared.estimate or declared.default


def _declared_size(definition: GraphQLField) -> PageSize | None:
    field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    metadata = getattr(field, "metadata", None) or {}
    size = metadata.get(PAGE_SIZE)
    return size if isinstance(size, PageSize) else None


class ResultTooLarge(GraphQLError):
    """Raised during execution when a request has completed more fields than it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The result would hold more than {limit:,} fields (the limit): ask for smaller "
            "pages (limit/offset) or fewer fields.",
            extensions={"code": QUERY_TOO_COMPLEX},
        )


class FieldBudget:
    """Counts the fields one execution completes; raises ResultTooLarge past the limit."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, fields: int) -> None:
        self.used += fields
        if self.used > self.limit:
            raise ResultTooLarge(self.limit)
