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
    key: str
    base: JSON | None
    other: JSON | None


@strawberry.type
class ComparisonSide:
    """One run's transcripts of one model."""

    transcript_count: int
    mean_decision: float | None
    decision_distribution: list[DecisionCount]
    avg_tokens: float | None
    avg_duration_ms: float | None
    cost: float

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
    model_id: str
    base: ComparisonSide
    other: ComparisonSide
    mean_delta: float | None = strawberry.field(description="other's mean minus base's.")


@strawberry.type
class ChangedDecision:
    scenario_id: str
    model_id: str
    sample_index: int
    base_code: str | None
    other_code: str | None
    base_transcript_id: strawberry.ID
    other_transcript_id: strawberry.ID


@strawberry.type
class RunComparison:
    config_changes: list[ConfigChange]
    per_model: list[ModelComparison]
    matched_slot_count: int = strawberry.field(
        description="Slots (scenario id, model, sample) both runs have a transcript for."
    )
    changed_decision_count: int
    cost_delta: float
    token_delta: int
    duration_delta_seconds: float | None
    found: strawberry.Private[service.Comparison]

    @strawberry.field
    def base_run(self) -> RunType:
        from app.runs.graphql.types import Run

        return Run.from_row(self.found.base)

    @strawberry.field
    def other_run(self) -> RunType:
        from app.runs.graphql.types import Run

        return Run.from_row(self.found.other)

    @paged_field(CHANGED_PAGE)
    async def changed_decisions(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[ChangedDecision]:
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
    @strawberry.field(description="Two runs side by side; deltas are other minus base.")  # type: ignore[untyped-decorator]
    async def compare_runs(
        self, info: Info, base_run_id: strawberry.ID, other_run_id: strawberry.ID
    ) -> RunComparison:
        async with info.context.reader.use() as session:
            found = await service.compare_runs(session, str(base_run_id), str(other_run_id))
        return RunComparison.of(found)
