"""Adversarial authorization, generated from the schema: every Query, Mutation and Subscription
field, written every way a document can hide what it selects (fragments and aliases named like
introspection, nested and inline fragments, directives, several operations), sent with no key,
an unknown key and a viewer's key. Nothing runs that should not; a new field is covered the day
it is added."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from starlette.testclient import TestClient

from app.db import libpq_url
from app.graphql.schema import schema
from app.main import create_app
from tests import conftest
from tests.factories import error_codes
from tests.live import PROTOCOL, Connection, receive

SCALAR_LITERALS = {
    "Int": "1",
    "Float": "1.5",
    "Boolean": "true",
    "JSON": "{}",
    "DateTime": '"2026-01-01T00:00:00+00:00"',
}


def literal(type_: GraphQLInputType) -> str:
    """A literal of `type_` that passes validation, with every required input field set."""
    if isinstance(type_, GraphQLNonNull):
        return literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{literal(type_.of_type)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = [
            f"{name}: {literal(field.type)}"
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        ]
        return "{" + ", ".join(required) + "}"
    assert isinstance(type_, GraphQLScalarType)
    return SCALAR_LITERALS.get(type_.name, '"x"')


def selection(name: str, field: GraphQLField) -> str:
    """`name(required args) { __typename }`: the smallest valid selection of a root field."""
    args = [
        f"{arg_name}: {literal(arg.type)}"
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull)
    ]
    written = name + (f"({', '.join(args)})" if args else "")
    return written if is_leaf_type(get_named_type(field.type)) else written + " { __typename }"


@dataclass(frozen=True)
class Case:
    operation: str  # query, mutation or subscription
    field: str
    shape: str
    document: str
    operation_name: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"query": self.document}
        if self.operation_name is not None:
            body["operationName"] = self.operation_name
        return body

    def __str__(self) -> str:
        return f"{self.operation} {self.field} [{self.shape}]"


def shapes(operation: str, root: str, field: str) -> Iterator[tuple[str, str, str | None]]:
    """Every way of writing one selection `field` of the `root` type in an `operation`."""
    yield "plain", f"{operation} {{ {field} }}", None
    yield "fragment __x", f"{operation} {{ ...__x }} fragment __x on {root} {{ {field} }}", None
    yield "alias __x", f"{operation} {{ __x: {field} }}", None
    yield (
        "nested fragments",
        f"{operation} {{ ...__a }} fragment __a on {root} {{ ...__b }} "
        f"fragment __b on {root} {{ {field} }}",
        None,
    )
    yield "inline fragment", f"{operation} {{ ... on {root} {{ {field} }} }}", None
    yield "untyped inline fragment", f"{operation} {{ ... {{ {field} }} }}", None
    yield (
        "directives",
        f"{operation} {{ ... @include(if: true) @skip(if: false) {{ {field} }} }}",
        None,
    )
    yield (
        "fragment named __schema with a directive",
        f"{operation} {{ ...__schema @include(if: true) }} fragment __schema on {root} {{ {field} }}",
        None,
    )
    two = f"query __typename {{ __typename }} {operation} __schema {{ {field} }}"
    yield "two operations, the second named", two, "__schema"
    yield "two operations, none named", two, None


def cases(operations: tuple[str, ...]) -> list[Case]:
    roots = {
        "query": schema._schema.query_type,
        "mutation": schema._schema.mutation_type,
        "subscription": schema._schema.subscription_type,
    }
    found = []
    for operation in operations:
        root = roots[operation]
        assert isinstance(root, GraphQLObjectType)
        for name, field in root.fields.items():
            for shape, document, operation_name in shapes(
                operation, root.name, selection(name, field)
            ):
                found.append(Case(operation, name, shape, document, operation_name))
    return found


ALL = cases(("query", "mutation", "subscription"))
MUTATIONS = cases(("mutation",))


def test_the_matrix_covers_every_root_field() -> None:
    fields = {(c.operation, c.field) for c in ALL}
    for operation, root in (
        ("query", schema._schema.query_type),
        ("mutation", schema._schema.mutation_type),
        ("subscription", schema._schema.subscription_type),
    ):
        assert root is not None
        assert {(operation, name) for name in root.fields} <= fields


def state_digest(database_url: str) -> str:
    """A digest of every row of every table but api_keys (whose use is recorded on each
    request): equal before and after means nothing was written."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                "AND table_name <> 'api_keys' ORDER BY table_name"
            )
        ]
        digest = hashlib.sha256()
        for table in tables:
            rows = conn.execute(
                f"SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \"{table}\" t"
            ).fetchone()
            digest.update(f"{table}:{rows[0] if rows else ''}\n".encode())
        return digest.hexdigest()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer vrk_unknown"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no key", "unknown key", "wrong scheme"],
)
async def test_without_a_valid_key_nothing_runs(
    app_client: httpx.AsyncClient, database_url: str, headers: dict[str, str]
) -> None:
    before = state_digest(database_url)
    wrong = []
    for case in ALL:
        response = await app_client.post("/graphql", json=case.body(), headers=headers)
        body = response.json()
        if (
            response.status_code != 401
            or error_codes(body) != ["UNAUTHENTICATED"]
            or body.get("data")
        ):
            wrong.append(f"{case}: {response.status_code} {body}")
    assert wrong == []
    assert state_digest(database_url) == before


