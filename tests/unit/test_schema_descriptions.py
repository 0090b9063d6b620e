"""Every type, field, argument and input field of the schema has a description (from the
code's docstrings, app/graphql/docs.py), so the GraphiQL docs pane explains the whole API:
a new field without one fails here, by name."""

from __future__ import annotations

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    specified_scalar_types,
)

from app.graphql.docs import describe
from app.graphql.schema import build_schema


def undescribed(schema: GraphQLSchema) -> list[str]:
    missing: list[str] = []

    def need(path: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(path)

    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        need(name, named.description)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                need(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    need(f"{name}.{field_name}({arg_name})", arg.description)
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                need(f"{name}.{field_name}", input_field.description)
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                need(f"{name}.{value_name}", value.description)
        else:
            assert isinstance(named, GraphQLScalarType), name
    return missing


def test_every_type_field_and_argument_is_described() -> None:
    missing = undescribed(build_schema()._schema)
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_description() -> None:
    schema = build_schema()._schema
    run = schema.type_map["Run"]
    assert isinstance(run, GraphQLObjectType)
    run.fields["status"].description = None
    run.fields["transcripts"].args["limit"].description = " "
    assert undescribed(schema) == ["Run.status", "Run.transcripts(limit)"]


@strawberry.type
class Item:
    """An item."""

    name: str
    """Its name."""
    size: int = strawberry.field(description="Explicit wins.")
    """Not this."""


@strawberry.type
class ItemQuery:
    @strawberry.field
    def items(self, kind: str, limit: int | None = None) -> list[Item]:
        """Items, newest first.

        Args:
            kind: Only items of this kind,
                whatever their size.
        """
        return []

    @strawberry.field(description="Given.")  # type: ignore[untyped-decorator]
    def item(self, item_id: str) -> Item | None:
        """Args:
        itemId: The item.
        """
        return None


def test_descriptions_come_from_docstrings_and_explicit_ones_win() -> None:
    schema = strawberry.Schema(query=ItemQuery)._schema
    describe(schema)
    item, query = schema.type_map["Item"], schema.type_map["ItemQuery"]
    assert isinstance(item, GraphQLObjectType) and isinstance(query, GraphQLObjectType)
    assert item.description == "An item."
    assert item.fields["name"].description == "Its name."
    assert item.fields["size"].description == "Explicit wins."
    items = query.fields["items"]
    assert items.description == "Items, newest first."
    assert items.args["kind"].description == "Only items of this kind, whatever their size."
    assert items.args["limit"].description is None  # not a paged field: the check names it
    assert query.fields["item"].description == "Given."
    assert query.fields["item"].args["itemId"].description == "The item."
