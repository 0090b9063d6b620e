"""Per-request DataLoaders: every list field loads in one statement per batch, not per row.

A loader key is either an id, or `(id, params)` when the field takes arguments (paging,
filters): keys sharing the same params are fetched together.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from app.graphql.context import RequestSession

K = TypeVar("K", bound=Hashable)
P = TypeVar("P", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

Fetch = Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]]
FetchWith = Callable[[AsyncSession, Sequence[K], P], Awaitable[dict[K, V]]]


class Loaders:
    """Created per request; caches for that request only (not at all over a websocket)."""

    def __init__(self, reader: RequestSession, *, cache: bool = True) -> None:
        self._reader = reader
        self._cache = cache
        self._loaders: dict[str, DataLoader[Any, Any]] = {}

    def by_key(self, name: str, fetch: Fetch[K, V], default: V | None = None) -> DataLoader[K, V]:
        """A loader returning `fetch(...)[key]`, or `default` for keys it did not return."""
        if name not in self._loaders:

            async def load(keys: list[K]) -> list[V | None]:
                async with self._reader.use() as session:
                    found = await fetch(session, keys)
                return [found.get(k, default) for k in keys]

            self._loaders[name] = DataLoader(load_fn=load, cache=self._cache)
        return self._loaders[name]

    def with_params(self, name: str, fetch: FetchWith[K, P, V]) -> DataLoader[tuple[K, P], V]:
        """A loader whose keys are `(id, params)`; one fetch per distinct params."""
        if name not in self._loaders:

            async def load(keys: list[tuple[K, P]]) -> list[V]:
                groups: dict[P, list[K]] = defaultdict(list)
                for key, params in keys:
                    groups[params].append(key)
                results: dict[tuple[K, P], V] = {}
                async with self._reader.use() as session:
                    for params, ids in groups.items():
                        found = await fetch(session, list(dict.fromkeys(ids)), params)
                        results.update({(k, params): v for k, v in found.items()})
                return [results[k] for k in keys]

            self._loaders[name] = DataLoader(load_fn=load, cache=self._cache)
        return self._loaders[name]


def now_or_later(loaded: Awaitable[V], convert: Callable[[V], R]) -> R | Awaitable[R]:
    """`convert(value)` at once when the loader already holds the value, else an awaitable.

    A value loaded earlier in the request, or primed by a list's prefetch
    (app/graphql/prefetch.py), then resolves synchronously instead of scheduling a task.
    """
    if isinstance(loaded, asyncio.Future) and loaded.done() and loaded.exception() is None:
        return convert(loaded.result())

    async def later() -> R:
        return convert(await loaded)

    return later()
