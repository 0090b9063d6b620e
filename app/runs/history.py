"""Run history across runs: the totals behind `runStats`, a constant number of statements
(one per figure group) whatever the number of runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.runs.models import ProbeResult, Run
from app.runs.service import RunFilter
from app.transcripts import statistics
from app.transcripts.statistics import Decisions

FINISHED = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass(slots=True)
class ModelStats:
    model_id: str
    run_count: int = 0
    failed_count: int = 0
    decisions: Decisions = field(default_factory=Decisions)


@dataclass(slots=True)
class RunStats:
    by_status: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    timed_runs: int = 0
    decisions: Decisions = field(default_factory=Decisions)
    per_model: list[ModelStats] = field(default_factory=list)

    @property
    def total_runs(self) -> int:
        return sum(self.by_status.values())

    @property
    def success_rate(self) -> float | None:
        """Completed over finished (completed, failed, cancelled); None before any finished."""
        finished = sum(self.by_status.get(s, 0) for s in FINISHED)
        return self.by_status.get("COMPLETED", 0) / finished if finished else None

    @property
    def avg_duration_seconds(self) -> float | None:
        return self.duration_seconds / self.timed_runs if self.timed_runs else None


async def run_stats(session: AsyncSession, where: RunFilter) -> RunStats:
    """Totals over the runs `where` selects: four statements, never one per run."""
    ids = where.apply(select(Run.id))
    stats = RunStats()
    await _by_status(session, where, stats)
    per_model = {m: ModelStats(m, run_count=n) for m, n in await _runs_per_model(session, where)}
    for model_id, failed in await _failed_per_model(session, ids):
        per_model.setdefault(model_id, ModelStats(model_id)).failed_count = failed
    for (_, model_id), found in (await transcript_totals(session, ids)).items():
        per_model.setdefault(model_id, ModelStats(model_id)).decisions = found
        for code, n in found.distribution.items():
            stats.decisions.distribution[code] = stats.decisions.distribution.get(code, 0) + n
        stats.decisions.transcript_count += found.transcript_count
        stats.decisions.tokens += found.tokens
        stats.decisions.cost += found.cost
    stats.per_model = [per_model[m] for m in sorted(per_model)]
    return stats


async def transcript_totals(
    session: AsyncSession, run_ids: Any, *, per_run: bool = False
) -> dict[tuple[str, str], Decisions]:
    """Tokens, durations, decisions and cost per model. The cost seam: for now a run's cost is
    its transcripts' `estimated_cost`; once the call ledger exists (the money branch), the
    cost comes from the ledger here, and only here, so statistics and comparison follow."""
    return await statistics.decisions(session, run_ids, per_run=per_run)


async def _by_status(session: AsyncSession, where: RunFilter, stats: RunStats) -> None:
    elapsed = sa.func.extract("epoch", col(Run.completed_at) - col(Run.started_at))
    stmt = where.apply(
        select(
            col(Run.status),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(elapsed), 0),
            sa.func.count(elapsed),
        ).group_by(col(Run.status))
    )
    for status, n, seconds, timed in (await session.exec(stmt)).all():
        stats.by_status[status] = int(n)
        stats.duration_seconds += float(seconds)
        stats.timed_runs += int(timed)


async def _runs_per_model(session: AsyncSession, where: RunFilter) -> list[tuple[str, int]]:
    """Runs that asked for each model (as the `modelId` filter reads a run's models)."""
    model = sa.func.jsonb_array_elements_text(col(Run.config)["models"]).label("model_id")
    sub = where.apply(select(col(Run.id), model)).subquery()
    stmt = sa.select(sub.c.model_id, sa.func.count(sa.distinct(sub.c.id))).group_by(sub.c.model_id)
    rows = (await (await session.connection()).execute(stmt)).all()
    return [(str(m), int(n)) for m, n in rows]


async def _failed_per_model(session: AsyncSession, ids: Any) -> list[tuple[str, int]]:
    stmt = (
        sa.select(col(ProbeResult.model_id), sa.func.count())
        .where(col(ProbeResult.run_id).in_(ids), col(ProbeResult.status) == "FAILED")
        .group_by(col(ProbeResult.model_id))
    )
    rows = (await (await session.connection()).execute(stmt)).all()
    return [(str(m), int(n)) for m, n in rows]


async def reruns_by_parent(session: AsyncSession, ids: Any) -> dict[str, list[Run]]:
    """Each run's live re-runs, oldest first, in one statement."""
    stmt = (
        RunFilter()
        .apply(select(Run).where(col(Run.parent_run_id).in_(ids)))
        .order_by(col(Run.created_at), col(Run.id))
    )
    grouped: dict[str, list[Run]] = {i: [] for i in ids}
    for row in (await session.exec(stmt)).all():
        assert row.parent_run_id is not None
        grouped[row.parent_run_id].append(row)
    return grouped
