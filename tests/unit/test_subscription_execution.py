"""Subscription events on the project's execution context: memory stays flat however long a
subscription lives, and one shared state is rendered once for all of its subscribers."""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.extensions import ParserCache

from app.graphql.executor import BasicFieldsExecutionContext

QUERY = "subscription { ticks { n label inner { n } } }"


@strawberry.type
class Inner:
    n: int


@strawberry.type
class Tick:
    n: int
    label: str
    inner: Inner
    shared_source: strawberry.Private[object | None] = None


SOURCES: list[object] = []


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, count: int = 0) -> AsyncGenerator[Tick, None]:
        for n in range(count or len(SOURCES)):
            source = SOURCES[n] if SOURCES else None
            yield Tick(n=n, label=f"t{n}", inner=Inner(n=n), shared_source=source)


# As in the app's schema: a parser cache hands identical queries the same document.
schema = strawberry.Schema(
    query=Query,
    subscription=Subscription,
    execution_context_class=BasicFieldsExecutionContext,
    extensions=[lambda: ParserCache(maxsize=8)],
)


async def results(query: str) -> list[Any]:
    stream = await schema.subscribe(query)
    assert not hasattr(stream, "errors"), stream
    return [result async for result in stream]  # type: ignore[union-attr]


def live_field_groups() -> int:
    gc.collect()
    names = {"FieldDetails", "_Step", "CollectedFields"}
    return sum(1 for o in gc.get_objects() if type(o).__name__ in names)


async def test_memory_does_not_grow_with_the_events_of_one_subscription() -> None:
    SOURCES.clear()
    stream = await schema.subscribe("subscription { ticks(count: 2000) { n label inner { n } } }")
    seen = 0
    baseline = 0
    async for result in stream:  # type: ignore[union-attr]
        assert result.errors is None and result.data["ticks"]["n"] == seen
        seen += 1
        if seen == 100:
            baseline = live_field_groups()
        if seen == 2000:
            assert live_field_groups() <= baseline + 20
    assert seen == 2000


async def test_one_shared_state_renders_once_for_every_subscriber() -> None:
    SOURCES[:] = [object(), object()]
    first, second = await results(QUERY), await results(QUERY)
    assert [r.data for r in first] == [r.data for r in second]
    assert first[0].data is second[0].data and first[1].data is second[1].data
    assert first[0].data is not first[1].data  # another state, another rendering
    other = await results("subscription { ticks { n } }")  # another operation
    assert other[0].data == {"ticks": {"n": 0}} and other[0].data is not first[0].data
    SOURCES.clear()
