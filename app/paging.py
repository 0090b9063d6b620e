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


@dataclass(frozen=True, slots=True)
class PageSize:
    """A list field's page: its default and maximum `limit`. Declared on the field
    (`@paged_field(SIZE)` in app/graphql/args.py), so that the query cost limit
    (app/graphql/limits.py) counts the same sizes the resolver returns."""

    default: int
    maximum: int
    # What the cost limit counts when no literal `limit` is given, for lists whose length
    # only an admin controls (the catalog): their typical size rather than their maximum.
    # The count taken during execution still bounds the real result.
    estimate: int | None = None

    def page(self, limit: int | None, offset: int | None) -> Page:
        return page(limit, offset, default=self.default, maximum=self.maximum)

    @property
    def metadata(self) -> dict[str, PageSize]:
        return {PAGE_SIZE: self}


PAGE_SIZE = "page_size"
