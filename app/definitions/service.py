"""Definitions and their scenarios: create, edit (re-expanding), soft delete, read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import new_id, now
from app.definitions import expansion
from app.definitions.models import Definition, DefinitionTag, Experiment, Scenario, Tag
from app.errors import NotFound, ValidationFailed
from app.paging import Page

MAX_NAME_LENGTH = 255


def _live(stmt: Any, model: Any) -> Any:
    return stmt.where(col(model.deleted_at).is_(None))


async def get_definition(
    session: AsyncSession, definition_id: str, *, include_deleted: bool = False
) -> Definition | None:
    stmt = select(Definition).where(Definition.id == definition_id)
    if not include_deleted:
        stmt = _live(stmt, Definition)
    return (await session.exec(stmt)).first()


async def require_definition(session: AsyncSession, definition_id: str) -> Definition:
    definition = await get_definition(session, definition_id)
    if definition is None:
        raise NotFound.of("Definition", definition_id)
    return definition


def _search(stmt: Any, search: str | None) -> Any:
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(col(Definition.name).ilike(pattern))
    return stmt


async def list_definitions(
    session: AsyncSession, *, search: str | None, paging: Page
) -> Sequence[Definition]:
    stmt = _search(_live(select(Definition), Definition), search)
    stmt = stmt.order_by(col(Definition.created_at).desc(), col(Definition.id).desc())
    rows: Sequence[Definition] = (
        await session.exec(stmt.limit(paging.limit).offset(paging.offset))
    ).all()
    return rows


async def count_definitions(session: AsyncSession, *, search: str | None) -> int:
    stmt = _search(_live(select(sa.func.count()).select_from(Definition), Definition), search)
    return int((await session.exec(stmt)).one())


def _validate_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise ValidationFailed("Name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"Name must be {MAX_NAME_LENGTH} characters or less")
    return name.strip()


async def create_definition(
    session: AsyncSession,
    *,
    name: str,
    content: Any,
    parent_id: str | None = None,
    preamble_version_id: str | None = None,
    definition_id: str | None = None,
) -> Definition:
    """Create a definition and its scenarios (one unit: both or neither)."""
    name = _validate_name(name)
    scenarios = expansion.expand(content)
    if parent_id is not None and await get_definition(session, parent_id) is None:
        raise NotFound.of("Parent definition", parent_id)
    definition = Definition(
        id=definition_id or new_id(),
        name=name,
        content=content,
        parent_id=parent_id,
        preamble_version_id=preamble_version_id,
    )
    session.add(definition)
    await session.flush()
    await _insert_scenarios(session, definition.id, scenarios)
    await session.refresh(definition)
    return definition


async def update_definition(
    session: AsyncSession,
    definition_id: str,
    *,
    name: str | None = None,
    content: Any = None,
    preamble_version_id: str | None = None,
) -> Definition:
    """Edit a definition; a content change bumps `version` and re-expands its scenarios."""
    definition = await _lock_definition(session, definition_id)
    if name is not None:
        definition.name = _validate_name(name)
    if preamble_version_id is not None:
        definition.preamble_version_id = preamble_version_id
    if content is not None and content != definition.content:
        scenarios = expansion.expand(content)
        definition.content = content
        definition.version += 1
        await _soft_delete_scenarios(session, [definition.id])
        await _insert_scenarios(session, definition.id, scenarios)
    definition.updated_at = now()
    session.add(definition)
    await session.flush()
    await session.refresh(definition)
    return definition


async def delete_definition(session: AsyncSession, definition_id: str) -> list[str]:
    """Soft-delete a definition, its forks (recursively) and their scenarios; return their ids."""
    await _lock_definition(session, definition_id)
    tree = sa.text(
        """
        WITH RECURSIVE tree(id) AS (
            SELECT CAST(:root AS varchar)
            UNION
            SELECT d.id FROM definitions d JOIN tree t ON d.parent_id = t.id
            WHERE d.deleted_at IS NULL
        )
        SELECT id FROM tree
        """
    )
    connection = await session.connection()
    ids = list((await connection.execute(tree, {"root": definition_id})).scalars())
    await session.exec(
        sa.update(Definition)
        .where(col(Definition.id).in_(ids), col(Definition.deleted_at).is_(None))
        .values(deleted_at=sa.func.now())
    )
    await _soft_delete_scenarios(session, ids)
    return ids


async def _lock_definition(session: AsyncSession, definition_id: str) -> Definition:
    stmt = _live(select(Definition).where(Definition.id == definition_id), Definition)
    definition: Definition | None = (await session.exec(stmt.with_for_update())).first()
    if definition is None:
        raise NotFound.of("Definition", definition_id)
    return definition


async def _soft_delete_scenarios(session: AsyncSession, definition_ids: list[str]) -> None:
    await session.exec(
        sa.update(Scenario)
        .where(col(Scenario.definition_id).in_(definition_ids), col(Scenario.deleted_at).is_(None))
        .values(deleted_at=sa.func.now())
    )


async def _insert_scenarios(
    session: AsyncSession, definition_id: str, scenarios: list[expansion.ExpandedScenario]
) -> None:
    rows = [
        {
            "id": new_id(),
            "definition_id": definition_id,
            "name": s.name,
            "content": s.content,
            "position": i,
        }
        for i, s in enumerate(scenarios)
    ]
    await session.exec(sa.insert(Scenario), params=rows)


# Scenarios -------------------------------------------------------------------------------


async def list_scenarios(
    session: AsyncSession, definition_id: str, *, paging: Page
) -> Sequence[Scenario]:
    await require_definition(session, definition_id)
    stmt = _live(select(Scenario).where(Scenario.definition_id == definition_id), Scenario)
    stmt = stmt.order_by(col(Scenario.position), col(Scenario.id))
    rows: Sequence[Scenario] = (
        await session.exec(stmt.limit(paging.limit).offset(paging.offset))
    ).all()
    return rows


async def count_scenarios(session: AsyncSession, definition_id: str) -> int:
    await require_definition(session, definition_id)
    stmt = _live(
        select(sa.func.count())
        .select_from(Scenario)
        .where(Scenario.definition_id == definition_id),
        Scenario,
    )
    return int((await session.exec(stmt)).one())


async def get_scenario(session: AsyncSession, scenario_id: str) -> Scenario | None:
    stmt = _live(select(Scenario).where(Scenario.id == scenario_id), Scenario)
    scenario: Scenario | None = (await session.exec(stmt)).first()
    return scenario


# Batch loads (DataLoaders) -----------------------------------------------------------------


# Built once (every page of runs reads its definitions): one array parameter, so the same
# statement text whatever the number of ids.
_DEFINITIONS_BY_ID = select(Definition).where(
    col(Definition.id) == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
)


async def definitions_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Definition]:
    """Definitions by id, soft-deleted included: runs and forks keep pointing at them."""
    rows = (await session.exec(_DEFINITIONS_BY_ID, params={"ids": list(ids)})).all()
    return {row.id: row for row in rows}


async def children_by_parent(
    session: AsyncSession, parent_ids: Sequence[str]
) -> dict[str, list[Definition]]:
    stmt = _live(select(Definition).where(col(Definition.parent_id).in_(parent_ids)), Definition)
    grouped: dict[str, list[Definition]] = {pid: [] for pid in parent_ids}
    for row in (await session.exec(stmt.order_by(col(Definition.created_at)))).all():
        grouped[row.parent_id or ""].append(row)
    return grouped


async def scenarios_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Scenario]:
    rows = (await session.exec(select(Scenario).where(col(Scenario.id).in_(ids)))).all()
    return {row.id: row for row in rows}


async def scenario_pages(
    session: AsyncSession, definition_ids: Sequence[str], paging: Page
) -> dict[str, list[Scenario]]:
    """One page of live scenarios for each definition, in one statement."""
    rank = (
        sa.func.row_number()
        .over(
            partition_by=Scenario.definition_id, order_by=(col(Scenario.position), col(Scenario.id))
        )
        .label("rank")
    )
    inner = _live(
        select(Scenario, rank).where(col(Scenario.definition_id).in_(definition_ids)), Scenario
    ).subquery()
    alias = sa.orm.aliased(Scenario, inner)
    stmt = (
        select(alias)
        .where(inner.c.rank > paging.offset, inner.c.rank <= paging.offset + paging.limit)
        .order_by(inner.c.definition_id, inner.c.rank)
    )
    grouped: dict[str, list[Scenario]] = {d: [] for d in definition_ids}
    for row in (await session.exec(stmt)).all():
        grouped[row.definition_id].append(row)
    return grouped


async def scenario_counts(session: AsyncSession, definition_ids: Sequence[str]) -> dict[str, int]:
    stmt = _live(
        select(Scenario.definition_id, sa.func.count())
        .where(col(Scenario.definition_id).in_(definition_ids))
        .group_by(col(Scenario.definition_id)),
        Scenario,
    )
    counts = {d: 0 for d in definition_ids}
    counts.update({d: int(n) for d, n in (await session.exec(stmt)).all()})
    return counts


async def tags_by_definition(
    session: AsyncSession, definition_ids: Sequence[str]
) -> dict[str, list[Tag]]:
    stmt = (
        select(DefinitionTag.definition_id, Tag)
        .join(Tag, col(Tag.id) == col(DefinitionTag.tag_id))
        .where(col(DefinitionTag.definition_id).in_(definition_ids))
        .order_by(col(Tag.name))
    )
    grouped: dict[str, list[Tag]] = {d: [] for d in definition_ids}
    for definition_id, tag in (await session.exec(stmt)).all():
        grouped[definition_id].append(tag)
    return grouped


async def experiments_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Experiment]:
    rows = (await session.exec(select(Experiment).where(col(Experiment.id).in_(ids)))).all()
    return {row.id: row for row in rows}
