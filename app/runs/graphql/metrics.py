"""Execution metrics as GraphQL types: the queue's load and recent completions per provider."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from app.runs import metrics

if TYPE_CHECKING:
    pass


@strawberry.type
class CompletionEvent:
    model_id: str
    scenario_id: str
    success: bool
    completed_at: datetime
    duration_ms: int


@strawberry.type
class ProviderExecutionMetrics:
    provider: str
    active_jobs: int
    queued_jobs: int
    max_parallel: int
    requests_per_minute: int
    active_model_ids: list[str]
    recent_completions: list[CompletionEvent]


@strawberry.type
class ExecutionMetrics:
    providers: list[ProviderExecutionMetrics]
    total_active: int
    total_queued: int
    total_retries: int
    estimated_seconds_remaining: int | None

    @classmethod
    def from_metrics(cls, found: metrics.RunMetrics) -> ExecutionMetrics:
        return cls(
            providers=[
                ProviderExecutionMetrics(
                    provider=p.provider,
                    active_jobs=p.active_jobs,
                    queued_jobs=p.queued_jobs,
                    max_parallel=p.max_parallel,
                    requests_per_minute=p.requests_per_minute,
                    active_model_ids=p.active_model_ids,
                    recent_completions=[
                        CompletionEvent(
                            model_id=c.model_id,
                            scenario_id=c.scenario_id,
                            success=c.success,
                            completed_at=c.completed_at,
                            duration_ms=c.duration_ms,
                        )
                        for c in p.recent_completions
                    ],
                )
                for p in found.providers
            ],
            total_active=found.total_active,
            total_queued=found.total_queued,
            total_retries=found.total_retries,
            estimated_seconds_remaining=found.estimated_seconds_remaining,
        )
