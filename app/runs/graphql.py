"""GraphQL types and resolvers for reading runs (ValueRank's Run and its companions)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from app import access
from app.definitions import service as definitions
from app.definitions.graphql import Definition, Experiment, Tag
from app.definitions.models import Definition as DefinitionRow
from app.graphql.args import IdArgID, paged_field
from app.graphql.context import Info
from app.graphql.loaders import now_or_later
from app.graphql.selection import child_field_names
from app.llm import service as llm
from app.llm.graphql import LlmModel
from app.paging import PageSize
from app.runs import control, metrics, queue_controls, recovery, service, start
from app.runs import models as tables
from app.runs.progress import Progress, percent_complete, shows_summaries
from app.runs.sampling import sample_size
from app.transcripts import service as transcripts

if TYPE_CHECKING:
    from app.transcripts.graphql import Transcript

TranscriptType = Annotated["Transcript", strawberry.lazy("app.transcripts.graphql")]
RUN_PAGE = PageSize(default=20, maximum=100)
# Without a `limit` a run's transcripts come whole, as ValueRank's GetRun expects; the cost
# limit counts a full page for them and the count taken during execution bounds the rest.
TRANSCRIPT_PAGE = PageSize(default=1000, maximum=1000)
# Failed probes are few in any healthy run: the static check counts 50 for an unlimited
# `failedProbes`, and the field budget taken during execution bounds a run that has more.
PROBE_PAGE = PageSize(default=1000, maximum=1000, estimate=50)
RECENT_TASK_PAGE = PageSize(default=5, maximum=100)


@strawberry.type
class ByModelProgress:
    model_id: str
    completed: int
    failed: int


@strawberry.type
class RunProgress:
    total: int
    completed: int
    failed: int
    percent_complete: float
    by_model: list[ByModelProgress] | None

    @classmethod
    def from_progress(cls, progress: Progress) -> RunProgress:
        return cls(
            total=progress.total,
            completed=progress.completed,
            failed=progress.failed,
            percent_complete=progress.percent_complete,
            by_model=[
                ByModelProgress(model_id=m, completed=c.completed, failed=c.failed)
                for m, c in sorted(progress.by_model.items())
            ],
        )

    @classmethod
    def of_summaries(cls, total: int, summarized: int, failed: int) -> RunProgress:
        return cls(
            total=total,
            completed=summarized,
            failed=failed,
            percent_complete=percent_complete(total, summarized + failed),
            by_model=None,
        )


@strawberry.type
class ProbeResult:
    id: strawberry.ID
    run_id: str
    scenario_id: str
    model_id: str
    sample_index: int
    status: str
    transcript_id: str | None
    error_code: str | None
    error_message: str | None
    retry_count: int
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: int | None
    queued_at: datetime | None
    queue_wait_ms: int | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: tables.ProbeResult) -> ProbeResult:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(row.id),
            run_id=row.run_id,
            scenario_id=row.scenario_id,
            model_id=row.model_id,
            sample_index=row.sample_index,
            status=row.status,
            transcript_id=row.transcript_id,
            error_code=row.error_code,
            error_message=row.error_message,
            retry_count=row.retry_count,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            duration_ms=row.duration_ms,
            queued_at=row.queued_at,
            queue_wait_ms=row.queue_wait_ms,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


@strawberry.type
class TaskResult:
    scenario_id: str
    model_id: str
    status: str
    error: str | None
    completed_at: datetime | None


@strawberry.type
class CompletionEvent:
    model_id: str
    scenario_id: str
    success: bool
    completed_at: datetime
    duration_ms: int


@strawberry.type
class ProviderExecutionMetrics:
    provider: str
    active_jobs: int
    queued_jobs: int
    max_parallel: int
    requests_per_minute: int
    active_model_ids: list[str]
    recent_completions: list[CompletionEvent]


@strawberry.type
class ExecutionMetrics:
    providers: list[ProviderExecutionMetrics]
    total_active: int
    total_queued: int
    total_retries: int
    estimated_seconds_remaining: int | None

    @classmethod
    def from_metrics(cls, found: metrics.RunMetrics) -> ExecutionMetrics:
        return cls(
            providers=[
                ProviderExecutionMetrics(
                    provider=p.provider,
                    active_jobs=p.active_jobs,
                    queued_jobs=p.queued_jobs,
                    max_parallel=p.max_parallel,
                    requests_per_minute=p.requests_per_minute,
                    active_model_ids=p.active_model_ids,
                    recent_completions=[
                        CompletionEvent(
                            model_id=c.model_id,
                            scenario_id=c.scenario_id,
                            success=c.success,
                            completed_at=c.completed_at,
                            duration_ms=c.duration_ms,
                        )
                        for c in p.recent_completions
                    ],
                )
                for p in found.providers
            ],
            total_active=found.total_active,
            total_queued=found.total_queued,
            total_retries=found.total_retries,
            estimated_seconds_remaining=found.estimated_seconds_remaining,
        )


@strawberry.type
class ModelCostEstimate:
    model_id: strawberry.ID
    display_name: str
    scenario_count: int
    input_tokens: float
    output_tokens: float
    input_cost: float
    output_cost: float
    total_cost: float
    avg_input_per_probe: float
    avg_output_per_probe: float
    sample_count: int
    is_using_fallback: bool


@strawberry.type
class CostEstimate:
    total: float
    scenario_count: int
    based_on_sample_count: int
    is_using_fallback: bool
    fallback_reason: str | None
    per_model: list[ModelCostEstimate]

    @classmethod
    def from_estimate(cls, found: metrics.Estimate) -> CostEstimate:
        return cls(
            total=found.total,
            scenario_count=found.scenario_count,
            based_on_sample_count=found.based_on_sample_count,
            is_using_fallback=any(m.is_using_fallback for m in found.per_model),
            fallback_reason=found.fallback_reason,
            per_model=[
                ModelCostEstimate(
                    model_id=strawberry.ID(m.model_id),
                    display_name=m.display_name,
                    scenario_count=found.scenario_count,
                    input_tokens=m.input_tokens,
                    output_tokens=m.output_tokens,
                    input_cost=m.input_cost,
                    output_cost=m.output_cost,
                    total_cost=m.input_cost + m.output_cost,
                    avg_input_per_probe=m.avg_input,
                    avg_output_per_probe=m.avg_output,
                    sample_count=m.sample_count,
                    is_using_fallback=m.is_using_fallback,
                )
                for m in found.per_model
            ],
        )


@strawberry.type
class ActualModelCost:
    model_id: strawberry.ID
    input_tokens: int
    output_tokens: int
    cost: float
    probe_count: int


@strawberry.type
class ActualCost:
    total: float
    per_model: list[ActualModelCost]


@strawberry.type
class AnalysisResult:
    """Only the spend part of ValueRank's analysis is served here."""

    actual_cost: ActualCost | None


