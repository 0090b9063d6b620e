"""A slot: one (run, scenario, model, sample) probe job's arguments, and the plan read for it
(the model's provider and prices, the scenario's prompts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.llm import costs


@dataclass(frozen=True, slots=True)
class SlotJob:
    """A probe job's arguments (see `queue.defer_slots`)."""

    run_id: str
    scenario_id: str
    model_id: str
    sample_index: int
    temperature: float | None
    max_turns: int

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> SlotJob:
        config = args.get("config") or {}
        return cls(
            run_id=args["runId"],
            scenario_id=args["scenarioId"],
            model_id=args["modelId"],
            sample_index=int(args["sampleIndex"]),
            temperature=config.get("temperature"),
            max_turns=max(1, int(config.get("maxTurns") or 1)),
        )

    @property
    def seed(self) -> str:
        return f"{self.run_id}:{self.scenario_id}:{self.model_id}:{self.sample_index}"


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """What a probe needs besides the provider call itself."""

    job: SlotJob
    provider_id: str
    provider_name: str
    api_config: dict[str, Any]
    prices: costs.Prices
    prompts: list[str]  # turn 1 (preamble + prompt), then the follow-ups
    dimension_values: dict[str, Any] | None
    reuse_responses: bool = False  # the run opted in: look for an earlier answer first


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    messages: list[dict[str, str]]
    input_tokens: int
    output_tokens: int
    duration_ms: int
    model_version: str | None


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sa.text(sql), params)


async def plan_slot(session: AsyncSession, job: SlotJob, provider_name: str) -> SlotPlan | None:
    """Read the model, its provider and the scenario (None when any has gone)."""
    row = (
        await _execute(
            session,
            """
            SELECT p.id AS provider_id, p.name AS provider_name, m.api_config,
                   m.cost_input_per_million, m.cost_output_per_million, s.content,
                   coalesce((SELECT r.reuse_responses FROM runs r WHERE r.id = :run), false)
                       AS reuse_responses
            FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id
            JOIN scenarios s ON s.id = :scenario
            WHERE m.model_id = :model AND p.name = :provider
            """,
            {
                "model": job.model_id,
                "provider": provider_name,
                "scenario": job.scenario_id,
                "run": job.run_id,
            },
        )
    ).one_or_none()
    if row is None:
        return None
    content = row.content or {}
    return SlotPlan(
        job=job,
        provider_id=row.provider_id,
        provider_name=row.provider_name,
        api_config=dict(row.api_config or {}),
        prices=costs.Prices(float(row.cost_input_per_million), float(row.cost_output_per_million)),
        prompts=conversation_prompts(content, job.max_turns),
        dimension_values=content.get("dimension_values"),
        reuse_responses=bool(row.reuse_responses),
    )


def conversation_prompts(content: dict[str, Any], max_turns: int) -> list[str]:
    """Turn 1 is `preamble + "\\n\\n" + prompt` (just the prompt without a preamble); each
    follow-up is one more turn; at most `max_turns` turns."""
    preamble = content.get("preamble")
    prompt = str(content.get("prompt", ""))
    first = f"{preamble}\n\n{prompt}" if preamble else prompt
    followups = [str(f.get("prompt", "")) for f in content.get("followups") or []]
    return [first, *followups][:max_turns]
