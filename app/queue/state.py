"""What the queue holds, read from Procrastinate's tables: job counts per task and whether
workers are alive (queueStatus), and a run's live probe jobs (execution metrics, stalled
models, the run's advance)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Statement
from app.queue.jobs import PROBE_TASK


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    return (await (await session.connection()).execute(sa.text(sql), params)).all()


@dataclass(frozen=True, slots=True)
class JobTypeCounts:
    type: str
    pending: int
    active: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class QueueState:
    is_running: bool
    is_paused: bool
    job_types: list[JobTypeCounts]


async def queue_state(session: AsyncSession, *, heartbeat_seconds: float) -> QueueState:
    counts = await _rows(
        session,
        """
        SELECT task_name,
               count(*) FILTER (WHERE status = 'todo') AS pending,
               count(*) FILTER (WHERE status = 'doing') AS active,
               count(*) FILTER (WHERE status = 'succeeded') AS completed,
               count(*) FILTER (WHERE status = 'failed') AS failed
        FROM procrastinate_jobs GROUP BY task_name ORDER BY task_name
        """,
        {},
    )
    flags = (
        await _rows(
            session,
            """
            SELECT EXISTS (SELECT 1 FROM procrastinate_workers
                           WHERE last_heartbeat > now() - make_interval(secs => :s)) AS running,
                   coalesce((SELECT paused FROM queue_controls WHERE name = 'dispatch'), false)
                       AS paused
            """,
            {"s": heartbeat_seconds},
        )
    )[0]
    return QueueState(
        is_running=bool(flags.running),
        is_paused=bool(flags.paused),
        job_types=[
            JobTypeCounts(r.task_name, r.pending, r.active, r.completed, r.failed) for r in counts
        ],
    )


async def live_probe_jobs(session: AsyncSession, run_id: str) -> Sequence[Any]:
    """Per provider: the run's queued or running probe jobs (`n`) and their `attempts`."""
    return await _rows(
        session,
        """
        SELECT substr(j.queue_name, 7) AS provider, count(*) AS n, sum(j.attempts) AS attempts
        FROM procrastinate_jobs j
        WHERE (j.args->>'runId') = :run AND j.status IN ('todo', 'doing') AND j.task_name = :task
        GROUP BY 1
        """,
        {"run": run_id, "task": PROBE_TASK},
    )


_OPEN_PROBE_JOB = sa.text(
    """
    SELECT 1 FROM procrastinate_jobs j
    WHERE (j.args->>'runId') = :run AND j.status IN ('todo', 'doing')
      AND j.task_name = :task AND j.id <> ALL(CAST(:jobs AS bigint[]))
      AND NOT EXISTS (
        SELECT 1 FROM llm_providers s
        WHERE s.suspended_at IS NOT NULL AND j.queue_name = 'probe_' || s.name)
      AND NOT EXISTS (
        SELECT 1 FROM probe_results p
        WHERE p.run_id = :run AND p.scenario_id = j.args->>'scenarioId'
          AND p.model_id = j.args->>'modelId'
          AND p.sample_index = (j.args->>'sampleIndex')::int)
    LIMIT 1
    """
)


async def has_open_probe_job(session: AsyncSession, run_id: str, *, other_than: int | None) -> bool:
    """Whether a live probe job of the run (other than the caller's) has a slot with no result.
    Stops at the first one, so it is cheap while a run has open slots. A job on a suspended
    provider's queue does not count: it will not call, so the run must not wait for it."""
    statement = open_probe_job(run_id, [] if other_than is None else [other_than])
    found = (
        await (await session.connection()).execute(statement.clause, statement.params)
    ).one_or_none()
    return found is not None


def open_probe_job(run_id: str, other_than: Sequence[int]) -> Statement:
    """`has_open_probe_job` as a statement (for `Database.pipeline`), other than several jobs:
    it returns a row when one is open (a group commit's look, app/runs/execution/commit.py)."""
    return Statement(_OPEN_PROBE_JOB, {"run": run_id, "task": PROBE_TASK, "jobs": list(other_than)})


async def stalled_models_by_run(
    session: AsyncSession, run_ids: Sequence[str], *, stall_seconds: float
) -> dict[str, list[str]]:
    """Per run: models with queued or running probes and no success for `stall_seconds` (counted
    from the run's start when the model has no success yet)."""
    rows = await _rows(
        session,
        """
        SELECT DISTINCT r.id AS run_id, j.args->>'modelId' AS model_id
        FROM runs r
        JOIN procrastinate_jobs j
          ON (j.args->>'runId') = r.id AND j.status IN ('todo', 'doing') AND j.task_name = :task
        WHERE r.id = ANY(CAST(:ids AS text[])) AND r.status = 'RUNNING'
          AND GREATEST(
                r.started_at,
                (SELECT max(p.completed_at) FROM probe_results p
                 WHERE p.run_id = r.id AND p.model_id = j.args->>'modelId'
                   AND p.status = 'SUCCESS'))
              < now() - make_interval(secs => :stall)
        ORDER BY 1, 2
        """,
        {"ids": list(run_ids), "task": PROBE_TASK, "stall": stall_seconds},
    )
    found: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for row in rows:
        found[row.run_id].append(row.model_id)
    return found


async def queue_depths(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Jobs waiting (todo) and running (doing), by queue: `{(queue, status): count}`."""
    rows = await _rows(
        session,
        """
        SELECT queue_name, status::text AS status, count(*) AS n FROM procrastinate_jobs
        WHERE status IN ('todo', 'doing') GROUP BY queue_name, status
        """,
        {},
    )
    return {(r.queue_name, r.status): int(r.n) for r in rows}