@strawberry.type
class UnresolvableByModel:
    model_id: str
    count: int


@strawberry.type
class UnresolvableCount:
    total: int
    by_model: list[UnresolvableByModel]


async def _progress(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], Progress]:
    found = await service.progress_by_run(session, keys)
    return {(run_id, total): found[run_id] for run_id, total in keys}


def _progress_loader(info: Info) -> DataLoader[tuple[str, int], Progress]:
    return info.context.loaders.by_key("progress_by_run", _progress)


def _definitions(info: Info) -> DataLoader[str, DefinitionRow]:
    return info.context.loaders.by_key("definitions_by_id", definitions.definitions_by_id)


@strawberry.type
class Run:
    id: strawberry.ID
    name: str | None
    definition_id: str
    definition_version: int | None
    experiment_id: str | None
    status: str
    run_category: str
    config: JSON
    samples_per_scenario: int
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_accessed_at: datetime | None
    deleted_at: datetime | None
    row: strawberry.Private[tables.Run]

    @classmethod
    def from_row(cls, row: tables.Run) -> Run:
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

    @strawberry.field
    def definition_snapshot(self) -> JSON | None:
        return self.row.config.get("definitionSnapshot")

    @staticmethod
    async def prefetch(info: Info, runs: Sequence[Run]) -> None:
        """Prime the loaders behind the selected per-run fields, so they resolve at once."""
        if not runs:
            return
        selected = child_field_names(info)
        batches: list[Awaitable[Any]] = []
        if "definition" in selected:
            batches.append(_definitions(info).load_many([r.row.definition_id for r in runs]))
        if selected & {"progress", "runProgress"}:
            batches.append(_progress_loader(info).load_many([r._progress_key for r in runs]))
        await asyncio.gather(*batches)

    # graphql_type: these return the value at once when prefetched, else an awaitable.
    @strawberry.field(graphql_type=Definition | None)  # type: ignore[untyped-decorator]
    def definition(self, info: Info) -> Definition | Awaitable[Definition | None] | None:
        return now_or_later(
            _definitions(info).load(self.row.definition_id), Definition.from_row_or_none
        )

    @strawberry.field
    async def experiment(self, info: Info) -> Experiment | None:
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
    @strawberry.field(graphql_type=RunProgress)  # type: ignore[untyped-decorator]
    def progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        return self._load_progress(info)

    @strawberry.field(graphql_type=RunProgress | None)  # type: ignore[untyped-decorator]
    def run_progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        return self._load_progress(info)

    def _load_progress(self, info: Info) -> RunProgress | Awaitable[RunProgress]:
        return now_or_later(
            _progress_loader(info).load(self._progress_key), RunProgress.from_progress
        )

    async def _stats(self, info: Info) -> transcripts.RunTranscriptStats:
        loader = info.context.loaders.by_key("transcript_stats", transcripts.stats_by_run)
        stats = await loader.load(self.row.id)
        assert stats is not None
        return stats

    @strawberry.field
    async def summarize_progress(self, info: Info) -> RunProgress | None:
        stats = await self._stats(info)
        if not shows_summaries(stats.count, self.row.status):
            return None
        return RunProgress.of_summaries(stats.count, stats.summarized, stats.summary_failed)

    @strawberry.field
    async def selected_scenarios(self, info: Info) -> list[str]:
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
        return (await self._stats(info)).count

    async def _probes(self, info: Info, query: service.ProbeQuery) -> list[tables.ProbeResult]:
        loader = info.context.loaders.with_params("probe_results", service.probe_results_by_run)
        return await loader.load((self.row.id, query))

    @paged_field(PROBE_PAGE)
    async def failed_probes(self, info: Info) -> list[ProbeResult]:
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
        paging = PROBE_PAGE.page(limit, offset)
        query = service.ProbeQuery(status, model_id, paging.limit, paging.offset)
        return [ProbeResult.from_row(r) for r in await self._probes(info, query)]

    @paged_field(RECENT_TASK_PAGE)
    async def recent_tasks(self, info: Info, limit: int | None = 5) -> list[TaskResult]:
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
        stall = info.context.settings.stalled_model_seconds
        loader = info.context.loaders.by_key(
            "stalled_models", functools.partial(metrics.stalled_models_by_run, stall_seconds=stall)
        )
        return await loader.load(self.row.id) or []

    @strawberry.field
    async def execution_metrics(self, info: Info) -> ExecutionMetrics | None:
        async with info.context.reader.use() as session:
            return ExecutionMetrics.from_metrics(await metrics.run_metrics(session, self.row.id))

    @strawberry.field
    async def estimated_costs(self, info: Info) -> CostEstimate | None:
        models = list(self.row.config.get("models") or [])
        samples = max(1, self.row.samples_per_scenario)
        if not models:
            return None
        scenario_count = self.row.total_slots // (len(models) * samples)
        async with info.context.reader.use() as session:
            found = await metrics.estimate(
                session, scenario_count=scenario_count, models=models, samples=samples
            )
        return CostEstimate.from_estimate(found)

    @strawberry.field
    async def models(self, info: Info) -> list[LlmModel]:
        loader = info.context.loaders.by_key("models_by_model_id", llm.models_by_model_id)
        rows = await loader.load_many(list(self.row.config.get("models", [])))
        return [LlmModel.from_row(r) for r in rows if r is not None]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        loader = info.context.loaders.by_key("tags_by_run", service.tags_by_run)
        return [Tag.from_row(t) for t in await loader.load(self.row.id) or []]

    @strawberry.field
    def is_aggregate(self) -> bool:
        return False

    @strawberry.field
    async def analysis(self, info: Info) -> AnalysisResult | None:
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
        return None

    @strawberry.field
    def mirrored_runs(self) -> list[Run]:
        return []

    @strawberry.field
    async def unresolvable_transcript_count(self, info: Info) -> UnresolvableCount | None:
        stats = await self._stats(info)
        by_model = [
            UnresolvableByModel(model_id=model_id, count=m.unresolvable)
            for model_id, m in sorted(stats.by_model.items())
            if m.unresolvable
        ]
        return UnresolvableCount(total=stats.unresolvable, by_model=by_model)


