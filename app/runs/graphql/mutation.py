"""Run mutations: start, pause, resume, cancel, delete, rename, summarization, recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from app.graphql.args import IdArg
from app.graphql.context import Info
from app.llm.graphql import LlmProvider
from app.runs import events, provenance, service
from app.runs.lifecycle import control, recovery, rerun, start, suspension

if TYPE_CHECKING:
    pass

from app.runs.graphql.types import Run


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
    # Opt-in, since samples are meant to be independent draws: a slot whose exact request was
    # answered before copies that transcript instead of calling (Transcript.reusedFromId).
    reuse_responses: bool = False


@strawberry.input(description="Overrides of the source run's settings; omitted ones are kept.")
class RerunInput:
    models: list[str] | None = None
    sample_percentage: int | None = None
    sample_seed: int | None = None
    samples_per_scenario: int | None = None
    temperature: float | None = None
    priority: str | None = None
    name: str | None = None
    max_budget_usd: float | None = None
    scope: str | None = strawberry.field(
        default=None, description="ALL (default) or FAILED: only the source's failed slots."
    )


@strawberry.input
class UpdateRunInput:
    # Left out, a field stays as it is; null clears it (a null maxBudgetUsd removes the cap).
    name: str | None = strawberry.UNSET
    max_budget_usd: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Raise, lower, or (null) remove the run's spend cap; it applies to the "
        "next call. Refused when a model of the run has no price.",
    )


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


def actor(info: Info) -> str:
    """Who asks, as the run's status log names them: the API key's name."""
    viewer = info.context.viewer
    return viewer.name if viewer is not None else "anonymous"


def origin(info: Info) -> provenance.Origin:
    return provenance.Origin(
        started_by=actor(info), summarizer_model=info.context.settings.summarizer_model
    )


@asynccontextmanager
async def acting(info: Info, operation: str) -> AsyncIterator[AsyncSession]:
    """The mutation's unit of work, its status changes logged as the caller's `operation`."""
    async with info.context.db.transaction() as session:
        await events.act_as(session, actor(info), operation)
        yield session


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
            reuse_responses=data.reuse_responses,
        )
        async with acting(info, "startRun") as session:
            started = await start.start_run(session, request, origin(info))
        return StartRunPayload(run=Run.from_row(started.run), job_count=started.job_count)

    @strawberry.mutation(description="A new run from this one's settings; the source is kept.")  # type: ignore[untyped-decorator]
    async def rerun_run(
        self,
        info: Info,
        run_id: strawberry.ID,
        data: Annotated[RerunInput | None, InputArg] = None,
    ) -> StartRunPayload:
        given = data or RerunInput()
        request = rerun.RerunRequest(
            models=list(given.models) if given.models is not None else None,
            sample_percentage=given.sample_percentage,
            sample_seed=given.sample_seed,
            samples_per_scenario=given.samples_per_scenario,
            temperature=given.temperature,
            priority=given.priority,
            name=given.name,
            max_budget_usd=given.max_budget_usd,
            scope=given.scope,
        )
        async with acting(info, "rerunRun") as session:
            started = await rerun.rerun_run(session, str(run_id), request, origin(info))
        return StartRunPayload(run=Run.from_row(started.run), job_count=started.job_count)

    @strawberry.mutation
    async def pause_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with acting(info, "pauseRun") as session:
            return Run.from_row(await control.pause_run(session, str(run_id)))

    @strawberry.mutation
    async def resume_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with acting(info, "resumeRun") as session:
            return Run.from_row(await control.resume_run(session, str(run_id)))

    @strawberry.mutation
    async def resume_llm_provider(self, info: Info, ident: IdArg) -> LlmProvider:
        """Lift a provider's suspension; resume the runs it paused (not a person's pauses)."""
        async with info.context.db.transaction() as session:
            row = await suspension.resume_provider(session, ident)
        return LlmProvider.from_row(row)

    @strawberry.mutation
    async def cancel_run(self, info: Info, run_id: strawberry.ID) -> Run:
        async with acting(info, "cancelRun") as session:
            return Run.from_row(await control.cancel_run(session, str(run_id)))

    @strawberry.mutation
    async def delete_run(self, info: Info, run_id: strawberry.ID) -> bool:
        async with acting(info, "deleteRun") as session:
            return await control.delete_run(session, str(run_id))

    @strawberry.mutation
    async def update_run(
        self, info: Info, run_id: strawberry.ID, data: Annotated[UpdateRunInput, InputArg]
    ) -> Run:
        async with acting(info, "updateRun") as session:
            row = await control.require_run(session, str(run_id))
            if data.name is not strawberry.UNSET:
                row = await control.rename_run(session, str(run_id), data.name)
            if data.max_budget_usd is not strawberry.UNSET:
                row = await control.set_budget(session, str(run_id), data.max_budget_usd)
            return Run.from_row(row)

    @strawberry.mutation
    async def cancel_summarization(
        self, info: Info, run_id: strawberry.ID
    ) -> CancelSummarizationPayload:
        async with acting(info, "cancelSummarization") as session:
            change = await control.cancel_summarization(session, str(run_id))
        return CancelSummarizationPayload(
            run=Run.from_row(change.run), cancelled_count=change.count
        )

    @strawberry.mutation
    async def restart_summarization(
        self, info: Info, run_id: strawberry.ID, force: bool | None = None
    ) -> RestartSummarizationPayload:
        async with acting(info, "restartSummarization") as session:
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
