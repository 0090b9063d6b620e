"""GraphQL types for definitions, scenarios, tags and experiments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.definitions import models as tables
from app.definitions import service
from app.graphql.args import paged_field
from app.graphql.context import Info
from app.paging import Page, PageSize
from app.runs import service as runs_service

DEFINITION_PAGE = PageSize(default=50, maximum=100)
SCENARIO_PAGE = PageSize(default=50, maximum=100)
# A definition's runs; the same page as the `runs` query.
RUN_PAGE = PageSize(default=20, maximum=100)

if TYPE_CHECKING:
    from app.runs.graphql.types import Run

RunType = Annotated["Run", strawberry.lazy("app.runs.graphql.types")]


@strawberry.type
class Domain:
    """A domain of definitions (not served here: Definition.domain is always null)."""

    id: strawberry.ID
    """The domain's id."""
    name: str
    """Its name."""


@strawberry.type
class Tag:
    """A label on definitions and runs."""

    id: strawberry.ID
    """The tag's id."""
    name: str
    """Its name."""
    created_at: datetime
    """When it was created."""

    @classmethod
    def from_row(cls, row: tables.Tag) -> Tag:
        assert row.created_at is not None
        return cls(id=strawberry.ID(row.id), name=row.name, created_at=row.created_at)


@strawberry.type
class Scenario:
    """One concrete prompt expanded from a definition: one combination of its dimension levels."""

    id: strawberry.ID
    """The scenario's id."""
    definition_id: str
    """The definition it was expanded from."""
    name: str
    """Its levels, e.g. stakes=high, urgency=low."""
    content: JSON
    """{ prompt, preamble?, followups?: [{ label, prompt }], dimension_values: { name: score } }."""
    created_at: datetime
    """When it was expanded."""

    @classmethod
    def from_row(cls, row: tables.Scenario) -> Scenario:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(row.id),
            definition_id=row.definition_id,
            name=row.name,
            content=JSON(row.content),
            created_at=row.created_at,
        )

    @strawberry.field
    async def definition(self, info: Info) -> Definition:
        """The definition it was expanded from."""
        row = await load_definition(info, self.definition_id)
        assert row is not None  # foreign key
        return Definition.from_row(row)


async def load_definition(info: Info, definition_id: str) -> tables.Definition | None:
    loader = info.context.loaders.by_key("definitions_by_id", service.definitions_by_id)
    return await loader.load(definition_id)


