"""What a run costs: the pre-run estimate (from each model's observed token averages and its
list prices) and the estimated total of a run under way. The rule for a call's cost is
app/llm/costs.py; a ledger of spend per call and per run belongs here too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.llm import costs
from app.runs.progress import Progress
from app.transcripts import service as transcripts

# With no transcript to learn from, a probe is assumed to cost this many tokens.
FALLBACK_INPUT_TOKENS = 600.0
FALLBACK_OUTPUT_TOKENS = 350.0


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    return (await (await session.connection()).execute(sa.text(sql), params)).all()


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    model_id: str
    display_name: str
    probes: int
    avg_input: float
    avg_output: float
    prices: costs.Prices
    sample_count: int
    is_using_fallback: bool

    @property
    def input_tokens(self) -> float:
        return self.probes * self.avg_input

    @property
    def output_tokens(self) -> float:
        return self.probes * self.avg_output

    @property
    def input_cost(self) -> float:
        return costs.token_cost(self.input_tokens, self.prices.input_per_million)

    @property
    def output_cost(self) -> float:
        return costs.token_cost(self.output_tokens, self.prices.output_per_million)

    @property
    def total_cost(self) -> float:
        return costs.call_cost(self.input_tokens, self.output_tokens, self.prices)


@dataclass(frozen=True, slots=True)
class Estimate:
    scenario_count: int
    per_model: list[ModelEstimate]
    fallback_reason: str | None

    @property
    def total(self) -> float:
        return sum(m.total_cost for m in self.per_model)

    @property
    def based_on_sample_count(self) -> int:
        return sum(m.sample_count for m in self.per_model)


async def estimate(
    session: AsyncSession, *, scenario_count: int, models: Sequence[str], samples: int
) -> Estimate:
    """Cost of `scenario_count × samples` probes per model, from each model's observed token
    averages; a model never run yet borrows the average of all models, or fixed figures."""
    rows = await _usage_by_model(session, models)
    overall = await _usage_overall(session)
    fallback_input = float(overall.avg_input or FALLBACK_INPUT_TOKENS)
    fallback_output = float(overall.avg_output or FALLBACK_OUTPUT_TOKENS)
    per_model: list[ModelEstimate] = []
    reasons: set[str] = set()
    for row in rows:
        observed = bool(row.n)
        if not observed:
            reasons.add(
                "No transcripts yet for some models: using the average of all models"
                if overall.n
                else "No transcripts yet: using default token counts"
            )
        per_model.append(
            ModelEstimate(
                model_id=row.model_id,
                display_name=row.display_name,
                probes=scenario_count * samples,
                avg_input=float(row.avg_input) if observed else fallback_input,
                avg_output=float(row.avg_output) if observed else fallback_output,
                prices=costs.Prices(
                    float(row.cost_input_per_million), float(row.cost_output_per_million)
                ),
                sample_count=int(row.n or 0),
                is_using_fallback=not observed,
            )
        )
    return Estimate(
        scenario_count=scenario_count,
        per_model=per_model,
        fallback_reason="; ".join(sorted(reasons)) or None,
    )


async def _usage_by_model(session: AsyncSession, models: Sequence[str]) -> Sequence[Any]:
    """Per model, in the order asked: its prices and its recent transcripts' token averages."""
    return await _rows(
        session,
        """
        SELECT m.model_id, m.display_name, m.cost_input_per_million, m.cost_output_per_million,
               s.n, s.avg_input, s.avg_output
        FROM unnest(CAST(:models AS text[])) WITH ORDINALITY AS wanted(model_id, position)
        JOIN LATERAL (SELECT * FROM llm_models m WHERE m.model_id = wanted.model_id
                      ORDER BY m.status = 'ACTIVE' DESC LIMIT 1) m ON true
        LEFT JOIN LATERAL (
            SELECT count(*) AS n, avg(t.input_tokens) AS avg_input,
                   avg(t.output_tokens) AS avg_output
            FROM (SELECT input_tokens, output_tokens FROM transcripts
                  WHERE model_id = m.model_id AND deleted_at IS NULL
                  ORDER BY created_at DESC LIMIT 500) t) s ON true
        ORDER BY wanted.position
        """,
        {"models": list(models)},
    )


async def _usage_overall(session: AsyncSession) -> Any:
    """Token averages over every model's recent transcripts (for a model never run yet)."""
    return (
        await _rows(
            session,
            """
            SELECT count(*) AS n, avg(input_tokens) AS avg_input, avg(output_tokens) AS avg_output
            FROM (SELECT input_tokens, output_tokens FROM transcripts WHERE deleted_at IS NULL
                  ORDER BY created_at DESC LIMIT 2000) t
            """,
            {},
        )
    )[0]


def estimated_total(
    models: list[str],
    total_slots: int,
    progress: Progress,
    stats: transcripts.RunTranscriptStats,
    fallback_costs: dict[str, float],
) -> float | None:
    """Spend so far, plus each model's remaining slots at the average cost of its transcripts
    in this run (the pre-run estimate for a model with none yet)."""
    if not models:
        return None
    per_model_slots = total_slots // len(models)
    total = 0.0
    for model_id in models:
        done = progress.by_model.get(model_id)
        finished = (done.completed + done.failed) if done else 0
        observed = stats.by_model.get(model_id)
        if observed and observed.probe_count:
            total += observed.cost
            average = observed.cost / observed.probe_count
        elif model_id in fallback_costs:
            average = fallback_costs[model_id]
        else:
            return None
        total += max(0, per_model_slots - finished) * average
    return total


@dataclass(frozen=True, slots=True)
class Spend:
    """What a run has paid, from its ledger of provider calls (settled calls only)."""

    total: float = 0.0
    probes: float = 0.0
    summaries: float = 0.0
    failed_calls: float = 0.0  # calls that failed, were retried or aborted: paid, no result
    estimated_part: float = 0.0  # of the total, calls whose vendor reported no usage
    call_count: int = 0


async def spend_by_run(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, Spend]:
    """Each run's spend (a run with no settled call spent nothing)."""
    rows = await _rows(
        session,
        """
        SELECT run_id, sum(cost_usd) AS total,
               coalesce(sum(cost_usd) FILTER (WHERE purpose = 'PROBE'), 0) AS probes,
               coalesce(sum(cost_usd) FILTER (WHERE purpose = 'SUMMARY'), 0) AS summaries,
               coalesce(sum(cost_usd) FILTER (WHERE outcome <> 'SUCCESS'), 0) AS failed,
               coalesce(sum(cost_usd) FILTER (WHERE estimated), 0) AS estimated,
               count(*) AS calls
        FROM provider_calls
        WHERE run_id = ANY(CAST(:ids AS text[])) AND outcome IS NOT NULL
        GROUP BY run_id
        """,
        {"ids": list(run_ids)},
    )
    found = {
        row.run_id: Spend(
            total=float(row.total),
            probes=float(row.probes),
            summaries=float(row.summaries),
            failed_calls=float(row.failed),
            estimated_part=float(row.estimated),
            call_count=int(row.calls),
        )
        for row in rows
    }
    return {run_id: found.get(run_id, Spend()) for run_id in run_ids}
