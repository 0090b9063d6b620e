"""The `Run` GraphQL type and its per-run fields: prefetched for a whole list where the list
resolver can (`Run.prefetch`), else loaded through per-request DataLoaders."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.definitions import service as definitions
from app.definitions.graphql import Definition, Experiment, Tag
from app.graphql.args import paged_field
from app.graphql.context import Info
from app.graphql.loaders import now_or_later
from app.graphql.prefetch import prefetched_field
from app.graphql.selection import child_field_names
from app.llm import service as llm
from app.llm.graphql import LlmModel
from app.queue import state as queue_state
from app.runs import metrics, service, spend
from app.runs import models as tables
from app.runs.progress import shows_summaries
from app.transcripts import service as transcripts

if TYPE_CHECKING:
    from app.transcripts.graphql import Transcript

from app.runs.graphql.costs import (
    ActualCost,
    ActualModelCost,
    AnalysisResult,
    CostEstimate,
    RunSpend,
)
from app.runs.graphql.history import RunHistoryFields
from app.runs.graphql.loaders import (
    PROBE_PAGE,
    RECENT_TASK_PAGE,
    TRANSCRIPT_PAGE,
    definitions_loader,
    prefetch_runs,
    progress_loader,
)
from app.runs.graphql.metrics import ExecutionMetrics
from app.runs.graphql.results import (
    ProbeResult,
    RunProgress,
    TaskResult,
    UnresolvableByModel,
    UnresolvableCount,
)

TranscriptType = Annotated["Transcript", strawberry.lazy("app.transcripts.graphql")]


@strawberry.type
class Run(RunHistoryFields):
    """An evaluation run: a definition's scenarios probed on one or more models, then summarized."""

    id: strawberry.ID
    """The run's id."""
    name: str | None
    """Its name; null when none was given."""
    definition_id: str
    """The definition it runs."""
    definition_version: int | None
    """The definition's version when the run started."""
    experiment_id: str | None
    """The experiment it belongs to, if any."""
    status: str
    """PENDING, RUNNING, PAUSED, SUMMARIZING, COMPLETED, FAILED or CANCELLED."""
    run_category: str
    """PILOT, PRODUCTION, REPLICATION, VALIDATION or UNKNOWN_LEGACY."""
    config: JSON
    """The settings it started with: models, sampling, temperature, priority, budget."""
    samples_per_scenario: int
    """Probes per scenario and model."""
    started_at: datetime | None
    """When its first probe started; null before."""
    completed_at: datetime | None
    """When it ended; null while it has not."""
    created_at: datetime
    """When it was created."""
    updated_at: datetime
    """When it last changed."""
    last_accessed_at: datetime | None
    """When it was last read by id (run query)."""
    deleted_at: datetime | None
    """When it was soft-deleted; null if it is not."""
    row: strawberry.Private[tables.Run]
    # Per-run field values a list loaded ahead (`prefetch`), by the field's Python name.
    prefetched: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_row(cls, row: tables.Run) -> Run:
        loaded = row.__dict__
        if loaded.keys() >= _ROW_FIELDS and loaded["created_at"] and loaded["updated_at"]:
            # A row as loaded, nothing expired: its values straight from the ORM's dict rather
            # than through 15 attribute descriptors and a 17-argument __init__ (a page has 100).
            run: Run = object.__new__(cls)
            run.__dict__.update({name: loaded[name] for name in _ROW_FIELDS})
            run.__dict__.update(row=row, prefetched={})
            return run
        assert row.created_at is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            definition_id=row.definition_id,
            definition_version=row.definition_version,
            experiment_id=row.experiment_id,
            status=row.status,
            run_category=row.run_category,
            config=JSON(row.config),
            samples_per_scenario=row.samples_per_scenario,
            started_at=row.started_at,
            completed_at=row.completed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_accessed_at=row.last_accessed_at,
            deleted_at=row.deleted_at,
            row=row,
        )

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Why the server paused this run: BUDGET_EXHAUSTED (its maxBudgetUsd is "
        "spent) or PROVIDER_SUSPENDED (every open slot is on a suspended provider); null when "
        "it is not paused or a person paused it."
    )
    def pause_reason(self) -> str | None:
        return self.row.pause_reason

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Whether slots copy an earlier answer to their exact request (no call)."
    )
    def reuse_responses(self) -> bool:
        return self.row.reuse_responses

    @strawberry.field
    def definition_snapshot(self) -> JSON | None:
        """The definition's content as it was when the run started."""
        return self.row.config.get("definitionSnapshot")

    @staticmethod
    async def prefetch(info: Info, runs: Sequence[Run]) -> None:
        """Load the selected `definition` and `progress` of every run, one statement each, so
        that they resolve as plain values (app/graphql/prefetch.py)."""
        await prefetch_runs(info, runs)

    @prefetched_field(Definition | None)
    def definition(self, info: Info) -> Definition | Awaitable[Definition | None] | None:
        """The definition it runs (null once hard-deleted)."""
        return now_or_later(
            definitions_loader(info).load(self.row.definition_id), Definition.from_row_or_none
        )

    @strawberry.field
    async def experiment(self, info: Info) -> Experiment | None:
        """The experiment it belongs to, if any."""
        if self.row.experiment_id is None:
            return None
        loader = info.context.loaders.by_key("experiments_by_id", definitions.experiments_by_id)
        row = await loader.load(self.row.experiment_id)
        return Experiment.from_row(row) if row else None

    @property
    def _progress_key(self) -> tuple[str, int]:
        return (self.row.id, self.row.total_slots)

    # An object, as the seed's operations select it; ValueRank's later schema serves raw JSON
    # here (the one deliberate difference from its current schema).
    @prefetched_field(RunProgress)
    def progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        """Probe progress: slots total, completed, failed."""
        return self._load_progress(info)

    @prefetched_field(RunProgress | None)
    def run_progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        """Probe progress (as progress)."""
        return self._load_progress(info)

    def _load_progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        return now_or_later(
            progress_loader(info).load(self._progress_key), RunProgress.from_progress
        )

    async def _stats(self, info: Info) -> transcripts.RunTranscriptStats:
        loader = info.context.loaders.by_key("transcript_stats", transcripts.stats_by_run)
        stats = await loader.load(self.row.id)
        assert stats is not None
        return stats

    @strawberry.field
    async def summarize_progress(self, info: Info) -> RunProgress | None:
        """Summary progress; null before the run summarizes."""
        stats = await self._stats(info)
        if not shows_summaries(stats.count, self.row.status):
            return None
        return RunProgress.of_summaries(stats.count, stats.summarized, stats.summary_failed)

    @strawberry.field
    async def selected_scenarios(self, info: Info) -> list[str]:
        """Ids of the scenarios the run probes."""
        loader = info.context.loaders.by_key(
            "selected_scenarios", service.selected_scenarios_by_run
        )
        return await loader.load(self.row.id) or []

    @paged_field(TRANSCRIPT_PAGE)
    async def transcripts(
        self,
        info: Info,
        model_id: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[TranscriptType]:
        """Its live transcripts.

        Args:
            modelId: Only this model's transcripts.
            limit: At most 1000; when omitted, every transcript.
        """
        from app.transcripts.graphql import Transcript

        if limit is not None:
            limit = TRANSCRIPT_PAGE.page(limit, offset).limit
        query = transcripts.TranscriptQuery(
            model_id=model_id,
            limit=limit,
            offset=offset or 0,
            columns=Transcript.columns_for(child_field_names(info)),
        )
        loader = info.context.loaders.with_params(
            "transcripts_by_run", transcripts.transcripts_by_run
        )
        return [Transcript.from_values(v) for v in await loader.load((self.row.id, query))]

    @strawberry.field
    async def transcript_count(self, info: Info) -> int:
        """Its live transcripts."""
        return (await self._stats(info)).count

    async def _probes(self, info: Info, query: service.ProbeQuery) -> list[tables.ProbeResult]:
        loader = info.context.loaders.with_params("probe_results", service.probe_results_by_run)
        return await loader.load((self.row.id, query))

    @paged_field(PROBE_PAGE)
    async def failed_probes(self, info: Info) -> list[ProbeResult]:
        """Slots that failed for good."""
        query = service.ProbeQuery(status="FAILED", model_id=None, limit=None, offset=0)
        return [ProbeResult.from_row(r) for r in await self._probes(info, query)]

    @paged_field(PROBE_PAGE)
    async def probe_results(
        self,
        info: Info,
        status: str | None = None,
        model_id: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ProbeResult]:
        """Its slots' outcomes.

        Args:
            status: Only slots in this status (SUCCESS or FAILED).
            modelId: Only this model's slots.
        """
        paging = PROBE_PAGE.page(limit, offset)
        query = service.ProbeQuery(status, model_id, paging.limit, paging.offset)
        return [ProbeResult.from_row(r) for r in await self._probes(info, query)]

    @paged_field(RECENT_TASK_PAGE)
    async def recent_tasks(self, info: Info, limit: int | None = 5) -> list[TaskResult]:
        """Its latest finished slots, newest first."""
        paging = RECENT_TASK_PAGE.page(limit, 0)
        query = service.ProbeQuery(None, None, paging.limit, 0, newest_first=True)
        return [
            TaskResult(
                scenario_id=r.scenario_id,
                model_id=r.model_id,
                status=r.status,
                error=r.error_message,
                completed_at=r.completed_at,
            )
            for r in await self._probes(info, query)
        ]

    @strawberry.field
    async def stalled_models(self, info: Info) -> list[str]:
        """Models with queued or running probes and no success for the stall threshold (180 s by default)."""
        stall = info.context.settings.stalled_model_seconds
        loader = info.context.loaders.by_key(
            "stalled_models",
            functools.partial(queue_state.stalled_models_by_run, stall_seconds=stall),
        )
        return await loader.load(self.row.id) or []

    @strawberry.field
    async def execution_metrics(self, info: Info) -> ExecutionMetrics | None:
        """Live load per provider, across every worker process."""
        async with info.context.reader.use() as session:
            return ExecutionMetrics.from_metrics(await metrics.run_metrics(session, self.row.id))

    @strawberry.field
    async def estimated_costs(self, info: Info) -> CostEstimate | None:
        """The pre-run estimate for its slots, in USD; null without models."""
        models = list(self.row.config.get("models") or [])
        samples = max(1, self.row.samples_per_scenario)
        if not models:
            return None
        scenario_count = self.row.total_slots // (len(models) * samples)
        async with info.context.reader.use() as session:
            found = await spend.estimate(
                session, scenario_count=scenario_count, models=models, samples=samples
            )
        return CostEstimate.from_estimate(found)

    @strawberry.field(description="What the run has paid so far, from its ledger of calls.")  # type: ignore[untyped-decorator]
    async def spend(self, info: Info) -> RunSpend:
        loader = info.context.loaders.by_key("spend_by_run", spend.spend_by_run)
        found = await loader.load(self.row.id)
        return RunSpend.from_spend(found or spend.Spend())

    @strawberry.field(description="The run's spend cap in USD; null for none.")  # type: ignore[untyped-decorator]
    def max_budget_usd(self) -> float | None:
        return self.row.max_budget_usd

    @strawberry.field
    async def models(self, info: Info) -> list[LlmModel]:
        """Its models, as in the catalog."""
        loader = info.context.loaders.by_key("models_by_model_id", llm.models_by_model_id)
        rows = await loader.load_many(list(self.row.config.get("models", [])))
        return [LlmModel.from_row(r) for r in rows if r is not None]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        """Its tags, by name."""
        loader = info.context.loaders.by_key("tags_by_run", service.tags_by_run)
        return [Tag.from_row(t) for t in await loader.load(self.row.id) or []]

    @strawberry.field
    def is_aggregate(self) -> bool:
        """Always false here."""
        return False

    @strawberry.field
    async def analysis(self, info: Info) -> AnalysisResult | None:
        """Its actual cost (the only part of ValueRank's analysis served)."""
        stats = await self._stats(info)
        per_model = [
            ActualModelCost(
                model_id=strawberry.ID(model_id),
                input_tokens=m.input_tokens,
                output_tokens=m.output_tokens,
                cost=m.cost,
                probe_count=m.probe_count,
            )
            for model_id, m in sorted(stats.by_model.items())
        ]
        return AnalysisResult(actual_cost=ActualCost(total=stats.total_cost, per_model=per_model))

    @strawberry.field
    def analysis_status(self) -> str | None:
        """Always null here."""
        return None

    @strawberry.field
    def mirrored_runs(self) -> list[Run]:
        """Always empty here."""
        return []

    @strawberry.field
    async def unresolvable_transcript_count(self, info: Info) -> UnresolvableCount | None:
        """Transcripts whose decision is "other"."""
        stats = await self._stats(info)
        by_model = [
            UnresolvableByModel(model_id=model_id, count=m.unresolvable)
            for model_id, m in sorted(stats.by_model.items())
            if m.unresolvable
        ]
        return UnresolvableCount(total=stats.unresolvable, by_model=by_model)


# Run's plain fields (no resolver): each a runs column of the same name and value.
_ROW_FIELDS = frozenset(
    f.python_name
    for f in Run.__strawberry_definition__.fields  # type: ignore[attr-defined]
    if f.base_resolver is None and f.python_name in tables.Run.__table__.c  # type: ignore[attr-defined]
)
