"""Every type, field, argument and input field of the schema has a description (from the
code's docstrings, app/graphql/docs.py), so the GraphiQL docs pane explains the whole API:
a new field without one fails here, by name."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    specified_scalar_types,
)

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