def _run_filter(
    definition_id: str | None,
    experiment_id: str | None,
    status: str | None,
    run_category: str | None,
    definition_tag_ids: list[strawberry.ID] | None,
    run_type: str | None,
    has_analysis: bool | None,
    analysis_status: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    model_id: str | None,
) -> service.RunFilter:
    """`runs` and `runCount` take the same filters (ValueRank's, plus ours)."""
    return service.RunFilter(
        definition_id=definition_id,
        experiment_id=experiment_id,
        status=status,
        run_category=run_category,
        created_after=created_after,
        created_before=created_before,
        model_id=model_id,
        definition_tag_ids=tuple(str(t) for t in definition_tag_ids or ()),
        run_type=run_type,
        has_analysis=has_analysis,
        analysis_status=analysis_status,
    )


@strawberry.type
class RunQuery:
    @strawberry.field
    async def run(
        self, info: Info, ident: IdArgID, include_deleted: bool | None = None
    ) -> Run | None:
        async with info.context.reader.use() as session:
            row = await service.get_run(session, str(ident), include_deleted=bool(include_deleted))
        if row is None:
            return None
        access.touch_in_background(info.context.db, tables.Run, row.id)
        return Run.from_row(row)

    @paged_field(RUN_PAGE)
    async def runs(
        self,
        info: Info,
        definition_id: str | None = None,
        experiment_id: str | None = None,
        status: str | None = None,
        run_category: str | None = None,
        definition_tag_ids: list[strawberry.ID] | None = None,
        run_type: str | None = None,
        has_analysis: bool | None = None,
        analysis_status: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        model_id: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Run]:
        where = _run_filter(
            definition_id,
            experiment_id,
            status,
            run_category,
            definition_tag_ids,
            run_type,
            has_analysis,
            analysis_status,
            created_after,
            created_before,
            model_id,
        )
        paging = RUN_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_runs(session, where, paging)
        runs = [Run.from_row(r) for r in rows]
        await Run.prefetch(info, runs)
        return runs

    @strawberry.field
    async def run_count(
        self,
        info: Info,
        definition_id: str | None = None,
        experiment_id: str | None = None,
        status: str | None = None,
        run_category: str | None = None,
        definition_tag_ids: list[strawberry.ID] | None = None,
        run_type: str | None = None,
        has_analysis: bool | None = None,
        analysis_status: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        model_id: str | None = None,
    ) -> int:
        where = _run_filter(
            definition_id,
            experiment_id,
            status,
            run_category,
            definition_tag_ids,
            run_type,
            has_analysis,
            analysis_status,
            created_after,
            created_before,
            model_id,
        )
        async with info.context.reader.use() as session:
            return await service.count_runs(session, where)

    @strawberry.field
    async def standalone_active_runs(self, info: Info) -> list[Run]:
        async with info.context.reader.use() as session:
            runs = [Run.from_row(r) for r in await service.standalone_active_runs(session)]
        await Run.prefetch(info, runs)
        return runs

    @strawberry.field
    async def estimate_cost(
        self,
        info: Info,
        definition_id: strawberry.ID,
        models: list[str],
        sample_percentage: int | None = None,
        samples_per_scenario: int | None = None,
    ) -> CostEstimate:
        start.validate_options(
            start.StartRunRequest(
                definition_id=str(definition_id),
                models=models,
                sample_percentage=sample_percentage,
                samples_per_scenario=samples_per_scenario,
            )
        )
        percentage = sample_percentage or 100
        samples = samples_per_scenario or 1
        async with info.context.reader.use() as session:
            await definitions.require_definition(session, str(definition_id))
            live = await definitions.count_scenarios(session, str(definition_id))
            found = await metrics.estimate(
                session,
                scenario_count=sample_size(live, percentage) if live else 0,
                models=models,
                samples=samples,
            )
        return CostEstimate.from_estimate(found)

    @strawberry.field
    async def queue_status(self, info: Info) -> QueueStatus:
        return await _queue_status(info)


