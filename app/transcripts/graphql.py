"""GraphQL type and query for transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from app.definitions import service as definitions
from app.definitions.graphql import Scenario
from app.graphql.args import IdArgID
from app.graphql.context import Info
from app.runs import service as runs
from app.transcripts import models as tables
from app.transcripts import overrides, service

if TYPE_CHECKING:
    from app.runs.graphql.types import Run

RunType = Annotated["Run", strawberry.lazy("app.runs.graphql.types")]


@strawberry.type
class Transcript:
    """One probe's conversation with a model, and the decision read from it."""

    id: strawberry.ID
    """The transcript's id."""
    run_id: str
    """The run it belongs to."""
    scenario_id: str | None
    """The scenario probed."""
    model_id: str
    """The model identifier probed (e.g. gpt-4o-mini)."""
    model_version: str | None
    """The model version the provider reported, if any."""
    sample_index: int
    """Which sample of the scenario, from 0."""
    definition_snapshot: JSON | None
    """The definition as the run saw it."""
    content: JSON
    """{ messages: [{ role: user | assistant, content }] } plus provider metadata; {} once its retention expired."""
    turn_count: int
    """Messages exchanged."""
    token_count: int
    """Prompt plus completion tokens."""
    duration_ms: int
    """How long the probe took, in milliseconds."""
    estimated_cost: float | None
    """USD, from the model's price and the tokens; 0 when reused."""
    # The transcript this one copies (StartRunInput.reuseResponses): no call, cost 0.
    reused_from_id: strawberry.ID | None
    """The transcript this one copies (StartRunInput.reuseResponses): no call was made."""
    decision_code: str | None
    """The parsed decision: "1" to "5", or "other"; null until summarized."""
    decision_text: str | None
    """The model's reason for its decision."""
    decision_metadata: JSON | None
    """How the decision was read: parser version, matched text, refusal flag, manualOverride."""
    summarized_at: datetime | None
    """When the decision was read; null before."""
    summarize_duration_ms: int | None
    """How long the summary took, in milliseconds."""
    dimension_values: JSON | None
    """The scenario's dimension scores, { name: score }."""
    created_at: datetime
    """When it was stored."""
    last_accessed_at: datetime | None
    """When it was last read by id (transcript query)."""
    content_expires_at: datetime | None
    """When retention empties its content; null when it is kept."""

    @classmethod
    def from_row(cls, row: tables.Transcript) -> Transcript:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(row.id),
            run_id=row.run_id,
            scenario_id=row.scenario_id,
            model_id=row.model_id,
            model_version=row.model_version,
            sample_index=row.sample_index,
            definition_snapshot=JSON(row.definition_snapshot),
            content=JSON(row.content),
            turn_count=row.turn_count,
            token_count=row.token_count,
            duration_ms=row.duration_ms,
            estimated_cost=row.estimated_cost,
            reused_from_id=strawberry.ID(row.reused_from_id) if row.reused_from_id else None,
            decision_code=row.decision_code,
            decision_text=row.decision_text,
            decision_metadata=JSON(row.decision_metadata),
            summarized_at=row.summarized_at,
            summarize_duration_ms=row.summarize_duration_ms,
            dimension_values=JSON(row.dimension_values),
            created_at=row.created_at,
            last_accessed_at=row.last_accessed_at,
            content_expires_at=row.content_expires_at,
        )

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Transcript:
        """From some columns of a transcripts row; the others are None and must not be selected.

        Filled in directly rather than through the dataclass's `__init__`: a run's page holds
        up to 1,000 transcripts, and 22 keyword arguments each cost more than the query."""
        transcript: Transcript = object.__new__(cls)
        transcript.__dict__.update(_UNREAD)
        transcript.__dict__.update(values)
        return transcript

    @staticmethod
    def columns_for(selected: frozenset[str]) -> frozenset[str]:
        """The transcripts columns that the selected Transcript fields read."""
        return frozenset(_COLUMN_BY_FIELD[name] for name in selected if name in _COLUMN_BY_FIELD)

    @strawberry.field
    def decision_model_v2(self) -> JSON | None:
        """Always null (ValueRank's v2 decision model is not produced here)."""
        return None  # ValueRank's v2 decision model is not produced here

    @strawberry.field
    async def run(self, info: Info) -> RunType:
        """The run it belongs to."""
        from app.runs.graphql.types import Run

        row = await info.context.loaders.by_key("runs_by_id", runs.runs_by_id).load(self.run_id)
        assert row is not None  # foreign key
        return Run.from_row(row)

    @strawberry.field
    async def scenario(self, info: Info) -> Scenario | None:
        """The scenario probed, if it still exists."""
        if self.scenario_id is None:
            return None
        loader = info.context.loaders.by_key("scenarios_by_id", definitions.scenarios_by_id)
        row = await loader.load(self.scenario_id)
        return Scenario.from_row(row) if row else None


def _plain_fields() -> dict[str, str]:
    definition = Transcript.__strawberry_definition__  # type: ignore[attr-defined]
    columns = set(tables.Transcript.__table__.c.keys())  # type: ignore[attr-defined]
    return {
        f.graphql_name or to_camel_case(f.python_name): f.python_name
        for f in definition.fields
        if f.python_name in columns
    }


_COLUMN_BY_FIELD = _plain_fields()
_UNREAD: dict[str, Any] = dict.fromkeys(_COLUMN_BY_FIELD.values())


@strawberry.type
class TranscriptQuery:
    """Queries on transcripts."""

    @strawberry.field
    async def transcript(self, info: Info, ident: IdArgID) -> Transcript | None:
        """One transcript; null when unknown. Marks it accessed.

        Args:
            id: The transcript's id.
        """
        async with info.context.reader.use() as session:
            row = await service.get_transcript(session, str(ident))
        if row is None:
            return None
        info.context.touch(tables.Transcript, row.id)
        return Transcript.from_row(row)


@strawberry.type
class TranscriptMutation:
    """Mutations on transcripts (ADMIN)."""

    @strawberry.mutation
    async def update_transcript_decision(
        self,
        info: Info,
        transcript_id: strawberry.ID,
        decision_state: str,
        favored_value_key: str | None = None,
        strength: str | None = None,
    ) -> Transcript:
        """A person's reading of the decision (ValueRank's override), kept in
        decisionMetadata.manualOverride with who and when; the parsed decisionCode stays.
        ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR.

        Args:
            transcriptId: The transcript.
            decisionState: resolved, neutral, unknown or refusal.
            favoredValueKey: For resolved: the value of the definition's pair the model favoured.
            strength: For resolved: strong or lean.
        """
        viewer = info.context.viewer
        assert viewer is not None  # mutations need a key (graphql/errors.RequireApiKey)
        change = overrides.DecisionOverride(decision_state, favored_value_key, strength)
        async with info.context.db.transaction() as session:
            row = await overrides.update_decision(
                session, str(transcript_id), change, by=viewer.name, by_key=viewer.key_id
            )
        return Transcript.from_row(row)
