"""A transcript's summary: the parser's decision code plus a one-line decision text written
by the summarizer model. Calling the model and advancing the run are the runs domain's
(app/runs/execution/summary.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Database, Statement
from app.transcripts.decision import Decision, parse_transcript

MAX_WORDS = 50
SUMMARY_PROMPT = (
    "In one sentence of at most 50 words, say why the assistant below decided as it did. "
    "Answer with the sentence only.\n\n"
)


@dataclass(frozen=True, slots=True)
class PendingSummary:
    transcript_id: str
    run_id: str
    content: dict[str, Any]
    decision: Decision


def summary_request_text(content: dict[str, Any]) -> str:
    replies = [
        f"{m.get('role', 'user')}: {m.get('content', '')}" for m in content.get("messages") or []
    ]
    return SUMMARY_PROMPT + "\n\n".join(replies)


def one_line(text: str) -> str:
    words = " ".join(text.split()).split(" ")
    return " ".join(words[:MAX_WORDS])


async def store_decision(
    session: AsyncSession,
    summary: PendingSummary,
    *,
    decision_text: str | None,
    duration_ms: int,
    failed: bool,
) -> None:
    """The decision (the parser's code is kept even when the text could not be written), in
    the caller's transaction."""
    await (await session.connection()).execute(
        sa.text(
            """
            UPDATE transcripts SET decision_code = :code, decision_text = :text,
                   decision_metadata = CAST(:metadata AS jsonb), summary_status = :status,
                   summarized_at = now(), summarize_duration_ms = :duration
            WHERE id = :id AND summary_status <> 'SUMMARIZED'
            """
        ),
        _decision_params(summary, decision_text, duration_ms, failed),
    )


# The decision, for a run that still takes it (neither cancelled nor deleted: frozen), and
# its event. Read with a snapshot taken after the run's advance lock is held, shared (the
# statement before it in the transaction, app/runs/state.py: lock_shared_statement).
_STORE_DECISION = sa.text(
    """
    WITH stored AS (
        UPDATE transcripts SET decision_code = :code, decision_text = :text,
               decision_metadata = CAST(:metadata AS jsonb), summary_status = :status,
               summarized_at = now(), summarize_duration_ms = :duration
        WHERE id = :id AND summary_status <> 'SUMMARIZED'
          AND EXISTS (SELECT 1 FROM runs r WHERE r.id = :run AND r.status <> 'CANCELLED'
                                              AND r.deleted_at IS NULL)
        RETURNING id)
    SELECT pg_notify(:channel, :event) FROM stored
    """
)


def decision_statement(
    summary: PendingSummary, *, decision_text: str | None, duration_ms: int, failed: bool
) -> Statement:
    """`store_decision` and its event as one statement, for a frozen run nothing."""
    return Statement(
        _STORE_DECISION,
        {
            **_decision_params(summary, decision_text, duration_ms, failed),
            "run": summary.run_id,
            "channel": pubsub.RUN_EVENTS,
            "event": pubsub.payload(summary.run_id, "summary", transcriptId=summary.transcript_id),
        },
    )


def _decision_params(
    summary: PendingSummary, decision_text: str | None, duration_ms: int, failed: bool
) -> dict[str, Any]:
    return {
        "id": summary.transcript_id,
        "code": summary.decision.code,
        "text": decision_text,
        "metadata": json.dumps(summary.decision.metadata()),
        "status": "FAILED" if failed else "SUMMARIZED",
        "duration": duration_ms,
    }


@dataclass(frozen=True, slots=True)
class Summarizer:
    provider_id: str
    provider_name: str
    model_id: str
    api_config: dict[str, Any]
    cost_input_per_million: float = 0.0
    cost_output_per_million: float = 0.0


async def to_summarize(
    db: Database, transcript_id: str, model_id: str
) -> tuple[PendingSummary, Summarizer | None] | None:
    """The transcript to summarize (None when it is gone or already summarized) and the
    summarizer model `model_id` (None when it is not in the catalog), read in one statement."""
    async with db.autocommit() as session:  # a read: no BEGIN and ROLLBACK round trips
        row = (
            await (await session.connection()).execute(
                _TO_SUMMARIZE, {"id": transcript_id, "model": model_id}
            )
        ).one_or_none()
    if row is None:
        return None
    content = dict(row.content or {})
    summary = PendingSummary(row.id, row.run_id, content, parse_transcript(content))
    if row.provider_id is None:
        return summary, None
    return summary, Summarizer(
        row.provider_id,
        row.provider_name,
        row.model_id,
        dict(row.api_config or {}),
        float(row.cost_input_per_million),
        float(row.cost_output_per_million),
    )


_TO_SUMMARIZE = sa.text(
    """
    SELECT t.id, t.run_id, t.content, s.provider_id, s.provider_name, s.model_id,
           s.api_config, s.cost_input_per_million, s.cost_output_per_million
    FROM transcripts t
    LEFT JOIN LATERAL (
        SELECT p.id AS provider_id, p.name AS provider_name, m.model_id, m.api_config,
               m.cost_input_per_million, m.cost_output_per_million
        FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id
        WHERE m.model_id = :model ORDER BY m.status = 'ACTIVE' DESC LIMIT 1) s ON true
    WHERE t.id = :id AND t.deleted_at IS NULL AND t.summary_status <> 'SUMMARIZED'
    """
)
