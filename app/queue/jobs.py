"""Deferring and cancelling jobs (Procrastinate's `procrastinate_jobs`), written with set-based
SQL inside the caller's transaction, so a run and its jobs commit or roll back together.

The app defers jobs by task name and never imports `workers/`. Jobs are inserted with one
`INSERT ... SELECT` computed in the database (no per-job round trip or Python row building).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

PROBE_TASK = "probe_scenario"
SUMMARIZE_TASK = "summarize_transcript"
SUMMARIZE_QUEUE = "summarize"
# Procrastinate runs higher priorities first.
PRIORITY = {"LOW": -10, "NORMAL": 0, "HIGH": 10}


def probe_queue(provider_name: str) -> str:
    return f"probe_{provider_name}"


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> int:
    connection = await session.connection()
    result = await connection.execute(sa.text(sql), params)
    return int(result.rowcount or 0)


# Jobs queued at once from which the job table's statistics are taken again at once.
ANALYZE_AFTER_JOBS = 1000
_ANALYZING: set[asyncio.Task[None]] = set()


async def _analyze_after_many(session: AsyncSession, queued: int) -> int:
    """After a large batch commits, the job table's statistics are taken again, in the
    background (the caller does not wait for them). Without them the planner took
    Procrastinate's job fetch for a look at a few rows and read the whole queue through an
    unsuited index on every fetch, so a run's fetches grew with the square of its size
    (issue 14: at 20,000 slots probes ran at 67/s against 115/s at 3,000, a fetch took
    5.6 ms). Autovacuum's own ANALYZE comes a minute or more later, or never where it is off
    (as on this project's CI machine)."""
    if queued >= ANALYZE_AFTER_JOBS:
        engine = (await session.connection()).engine

        def analyze(_: Any) -> None:
            task = asyncio.get_running_loop().create_task(_analyze(engine))
            _ANALYZING.add(task)
            task.add_done_callback(_ANALYZING.discard)

        sa.event.listen(session.sync_session, "after_commit", analyze, once=True)
    return queued


async def _analyze(engine: AsyncEngine) -> None:
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("ANALYZE procrastinate_jobs"))
    except Exception as exc:  # statistics only: the next batch or autovacuum takes them
        log.info("ANALYZE of the job table failed: %s", exc)


_INSERT_SLOTS = """
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)
SELECT 'probe_' || m.provider, CAST(:task AS text), :priority,
       jsonb_build_object('runId', s.run_id, 'scenarioId', s.scenario_id,
                          'modelId', m.model_id, 'sampleIndex', i,
                          'config', CAST(:config AS jsonb))
FROM run_scenario_selections s
JOIN runs r ON r.id = s.run_id
CROSS JOIN unnest(CAST(:model_ids AS text[]), CAST(:providers AS text[])) AS m(model_id, provider)
CROSS JOIN generate_series(0, :samples - 1) AS i
WHERE s.run_id = :run_id
  -- A re-run of failed slots runs those slots only (runs/lifecycle/rerun.py).
  AND (r.config->'onlySlots' IS NULL
       OR r.config->'onlySlots' @> jsonb_build_array(jsonb_build_array(s.scenario_id, m.model_id, i)))
"""
# A slot is open when it has no terminal result and no queued or running job.
_ONLY_OPEN = """
  AND NOT EXISTS (
    SELECT 1 FROM probe_results p
    WHERE p.run_id = s.run_id AND p.scenario_id = s.scenario_id
      AND p.model_id = m.model_id AND p.sample_index = i)
  AND NOT EXISTS (
    SELECT 1 FROM procrastinate_jobs j
    WHERE (j.args->>'runId') = s.run_id AND j.status IN ('todo', 'doing')
      AND j.task_name = CAST(:task AS text) AND j.args->>'scenarioId' = s.scenario_id
      AND j.args->>'modelId' = m.model_id AND (j.args->>'sampleIndex')::int = i)
"""


async def defer_slots(
    session: AsyncSession,
    *,
    run_id: str,
    models: list[tuple[str, str]],
    samples: int,
    priority: str,
    config: dict[str, Any],
    only_open: bool,
) -> int:
    """Queue one probe job per (selected scenario, model, sample) of the run, on the model's
    provider queue; with `only_open`, just the slots that are neither finished nor queued.
    `models` pairs each model id with its provider name. Returns the number queued."""
    sql = (
        _INSERT_SLOTS + (_ONLY_OPEN if only_open else "") + "ORDER BY s.scenario_id, m.model_id, i"
    )
    queued = await _execute(
        session,
        sql,
        {
            "task": PROBE_TASK,
            "priority": PRIORITY[priority],
            "config": _json(config),
            "model_ids": [m for m, _ in models],
            "providers": [p for _, p in models],
            "samples": samples,
            "run_id": run_id,
        },
    )
    return await _analyze_after_many(session, queued)


async def defer_summaries(session: AsyncSession, *, run_id: str, transcript_ids: list[str]) -> int:
    """Queue one summarize job per transcript (skipping any already queued)."""
    queued = await _execute(
        session,
        """
        INSERT INTO procrastinate_jobs (queue_name, task_name, args)
        SELECT CAST(:queue AS text), CAST(:task AS text),
               jsonb_build_object('runId', CAST(:run_id AS text), 'transcriptId', t)
        FROM unnest(CAST(:ids AS text[])) AS t
        WHERE NOT EXISTS (
            SELECT 1 FROM procrastinate_jobs j
            WHERE (j.args->>'runId') = CAST(:run_id AS text) AND j.task_name = CAST(:task AS text)
              AND j.status IN ('todo', 'doing') AND j.args->>'transcriptId' = t)
        """,
        {"queue": SUMMARIZE_QUEUE, "task": SUMMARIZE_TASK, "run_id": run_id, "ids": transcript_ids},
    )
    return await _analyze_after_many(session, queued)


async def cancel_queued(session: AsyncSession, run_id: str, task: str | None = None) -> int:
    """Cancel the run's jobs not yet started (of one task, or all); return how many."""
    return await _execute(
        session,
        """
        UPDATE procrastinate_jobs SET status = 'cancelled'
        WHERE (args->>'runId') = :run_id AND status = 'todo'
          AND (CAST(:task AS text) IS NULL OR task_name = CAST(:task AS text))
        """,
        {"run_id": run_id, "task": task},
    )


async def abort_running(session: AsyncSession, run_id: str) -> int:
    """Ask workers to abort the run's running jobs (they see it as a cancellation)."""
    return await _execute(
        session,
        """
        UPDATE procrastinate_jobs SET abort_requested = true
        WHERE (args->>'runId') = :run_id AND status = 'doing' AND NOT abort_requested
        """,
        {"run_id": run_id},
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


async def delete_jobs_of_runs(session: AsyncSession, run_ids: list[str]) -> int:
    """Delete every job of these runs that no worker holds (a purged run keeps no trace in
    the queue); return how many."""
    return await _execute(
        session,
        """
        DELETE FROM procrastinate_jobs
        WHERE (args->>'runId') = ANY(CAST(:run_ids AS text[])) AND status <> 'doing'
        """,
        {"run_ids": run_ids},
    )
