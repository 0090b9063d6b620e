"""Run queries: one run, a filtered page of runs, counts, the pre-run cost estimate."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from app.definitions import service as definitions
from app.graphql.args import IdArgID, paged_field
from app.graphql.context import Info
from app.runs import history, service, spend
from app.runs import models as tables
from app.runs.lifecycle import start
from app.runs.sampling import sample_size

if TYPE_CHECKING:
    pass

from app.runs.graphql.costs import CostEstimate
from app.runs.graphql.history import RunStats
from app.runs.graphql.loaders import RUN_PAGE
from app.runs.graphql.types import Run


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
    """Queries on runs."""

    @strawberry.field
    async def run(
        self, info: Info, ident: IdArgID, include_deleted: bool | None = None
    ) -> Run | None:
        """One run; null when unknown or soft-deleted (unless includeDeleted). Marks it accessed.

        Args:
            id: The run's id.
            includeDeleted: Return it even when soft-deleted.
        """
        async with info.context.reader.use() as session:
            row = await service.get_run(session, str(ident), include_deleted=bool(include_deleted))
        if row is None:
            return None
        info.context.touch(tables.Run, row.id)
        run = Run.from_row(row)
        await Run.prefetch(info, [run])
        return run

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
        """Live (not soft-deleted) runs, newest first."""
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
        """How many live runs the filters select (as runs takes them)."""
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

    @strawberry.field(description="Totals over the runs the filters select (as `runs` takes them).")  # type: ignore[untyped-decorator]
    async def run_stats(
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
    ) -> RunStats:
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
            return RunStats.of(await history.run_stats(session, where))

    @strawberry.field
    async def standalone_active_runs(self, info: Info) -> list[Run]:
        """Runs in PENDING, RUNNING, PAUSED or SUMMARIZING, newest first."""
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
        """What a run would cost, in USD, before starting it. Errors: NOT_FOUND, VALIDATION_ERROR (as startRun).

        Args:
            definitionId: The definition to run.
            models: Model identifiers (e.g. gpt-4o-mini).
            samplePercentage: Percentage of the scenarios to sample, 1-100 (100 when omitted).
            samplesPerScenario: Probes per scenario and model, 1-100 (1 when omitted).
        """
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
            found = await spend.estimate(
                session,
                scenario_count=sample_size(live, percentage) if live else 0,
                models=models,
                samples=samples,
            )
        return CostEstimate.from_estimate(found)
