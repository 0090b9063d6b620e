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
