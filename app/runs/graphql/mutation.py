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
    """What recoverRun did."""

    run: Run
    """The run after recovery."""
    action: str
    """REQUEUED (open slots queued again), ADVANCED (status moved on), SUMMARIES_QUEUED or NONE."""
    requeued_count: int | None
    """Jobs queued: slots for REQUEUED, summaries for SUMMARIES_QUEUED; 0 otherwise."""


@strawberry.type
class TriggerRecoveryPayload:
    """What a recovery sweep over every active run did."""

    detected: int
    """Runs that needed recovery."""
    recovered: int
    """Runs recovered."""
    errors: int
    """Runs whose recovery failed (logged on the server)."""


@strawberry.input
class StartRunInput:
    """A new run: a definition's scenarios probed on the given models."""

    definition_id: strawberry.ID
    """The definition whose scenarios are probed."""
    models: list[str]
    """Model identifiers (LlmModel.modelId, e.g. gpt-4o-mini); at least one."""
    sample_percentage: int | None = None
    """Percentage of the scenarios to sample, 1-100 (100 when omitted)."""
    sample_seed: int | None = None
    """Seed of the scenario sampling, for a repeatable selection."""
    samples_per_scenario: int | None = None
    """Probes per scenario and model, 1-100 (1 when omitted)."""
    scenario_ids: list[strawberry.ID] | None = None
    """Exactly these scenarios, instead of sampling."""
    temperature: float | None = None
    """Sampling temperature, 0-2; the provider's default when omitted."""
    priority: str | None = None
    """LOW, NORMAL (default) or HIGH: the order jobs are taken from the queue."""
    run_category: str | None = None
    """PILOT, PRODUCTION, REPLICATION, VALIDATION or UNKNOWN_LEGACY."""
    experiment_id: strawberry.ID | None = None
    """The experiment the run belongs to."""
    name: str | None = None
    """A name for the run."""
    max_budget_usd: float | None = None
    """Spend cap in USD; the run pauses (BUDGET_EXHAUSTED) before exceeding it. Every model needs a price."""
    # Opt-in, since samples are meant to be independent draws: a slot whose exact request was
    # answered before copies that transcript instead of calling (Transcript.reusedFromId).
    reuse_responses: bool = False
    """Let a slot whose exact request was answered before copy that transcript instead of calling (Transcript.reusedFromId)."""


@strawberry.input(description="Overrides of the source run's settings; omitted ones are kept.")
class RerunInput:
    models: list[str] | None = None
    """Model identifiers instead of the source's."""
    sample_percentage: int | None = None
    """Percentage of the scenarios to sample, 1-100."""
    sample_seed: int | None = None
    """Seed of the scenario sampling."""
    samples_per_scenario: int | None = None
    """Probes per scenario and model, 1-100."""
    temperature: float | None = None
    """Sampling temperature, 0-2."""
    priority: str | None = None
    """LOW, NORMAL or HIGH."""
    name: str | None = None
    """A name for the new run."""
    max_budget_usd: float | None = None
    """Spend cap in USD for the new run."""
    scope: str | None = strawberry.field(
        default=None, description="ALL (default) or FAILED: only the source's failed slots."
    )


@strawberry.input
class UpdateRunInput:
    """Changes to a run; a field left out stays as it is."""

    # Left out, a field stays as it is; null clears it (a null maxBudgetUsd removes the cap).
    name: str | None = strawberry.UNSET
    """The run's new name; null clears it."""
    max_budget_usd: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Raise, lower, or (null) remove the run's spend cap; it applies to the "
        "next call. Refused when a model of the run has no price.",
    )


@strawberry.type
class StartRunPayload:
    """A run just started."""

    run: Run
    """The new run."""
    job_count: int
    """Probe jobs queued for it."""
    paired_run_ids: list[str] | None = None
    """Always null (ValueRank's paired runs are not served)."""


@strawberry.type
class CancelSummarizationPayload:
    """A run whose summarization was cancelled."""

    run: Run
    """The run, now COMPLETED."""
    cancelled_count: int
    """Queued summary jobs cancelled."""


