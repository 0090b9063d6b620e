"""updateTranscriptDecision: a person's reading of a transcript replaces the parsed decision
in statistics and comparison, as ValueRank's override does.

The override lives in `decisionMetadata.manualOverride` (what was applied, the previous
override, who and when); the parsed `decision_code` is kept untouched, so the parser's
reading stays visible. `decisionCode` inside the override is the code the statistics count
(transcripts/statistics.effective_code): value_first strongly 1, leaning 2, neutral 3,
value_second leaning 4, strongly 5, unknown and refusal "other".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import now
from app.errors import NotFound, ValidationFailed
from app.transcripts import service
from app.transcripts.models import Transcript

DECISION_STATES = ("resolved", "neutral", "unknown", "refusal")
STRENGTHS = ("strong", "lean")
_RESOLVED_CODES = {
    ("favor_first", "strong"): "1",
    ("favor_first", "lean"): "2",
    ("favor_second", "lean"): "4",
    ("favor_second", "strong"): "5",
}


@dataclass(frozen=True, slots=True)
class DecisionOverride:
    decision_state: str
    favored_value_key: str | None = None
    strength: str | None = None


async def update_decision(
    session: AsyncSession, transcript_id: str, change: DecisionOverride, *, by: str, by_key: str
) -> Transcript:
    """Record the override on the transcript (its parsed decision is kept beside it)."""
    state = change.decision_state.strip()
    if state not in DECISION_STATES:
        raise ValidationFailed(f"decisionState must be one of: {', '.join(DECISION_STATES)}")
    transcript = await service.get_transcript(session, transcript_id)
    if transcript is None:
        raise NotFound.of("Transcript", transcript_id)
    applied, code = applied_decision(state, change, transcript.definition_snapshot)
    metadata: dict[str, Any] = dict(transcript.decision_metadata or {})
    previous = (metadata.get("manualOverride") or {}).get("appliedDecision")
    metadata["manualOverride"] = {
        "appliedDecision": applied,
        "decisionCode": code,
        "previousValue": previous,
        "overriddenAt": now().isoformat(),
        "overriddenBy": by,
        "overriddenByKeyId": by_key,
    }
    transcript.decision_metadata = metadata
    session.add(transcript)
    await session.flush()
    await session.refresh(transcript)
    return transcript


def applied_decision(
    state: str, change: DecisionOverride, snapshot: dict[str, Any] | None
) -> tuple[dict[str, Any], str]:
    """ValueRank's applied decision for the state, and the decision code it counts as."""
    if state != "resolved":
        direction = state
        strength = "neutral" if state == "neutral" else "unknown"
        empty = {"favoredValueKey": None, "opposedValueKey": None}
        code = "3" if state == "neutral" else "other"
        return {**empty, "direction": direction, "strength": strength}, code
    favored = (change.favored_value_key or "").strip()
    strength = (change.strength or "").strip()
    if not favored:
        raise ValidationFailed('favoredValueKey is required when decisionState="resolved"')
    if strength not in STRENGTHS:
        raise ValidationFailed('strength must be "strong" or "lean" when decisionState="resolved"')
    first, second = value_pair(snapshot)
    if favored not in (first, second):
        raise ValidationFailed(
            f'favoredValueKey "{favored}" does not match either value in the vignette pair '
            f"({first}, {second})"
        )
    direction = "favor_first" if favored == first else "favor_second"
    opposed = second if favored == first else first
    applied = {
        "favoredValueKey": favored,
        "opposedValueKey": opposed,
        "direction": direction,
        "strength": strength,
    }
    return applied, _RESOLVED_CODES[(direction, strength)]


def value_pair(snapshot: dict[str, Any] | None) -> tuple[str, str]:
    """The definition's two values (`components.value_first/value_second.token`), at the
    scale's 1 and 5 ends; refused when the definition names none."""
    content = (snapshot or {}).get("content", snapshot) or {}
    components = content.get("components") if isinstance(content, dict) else None
    tokens = [_token(components, side) for side in ("value_first", "value_second")]
    if tokens[0] is None or tokens[1] is None:
        raise ValidationFailed(
            "Cannot apply a resolved override — vignette definition is missing its value pair"
        )
    return str(tokens[0]), str(tokens[1])


def _token(components: Any, side: str) -> str | None:
    value = components.get(side) if isinstance(components, dict) else None
    token = value.get("token") if isinstance(value, dict) else None
    return token if isinstance(token, str) else None
