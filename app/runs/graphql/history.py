"""Run history as GraphQL: `runStats`' types, and the Run fields read from the status log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.graphql.context import Info
from app.runs import events, history, service
from app.runs import models as tables
from app.transcripts import service as transcripts
from app.transcripts.statistics import Decisions

if TYPE_CHECKING:
    from app.runs.graphql.types import Run

RunType = Annotated["Run", strawberry.lazy("app.runs.graphql.types")]


@strawberry.type
class StatusCount:
    """How many runs are in one status."""

    status: str
    """A run status."""
    count: int
    """Runs in it."""


@strawberry.type
class DecisionCount:
    """How many transcripts reached one decision."""

    code: str | None = strawberry.field(description="A decision code; null: not decided yet.")
    count: int
    """Transcripts with this code."""


def distribution(found: Decisions) -> list[DecisionCount]:
    ordered = sorted(found.distribution.items(), key=lambda item: (item[0] is None, item[0]))
    return [DecisionCount(code=c, count=n) for c, n in ordered]


@strawberry.type
class ModelRunStats:
    """One model's totals over the selected runs."""

    model_id: str
    """The model identifier."""
    run_count: int = strawberry.field(description="Runs that asked for this model.")
    transcript_count: int
    """Its transcripts."""
    failed_count: int = strawberry.field(description="Failed probes of this model.")
    avg_tokens: float | None
    """Mean tokens per transcript; null without transcripts."""
    avg_duration_ms: float | None
    """Mean probe duration in milliseconds; null without transcripts."""
    total_cost: float
    """USD, its transcripts' estimated costs."""
    decision_distribution: list[DecisionCount]
    """Its transcripts per decision code."""


@strawberry.type
class RunStats:
    """Totals over a set of runs (runStats)."""

    total_runs: int
    """Runs selected."""
    by_status: list[StatusCount]
    """Runs per status, by status name."""
    completed: int
    """COMPLETED runs."""
    failed: int
    """FAILED runs."""
    cancelled: int
    """CANCELLED runs."""
    success_rate: float | None = strawberry.field(
        description="COMPLETED over finished (COMPLETED, FAILED, CANCELLED) runs; null if none."
    )
    avg_duration_seconds: float | None = strawberry.field(
        description="Mean of completedAt - startedAt over runs that have both."
    )
    total_tokens: int
    """Tokens of the runs' transcripts."""
    total_cost: float = strawberry.field(
        description="Every transcript's estimated cost (a call ledger replaces it when it lands)."
    )
    transcript_count: int
    """The runs' transcripts."""
    per_model: list[ModelRunStats]
    """Per model the runs asked for."""

    @classmethod
    def of(cls, found: history.RunStats) -> RunStats:
        counts = found.by_status
        return cls(
            total_runs=found.total_runs,
            by_status=[StatusCount(status=s, count=n) for s, n in sorted(counts.items())],
            completed=counts.get("COMPLETED", 0),
            failed=counts.get("FAILED", 0),
            cancelled=counts.get("CANCELLED", 0),
            success_rate=found.success_rate,
            avg_duration_seconds=found.avg_duration_seconds,
            total_tokens=found.decisions.tokens,
            total_cost=found.decisions.cost,
            transcript_count=found.decisions.transcript_count,
            per_model=[
                ModelRunStats(
                    model_id=m.model_id,
                    run_count=m.run_count,
                    transcript_count=m.decisions.transcript_count,
                    failed_count=m.failed_count,
                    avg_tokens=m.decisions.avg_tokens,
                    avg_duration_ms=m.decisions.avg_duration_ms,
                    total_cost=m.decisions.cost,
                    decision_distribution=distribution(m.decisions),
                )
                for m in found.per_model
            ],
        )


@strawberry.type
class RunEvent:
    """One status change of a run."""

    status: str
    """The status entered."""
    previous_status: str | None
    """The status left; null for the first event."""
    at: datetime
    """When it changed."""
    reason: str | None
    """Why: the mutation that changed it (e.g. pauseRun), "recovery", or the pause reason."""
    actor: str = strawberry.field(
        description='An API key\'s name, "worker", "recovery" or "budget".'
    )


@strawberry.type
class RunStage:
    """A stage of a run (PROBING or SUMMARIZING)."""

    name: str
    """PROBING or SUMMARIZING."""
    status: str
    """The stage's state, from the run's events."""
    started_at: datetime | None
    """When it started; null if it has not."""
    ended_at: datetime | None
    """When it ended; null while it runs."""
    seconds: float | None
    """Its duration in seconds; null until it ends."""


@strawberry.type
class RunHistoryFields:
    """Run's history fields (a base of the Run type): duration, tokens, log, lineage."""

    row: strawberry.Private[tables.Run]

    @strawberry.field(description="completedAt - startedAt; null until both are set.")  # type: ignore[untyped-decorator]
    def duration_seconds(self) -> float | None:
        if self.row.started_at is None or self.row.completed_at is None:
            return None
        return (self.row.completed_at - self.row.started_at).total_seconds()

    @strawberry.field(description="Input plus output tokens of the run's live transcripts.")  # type: ignore[untyped-decorator]
    async def total_tokens(self, info: Info) -> int:
        loader = info.context.loaders.by_key("transcript_stats", transcripts.stats_by_run)
        stats = await loader.load(self.row.id)
        assert stats is not None
        return sum(m.input_tokens + m.output_tokens for m in stats.by_model.values())

    async def _events(self, info: Info) -> Sequence[tables.RunEvent]:
        loader = info.context.loaders.by_key("run_events", events.events_by_run)
        return await loader.load(self.row.id) or []

    @strawberry.field(description="Every status change, oldest first (append-only).")  # type: ignore[untyped-decorator]
    async def events(self, info: Info) -> list[RunEvent]:
        return [
            RunEvent(
                status=e.status,
                previous_status=e.previous_status,
                at=e.at,
                reason=e.reason,
                actor=e.actor,
            )
            for e in await self._events(info)
        ]

    @strawberry.field(description="PROBING and SUMMARIZING, derived from the events.")  # type: ignore[untyped-decorator]
    async def stages(self, info: Info) -> list[RunStage]:
        return [
            RunStage(
                name=s.name,
                status=s.status,
                started_at=s.started_at,
                ended_at=s.ended_at,
                seconds=s.seconds,
            )
            for s in events.stages(await self._events(info))
        ]

    @strawberry.field(description="What ran and where, fixed when the run started.")  # type: ignore[untyped-decorator]
    def provenance(self) -> JSON | None:
        return JSON(self.row.provenance) if self.row.provenance is not None else None

    @strawberry.field
    def parent_run_id(self) -> strawberry.ID | None:
        """The run this one re-runs (rerunRun); null for an original run."""
        parent = self.row.parent_run_id
        return strawberry.ID(parent) if parent else None

    @strawberry.field(description="The run this one re-runs.")  # type: ignore[untyped-decorator]
    async def parent_run(self, info: Info) -> RunType | None:
        from app.runs.graphql.types import Run

        if self.row.parent_run_id is None:
            return None
        loader = info.context.loaders.by_key("runs_by_id", service.runs_by_id)
        row = await loader.load(self.row.parent_run_id)
        return Run.from_row(row) if row is not None and row.deleted_at is None else None

    @strawberry.field(description="Runs re-running this one, oldest first.")  # type: ignore[untyped-decorator]
    async def reruns(self, info: Info) -> list[RunType]:
        from app.runs.graphql.types import Run

        loader = info.context.loaders.by_key("reruns", history.reruns_by_parent)
        return [Run.from_row(r) for r in await loader.load(self.row.id) or []]
