"""What a run has done so far, as GraphQL types: progress, probe results, recent tasks,
unresolvable transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from app.runs import models as tables
from app.runs.progress import Progress, percent_complete

if TYPE_CHECKING:
    pass


@strawberry.type
class ByModelProgress:
    """One model's share of a run's probe progress."""

    model_id: str
    """The model identifier (e.g. gpt-4o-mini)."""
    completed: int
    """Slots of this model that succeeded."""
    failed: int
    """Slots of this model that failed for good."""


@strawberry.type
class RunProgress:
    """How far a stage of a run has got: probes (progress, runProgress) or summaries (summarizeProgress)."""

    total: int
    """Slots (or transcripts to summarize) in all."""
    completed: int
    """Those done successfully."""
    failed: int
    """Those that failed for good."""
    percent_complete: float
    """(completed + failed) / total, as a percentage 0-100."""
    by_model: list[ByModelProgress] | None
    """Per model, for probes; null for summaries."""

    @classmethod
    def from_progress(cls, progress: Progress) -> RunProgress:
        completed, failed = progress.completed, progress.failed  # each a sum: once per page row
        return cls(
            total=progress.total,
            completed=completed,
            failed=failed,
            percent_complete=percent_complete(progress.total, completed + failed),
            by_model=[
                ByModelProgress(model_id=m, completed=c.completed, failed=c.failed)
                for m, c in sorted(progress.by_model.items())
            ],
        )

    @classmethod
    def of_summaries(cls, total: int, summarized: int, failed: int) -> RunProgress:
        return cls(
            total=total,
            completed=summarized,
            failed=failed,
            percent_complete=percent_complete(total, summarized + failed),
            by_model=None,
        )


@strawberry.type
class ProbeResult:
    """One job slot of a run (scenario, model, sample) and the outcome of its probe."""

    id: strawberry.ID
    """The slot's id."""
    run_id: str
    """The run it belongs to."""
    scenario_id: str
    """The scenario probed."""
    model_id: str
    """The model identifier probed (e.g. gpt-4o-mini)."""
    sample_index: int
    """Which sample of the scenario, from 0."""
    status: str
    """SUCCESS or FAILED."""
    transcript_id: str | None
    """The transcript stored on success; null otherwise."""
    error_code: str | None
    """Why the probe failed (a short code); null on success."""
    error_message: str | None
    """The failure's message; null on success."""
    retry_count: int
    """Attempts retried before the outcome."""
    input_tokens: int | None
    """Prompt tokens the provider reported; null when unknown."""
    output_tokens: int | None
    """Completion tokens the provider reported; null when unknown."""
    duration_ms: int | None
    """How long the probe took, in milliseconds."""
    queued_at: datetime | None
    """When the slot's job was queued."""
    queue_wait_ms: int | None
    """Milliseconds between queueing and the start of the probe."""
    created_at: datetime
    """When the result was recorded."""
    completed_at: datetime | None
    """When the probe ended; null while it has not."""

    @classmethod
    def from_row(cls, row: tables.ProbeResult) -> ProbeResult:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(row.id),
            run_id=row.run_id,
            scenario_id=row.scenario_id,
            model_id=row.model_id,
            sample_index=row.sample_index,
            status=row.status,
            transcript_id=row.transcript_id,
            error_code=row.error_code,
            error_message=row.error_message,
            retry_count=row.retry_count,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            duration_ms=row.duration_ms,
            queued_at=row.queued_at,
            queue_wait_ms=row.queue_wait_ms,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


@strawberry.type
class TaskResult:
    """A recently finished slot of a run, newest first (Run.recentTasks)."""

    scenario_id: str
    """The scenario probed."""
    model_id: str
    """The model identifier probed."""
    status: str
    """SUCCESS or FAILED."""
    error: str | None
    """The failure's message; null on success."""
    completed_at: datetime | None
    """When the probe ended."""


@strawberry.type
class UnresolvableByModel:
    """One model's count of transcripts whose decision could not be resolved."""

    model_id: str
    """The model identifier."""
    count: int
    """Its transcripts whose decision is "other"."""


@strawberry.type
class UnresolvableCount:
    """Transcripts of a run whose decision could not be resolved (decisionCode "other")."""

    total: int
    """All such transcripts of the run."""
    by_model: list[UnresolvableByModel]
    """Per model, only models that have some."""