@strawberry.type
class JobTypeStatus:
    type: str
    pending: int
    active: int
    completed: int
    failed: int


@strawberry.type
class QueueTotals:
    pending: int
    active: int
    completed: int
    failed: int


@strawberry.type
class QueueStatus:
    is_running: bool
    is_paused: bool
    job_types: list[JobTypeStatus]
    totals: QueueTotals


async def _queue_status(info: Info) -> QueueStatus:
    async with info.context.reader.use() as session:
        state = await metrics.queue_state(
            session, heartbeat_seconds=info.context.settings.stalled_worker_seconds
        )
    types = [
        JobTypeStatus(
            type=t.type, pending=t.pending, active=t.active, completed=t.completed, failed=t.failed
        )
        for t in state.job_types
    ]
    return QueueStatus(
        is_running=state.is_running,
        is_paused=state.is_paused,
        job_types=types,
        totals=QueueTotals(
            pending=sum(t.pending for t in types),
            active=sum(t.active for t in types),
            completed=sum(t.completed for t in types),
            failed=sum(t.failed for t in types),
        ),
    )


@strawberry.type
class RecoverRunPayload:
    run: Run
    action: str
    requeued_count: int | None


@strawberry.type
class TriggerRecoveryPayload:
    detected: int
    recovered: int
    errors: int


