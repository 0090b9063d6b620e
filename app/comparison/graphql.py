"""compareRuns as GraphQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.comparison import service
from app.graphql.args import paged_field
from app.graphql.context import Info
from app.paging import PageSize
from app.runs.graphql.history import DecisionCount, distribution
from app.transcripts import statistics
from app.transcripts.statistics import Decisions

if TYPE_CHECKING:
    from app.runs.graphql.types import Run

RunType = Annotated["Run", strawberry.lazy("app.runs.graphql.types")]
CHANGED_PAGE = PageSize(default=100, maximum=1000)


@strawberry.type
class ConfigChange:
    """A setting that differs between the two runs."""

    key: str
    """The setting's name (e.g. temperature, models, definitionVersion)."""
    base: JSON | None
    """Its value in the base run."""
    other: JSON | None
    """Its value in the other run."""


@strawberry.type
class ComparisonSide:
    """One run's transcripts of one model."""

    transcript_count: int
    """Its transcripts."""
    mean_decision: float | None
    """Mean decision code (1-5) of resolved transcripts; null without any."""
    decision_distribution: list[DecisionCount]
    """Transcripts per decision code."""
    avg_tokens: float | None
    """Mean tokens per transcript; null without transcripts."""
    avg_duration_ms: float | None
    """Mean probe duration in milliseconds; null without transcripts."""
    cost: float
    """USD, its transcripts' estimated costs."""

    @classmethod
    def of(cls, found: Decisions) -> ComparisonSide:
        return cls(
            transcript_count=found.transcript_count,
            mean_decision=found.mean_decision,
            decision_distribution=distribution(found),
            avg_tokens=found.avg_tokens,
            avg_duration_ms=found.avg_duration_ms,
            cost=found.cost,
        )


@strawberry.type
class ModelComparison:
    """One model in both runs."""

    model_id: str
    """The model identifier."""
    base: ComparisonSide
    """Its transcripts in the base run."""
    other: ComparisonSide
    """Its transcripts in the other run."""
    mean_delta: float | None = strawberry.field(description="other's mean minus base's.")


@strawberry.type
class ChangedDecision:
    """A slot (scenario, model, sample) whose decision differs between the runs."""

    scenario_id: str
    """The scenario."""
    model_id: str
    """The model identifier."""
    sample_index: int
    """The sample, from 0."""
    base_code: str | None
    """Its decision code in the base run."""
    other_code: str | None
    """Its decision code in the other run."""
    base_transcript_id: strawberry.ID
    """Its transcript in the base run."""
    other_transcript_id: strawberry.ID
    """Its transcript in the other run."""


@strawberry.type
class RunComparison:
    """Two runs side by side (compareRuns); every delta is other minus base."""

    config_changes: list[ConfigChange]
    """Settings that differ."""
    per_model: list[ModelComparison]
    """Per model of either run."""
    matched_slot_count: int = strawberry.field(
        description="Slots (scenario id, model, sample) both runs have a transcript for."
    )
    changed_decision_count: int
    """Matched slots whose decision differs."""
    cost_delta: float
    """USD: other's transcript cost minus base's."""
    token_delta: int
    """Tokens: other's minus base's."""
    duration_delta_seconds: float | None
    """Seconds: other's duration minus base's; null unless both have ended."""
    found: strawberry.Private[service.Comparison]

    @strawberry.field
    def base_run(self) -> RunType:
        """The base run."""
        from app.runs.graphql.types import Run

        return Run.from_row(self.found.base)

    @strawberry.field
    def other_run(self) -> RunType:
        """The other run."""
        from app.runs.graphql.types import Run

        return Run.from_row(self.found.other)

    @paged_field(CHANGED_PAGE)
    async def changed_decisions(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[ChangedDecision]:
        """The slots whose decision differs."""
        paging = CHANGED_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await statistics.changed_decisions(
                session,
                self.found.base.id,
                self.found.other.id,
                limit=paging.limit,
                offset=paging.offset,
            )
        return [
            ChangedDecision(
                scenario_id=r.scenario_id,
                model_id=r.model_id,
                sample_index=r.sample_index,
                base_code=r.base_code,
                other_code=r.other_code,
                base_transcript_id=strawberry.ID(r.base_transcript_id),
                other_transcript_id=strawberry.ID(r.other_transcript_id),
            )
            for r in rows
        ]

    @classmethod
    def of(cls, found: service.Comparison) -> RunComparison:
        return cls(
            config_changes=[
                ConfigChange(key=c.key, base=JSON(c.base), other=JSON(c.other))
                for c in found.config_changes
            ],
            per_model=[
                ModelComparison(
                    model_id=m.model_id,
                    base=ComparisonSide.of(m.base),
                    other=ComparisonSide.of(m.other),
                    mean_delta=m.mean_delta,
                )
                for m in found.per_model
            ],
            matched_slot_count=found.matched_slots,
            changed_decision_count=found.changed_decisions,
            cost_delta=found.cost_delta,
            token_delta=found.token_delta,
            duration_delta_seconds=found.duration_delta_seconds,
            found=found,
        )


@strawberry.type
class ComparisonQuery:
    """Queries comparing runs."""

    @strawberry.field
    async def compare_runs(
        self, info: Info, base_run_id: strawberry.ID, other_run_id: strawberry.ID
    ) -> RunComparison:
        """Two runs side by side; deltas are other minus base. Errors: NOT_FOUND.

        Args:
            baseRunId: The run compared against.
            otherRunId: The run compared.
        """
        async with info.context.reader.use() as session:
            found = await service.compare_runs(session, str(base_run_id), str(other_run_id))
        return RunComparison.of(found)
