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
    """A probe that finished recently."""

    model_id: str
    """The model identifier probed."""
    scenario_id: str
    """The scenario probed."""
    success: bool
    """Whether the probe succeeded."""
    completed_at: datetime
    """When it finished."""
    duration_ms: int
    """How long it took, in milliseconds (0 when not recorded)."""


@strawberry.type
class ProviderExecutionMetrics:
    """One provider's share of a run's execution, read from the database (true across every worker process)."""

    provider: str
    """The provider's name (e.g. openai)."""
    active_jobs: int
    """The run's calls to this provider in flight now."""
    queued_jobs: int
    """The run's jobs for this provider waiting to run."""
    max_parallel: int
    """The provider's cap on calls in flight (maxParallelRequests)."""
    requests_per_minute: int
    """The provider's cap on calls per minute."""
    active_model_ids: list[str]
    """Models of the run with a call in flight, sorted."""
    recent_completions: list[CompletionEvent]
    """Each model's latest finished probes, newest first."""


@strawberry.type
class ExecutionMetrics:
    """A run's live execution across all providers."""

    providers: list[ProviderExecutionMetrics]
    """Per provider the run uses."""
    total_active: int
    """Calls in flight now."""
    total_queued: int
    """Jobs waiting to run."""
    total_retries: int
    """Attempts retried so far, finished and live jobs together."""
    estimated_seconds_remaining: int | None
    """Seconds until the run's slots are done, from its rate so far; null when unknown."""

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
