"""Demo data and migrations on a real database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from app import migrations, seed
from app.db import Database
from app.definitions.models import Definition, Scenario
from app.llm.models import LlmModel, LlmProvider


async def _counts(db: Database) -> tuple[int, int, int, int]:
    async with db.session() as session:
        values = []
        for table in (LlmProvider, LlmModel, Definition, Scenario):
            values.append((await session.exec(select(sa.func.count()).select_from(table))).one())
    return tuple(values)  # type: ignore[return-value]


async def test_demo_data_loads_once(db: Database) -> None:
    for _ in range(2):
        async with db.transaction() as session:
            await seed.load_demo(session)
    providers, models, definitions, scenarios = await _counts(db)
    assert providers == len(seed.PROVIDERS)
    assert models == len(seed.MODELS)
    assert (definitions, scenarios) == (1, 6)
    async with db.session() as session:
        defaults = (
            await session.exec(
                select(LlmProvider.name, LlmModel.model_id)
                .join(LlmProvider, col(LlmProvider.id) == col(LlmModel.provider_id))
                .where(col(LlmModel.is_default))
            )
        ).all()
        simulated = (
            await session.exec(select(LlmModel).where(LlmModel.model_id == "sim-flaky"))
        ).one()
    assert dict(defaults)["simulated"] == "sim-steady"
    assert len(defaults) == len({p for p, *_ in seed.PROVIDERS})
    assert simulated.api_config == {"latencyMs": 200, "failureRate": 0.2}


async def test_reseeding_keeps_user_edits(db: Database) -> None:
    async with db.transaction() as session:
        await seed.load_demo(session)
        await session.exec(sa.update(LlmModel).values(is_default=False))
        await session.exec(sa.text("UPDATE definitions SET deleted_at = now()"))
    async with db.transaction() as session:
        await seed.load_demo(session)
    async with db.session() as session:
        live = await session.exec(
            select(sa.func.count())
            .select_from(Definition)
            .where(col(Definition.deleted_at).is_(None))
        )
        assert live.one() == 0  # a deleted demo stays deleted
        defaults = await session.exec(select(LlmModel).where(col(LlmModel.is_default)))
        assert defaults.all() == []  # unset defaults stay unset


def test_models_and_migrations_agree(database_url: str) -> None:
    migrations.check(database_url)  # raises on drift (alembic check)


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrations.upgrade(database_url)
    migrations.upgrade(database_url)
