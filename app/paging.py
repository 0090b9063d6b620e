"""`limit`/`offset` paging as ValueRank does it: a default, a cap, no negatives."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


def page(limit: int | None, offset: int | None, *, default: int, maximum: int) -> Page:
    if limit is not None and limit < 0:
        raise ValidationFailed("limit must not be negative")
    if offset is not None and offset < 0:
        raise ValidationFailed("offset must not be negative")
    chosen = default if limit is None else limit
    return Page(limit=min(chosen, maximum), offset=offset or 0)
