"""purgeRuns: hard-deleting finished runs by age or by count (ADMIN, as every mutation)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.runs.graphql.query import _run_filter
from app.runs.lifecycle import retention


@strawberry.type
class PurgeRunsPayload:
    """What purgeRuns deleted (or, with dryRun, would delete)."""

    count: int
    """Runs purged."""
    run_ids: list[strawberry.ID]
    """Their ids."""


@strawberry.type
class RetentionMutation:
    """Retention mutations (ADMIN)."""

    # Hard-deletes finished runs older than `olderThan` and/or past the newest `keepLatest`,
    # among those the `runs` filters and `statuses` select. `dryRun`: report, delete nothing.
    @strawberry.mutation
    async def purge_runs(
        self,
        info: Info,
        older_than: datetime | None = None,
        keep_latest: int | None = None,
        statuses: list[str] | None = None,
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
        dry_run: bool | None = None,
    ) -> PurgeRunsPayload:
        """Hard-delete finished runs older than olderThan and/or past the newest keepLatest, among those the filters select. ADMIN. Errors: VALIDATION_ERROR (neither olderThan nor keepLatest, a non-final status).

        Args:
            olderThan: Only runs created before this time.
            keepLatest: Keep this many of the newest matching runs (0 or more).
            statuses: Final statuses to purge (COMPLETED, FAILED, CANCELLED; all when omitted).
            dryRun: Report what would be purged; delete nothing.
        """
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
        criteria = retention.PurgeCriteria(
            where=where,
            older_than=older_than,
            keep_latest=keep_latest,
            statuses=tuple(statuses) if statuses is not None else None,
        )
        report = await retention.purge_runs(info.context.db, criteria, dry_run=bool(dry_run))
        return PurgeRunsPayload(
            count=report.count, run_ids=[strawberry.ID(i) for i in report.run_ids]
        )
