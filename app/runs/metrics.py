"""Numbers about execution read from the database, so they are true across every worker
process: a run's execution metrics and cost estimates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.queue import state as queue_state
from app.runs.progress import seconds_remaining

RECENT_COMPLETIONS = 10
# With no transcript to learn from, a probe is assumed to cost this many tokens.
FALLBACK_INPUT_TOKENS = 600.0
FALLBACK_OUTPUT_TOKENS = 350.0


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    return (await (await session.connection()).execute(sa.text(sql), params)).all()


@dataclass(frozen=True, slots=True)
class Completion:
    model_id: str
    scenario_id: str
    success: bool
    completed_at: datetime
    duration_ms: int


@dataclass(slots=True)
class ProviderLoad:
    provider: str
    active_jobs: int = 0
    queued_jobs: int = 0
    max_parallel: int = 0
    requests_per_minute: int = 0
    active_model_ids: list[str] = field(default_factory=list)
    recent_completions: list[Completion] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunMetrics:
    providers: list[ProviderLoad]
    total_active: int
    total_queued: int
    total_retries: int
    estimated_seconds_remaining: int | None


async def run_metrics(session: AsyncSession, run_id: str) -> RunMetrics:
    loads, live_retries = await _provider_loads(session, run_id)
    await _add_recent_completions(session, run_id, loads)
    await _add_limits(session, loads)
    progress = (
        await _rows(
            session,
            """
            SELECT r.status, r.total_slots,
                   extract(epoch FROM now() - r.started_at) AS elapsed,
                   (SELECT count(*) FROM probe_results p WHERE p.run_id = r.id) AS finished,
                   (SELECT coalesce(sum(p.retry_count), 0) FROM probe_results p
                    WHERE p.run_id = r.id) AS retries
            FROM runs r WHERE r.id = :run
            """,
            {"run": run_id},
        )
    )[0]
    for load in loads.values():
        load.active_model_ids.sort()
        load.recent_completions.sort(key=lambda c: c.completed_at, reverse=True)
    return RunMetrics(
        providers=sorted(loads.values(), key=lambda p: p.provider),
        total_active=sum(p.active_jobs for p in loads.values()),
        total_queued=sum(p.queued_jobs for p in loads.values()),
        total_retries=int(progress.retries) + live_retries,
        estimated_seconds_remaining=seconds_remaining(
            progress.status,
            int(progress.total_slots),
            int(progress.finished),
            None if progress.elapsed is None else float(progress.elapsed),
        ),
    )


async def _provider_loads(
    session: AsyncSession, run_id: str
) -> tuple[dict[str, ProviderLoad], int]:
    """Per provider: the run's active and queued jobs; and the attempts its live jobs spent."""
    # Active: a provider call in flight (an open lease). Queued: every other live job,
    # including those a worker holds while they wait for room under the provider's limits.
    jobs = await queue_state.live_probe_jobs(session, run_id)
    calls = await _rows(
        session,
        """
        SELECT p.name AS provider, l.model_id, count(*) AS n
        FROM provider_leases l JOIN llm_providers p ON p.id = l.provider_id
        WHERE l.run_id = :run AND l.finished_at IS NULL AND l.expires_at > clock_timestamp()
        GROUP BY 1, 2
        """,
        {"run": run_id},
    )
    loads: dict[str, ProviderLoad] = {}
    live_retries = 0
    for row in jobs:
        load = loads.setdefault(row.provider, ProviderLoad(row.provider))
        live_retries += int(row.attempts or 0)
        load.queued_jobs += int(row.n)
    for row in calls:
        load = loads.setdefault(row.provider, ProviderLoad(row.provider))
        load.active_jobs += int(row.n)
        load.queued_jobs = max(0, load.queued_jobs - int(row.n))
        load.active_model_ids.append(row.model_id)
    return loads, live_retries


async def _add_recent_completions(
    session: AsyncSession, run_id: str, loads: dict[str, ProviderLoad]
) -> None:
    recent = await _rows(
        session,
        """
        SELECT pr.name AS provider, p.model_id, p.scenario_id, p.status, p.completed_at,
               coalesce(p.duration_ms, 0) AS duration_ms
        FROM (SELECT DISTINCT r.model_id FROM probe_results r WHERE r.run_id = :run) used
        JOIN llm_models m ON m.model_id = used.model_id
        JOIN llm_providers pr ON pr.id = m.provider_id
        CROSS JOIN LATERAL (
            SELECT * FROM probe_results p
            WHERE p.run_id = :run AND p.model_id = used.model_id
            ORDER BY p.completed_at DESC NULLS LAST LIMIT :n) p
        """,
        {"run": run_id, "n": RECENT_COMPLETIONS},
    )
    for row in recent:
        load = loads.setdefault(row.provider, ProviderLoad(row.provider))
        if row.completed_at is not None:
            load.recent_completions.append(
                Completion(
                    row.model_id,
                    row.scenario_id,
                    row.status == "SUCCESS",
                    row.completed_at,
                    int(row.duration_ms),
                )
            )


async def _add_limits(session: AsyncSession, loads: dict[str, ProviderLoad]) -> None:
    limits = await _rows(
        session,
        "SELECT name, max_parallel_requests, requests_per_minute FROM llm_providers "
        "WHERE name = ANY(CAST(:names AS text[]))",
        {"names": list(loads)},
    )
    for row in limits:
        loads[row.name].max_parallel = int(row.max_parallel_requests)
        loads[row.name].requests_per_minute = int(row.requests_per_minute)


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    model_id: str
    display_name: str
    probes: int
    avg_input: float
    avg_output: float
    cost_input_per_million: float
    cost_output_per_million: float
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
        return self.input_tokens * self.cost_input_per_million / 1e6

    @property
    def output_cost(self) -> float:
        return self.output_tokens * self.cost_output_per_million / 1e6


@dataclass(frozen=True, slots=True)
class Estimate:
    scenario_count: int
    per_model: list[ModelEstimate]
    fallback_reason: str | None

    @property
    def total(self) -> float:
        return sum(m.input_cost + m.output_cost for m in self.per_model)

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
                cost_input_per_million=float(row.cost_input_per_million),
                cost_output_per_million=float(row.cost_output_per_million),
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