@strawberry.type
class Definition:
    """A scenario template: its dimensions expand into scenarios (see content)."""

    id: strawberry.ID
    """The definition's id."""
    name: str
    """Its name."""
    content: JSON
    """{ schema_version: 2, template, dimensions: [{ name, levels: [{ score, label, options? }] }], preamble?, followups?, matching_rules? }."""
    version: int
    """Starts at 1; each content change adds one."""
    parent_id: strawberry.ID | None
    """The definition this one was forked from, if any."""
    preamble_version_id: str | None
    """ValueRank's preamble version reference, stored as given."""
    created_at: datetime
    """When it was created."""
    updated_at: datetime
    """When it last changed."""
    last_accessed_at: datetime | None
    """When it was last read by id (definition query)."""
    row: strawberry.Private[tables.Definition]

    @classmethod
    def from_row(cls, row: tables.Definition) -> Definition:
        assert row.created_at is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            content=JSON(row.content),
            version=row.version,
            parent_id=strawberry.ID(row.parent_id) if row.parent_id else None,
            preamble_version_id=row.preamble_version_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_accessed_at=row.last_accessed_at,
            row=row,
        )

    @classmethod
    def from_row_or_none(cls, row: tables.Definition | None) -> Definition | None:
        return cls.from_row(row) if row is not None else None

    async def _parent(self, info: Info) -> Definition | None:
        if self.row.parent_id is None:
            return None
        row = await load_definition(info, self.row.parent_id)
        return Definition.from_row(row) if row else None

    @strawberry.field
    async def parent(self, info: Info) -> Definition | None:
        """The definition this one was forked from, if any."""
        return await self._parent(info)

    @strawberry.field
    async def children(self, info: Info) -> list[Definition]:
        """Live definitions forked from this one."""
        loader = info.context.loaders.by_key("children_by_parent", service.children_by_parent)
        return [Definition.from_row(r) for r in await loader.load(self.row.id) or []]

    @paged_field(SCENARIO_PAGE)
    async def scenarios(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[Scenario]:
        """Its live scenarios, in expansion order."""
        paging = SCENARIO_PAGE.page(limit, offset)
        loader = info.context.loaders.with_params("scenario_pages", service.scenario_pages)
        return [Scenario.from_row(r) for r in await loader.load((self.row.id, paging))]

    @strawberry.field
    async def scenario_count(self, info: Info) -> int:
        """Its live scenarios."""
        loader = info.context.loaders.by_key("scenario_counts", service.scenario_counts, 0)
        return await loader.load(self.row.id) or 0

    @paged_field(RUN_PAGE)
    async def runs(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[RunType]:
        """Its runs, newest first."""
        from app.runs.graphql.types import Run

        paging = RUN_PAGE.page(limit, offset)
        loader = info.context.loaders.with_params(
            "runs_by_definition", runs_service.runs_by_definition
        )
        return [Run.from_row(r) for r in await loader.load((self.row.id, paging))]

    @strawberry.field
    async def run_count(self, info: Info) -> int:
        """Its runs."""
        loader = info.context.loaders.by_key(
            "run_counts_by_definition", runs_service.run_counts_by_definition
        )
        return await loader.load(self.row.id) or 0

    async def _tags(self, info: Info) -> list[Tag]:
        loader = info.context.loaders.by_key("tags_by_definition", service.tags_by_definition)
        return [Tag.from_row(t) for t in await loader.load(self.row.id) or []]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        """Its own tags, by name."""
        return await self._tags(info)

    async def _all_tags(self, info: Info) -> list[Tag]:
        tags = {t.name: t for t in await self._tags(info)}
        parent = await self._parent(info)
        if parent is not None:
            for tag in await parent._all_tags(info):
                tags.setdefault(tag.name, tag)
        return sorted(tags.values(), key=lambda t: t.name)

    @strawberry.field
    async def all_tags(self, info: Info) -> list[Tag]:
        """Own tags and those inherited from every ancestor, by name, without repeats."""
        return await self._all_tags(info)

    @strawberry.field
    def domain(self) -> Domain | None:
        """Always null (domains are outside this server's slice)."""
        return None  # domains are outside this server's slice

    @strawberry.field
    def paired_sibling(self) -> Definition | None:
        """Always null (paired runs are outside this server's slice)."""
        return None  # paired runs are outside this server's slice


@strawberry.type
class Experiment:
    """A group of runs testing one hypothesis (ValueRank's survey)."""

    id: strawberry.ID
    """The experiment's id."""
    name: str
    """Its name."""
    hypothesis: str | None
    """What it tests, if stated."""
    analysis_plan: JSON | None
    """How its results are to be analysed, as given."""
    created_at: datetime
    """When it was created."""
    updated_at: datetime
    """When it last changed."""

    @classmethod
    def from_row(cls, row: tables.Experiment) -> Experiment:
        assert row.created_at is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            hypothesis=row.hypothesis,
            analysis_plan=JSON(row.analysis_plan),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def runs(self, info: Info) -> list[RunType]:
        """Its runs, newest first (at most 100)."""
        from app.runs.graphql.types import Run

        loader = info.context.loaders.with_params(
            "runs_by_experiment", runs_service.runs_by_experiment
        )
        return [Run.from_row(r) for r in await loader.load((str(self.id), Page(100, 0)))]

    @strawberry.field
    async def run_count(self, info: Info) -> int:
        """Its runs."""
        loader = info.context.loaders.by_key(
            "run_counts_by_experiment", runs_service.run_counts_by_experiment
        )
        return await loader.load(str(self.id)) or 0
