"""The run history with each run's totals (JSON or CSV), and the totals one run's manifest uses.

One statement: the runs, filtered as `runs` filters them, each joined to two lateral aggregates
(its probe results, its live transcripts), newest first, read through a server-side cursor.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from app.db import Database
from app.export import stream
from app.runs import service as runs
from app.runs.models import ProbeResult, Run
from app.transcripts.models import Transcript

RUN_COLUMNS = (
    "id",
    "name",
    "definition_id",
    "definition_version",
    "experiment_id",
    "status",
    "run_category",
    "priority",
    "total_slots",
    "created_at",
    "started_at",
    "completed_at",
)
TOTAL_COLUMNS = (
    "completed",
    "failed",
    "transcript_count",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "total_cost",
    "avg_duration_ms",
    "duration_seconds",
)
HEADER = (*RUN_COLUMNS, "models", *TOTAL_COLUMNS)


def _probe_totals() -> Any:
    ok = col(ProbeResult.status) == "SUCCESS"
    return (
        sa.select(
            sa.func.count().filter(ok).label("completed"),
            sa.func.count().filter(~ok).label("failed"),
        )
        .where(col(ProbeResult.run_id) == col(Run.id))
        .lateral("p")
    )


def _transcript_totals() -> Any:
    return (
        sa.select(
            sa.func.count().label("transcript_count"),
            sa.func.coalesce(sa.func.sum(Transcript.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(Transcript.output_tokens), 0).label("output_tokens"),
            sa.func.coalesce(sa.func.sum(Transcript.estimated_cost), 0.0).label("total_cost"),
            sa.func.avg(Transcript.duration_ms).label("avg_duration_ms"),
        )
        .where(col(Transcript.run_id) == col(Run.id), col(Transcript.deleted_at).is_(None))
        .lateral("t")
    )


def totals_statement() -> Any:
    """Every run with its totals; the caller adds the filter."""
    p, t = _probe_totals(), _transcript_totals()
    seconds = sa.func.extract("epoch", col(Run.completed_at) - col(Run.started_at))
    return (
        sa.select(
            *[getattr(Run, name) for name in RUN_COLUMNS],
            col(Run.config)["models"].label("models"),
            p.c.completed,
            p.c.failed,
            t.c.transcript_count,
            t.c.input_tokens,
            t.c.output_tokens,
            (t.c.input_tokens + t.c.output_tokens).label("total_tokens"),
            t.c.total_cost,
            t.c.avg_duration_ms,
            seconds.label("duration_seconds"),
        )
        .select_from(Run)
        .join(p, sa.true())
        .join(t, sa.true())
    )


def history_statement(where: runs.RunFilter) -> Any:
    """The runs `where` selects, newest first (raises ValidationFailed for a bad filter)."""
    stmt = where.apply(totals_statement())
    return stmt.order_by(col(Run.created_at).desc(), col(Run.id).desc())


def plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as JSON values: timestamps in ISO 8601, numerics as floats."""
    values = dict(row)
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
        elif key in ("avg_duration_ms", "duration_seconds") and value is not None:
            values[key] = float(value)
    values["models"] = list(values.get("models") or [])
    return values


async def json_chunks(db: Database, statement: Any) -> AsyncIterator[bytes]:
    """A JSON array of the runs, one per line."""
    yield b"[\n"
    first = True
    async for rows in stream.row_batches(db, statement):
        text = ",\n".join(json.dumps(plain(r), separators=(",", ":")) for r in rows)
        yield (text if first else ",\n" + text).encode()
        first = False
    yield b"\n]\n"


async def csv_chunks(db: Database, statement: Any) -> AsyncIterator[bytes]:
    """The runs as CSV with a header row; `models` is `;`-separated."""
    yield _csv([HEADER])
    async for rows in stream.row_batches(db, statement):
        yield _csv(_csv_row(plain(r)) for r in rows)


def _csv_row(values: dict[str, Any]) -> list[Any]:
    values["models"] = ";".join(values["models"])
    return [values[name] for name in HEADER]


def _csv(rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()
