"""A run's transcripts, one row each: CSV written by PostgreSQL's own COPY, JSONL built per row
by PostgreSQL (json_build_object) and read through a server-side cursor.

Either way no more than one chunk of rows is in this process at a time: the cost of an export
does not grow with the run, only its duration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import sqlalchemy as sa
from psycopg import sql

from app.db import Database
from app.export import stream

# (column, SQL expression): the one list both formats read, in the order a reader sees them.
# Timestamps are ISO 8601 in UTC whatever the server's TimeZone.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("transcript_id", "t.id"),
    ("run_id", "t.run_id"),
    ("scenario_id", "t.scenario_id"),
    ("scenario_name", "s.name"),
    ("dimension_values", "t.dimension_values"),
    ("model_id", "t.model_id"),
    ("model_version", "t.model_version"),
    ("definition_version", "r.definition_version"),
    ("sample_index", "t.sample_index"),
    ("decision_code", "t.decision_code"),
    ("decision_text", "t.decision_text"),
    ("summary_status", "t.summary_status"),
    ("input_tokens", "t.input_tokens"),
    ("output_tokens", "t.output_tokens"),
    ("total_tokens", "t.input_tokens + t.output_tokens"),
    ("duration_ms", "t.duration_ms"),
    ("estimated_cost", "t.estimated_cost"),
    ("created_at", stream.iso("t.created_at")),
    ("summarized_at", stream.iso("t.summarized_at")),
)
# The conversation, in JSONL only (a CSV cell is no place for it).
CONTENT = ("content", "t.content")

# Live transcripts of the run, in the order of ix_transcripts_run_model_created.
_FROM = """
FROM transcripts t
JOIN runs r ON r.id = t.run_id
LEFT JOIN scenarios s ON s.id = t.scenario_id
WHERE t.run_id = {run_id} AND t.deleted_at IS NULL
ORDER BY t.model_id, t.created_at, t.id
"""


def csv_select() -> str:
    listed = ", ".join(
        f"{expr}::text AS {name}" if name == "dimension_values" else f"{expr} AS {name}"
        for name, expr in COLUMNS
    )
    return f"SELECT {listed} {_FROM}"


def csv_chunks(db: Database, run_id: str) -> AsyncIterator[bytes]:
    """The run's transcripts as CSV with a header row."""
    copy = "COPY (" + csv_select() + ") TO STDOUT WITH (FORMAT csv, HEADER true)"
    statement = sql.SQL(copy).format(run_id=sql.Literal(run_id))
    return stream.copy_out(db, statement)


def _jsonl_statement() -> sa.TextClause:
    pairs = ", ".join(f"'{name}', {expr}" for name, expr in (*COLUMNS, CONTENT))
    return sa.text(f"SELECT json_build_object({pairs})::text {_FROM.format(run_id=':run_id')}")


def jsonl_chunks(db: Database, run_id: str) -> AsyncIterator[bytes]:
    """The run's transcripts as JSON Lines, each with its conversation (`content`)."""
    return stream.lines(db, _jsonl_statement().bindparams(run_id=run_id))
