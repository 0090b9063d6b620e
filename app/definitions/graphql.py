"""GraphQL types and resolvers for definitions, scenarios, tags and experiments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.definitions import models as tables
from app.definitions import service
from app.graphql.args import IdArg, IdArgID, paged_field
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
    id: strawberry.ID
    name: str


@strawberry.type
class Tag:
    id: strawberry.ID
    name: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: tables.Tag) -> Tag:
        assert row.created_at is not None
        return cls(id=strawberry.ID(row.id), name=row.name, created_at=row.created_at)


@strawberry.type
class Scenario:
    id: strawberry.ID
    definition_id: str
    name: str
    content: JSON
    created_at: datetime

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
        row = await load_definition(info, self.definition_id)
        assert row is not None  # foreign key
        return Definition.from_row(row)


async def load_definition(info: Info, definition_id: str) -> tables.Definition | None:
    loader = info.context.loaders.by_key("definitions_by_id", service.definitions_by_id)
    return await loader.load(definition_id)


@strawberry.type
class Definition:
    id: strawberry.ID
    name: str
    content: JSON
    version: int
    parent_id: strawberry.ID | None
    preamble_version_id: str | None
    created_at: datetime
    updated_at: datetime
    last_accessed_at: datetime | None
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
        return await self._parent(info)

    @strawberry.field
    async def children(self, info: Info) -> list[Definition]:
        loader = info.context.loaders.by_key("children_by_parent", service.children_by_parent)
        return [Definition.from_row(r) for r in await loader.load(self.row.id) or []]

    @paged_field(SCENARIO_PAGE)
    async def scenarios(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[Scenario]:
        paging = SCENARIO_PAGE.page(limit, offset)
        loader = info.context.loaders.with_params("scenario_pages", service.scenario_pages)
        return [Scenario.from_row(r) for r in await loader.load((self.row.id, paging))]

    @strawberry.field
    async def scenario_count(self, info: Info) -> int:
        loader = info.context.loaders.by_key("scenario_counts", service.scenario_counts, 0)
        return await loader.load(self.row.id) or 0

    @paged_field(RUN_PAGE)
    async def runs(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[RunType]:
        from app.runs.graphql.types import Run

        paging = RUN_PAGE.page(limit, offset)
        loader = info.context.loaders.with_params(
            "runs_by_definition", runs_service.runs_by_definition
        )
        return [Run.from_row(r) for r in await loader.load((self.row.id, paging))]

    @strawberry.field
    async def run_count(self, info: Info) -> int:
        loader = info.context.loaders.by_key(
            "run_counts_by_definition", runs_service.run_counts_by_definition
        )
        return await loader.load(self.row.id) or 0

    async def _tags(self, info: Info) -> list[Tag]:
        loader = info.context.loaders.by_key("tags_by_definition", service.tags_by_definition)
        return [Tag.from_row(t) for t in await loader.load(self.row.id) or []]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
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
        return None  # domains are outside this server's slice

    @strawberry.field
    def paired_sibling(self) -> Definition | None:
        return None  # paired runs are outside this server's slice


@strawberry.type
class Experiment:
    id: strawberry.ID
    name: str
    hypothesis: str | None
    analysis_plan: JSON | None
    created_at: datetime
    updated_at: datetime

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
        from app.runs.graphql.types import Run

        loader = info.context.loaders.with_params(
            "runs_by_experiment", runs_service.runs_by_experiment
        )
        return [Run.from_row(r) for r in await loader.load((str(self.id), Page(100, 0)))]

    @strawberry.field
    async def run_count(self, info: Info) -> int:
        loader = info.context.loaders.by_key(
            "run_counts_by_experiment", runs_service.run_counts_by_experiment
        )
        return await loader.load(str(self.id)) or 0


@strawberry.type
class DeleteDefinitionResult:
    deleted_ids: list[str]
    count: int


@strawberry.input
class CreateDefinitionInput:
    name: str
    content: JSON
    parent_id: str | None = None
    preamble_version_id: str | None = None


@strawberry.input
class UpdateDefinitionInput:
    name: str | None = None
    content: JSON | None = None
    preamble_version_id: str | None = None


InputArg = strawberry.argument(name="input")


@strawberry.type
class DefinitionQuery:
    @strawberry.field
    async def definition(
        self, info: Info, ident: IdArgID, include_deleted: bool | None = None
    ) -> Definition | None:
        async with info.context.reader.use() as session:
            row = await service.get_definition(
                session, str(ident), include_deleted=bool(include_deleted)
            )
        if row is None:
            return None
        info.context.touch(tables.Definition, row.id)
        return Definition.from_row(row)

    @paged_field(DEFINITION_PAGE)
    async def definitions(
        self,
        info: Info,
        search: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Definition]:
        paging = DEFINITION_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_definitions(session, search=search, paging=paging)
        return [Definition.from_row(r) for r in rows]

    @strawberry.field
    async def definition_count(self, info: Info, search: str | None = None) -> int:
        async with info.context.reader.use() as session:
            return await service.count_definitions(session, search=search)

    @strawberry.field
    async def scenario(self, info: Info, ident: IdArgID) -> Scenario | None:
        async with info.context.reader.use() as session:
            row = await service.get_scenario(session, str(ident))
        return Scenario.from_row(row) if row else None

    @paged_field(SCENARIO_PAGE)
    async def scenarios(
        self,
        info: Info,
        definition_id: strawberry.ID,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Scenario]:
        paging = SCENARIO_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_scenarios(session, str(definition_id), paging=paging)
        return [Scenario.from_row(r) for r in rows]

    @strawberry.field
    async def scenario_count(self, info: Info, definition_id: strawberry.ID) -> int:
        async with info.context.reader.use() as session:
            return await service.count_scenarios(session, str(definition_id))


@strawberry.type
class DefinitionMutation:
    @strawberry.mutation
    async def create_definition(
        self, info: Info, data: Annotated[CreateDefinitionInput, InputArg]
    ) -> Definition:
        async with info.context.db.transaction() as session:
            row = await service.create_definition(
                session,
                name=data.name,
                content=data.content,
                parent_id=data.parent_id,
                preamble_version_id=data.preamble_version_id,
            )
        return Definition.from_row(row)

    @strawberry.mutation
    async def update_definition(
        self, info: Info, ident: IdArg, data: Annotated[UpdateDefinitionInput, InputArg]
    ) -> Definition:
        async with info.context.db.transaction() as session:
            row = await service.update_definition(
                session,
                ident,
                name=data.name,
                content=data.content,
                preamble_version_id=data.preamble_version_id,
            )
        return Definition.from_row(row)

    @strawberry.mutation
    async def delete_definition(self, info: Info, ident: IdArg) -> DeleteDefinitionResult:
        async with info.context.db.transaction() as session:
            ids = await service.delete_definition(session, ident)
        return DeleteDefinitionResult(deleted_ids=ids, count=len(ids))
