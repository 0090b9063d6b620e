"""A run's manifest: what was asked (config), what came of it (totals, per model) and when.

Sections (the run's status log, its stages, its provenance) are in `SECTIONS`: each is a name
and a function of (session, run) whose value the manifest carries under that name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.export import runs as history
from app.runs import events
from app.runs.models import ProbeResult, Run
from app.transcripts.models import Transcript

MANIFEST_VERSION = 1
TIMESTAMPS = ("created_at", "started_at", "completed_at")

Section = Callable[[AsyncSession, Run], Awaitable[Any]]


async def _events(session: AsyncSession, run: Run) -> list[dict[str, Any]]:
    found = (await events.events_by_run(session, [run.id]))[run.id]
    return [
        {
            "status": e.status,
            "previous_status": e.previous_status,
            "at": _iso(e.at),
            "reason": e.reason,
            "actor": e.actor,
        }
        for e in found
    ]


async def _stages(session: AsyncSession, run: Run) -> list[dict[str, Any]]:
    found = (await events.events_by_run(session, [run.id]))[run.id]
    return [
        {
            "name": s.name,
            "status": s.status,
            "started_at": _iso(s.started_at),
            "ended_at": _iso(s.ended_at),
            "seconds": s.seconds,
        }
        for s in events.stages(found)
    ]


async def _provenance(session: AsyncSession, run: Run) -> dict[str, Any] | None:
    return run.provenance


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


# (name, section): what the run's status log and its start recorded.
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("events", _events),
    ("stages", _stages),
    ("provenance", _provenance),
)


async def build(session: AsyncSession, run_id: str) -> dict[str, Any] | None:
    """The manifest of a live run, or None when there is no such run."""
    run = (
        await session.exec(select(Run).where(Run.id == run_id, col(Run.deleted_at).is_(None)))
    ).first()
    if run is None:
        return None
    stmt = history.totals_statement().where(col(Run.id) == run_id)
    connection = await session.connection()
    row = history.plain((await connection.execute(stmt)).mappings().one())
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "run": {k: row[k] for k in history.RUN_COLUMNS if k not in TIMESTAMPS},
        "config": run.config,
        "timestamps": {k: row[k] for k in TIMESTAMPS},
        "totals": {k: row[k] for k in history.TOTAL_COLUMNS},
        "per_model": await _per_model(session, run_id),
    }
    for name, section in SECTIONS:
        manifest[name] = await section(session, run)
    return manifest


async def _per_model(session: AsyncSession, run_id: str) -> list[dict[str, Any]]:
    """Each model's slots, tokens, cost and average duration: two grouped statements."""
    probes = select(
        ProbeResult.model_id,
        sa.func.count().filter(col(ProbeResult.status) == "SUCCESS"),
        sa.func.count().filter(col(ProbeResult.status) == "FAILED"),
    ).where(ProbeResult.run_id == run_id)
    models: dict[str, dict[str, Any]] = {}
    for model_id, completed, failed in (
        await session.exec(probes.group_by(col(ProbeResult.model_id)))
    ).all():
        models[model_id] = {"model_id": model_id, "completed": completed, "failed": failed}
    transcripts = sa.select(
        col(Transcript.model_id),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(Transcript.input_tokens + Transcript.output_tokens), 0),
        sa.func.coalesce(sa.func.sum(Transcript.estimated_cost), 0.0),
        sa.func.avg(Transcript.duration_ms),
    ).where(col(Transcript.run_id) == run_id, col(Transcript.deleted_at).is_(None))
    for model_id, count, tokens, cost, avg_ms in (
        await (await session.connection()).execute(transcripts.group_by(col(Transcript.model_id)))
    ).all():
        entry = models.setdefault(model_id, {"model_id": model_id, "completed": 0, "failed": 0})
        entry.update(
            transcript_count=count,
            total_tokens=int(tokens),
            total_cost=float(cost),
            avg_duration_ms=float(avg_ms) if avg_ms is not None else None,
        )
    return [models[m] for m in sorted(models)]