@strawberry.input
class StartRunInput:
    definition_id: strawberry.ID
    models: list[str]
    sample_percentage: int | None = None
    sample_seed: int | None = None
    samples_per_scenario: int | None = None
    scenario_ids: list[strawberry.ID] | None = None
    temperature: float | None = None
    priority: str | None = None
    run_category: str | None = None
    experiment_id: strawberry.ID | None = None
    name: str | None = None
    max_budget_usd: float | None = None


@strawberry.input
class UpdateRunInput:
    name: str | None = None


@strawberry.type
class StartRunPayload:
    run: Run
    job_count: int
    paired_run_ids: list[str] | None = None


@strawberry.type
class CancelSummarizationPayload:
    run: Run
    cancelled_count: int


@strawberry.type
class RestartSummarizationPayload:
    run: Run
    queued_count: int


InputArg = strawberry.argument(name="input")


@strawberry.type
class RunMutation:
    @strawberry.mutation
    async def start_run(
        self, info: Info, data: Annotated[StartRunInput, InputArg]
    ) -> StartRunPayload:
        request = start.StartRunRequest(
            definition_id=str(data.definition_id),
            models=list(data.models),
            sample_percentage=data.sample_percentage,
            sample_seed=data.sample_seed,
            samples_per_scenario=data.samples_per_scenario,
            scenario_ids=[str(s) for s in data.scenario_ids]
            if data.scenario_ids is not None
            else None,
            temperature=data.temperature,
            priority=data.priority,
            run_category=data.run_category,
            experiment_id=str(data.experiment_id) if data.experiment_id else None,
            name=data.name,
            max_budget_usd=data.max_budget_usd,
        )
        async with info.context.db.transaction() as session:
            started = await start.start_run(session, request)
        return StartRunPayload(run=Run.from_row(started.run), job_count=started.job_count)

    @strawberry.mutation
    async def pause_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with info.context.db.transaction() as session:
            return Run.from_row(await control.pause_run(session, str(run_id)))

    @strawberry.mutation
    async def resume_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with info.context.db.transaction() as session:
            return Run.from_row(await control.resume_run(session, str(run_id)))

    @strawberry.mutation
    async def cancel_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with info.context.db.transaction() as session:
            return Run.from_row(await control.cancel_run(session, str(run_id)))

    @strawberry.mutation
    async def delete_run(self, info: Info, run_id: strawberry.ID) -> bool:
        async with info.context.db.transaction() as session:
            return await control.delete_run(session, str(run_id))

    @strawberry.mutation
    async def update_run(
        self, info: Info, run_id: strawberry.ID, data: Annotated[UpdateRunInput, InputArg]
    ) -> Run:
        async with info.context.db.transaction() as session:
            return Run.from_row(await control.rename_run(session, str(run_id), data.name))

    @strawberry.mutation
    async def cancel_summarization(
        self, info: Info, run_id: strawberry.ID
    ) -> CancelSummarizationPayload:
        async with info.context.db.transaction() as session:
            change = await control.cancel_summarization(session, str(run_id))
        return CancelSummarizationPayload(
            run=Run.from_row(change.run), cancelled_count=change.count
        )

    @strawberry.mutation
    async def restart_summarization(
        self, info: Info, run_id: strawberry.ID, force: bool | None = None
    ) -> RestartSummarizationPayload:
        async with info.context.db.transaction() as session:
            change = await control.restart_summarization(session, str(run_id), force=bool(force))
        return RestartSummarizationPayload(run=Run.from_row(change.run), queued_count=change.count)

    @strawberry.mutation
    async def recover_run(self, info: Info, run_id: strawberry.ID) -> RecoverRunPayload:
        outcome = await recovery.recover_run(info.context.db, str(run_id))
        async with info.context.reader.use() as session:
            row = await service.get_run(session, outcome.run_id, include_deleted=False)
        assert row is not None
        return RecoverRunPayload(
            run=Run.from_row(row), action=outcome.action, requeued_count=outcome.requeued
        )

    @strawberry.mutation
    async def trigger_recovery(self, info: Info) -> TriggerRecoveryPayload:
        report = await recovery.sweep(
            info.context.db,
            seconds_since_heartbeat=info.context.settings.stalled_worker_seconds,
        )
        return TriggerRecoveryPayload(
            detected=report.detected, recovered=report.recovered, errors=report.errors
        )

    @strawberry.mutation
    async def pause_queue(self, info: Info) -> QueueStatus:
        await queue_controls.set_paused(info.context.db, True)
        return await _queue_status(info)

    @strawberry.mutation
    async def resume_queue(self, info: Info) -> QueueStatus:
        await queue_controls.set_paused(info.context.db, False)
        return await _queue_status(info)