async def test_a_viewer_runs_no_mutation(
    app_client: httpx.AsyncClient, database_url: str, viewer_key: str
) -> None:
    before = state_digest(database_url)
    wrong = []
    for case in MUTATIONS:
        response = await app_client.post(
            "/graphql", json=case.body(), headers={"Authorization": f"Bearer {viewer_key}"}
        )
        body = response.json()
        expected = (
            ["OPERATION_RESOLUTION_FAILURE"]
            if case.shape == "two operations, none named"
            else ["FORBIDDEN"]
        )
        if error_codes(body) != expected or body.get("data"):
            wrong.append(f"{case}: {response.status_code} {body}")
    assert wrong == []
    assert state_digest(database_url) == before


async def test_a_viewer_reads_whatever_the_shape(
    app_client: httpx.AsyncClient, viewer_key: str
) -> None:
    """The other half of the matrix: the same shapes that are refused to a viewer as mutations
    are answered as queries (no UNAUTHENTICATED or FORBIDDEN), so the refusals above come from
    the role, not from the document's shape."""
    wrong = []
    for case in cases(("query",)):
        if case.shape == "two operations, none named":
            continue
        response = await app_client.post(
            "/graphql", json=case.body(), headers={"Authorization": f"Bearer {viewer_key}"}
        )
        codes = error_codes(response.json())
        if response.status_code != 200 or {"UNAUTHENTICATED", "FORBIDDEN"} & set(codes):
            wrong.append(f"{case}: {response.status_code} {response.json()}")
    assert wrong == []


async def test_subscriptions_are_refused_over_http_whatever_the_key(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    wrong = []
    for case in cases(("subscription",)):
        response = await app_client.post(
            "/graphql", json=case.body(), headers={"Authorization": f"Bearer {admin_key}"}
        )
        expected = (
            ["OPERATION_RESOLUTION_FAILURE"]
            if case.shape == "two operations, none named"
            else ["BAD_REQUEST"]
        )
        if response.status_code != 400 or error_codes(response.json()) != expected:
            wrong.append(f"{case}: {response.status_code} {response.json()}")
    assert wrong == []


def test_over_the_websocket_a_viewer_runs_no_mutation(database_url: str, viewer_key: str) -> None:
    """graphql-transport-ws carries queries and mutations too: the same role check holds."""
    app = create_app(conftest.test_settings(seed_demo=True), database_url=database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws,
    ):
        connection = Connection(ws)
        assert connection.init({"Authorization": f"Bearer {viewer_key}"}) == {
            "type": "connection_ack"
        }
        before = state_digest(database_url)
        wrong = []
        for case in MUTATIONS:
            operation = str(len(wrong)) + case.shape + case.field
            ws.send_json({"id": operation, "type": "subscribe", "payload": case.body()})
            reply = receive(ws)
            while reply.get("id") != operation:
                reply = receive(ws)
            codes = [e.get("extensions", {}).get("code") for e in _errors(reply)]
            if not codes or set(codes) - {"FORBIDDEN", "OPERATION_RESOLUTION_FAILURE"}:
                wrong.append(f"{case}: {reply}")
        assert wrong == []
        assert state_digest(database_url) == before


def _errors(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """A graphql-transport-ws reply's errors: `error` carries a list, `next` a result."""
    payload = reply.get("payload")
    if reply["type"] == "error":
        return list(payload or [])
    if reply["type"] == "next" and isinstance(payload, dict):
        if payload.get("data"):
            return [{"extensions": {"code": "RAN"}}]
        return list(payload.get("errors") or [])
    return []