@strawberry.type
class RestartSummarizationPayload:
    """A run whose summarization was restarted."""

    run: Run
    """The run."""
    queued_count: int
    """Summary jobs queued (0: nothing to summarize, nothing changed)."""


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
    """Mutations on runs (ADMIN)."""

    @strawberry.mutation
    async def start_run(
        self, info: Info, data: Annotated[StartRunInput, InputArg]
    ) -> StartRunPayload:
        """Start a run: its probe jobs are queued at once. ADMIN. Errors: NOT_FOUND (definition, experiment), VALIDATION_ERROR (no model, unknown model, out-of-range option, a budget with an unpriced model).

        Args:
            data: The run's definition, models and options.
        """
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

    @strawberry.mutation
    async def rerun_run(
        self,
        info: Info,
        run_id: strawberry.ID,
        data: Annotated[RerunInput | None, InputArg] = None,
    ) -> StartRunPayload:
        """A new run from this one's settings; the source is kept. ADMIN. Errors: NOT_FOUND,
        VALIDATION_ERROR (as startRun; FAILED scope with no failed slot).

        Args:
            runId: The run to re-run.
            data: Settings to change; omitted ones are the source's.
        """
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
        """PENDING or RUNNING to PAUSED; queued probes are cancelled (no retry is spent). ADMIN. Errors: NOT_FOUND, RUN_STATE_ERROR.

        Args:
            runId: The run to pause.
        """
        async with acting(info, "pauseRun") as session:
            return Run.from_row(await control.pause_run(session, str(run_id)))

    @strawberry.mutation
    async def resume_run(self, info: Info, run_id: strawberry.ID) -> Run:
        """PAUSED to RUNNING (PENDING if no probe had started); exactly the open slots are queued again. ADMIN. Errors: NOT_FOUND, RUN_STATE_ERROR (also when its budget is spent).

        Args:
            runId: The run to resume.
        """
        async with acting(info, "resumeRun") as session:
            return Run.from_row(await control.resume_run(session, str(run_id)))

    @strawberry.mutation
    async def resume_llm_provider(self, info: Info, ident: IdArg) -> LlmProvider:
        """Lift a provider's suspension; resume the runs it paused (not a person's pauses).
        ADMIN. Errors: NOT_FOUND.

        Args:
            id: The provider's id or name (e.g. openai).
        """
        async with info.context.db.transaction() as session:
            row = await suspension.resume_provider(session, ident)
        return LlmProvider.from_row(row)

    @strawberry.mutation
    async def cancel_run(self, info: Info, run_id: strawberry.ID) -> Run:
        """PENDING, RUNNING or PAUSED to CANCELLED: queued jobs are cancelled, running calls aborted. ADMIN. Errors: NOT_FOUND, RUN_STATE_ERROR.

        Args:
            runId: The run to cancel.
        """
        async with acting(info, "cancelRun") as session:
            return Run.from_row(await control.cancel_run(session, str(run_id)))

    @strawberry.mutation
    async def delete_run(self, info: Info, run_id: strawberry.ID) -> bool:
        """Soft-delete a run (true); an active run is cancelled first. ADMIN. Errors: NOT_FOUND.

        Args:
            runId: The run to delete.
        """
        async with acting(info, "deleteRun") as session:
            return await control.delete_run(session, str(run_id))

    @strawberry.mutation
    async def update_run(
        self, info: Info, run_id: strawberry.ID, data: Annotated[UpdateRunInput, InputArg]
    ) -> Run:
        """Rename a run or change its spend cap. ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR.

        Args:
            runId: The run to change.
            data: The changes.
        """
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
        """SUMMARIZING to COMPLETED; queued summaries are cancelled. ADMIN. Errors: NOT_FOUND, RUN_STATE_ERROR.

        Args:
            runId: The run.
        """
        async with acting(info, "cancelSummarization") as session:
            change = await control.cancel_summarization(session, str(run_id))
        return CancelSummarizationPayload(
            run=Run.from_row(change.run), cancelled_count=change.count
        )

    @strawberry.mutation
    async def restart_summarization(
        self, info: Info, run_id: strawberry.ID, force: bool | None = None
    ) -> RestartSummarizationPayload:
        """Queue summaries again for a COMPLETED, FAILED or CANCELLED run's unsummarized transcripts. ADMIN. Errors: NOT_FOUND, RUN_STATE_ERROR.

        Args:
            runId: The run.
            force: Summarize every transcript again, summarized ones too.
        """
        async with acting(info, "restartSummarization") as session:
            change = await control.restart_summarization(session, str(run_id), force=bool(force))
        return RestartSummarizationPayload(run=Run.from_row(change.run), queued_count=change.count)

    @strawberry.mutation
    async def recover_run(self, info: Info, run_id: strawberry.ID) -> RecoverRunPayload:
        """Unstick a run: queue its open slots again, or its missing summaries, or move its status on. ADMIN. Errors: NOT_FOUND.

        Args:
            runId: The run to recover.
        """
        outcome = await recovery.recover_run(info.context.db, str(run_id))
        async with info.context.reader.use() as session:
            row = await service.get_run(session, outcome.run_id, include_deleted=False)
        assert row is not None
        return RecoverRunPayload(
            run=Run.from_row(row), action=outcome.action, requeued_count=outcome.requeued
        )

    @strawberry.mutation
    async def trigger_recovery(self, info: Info) -> TriggerRecoveryPayload:
        """Retry jobs of workers gone silent, then recover every active run (as recoverRun). ADMIN."""
        report = await recovery.sweep(
            info.context.db,
            seconds_since_heartbeat=info.context.settings.stalled_worker_seconds,
        )
        return TriggerRecoveryPayload(
            detected=report.detected, recovered=report.recovered, errors=report.errors
        )
