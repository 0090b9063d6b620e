"""Cost as GraphQL types: the pre-run estimate and the actual spend of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from app.runs import spend

if TYPE_CHECKING:
    pass


@strawberry.type
class ModelCostEstimate:
    model_id: strawberry.ID
    display_name: str
    scenario_count: int
    input_tokens: float
    output_tokens: float
    input_cost: float
    output_cost: float
    total_cost: float
    avg_input_per_probe: float
    avg_output_per_probe: float
    sample_count: int
    is_using_fallback: bool


@strawberry.type
class CostEstimate:
    total: float
    scenario_count: int
    based_on_sample_count: int
    is_using_fallback: bool
    fallback_reason: str | None
    per_model: list[ModelCostEstimate]

    @classmethod
    def from_estimate(cls, found: spend.Estimate) -> CostEstimate:
        return cls(
            total=found.total,
            scenario_count=found.scenario_count,
            based_on_sample_count=found.based_on_sample_count,
            is_using_fallback=any(m.is_using_fallback for m in found.per_model),
            fallback_reason=found.fallback_reason,
            per_model=[
                ModelCostEstimate(
                    model_id=strawberry.ID(m.model_id),
                    display_name=m.display_name,
                    scenario_count=found.scenario_count,
                    input_tokens=m.input_tokens,
                    output_tokens=m.output_tokens,
                    input_cost=m.input_cost,
                    output_cost=m.output_cost,
                    total_cost=m.total_cost,
                    avg_input_per_probe=m.avg_input,
                    avg_output_per_probe=m.avg_output,
                    sample_count=m.sample_count,
                    is_using_fallback=m.is_using_fallback,
                )
                for m in found.per_model
            ],
        )


@strawberry.type
class ActualModelCost:
    model_id: strawberry.ID
    input_tokens: int
    output_tokens: int
    cost: float
    probe_count: int


@strawberry.type
class ActualCost:
    total: float
    per_model: list[ActualModelCost]


@strawberry.type
class AnalysisResult:
    """Only the spend part of ValueRank's analysis is served here."""

    actual_cost: ActualCost | None


@strawberry.type(
    description="What a run has paid, in USD: the sum of its ledger of provider calls (every "
    "settled attempt, probe or summary, failed, retried and aborted ones too)."
)
class RunSpend:
    total: float
    probes: float
    summaries: float
    failed_calls: float = strawberry.field(
        description="Of the total, calls that failed, were retried or were aborted."
    )
    estimated_part: float = strawberry.field(
        description="Of the total, calls whose vendor reported no usage (priced at their "
        "expected cost)."
    )
    call_count: int = strawberry.field(description="Settled calls (calls in flight excluded).")

    @classmethod
    def from_spend(cls, found: spend.Spend) -> RunSpend:
        return cls(
            total=found.total,
            probes=found.probes,
            summaries=found.summaries,
            failed_calls=found.failed_calls,
            estimated_part=found.estimated_part,
            call_count=found.call_count,
        )
