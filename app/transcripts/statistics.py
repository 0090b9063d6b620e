"""Decision statistics over many runs' transcripts: one grouped statement, any number of runs.

A person's override (`decisionMetadata.manualOverride.decisionCode`, set by
updateTranscriptDecision) counts instead of the parsed decision wherever it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.transcripts.models import Transcript

NUMERIC_CODES = ("1", "2", "3", "4", "5")


def effective_code() -> sa.ColumnElement[Any]:
    """The decision that counts: the manual override's code, else the parsed one."""
    metadata = col(Transcript.decision_metadata)
    override = metadata["manualOverride"]["decisionCode"].astext
    return sa.func.coalesce(override, col(Transcript.decision_code))


@dataclass(slots=True)
class Decisions:
    """One model's transcripts (in one run, or across runs): counts, sums, the distribution."""

    transcript_count: int = 0
    tokens: int = 0
    duration_ms: int = 0
    cost: float = 0.0
    # Decision code → transcripts; None: not decided yet (no summary, no override).
    distribution: dict[str | None, int] = field(default_factory=dict)

    @property
    def avg_tokens(self) -> float | None:
        return self.tokens / self.transcript_count if self.transcript_count else None

    @property
    def avg_duration_ms(self) -> float | None:
        return self.duration_ms / self.transcript_count if self.transcript_count else None

    @property
    def mean_decision(self) -> float | None:
        """The mean of the numeric codes (1..5); "other" and undecided are left out."""
        numeric = [(int(c), n) for c, n in self.distribution.items() if c in NUMERIC_CODES]
        count = sum(n for _, n in numeric)
        return sum(c * n for c, n in numeric) / count if count else None

    def add(self, code: str | None, n: int, tokens: int, duration_ms: int, cost: float) -> None:
        self.transcript_count += n
        self.tokens += tokens
        self.duration_ms += duration_ms
        self.cost += cost
        self.distribution[code] = self.distribution.get(code, 0) + n


async def decisions(
    session: AsyncSession, run_ids: Any, *, per_run: bool = False
) -> dict[tuple[str, str], Decisions]:
    """Live transcripts of the runs (`run_ids`: a list or a SELECT of ids), grouped by model,
    or by (run, model) with `per_run`; keys are (run id or "", model id)."""
    code = effective_code().label("code")
    keys: list[Any] = [col(Transcript.run_id)] if per_run else []
    stmt = (
        sa.select(
            *keys,
            col(Transcript.model_id),
            code,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Transcript.input_tokens + Transcript.output_tokens), 0),
            sa.func.coalesce(sa.func.sum(Transcript.duration_ms), 0),
            sa.func.coalesce(sa.func.sum(Transcript.estimated_cost), 0.0),
        )
        .where(col(Transcript.run_id).in_(run_ids), col(Transcript.deleted_at).is_(None))
        .group_by(*keys, col(Transcript.model_id), code)
    )
    found: dict[tuple[str, str], Decisions] = {}
    for row in (await (await session.connection()).execute(stmt)).all():
        run_id = row[0] if per_run else ""
        model_id, decided, n, tokens, duration, cost = row[-6:]
        entry = found.setdefault((run_id, model_id), Decisions())
        entry.add(decided, int(n), int(tokens), int(duration), float(cost))
    return found


def _code_sql(alias: str) -> str:
    return (
        f"coalesce({alias}.decision_metadata #>> '{{manualOverride,decisionCode}}', "
        f"{alias}.decision_code)"
    )


# The same slot (scenario id, model, sample index) in two runs, both transcripts live.
_PAIRS = """
FROM transcripts b
JOIN transcripts o
  ON o.run_id = :other AND o.deleted_at IS NULL AND o.scenario_id = b.scenario_id
 AND o.model_id = b.model_id AND o.sample_index = b.sample_index
WHERE b.run_id = :base AND b.deleted_at IS NULL
"""
_CHANGED = f"{_code_sql('b')} IS DISTINCT FROM {_code_sql('o')}"


async def matched_slots(session: AsyncSession, base_id: str, other_id: str) -> tuple[int, int]:
    """(slots both runs have a transcript for, those whose decision differs)."""
    stmt = sa.text(f"SELECT count(*), count(*) FILTER (WHERE {_CHANGED}) {_PAIRS}")
    row = (await (await session.connection()).execute(stmt, _ids(base_id, other_id))).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class ChangedDecision:
    scenario_id: str
    model_id: str
    sample_index: int
    base_code: str | None
    other_code: str | None
    base_transcript_id: str
    other_transcript_id: str


async def changed_decisions(
    session: AsyncSession, base_id: str, other_id: str, *, limit: int, offset: int
) -> list[ChangedDecision]:
    """A page of the slots whose decision differs, by scenario, model and sample."""
    stmt = sa.text(
        f"""
        SELECT b.scenario_id, b.model_id, b.sample_index, {_code_sql("b")}, {_code_sql("o")},
               b.id, o.id
        {_PAIRS} AND {_CHANGED}
        ORDER BY b.scenario_id, b.model_id, b.sample_index
        LIMIT :limit OFFSET :offset
        """
    )
    params = {**_ids(base_id, other_id), "limit": limit, "offset": offset}
    rows = (await (await session.connection()).execute(stmt, params)).all()
    return [ChangedDecision(*row) for row in rows]


def _ids(base_id: str, other_id: str) -> dict[str, Any]:
    return {"base": base_id, "other": other_id}
