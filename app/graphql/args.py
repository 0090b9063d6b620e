"""Argument names fixed by ValueRank's schema that would shadow Python builtins, and the
decorator of a paged list field."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry

from app.paging import PageSize

IdArg = Annotated[str, strawberry.argument(name="id")]
IdArgID = Annotated[strawberry.ID, strawberry.argument(name="id")]

Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def paged_field(size: PageSize) -> Callable[[Resolver], Resolver]:
    """`@strawberry.field` for a list resolver taking `limit`/`offset`, declaring its page
    size to the query cost limit (typed, which Strawberry's decorator with arguments is not)."""
    decorator: Callable[[Resolver], Resolver] = strawberry.field(metadata=size.metadata)
    return decorator
