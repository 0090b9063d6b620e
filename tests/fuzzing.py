"""What fuzzing /graphql sends, and the contract every answer must keep, shared by
tests/acceptance/test_fuzz.py (properties, shrunk to a minimal failing request) and bench/fuzz.py
(10,000 requests against a served process, counted).

Requests come in two families:
- **schema-driven**: operations hypothesis-graphql generates from the schema (valid ones, and
  ones with a single schema violation), with arguments drawn from the ids that exist in the
  database as well as random text, sometimes hoisted into variables (the version pinned here
  only writes literals) and sometimes given variables of the wrong shape;
- **malformed**: bodies, encodings, content types, headers and variables a careless or hostile
  client might send.

The contract (`violations`): no 5xx; a JSON answer; every error with a message and an
`extensions.code`; never "Unexpected error." / INTERNAL_SERVER_ERROR, which only a bug may
cause; a refused key is 401 UNAUTHENTICATED; a viewer's mutation changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import graphql
import hypothesis_graphql
from hypothesis import strategies as st

from app.graphql.schema import schema as app_schema

SDL = app_schema.as_str()
SCHEMA = graphql.build_schema(SDL)
UNEXPECTED = "Unexpected error."
INTERNAL = "INTERNAL_SERVER_ERROR"
# Words the schema's String arguments take (statuses, categories) beside ids and random text.
WORDS = ("ACTIVE", "DEPRECATED", "PENDING", "RUNNING", "PAUSED", "COMPLETED", "CANCELLED")
DEFINITION_CONTENT = {
    "schema_version": 2,
    "template": "Consider [stakes]. Rate 1-5.",
    "dimensions": [{"name": "stakes", "levels": [{"score": 1, "label": "low"}]}],
}
NAME = re.compile("[_A-Za-z][_0-9A-Za-z]*")


@dataclass(frozen=True)
class Request:
    """One HTTP request to /graphql: `content` for a POST body, `query_string` for a GET."""

    method: str
    headers: dict[str, str]
    content: bytes = b""
    query_string: str = ""
    expects_401: bool = False
    is_viewer_mutation: bool = False


@dataclass(frozen=True)
class Keys:
    admin: str
    viewer: str


# --- the contract ----------------------------------------------------------------------------


def violations(request: Request, status: int, content_type: str, content: bytes) -> list[str]:
    """How an answer breaks the contract (empty when it keeps it)."""
    if status >= 500:
        return [f"HTTP {status}"]
    if request.method == "HEAD":
        return []  # HTTP sends a HEAD's answer without its body
    if not content_type.startswith("application/json"):
        return [f"HTTP {status} answered as {content_type!r}, not JSON"]
    try:
        body = json.loads(content)
    except ValueError:
        return [f"HTTP {status} with a body that is not JSON: {content[:200]!r}"]
    if not isinstance(body, dict):
        return [f"the body is not a JSON object: {body!r}"]
    found = [problem for error in body.get("errors") or [] for problem in _error_problems(error)]
    codes = error_codes(body)
    if status >= 400 and not codes:
        found.append(f"HTTP {status} without errors")
    if request.expects_401 and (status, codes) != (401, ["UNAUTHENTICATED"]):
        found.append(f"a refused key answered HTTP {status} {codes}, not 401 UNAUTHENTICATED")
    if request.is_viewer_mutation and body.get("data"):
        found.append(f"a viewer's mutation returned data: {body['data']!r}")
    return found


def error_codes(body: dict[str, Any]) -> list[str]:
    return [
        code
        for error in body.get("errors") or []
        if isinstance(error, dict)
        and isinstance(code := (error.get("extensions") or {}).get("code"), str)
    ]


def _error_problems(error: Any) -> list[str]:
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return [f"an error without a message: {error!r}"]
    code = (error.get("extensions") or {}).get("code")
    if not isinstance(code, str) or not code:
        return [f"an error without extensions.code: {error!r}"]
    if code == INTERNAL or error["message"] == UNEXPECTED:
        return [f"an unexpected error: {error!r}"]
    return []


# --- schema-driven requests ------------------------------------------------------------------


def texts() -> st.SearchStrategy[str]:
    """Any text, NUL and unpaired surrogates included (PostgreSQL can store neither)."""
    return st.text(st.characters(max_codepoint=0x10FFFF), max_size=20) | st.sampled_from(
        ["", "\x00", "a\x00b", "\ud800", "x" * 300, "' OR 1=1 --", "%s", "\\"]
    )


def json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()  # NaN and infinities too: json.dumps writes them, as some clients do
        | st.sampled_from([10**400, -(10**4_000)])
        | texts()
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.from_regex(NAME, fullmatch=True) | texts(), inner, max_size=3)
        ),
        max_leaves=8,
    )


def value_node(value: Any) -> graphql.ValueNode:
    """A GraphQL literal for a JSON value (what a client writes for the JSON scalar)."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        # Infinity and NaN have no literal; 1e400 is one that parses as infinity.
        return graphql.FloatValueNode(value=repr(value) if math.isfinite(value) else "1e400")
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(value_node(v) for v in value))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=value_node(v))
            for k, v in value.items()
            if NAME.fullmatch(k)  # an object literal's keys are GraphQL names
        )
    )


