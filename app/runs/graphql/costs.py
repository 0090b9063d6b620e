"""Cost as GraphQL types: the pre-run estimate and the actual spend of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from app.runs import spend

if TYPE_CHECKING:
    pass


@strawberry.type
class ModelCostEstimate:
    """One model's share of a cost estimate, in USD."""

    model_id: strawberry.ID
    """The model identifier."""
    display_name: str
    """The model's display name."""
    scenario_count: int
    """Scenarios the run would probe."""
    input_tokens: float
    """Expected prompt tokens in all."""
    output_tokens: float
    """Expected completion tokens in all."""
    input_cost: float
    """USD for the prompt tokens."""
    output_cost: float
    """USD for the completion tokens."""
    total_cost: float
    """USD, input plus output."""
    avg_input_per_probe: float
    """Expected prompt tokens per probe."""
    avg_output_per_probe: float
    """Expected completion tokens per probe."""
    sample_count: int
    """Past transcripts of this model the averages come from."""
    is_using_fallback: bool
    """Whether it has no transcripts to go on: all models' average, or default token counts, stand in."""


@strawberry.type
class CostEstimate:
    """What a run would cost, in USD, from each model's price and past token use."""

    total: float
    """USD over every model."""
    scenario_count: int
    """Scenarios the run would probe."""
    based_on_sample_count: int
    """Past transcripts the estimate is based on."""
    is_using_fallback: bool
    """Whether any model has no transcripts to go on (see fallbackReason)."""
    fallback_reason: str | None
    """Why a fallback was used; null when none was."""
    per_model: list[ModelCostEstimate]
    """Per model."""

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
    """One model's actual cost in a run."""

    model_id: strawberry.ID
    """The model identifier."""
    input_tokens: int
    """Prompt tokens of its transcripts."""
    output_tokens: int
    """Completion tokens of its transcripts."""
    cost: float
    """USD, from its transcripts' estimated costs."""
    probe_count: int
    """Its transcripts."""


@strawberry.type
class ActualCost:
    """What a run's transcripts cost, in USD."""

    total: float
    """USD over every model."""
    per_model: list[ActualModelCost]
    """Per model, by model identifier."""


@strawberry.type
class AnalysisResult:
    """Only the spend part of ValueRank's analysis is served here."""

    actual_cost: ActualCost | None
    """The run's actual cost so far."""


@strawberry.type(
    description="What a run has paid, in USD: the sum of its ledger of provider calls (every "
    "settled attempt, probe or summary, failed, retried and aborted ones too)."
)
class RunSpend:
    total: float
    """USD, every settled call."""
    probes: float
    """USD for probe calls."""
    summaries: float
    """USD for summary calls."""
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
