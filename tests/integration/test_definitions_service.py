"""Definition services on a real database: expansion rows, re-expansion, soft delete."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from app.db import Database
from app.definitions import service
from app.definitions.models import Definition, Scenario
from app.paging import Page
from tests.factories import definition_content, dimension, make_definition

ALL = Page(limit=100, offset=0)


async def test_create_stores_the_scenarios_in_expansion_order(db: Database) -> None:
    definition = await make_definition(
        db, content=definition_content(dimension("a", "x", "y"), dimension("b", "p", "q"))
    )
    async with db.session() as session:
        scenarios = await service.list_scenarios(session, definition.id, paging=ALL)
        assert await service.count_scenarios(session, definition.id) == 4
    assert [s.name for s in scenarios] == ["a=x, b=p", "a=x, b=q", "a=y, b=p", "a=y, b=q"]
    assert definition.version == 1


async def test_content_change_bumps_version_and_soft_deletes_old_scenarios(db: Database) -> None:
    definition = await make_definition(db)
    async with db.session() as session:
        old_ids = {s.id for s in await service.list_scenarios(session, definition.id, paging=ALL)}
    new_content = definition_content(dimension("stakes", "low", "mid", "high"))
    async with db.transaction() as session:
        updated = await service.update_definition(session, definition.id, content=new_content)
    assert updated.version == 2
    async with db.session() as session:
        live = await service.list_scenarios(session, definition.id, paging=ALL)
        kept = (await session.exec(select(Scenario).where(col(Scenario.id).in_(old_ids)))).all()
    assert [s.name for s in live] == ["stakes=low", "stakes=mid", "stakes=high"]
    assert not old_ids & {s.id for s in live}
    # Old scenarios stay (past runs point at them), marked deleted.
    assert len(kept) == len(old_ids) and all(s.deleted_at is not None for s in kept)


async def test_same_content_or_rename_keeps_version_and_scenarios(db: Database) -> None:
    definition = await make_definition(db)
    async with db.transaction() as session:
        updated = await service.update_definition(
            session, definition.id, name="Renamed", content=definition.content
        )
    assert (updated.name, updated.version) == ("Renamed", 1)
    async with db.session() as session:
        assert await service.count_scenarios(session, definition.id) == 2


async def test_delete_hides_definition_forks_and_scenarios(db: Database) -> None:
    root = await make_definition(db, name="root")
    fork = await make_definition(db, name="fork", parent_id=root.id)
    grandchild = await make_definition(db, name="grandchild", parent_id=fork.id)
    other = await make_definition(db, name="other")
    async with db.transaction() as session:
        deleted = await service.delete_definition(session, root.id)
    assert set(deleted) == {root.id, fork.id, grandchild.id}
    async with db.session() as session:
        listed = await service.list_definitions(session, search=None, paging=ALL)
        assert [d.id for d in listed] == [other.id]
        assert await service.count_definitions(session, search=None) == 1
        assert await service.get_definition(session, root.id) is None
        assert await service.get_definition(session, root.id, include_deleted=True) is not None
        live = await session.exec(
            select(sa.func.count())
            .select_from(Scenario)
            .where(col(Scenario.definition_id).in_(deleted), col(Scenario.deleted_at).is_(None))
        )
        assert live.one() == 0
        rows = (await session.exec(select(Definition))).all()
    assert len(rows) == 4  # nothing hard-deleted


async def test_search_is_case_insensitive_and_literal(db: Database) -> None:
    await make_definition(db, name="Trolley 100%")
    await make_definition(db, name="Lifeboat")
    async with db.session() as session:
        found = await service.list_definitions(session, search="trolley 100%", paging=ALL)
        assert [d.name for d in found] == ["Trolley 100%"]
        assert await service.count_definitions(session, search="%") == 1
