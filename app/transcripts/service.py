"""Reading transcripts, and the per-run aggregates built from them (cost, summaries, decisions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.transcripts.models import Transcript

MAX_PAGE = 1000


def _live() -> sa.ColumnElement[bool]:
    return col(Transcript.deleted_at).is_(None)


async def get_transcript(session: AsyncSession, transcript_id: str) -> Transcript | None:
    stmt = select(Transcript).where(Transcript.id == transcript_id, _live())
    return (await session.exec(stmt)).first()


# What a transcript page always reads, whatever was selected: keys for grouping and for the
# resolvers that follow a transcript to its run and scenario.
KEY_COLUMNS = frozenset({"id", "run_id", "scenario_id"})


@dataclass(frozen=True, slots=True)
class TranscriptQuery:
    model_id: str | None
    limit: int | None
    offset: int
    columns: frozenset[str] | None = None  # None: every column; else these plus KEY_COLUMNS


async def transcripts_by_run(
    session: AsyncSession, run_ids: Sequence[str], query: TranscriptQuery
) -> dict[str, list[dict[str, Any]]]:
    """A page of live transcripts per run (oldest first), in one statement, as column dicts.

    Plain values, not ORM objects, and only the columns asked for: a run page is read-only
    and can hold 1,000 transcripts whose conversations nobody selected.
    """
    table = Transcript.__table__  # type: ignore[attr-defined]
    wanted = [c for c in table.c if query.columns is None or c.name in query.columns | KEY_COLUMNS]
    inner = sa.select(*wanted).where(table.c.run_id.in_(run_ids), table.c.deleted_at.is_(None))
    if query.model_id is not None:
        inner = inner.where(table.c.model_id == query.model_id)
    if query.limit is None and query.offset == 0:
        # Every transcript (ValueRank's GetRun): no page to cut, so no window to rank them by.
        stmt = inner.order_by(table.c.run_id, table.c.created_at, table.c.id)
    else:
        rank = sa.func.row_number().over(
            partition_by=table.c.run_id, order_by=(table.c.created_at, table.c.id)
        )
        sub = inner.add_columns(rank.label("rank")).subquery()
        stmt = sa.select(*(sub.c[c.name] for c in wanted)).where(sub.c.rank > query.offset)
        if query.limit is not None:
            stmt = stmt.where(sub.c.rank <= query.offset + query.limit)
        stmt = stmt.order_by(sub.c.run_id, sub.c.rank)
    connection = await session.connection()
    result = await connection.execute(stmt)
    names = [c.name for c in wanted]
    grouped: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
    for row in result.all():
        values = dict(zip(names, row, strict=True))
        grouped[values["run_id"]].append(values)
    return grouped


@dataclass(slots=True)
class ModelTotals:
    probe_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    unresolvable: int = 0


@dataclass(slots=True)
class RunTranscriptStats:
    """Everything Run's transcript-derived fields need, from one grouped statement."""

    count: int = 0
    summarized: int = 0
    summary_failed: int = 0
    by_model: dict[str, ModelTotals] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        return sum(m.cost for m in self.by_model.values())

    @property
    def unresolvable(self) -> int:
        return sum(m.unresolvable for m in self.by_model.values())


async def stats_by_run(
    session: AsyncSession, run_ids: Sequence[str]
) -> dict[str, RunTranscriptStats]:
    columns: list[Any] = [
        Transcript.run_id,
        Transcript.model_id,
        sa.func.count(),
        sa.func.count().filter(col(Transcript.summary_status) == "SUMMARIZED"),
        sa.func.count().filter(col(Transcript.summary_status) == "FAILED"),
        sa.func.coalesce(sa.func.sum(Transcript.input_tokens), 0),
        sa.func.coalesce(sa.func.sum(Transcript.output_tokens), 0),
        sa.func.coalesce(sa.func.sum(Transcript.estimated_cost), 0.0),
        sa.func.count().filter(col(Transcript.decision_code) == "other"),
    ]
    stmt = (
        sa.select(*columns)
        .where(col(Transcript.run_id).in_(run_ids), _live())
        .group_by(col(Transcript.run_id), col(Transcript.model_id))
    )
    stats = {r: RunTranscriptStats() for r in run_ids}
    rows = (await (await session.connection()).execute(stmt)).all()
    for run_id, model_id, n, done, failed, tokens_in, tokens_out, cost, other in rows:
        run = stats[run_id]
        run.count += int(n)
        run.summarized += int(done)
        run.summary_failed += int(failed)
        run.by_model[model_id] = ModelTotals(
            int(n), int(tokens_in), int(tokens_out), float(cost), int(other)
        )
    return stats
