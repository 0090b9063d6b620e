"""Numbers about execution read from the database, so they are true across every worker
process: a run's execution metrics (load per provider, recent completions, retries, ETA).
Stalled models are the queue's to tell (app/queue/state.py)."""

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
