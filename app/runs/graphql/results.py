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
    model_id: str
    completed: int
    failed: int


@strawberry.type
class RunProgress:
    total: int
    completed: int
    failed: int
    percent_complete: float
    by_model: list[ByModelProgress] | None

    @classmethod
    def from_progress(cls, progress: Progress) -> RunProgress:
        return cls(
            total=progress.total,
            completed=progress.completed,
            failed=progress.failed,
            percent_complete=progress.percent_complete,
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
    id: strawberry.ID
    run_id: str
    scenario_id: str
    model_id: str
    sample_index: int
    status: str
    transcript_id: str | None
    error_code: str | None
    error_message: str | None
    retry_count: int
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: int | None
    queued_at: datetime | None
    queue_wait_ms: int | None
    created_at: datetime
    completed_at: datetime | None

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
    scenario_id: str
    model_id: str
    status: str
    error: str | None
    completed_at: datetime | None


@strawberry.type
class UnresolvableByModel:
    model_id: str
    count: int


@strawberry.type
class UnresolvableCount:
    total: int
    by_model: list[UnresolvableByModel]
