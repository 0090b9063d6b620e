"""Reading runs: lookups, filtered lists, and the batch loads behind Run's fields."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.definitions.models import Definition, DefinitionTag, Tag
from app.errors import require_one_of
from app.paging import Page
from app.runs.models import (
    ACTIVE_STATUSES,
    RUN_CATEGORIES,
    RUN_STATUSES,
    ProbeResult,
    Run,
    RunScenarioSelection,
    RunTag,
)
from app.runs.progress import ModelCounts, Progress

RUN_TYPES = ("ALL", "SURVEY", "NON_SURVEY")
# ValueRank marks survey definitions by this name prefix.
SURVEY_PREFIX = "[Survey]"


@dataclass(frozen=True, slots=True)
class RunFilter:
    definition_id: str | None = None
    experiment_id: str | None = None
    status: str | None = None
    run_category: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    model_id: str | None = None
    definition_tag_ids: tuple[str, ...] = ()
    run_type: str | None = None
    # No analyses are computed here, so asking for runs that have one matches nothing.
    has_analysis: bool | None = None
    analysis_status: str | None = None

    def apply(self, stmt: Any) -> Any:
        stmt = stmt.where(col(Run.deleted_at).is_(None))
        if self.has_analysis or self.analysis_status is not None:
            stmt = stmt.where(sa.false())
        if self.definition_tag_ids:
            tagged = select(DefinitionTag.definition_id).where(
                col(DefinitionTag.tag_id).in_(self.definition_tag_ids)
            )
            stmt = stmt.where(col(Run.definition_id).in_(tagged))
        run_type = require_one_of(self.run_type or "ALL", RUN_TYPES, "runType")
        if run_type != "ALL":
            surveys = select(Definition.id).where(col(Definition.name).startswith(SURVEY_PREFIX))
            in_surveys = col(Run.definition_id).in_(surveys)
            stmt = stmt.where(in_surveys if run_type == "SURVEY" else ~in_surveys)
        if self.definition_id is not None:
            stmt = stmt.where(Run.definition_id == self.definition_id)
        if self.experiment_id is not None:
            stmt = stmt.where(Run.experiment_id == self.experiment_id)
        if self.status is not None:
            stmt = stmt.where(Run.status == require_one_of(self.status, RUN_STATUSES, "status"))
        if self.run_category is not None:
            category = require_one_of(self.run_category, RUN_CATEGORIES, "runCategory")
            stmt = stmt.where(Run.run_category == category)
        if self.created_after is not None:
            stmt = stmt.where(col(Run.created_at) > self.created_after)
        if self.created_before is not None:
            stmt = stmt.where(col(Run.created_at) < self.created_before)
        if self.model_id is not None:
            stmt = stmt.where(col(Run.config)["models"].contains([self.model_id]))
        return stmt


async def get_run(
    session: AsyncSession, run_id: str, *, include_deleted: bool = False
) -> Run | None:
    stmt = select(Run).where(Run.id == run_id)
    if not include_deleted:
        stmt = stmt.where(col(Run.deleted_at).is_(None))
    return (await session.exec(stmt)).first()


async def list_runs(session: AsyncSession, where: RunFilter, paging: Page) -> Sequence[Run]:
    stmt = where.apply(select(Run)).order_by(col(Run.created_at).desc(), col(Run.id).desc())
    rows: Sequence[Run] = (await session.exec(stmt.limit(paging.limit).offset(paging.offset))).all()
    return rows


async def count_runs(session: AsyncSession, where: RunFilter) -> int:
    stmt = where.apply(select(sa.func.count()).select_from(Run))
    return int((await session.exec(stmt)).one())


# Clock difference tolerated between this process (which timed the loss) and the database.
CHANGED_SINCE_SLACK = timedelta(seconds=2)
CHANGED_SINCE_LIMIT = 1000


async def runs_changed_since(session: AsyncSession, since: datetime) -> Sequence[Run]:
    """Runs updated since `since` (deleted ones included), oldest change first."""
    stmt = (
        select(Run)
        .where(col(Run.updated_at) >= since - CHANGED_SINCE_SLACK)
        .order_by(col(Run.updated_at), col(Run.id))
        .limit(CHANGED_SINCE_LIMIT)
    )
    rows: Sequence[Run] = (await session.exec(stmt)).all()
    return rows


async def standalone_active_runs(session: AsyncSession) -> Sequence[Run]:
    stmt = RunFilter().apply(select(Run)).where(col(Run.status).in_(ACTIVE_STATUSES))
    rows: Sequence[Run] = (await session.exec(stmt.order_by(col(Run.created_at).desc()))).all()
    return rows


# Batch loads (DataLoaders) -----------------------------------------------------------------


async def runs_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Run]:
    rows = (await session.exec(select(Run).where(col(Run.id).in_(ids)))).all()
    return {row.id: row for row in rows}


# Built once, with one array parameter rather than an IN list of a parameter per run: the
# same statement text for every page size, which psycopg parses once and prepares.
_PROGRESS_BY_RUN = (
    sa.select(
        col(ProbeResult.run_id), col(ProbeResult.model_id), col(ProbeResult.status), sa.func.count()
    )
    .where(
        col(ProbeResult.run_id)
        == sa.any_(sa.bindparam("run_ids", type_=postgresql.ARRAY(sa.String)))
    )
    .group_by(col(ProbeResult.run_id), col(ProbeResult.model_id), col(ProbeResult.status))
)


async def progress_by_run(
    session: AsyncSession, runs: Sequence[tuple[str, int]]
) -> dict[str, Progress]:
    """Progress for (run id, total) pairs from one grouped count over probe results."""
    result = {run_id: Progress(total=total) for run_id, total in runs}
    connection = await session.connection()
    found = await connection.execute(_PROGRESS_BY_RUN, {"run_ids": list(result)})
    for run_id, model_id, status, count in found.all():
        counts = result[run_id].by_model.setdefault(model_id, ModelCounts())
        if status == "SUCCESS":
            counts.completed += int(count)
        else:
            counts.failed += int(count)
    return result


async def selected_scenarios_by_run(
    session: AsyncSession, run_ids: Sequence[str]
) -> dict[str, list[str]]:
    stmt = (
        select(RunScenarioSelection.run_id, RunScenarioSelection.scenario_id)
        .where(col(RunScenarioSelection.run_id).in_(run_ids))
        .order_by(col(RunScenarioSelection.scenario_id))
    )
    grouped: dict[str, list[str]] = {r: [] for r in run_ids}
    for run_id, scenario_id in (await session.exec(stmt)).all():
        grouped[run_id].append(scenario_id)
    return grouped


@dataclass(frozen=True, slots=True)
class ProbeQuery:
    status: str | None
    model_id: str | None
    limit: int | None
    offset: int
    newest_first: bool = False


async def probe_results_by_run(
    session: AsyncSession, run_ids: Sequence[str], query: ProbeQuery
) -> dict[str, list[ProbeResult]]:
    """A page of probe results for each run, in one statement."""
    order = (
        (col(ProbeResult.completed_at).desc().nulls_last(), col(ProbeResult.id).desc())
        if query.newest_first
        else (col(ProbeResult.created_at), col(ProbeResult.id))
    )
    rank = sa.func.row_number().over(partition_by=ProbeResult.run_id, order_by=order).label("rank")
    inner = select(ProbeResult, rank).where(col(ProbeResult.run_id).in_(run_ids))
    if query.status is not None:
        inner = inner.where(ProbeResult.status == query.status)
    if query.model_id is not None:
        inner = inner.where(ProbeResult.model_id == query.model_id)
    sub = inner.subquery()
    alias = sa.orm.aliased(ProbeResult, sub)
    stmt = select(alias).where(sub.c.rank > query.offset)
    if query.limit is not None:
        stmt = stmt.where(sub.c.rank <= query.offset + query.limit)
    grouped: dict[str, list[ProbeResult]] = {r: [] for r in run_ids}
    for row in (await session.exec(stmt.order_by(sub.c.run_id, sub.c.rank))).all():
        grouped[row.run_id].append(row)
    return grouped


async def tags_by_run(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, list[Tag]]:
    stmt = (
        select(RunTag.run_id, Tag)
        .join(Tag, col(Tag.id) == col(RunTag.tag_id))
        .where(col(RunTag.run_id).in_(run_ids))
        .order_by(col(Tag.name))
    )
    grouped: dict[str, list[Tag]] = defaultdict(list)
    for run_id, tag in (await session.exec(stmt)).all():
        grouped[run_id].append(tag)
    return {r: grouped.get(r, []) for r in run_ids}


async def runs_by_definition(
    session: AsyncSession, definition_ids: Sequence[str], paging: Page
) -> dict[str, list[Run]]:
    return await _runs_grouped(session, Run.definition_id, definition_ids, paging)


async def runs_by_experiment(
    session: AsyncSession, experiment_ids: Sequence[str], paging: Page
) -> dict[str, list[Run]]:
    return await _runs_grouped(session, Run.experiment_id, experiment_ids, paging)


async def _runs_grouped(
    session: AsyncSession, key: Any, ids: Sequence[str], paging: Page
) -> dict[str, list[Run]]:
    rank = (
        sa.func.row_number()
        .over(partition_by=key, order_by=(col(Run.created_at).desc(), col(Run.id).desc()))
        .label("rank")
    )
    sub = RunFilter().apply(select(Run, rank).where(col(key).in_(ids))).subquery()
    alias = sa.orm.aliased(Run, sub)
    stmt = select(alias).where(
        sub.c.rank > paging.offset, sub.c.rank <= paging.offset + paging.limit
    )
    grouped: dict[str, list[Run]] = {i: [] for i in ids}
    for row in (await session.exec(stmt.order_by(sub.c.rank))).all():
        grouped[getattr(row, key.key)].append(row)
    return grouped


async def run_counts_by_definition(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    return await _run_counts_by(session, Run.definition_id, ids)


async def run_counts_by_experiment(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    return await _run_counts_by(session, Run.experiment_id, ids)


async def _run_counts_by(session: AsyncSession, key: Any, ids: Sequence[str]) -> dict[str, int]:
    stmt = RunFilter().apply(
        select(key, sa.func.count()).select_from(Run).where(col(key).in_(ids)).group_by(key)
    )
    counts = {i: 0 for i in ids}
    counts.update({k: int(n) for k, n in (await session.exec(stmt)).all()})
    return counts
