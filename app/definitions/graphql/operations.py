"""Definition queries and mutations: definitions, scenarios, their counts; create, update,
delete."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.definitions import models as tables
from app.definitions import service
from app.definitions.graphql.types import DEFINITION_PAGE, SCENARIO_PAGE, Definition, Scenario
from app.graphql.args import IdArg, IdArgID, paged_field
from app.graphql.context import Info


@strawberry.type
class DeleteDefinitionResult:
    """What deleteDefinition soft-deleted."""

    deleted_ids: list[str]
    """The definition and its forks."""
    count: int
    """How many definitions were deleted."""


@strawberry.input
class CreateDefinitionInput:
    """A new definition."""

    name: str
    """Its name (required, length-capped)."""
    content: JSON
    """Its template and dimensions (see Definition.content)."""
    parent_id: str | None = None
    """The definition it forks, if any."""
    preamble_version_id: str | None = None
    """ValueRank's preamble version reference."""


@strawberry.input
class UpdateDefinitionInput:
    """Changes to a definition; omitted fields stay as they are."""

    name: str | None = None
    """A new name."""
    content: JSON | None = None
    """New content: bumps version and expands the scenarios again."""
    preamble_version_id: str | None = None
    """A new preamble version reference."""


InputArg = strawberry.argument(name="input")


@strawberry.type
class DefinitionQuery:
    """Queries on definitions and scenarios."""

    @strawberry.field
    async def definition(
        self, info: Info, ident: IdArgID, include_deleted: bool | None = None
    ) -> Definition | None:
        """One definition; null when unknown or soft-deleted (unless includeDeleted). Marks it accessed.

        Args:
            id: The definition's id.
            includeDeleted: Return it even when soft-deleted.
        """
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
        """Live definitions, newest first.

        Args:
            search: Only those whose name contains this text (case-insensitive).
        """
        paging = DEFINITION_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_definitions(session, search=search, paging=paging)
        return [Definition.from_row(r) for r in rows]

    @strawberry.field
    async def definition_count(self, info: Info, search: str | None = None) -> int:
        """Live definitions.

        Args:
            search: Only those whose name contains this text (case-insensitive).
        """
        async with info.context.reader.use() as session:
            return await service.count_definitions(session, search=search)

    @strawberry.field
    async def scenario(self, info: Info, ident: IdArgID) -> Scenario | None:
        """One scenario; null when unknown.

        Args:
            id: The scenario's id.
        """
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
        """A definition's live scenarios, in expansion order.

        Args:
            definitionId: The definition.
        """
        paging = SCENARIO_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_scenarios(session, str(definition_id), paging=paging)
        return [Scenario.from_row(r) for r in rows]

    @strawberry.field
    async def scenario_count(self, info: Info, definition_id: strawberry.ID) -> int:
        """A definition's live scenarios.

        Args:
            definitionId: The definition.
        """
        async with info.context.reader.use() as session:
            return await service.count_scenarios(session, str(definition_id))


@strawberry.type
class DefinitionMutation:
    """Mutations on definitions (ADMIN)."""

    @strawberry.mutation
    async def create_definition(
        self, info: Info, data: Annotated[CreateDefinitionInput, InputArg]
    ) -> Definition:
        """Create a definition and expand its scenarios. ADMIN. Errors: VALIDATION_ERROR (name, content), NOT_FOUND (parent).

        Args:
            data: The new definition.
        """
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
        """Change a definition; new content bumps version and expands the scenarios again (old ones are soft-deleted). ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR.

        Args:
            id: The definition's id.
            data: The changes.
        """
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
        """Soft-delete a definition, its scenarios and its forks. ADMIN. Errors: NOT_FOUND.

        Args:
            id: The definition's id.
        """
        async with info.context.db.transaction() as session:
            ids = await service.delete_definition(session, ident)
        return DeleteDefinitionResult(deleted_ids=ids, count=len(ids))
