"""A run's progress and spend at one moment, read from the database: what a `runProgress`
subscriber is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.runs import service, spend
from app.runs.models import TERMINAL_STATUSES
from app.runs.progress import Progress, seconds_remaining, shows_summaries
from app.transcripts import service as transcripts

# (session, the run's models) → per-slot cost by model, from the pre-run estimate.
PreRunCosts = Callable[[AsyncSession, list[str]], Awaitable[dict[str, float]]]


@dataclass(frozen=True, slots=True)
class SummaryCounts:
    total: int
    summarized: int
    failed: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A run's progress and spend at one moment (`sequence` orders reads within a feed)."""

    run_id: str
    status: str
    deleted: bool
    progress: Progress
    summaries: SummaryCounts | None
    cost_so_far: float
    estimated_total_cost: float | None
    estimated_seconds_remaining: int | None
    transcript_id: str | None
    at: datetime
    sequence: int
    spend: spend.Spend = field(default_factory=spend.Spend)
    max_budget_usd: float | None = None
    pause_reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


async def read_snapshot(
    session: AsyncSession,
    run_id: str,
    sequence: int,
    transcript_id: str | None,
    pre_run_costs: PreRunCosts,
) -> Snapshot | None:
    run = (await service.runs_by_id(session, [run_id])).get(run_id)
    if run is None:
        return None
    progress = (await service.progress_by_run(session, [(run.id, run.total_slots)]))[run.id]
    stats = (await transcripts.stats_by_run(session, [run.id]))[run.id]
    summaries = None
    if shows_summaries(stats.count, run.status):
        summaries = SummaryCounts(stats.count, stats.summarized, stats.summary_failed)
    paid = (await spend.spend_by_run(session, [run.id]))[run.id]
    cost = sum(m.cost for m in stats.by_model.values())
    terminal = run.status in TERMINAL_STATUSES
    models: list[str] = list(run.config.get("models") or [])
    fallback_costs: dict[str, float] = {}
    if not terminal and any(not stats.by_model.get(m) for m in models):
        fallback_costs = await pre_run_costs(session, models)
    return Snapshot(
        run_id=run.id,
        status=run.status,
        deleted=run.deleted_at is not None,
        progress=progress,
        summaries=summaries,
        cost_so_far=paid.total,
        spend=paid,
        max_budget_usd=run.max_budget_usd,
        pause_reason=run.pause_reason,
        estimated_total_cost=paid.total
        if terminal
        else _plus(
            spend.estimated_total(models, run.total_slots, progress, stats, fallback_costs),
            paid.total - cost,
        ),
        estimated_seconds_remaining=seconds_remaining(
            run.status,
            progress.total,
            progress.completed + progress.failed,
            _elapsed(run.started_at),
        ),
        transcript_id=transcript_id,
        at=datetime.now(UTC),
        sequence=sequence,
    )


def _plus(estimate: float | None, extra: float) -> float | None:
    """The transcripts' estimate plus what the ledger holds beyond the stored transcripts
    (summaries, failed, retried and aborted calls)."""
    return None if estimate is None else estimate + extra


def _elapsed(started_at: datetime | None) -> float | None:
    return None if started_at is None else (datetime.now(UTC) - started_at).total_seconds()