def scalar_strategies(known: Sequence[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Argument values: existing ids most of the time (so mutations reach real rows), else
    anything. `ID` and `String` are overridden too: their arguments are mostly ids."""
    names = st.sampled_from([*known, *WORDS]) if known else st.sampled_from(WORDS)
    strings = st.one_of(names, names, texts()).map(lambda s: graphql.StringValueNode(value=s))
    moments = st.datetimes().map(lambda d: d.isoformat()) | texts()
    documents = st.just(DEFINITION_CONTENT) | json_values()
    return {
        "ID": strings,
        "String": strings,
        "DateTime": moments.map(lambda s: graphql.StringValueNode(value=s)),
        "JSON": documents.map(value_node),
    }


def documents(known: Sequence[str], *, valid: bool) -> st.SearchStrategy[str]:
    """Queries and mutations over the whole schema; `valid=False`: one schema violation each."""
    mode = hypothesis_graphql.Mode.POSITIVE if valid else hypothesis_graphql.Mode.NEGATIVE
    return hypothesis_graphql.from_schema(
        SCHEMA, custom_scalars=scalar_strategies(known), mode=mode
    )


def hoist_arguments(document: str) -> tuple[str, dict[str, Any]]:
    """The same operation with every argument passed as a variable of the argument's type
    (unchanged when it does not parse: a literal string may hold a lone surrogate)."""
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLSyntaxError:
        return document, {}
    type_info = graphql.TypeInfo(SCHEMA)
    hoister = _Hoister(type_info)
    ast = graphql.visit(ast, graphql.TypeInfoVisitor(type_info, hoister))
    return graphql.print_ast(ast), hoister.values


class _Hoister(graphql.Visitor):
    def __init__(self, type_info: graphql.TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.definitions: list[graphql.VariableDefinitionNode] = []
        self.values: dict[str, Any] = {}

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        input_type = self.type_info.get_input_type()
        if input_type is None or isinstance(node.value, graphql.VariableNode):
            return None
        name = graphql.NameNode(value=f"v{len(self.values)}")
        self.values[name.value] = graphql.value_from_ast_untyped(node.value)
        self.definitions.append(
            graphql.VariableDefinitionNode(
                variable=graphql.VariableNode(name=name),
                type=graphql.parse_type(str(input_type)),
            )
        )
        return graphql.ArgumentNode(name=node.name, value=graphql.VariableNode(name=name))

    def leave_operation_definition(self, node: graphql.OperationDefinitionNode, *_: Any) -> Any:
        return dataclasses.replace(node, variable_definitions=tuple(self.definitions))


def body(payload: Any) -> bytes:
    # ASCII escapes, as most clients' encoders write them: a lone surrogate in a string then
    # reaches the server as "\\ud800" rather than failing to encode on the client.
    return json.dumps(payload, ensure_ascii=True).encode()


def authorized(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def operations(known: Sequence[str], keys: Keys, *, valid: bool) -> st.SearchStrategy[Request]:
    """A generated operation, as literals or variables (sometimes of the wrong shape), sent
    with the admin's or the viewer's key."""
    # Built once: hypothesis-graphql cannot cache a strategy whose custom scalars are a dict,
    # and building one per example costs more than the example.
    generated = documents(known, valid=valid)
    json_value = json_values()

    @st.composite
    def operation(draw: st.DrawFn) -> Request:
        document = draw(generated)
        payload: dict[str, Any] = {"query": document}
        if valid and draw(st.booleans()):
            payload["query"], variables = hoist_arguments(document)
            if variables and draw(st.integers(0, 3)) == 0:
                wrong = draw(st.sampled_from(sorted(variables)))
                variables[wrong] = draw(json_value)
            payload["variables"] = variables
        viewer = draw(st.booleans())
        return Request(
            "POST",
            authorized(keys.viewer if viewer else keys.admin),
            body(payload),
            is_viewer_mutation=viewer and document.lstrip().startswith("mutation"),
        )

    return operation()


UPDATE_API_CONFIG = (
    "mutation($id: String!, $c: JSON) { updateLlmModel(id: $id, input: {apiConfig: $c}) "
    "{ id apiConfig } }"
)


def stored_values(model_ids: Sequence[str], keys: Keys) -> st.SearchStrategy[Request]:
    """Values that reach a jsonb column (a model's apiConfig), as a variable or a literal, and
    numbers past a double's range or int()'s digit limit where an Int is due."""
    by_variable = st.builds(
        lambda model, value: {"query": UPDATE_API_CONFIG, "variables": {"id": model, "c": value}},
        st.sampled_from(model_ids),
        json_values(),
    )
    by_literal = st.builds(
        lambda model, value: {
            "query": UPDATE_API_CONFIG.replace(", $c: JSON", "").replace(
                "$c", graphql.print_ast(value_node(value))
            ),
            "variables": {"id": model},
        },
        st.sampled_from(model_ids),
        json_values(),
    )
    limits = st.sampled_from(NUMBERS).map(lambda n: {"query": f"{{ runs(limit: {n}) {{ id }} }}"})
    payloads = by_variable | by_literal | limits
    return payloads.map(lambda payload: Request("POST", authorized(keys.admin), body(payload)))


# --- malformed requests ----------------------------------------------------------------------

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "APPLICATION/JSON",
    "application/graphql-response+json",
    "application/graphql",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
)
# Number literals past what a double or int() can take.
NUMBERS = ("1e400", "-1e400", "1" + "0" * 400, "1" + "0" * 5_000, "NaN", "Infinity", "0.1e-400")
QUERIES = ("{ __typename }", "{ definitionCount }", "query($n: Int) { runs(limit: $n) { id } }")


def _deep(depth: int, opening: str, closing: str, leaf: str = "1") -> str:
    return opening * depth + leaf + closing * depth


@st.composite
def bad_keys(draw: st.DrawFn) -> dict[str, str]:
    """Authorization headers that name no live key (or no header at all)."""
    printable = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)
    value = draw(
        st.none()
        | st.sampled_from(["", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer  x"])
        | printable.map(lambda s: f"Bearer {s}")
        | printable
    )
    # Strip: HTTP cannot carry a header value's outer whitespace (h11 refuses to send it).
    return {} if value is None else {"Authorization": value.strip()}


def malformed_bodies() -> st.SearchStrategy[bytes]:
    depth = st.sampled_from([2, 33, 200, 5_000, 100_000])
    return st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=50).map(lambda b: b'{"query": "' + b + b'"}'),
        st.just(b'{"query": "{ __typename }", "v": "\xed\xa0\x80"}'),
        json_values().map(body),
        depth.map(lambda d: _deep(d, "[", "]").encode()),
        depth.map(
            lambda d: (
                '{"query": "{ __typename }", "variables": {"v": ' + _deep(d, '{"a":', "}") + "}}"
            ).encode()
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "query": st.sampled_from(QUERIES) | texts() | json_values(),
                "variables": json_values(),
                "operationName": json_values(),
                "extensions": json_values(),
            },
        ).map(body),
        depth.map(lambda d: body({"query": "{ " + _deep(d, "runs { ", " }", "id") + " }"})),
        depth.map(lambda d: body({"query": "{ definitionCount " + "@skip(if: false) " * d + "}"})),
        st.sampled_from(NUMBERS).map(
            lambda n: body({"query": "{ runs(limit: " + n + ") { id } }"})
        ),
        st.sampled_from(NUMBERS).map(
            lambda n: b'{"query": "{ __typename }", "variables": {"v": ' + n.encode() + b"}}"
        ),
    )


@st.composite
def malformed(draw: st.DrawFn, keys: Keys) -> Request:
    """A request that is broken somewhere: key, method, content type, body or parameters."""
    key = draw(st.sampled_from(["admin", "viewer", "bad"]))
    headers = draw(bad_keys()) if key == "bad" else authorized(getattr(keys, key))
    headers.pop("Content-Type", None)
    if draw(st.booleans()):
        params = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "query": st.sampled_from(QUERIES) | texts(),
                    "variables": json_values().map(json.dumps) | texts(),
                    "operationName": texts(),
                    "extensions": texts(),
                },
            )
        )
        # Encoded here: a lone surrogate becomes %ED%A0%80, bytes that are not UTF-8.
        query_string = urllib.parse.urlencode(params, errors="surrogatepass")
        return Request("GET", headers, query_string=query_string, expects_401=key == "bad")
    headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES))
    return Request("POST", headers, draw(malformed_bodies()), expects_401=key == "bad")
