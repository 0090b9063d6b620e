"""Subscriptions [beyond ValueRank, whose web client polls the whole run every 5 s]:
`runProgress` streams one run until it ends; `runsChanged` feeds a live dashboard."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from functools import partial

import strawberry

from app.graphql import broadcast
from app.graphql.context import Info
from app.runs import service
from app.runs.graphql.costs import RunSpend
from app.runs.graphql.results import RunProgress
from app.runs.graphql.types import Run
from app.runs.live import snapshot as live


@strawberry.type(description="A run's progress and spend, sent when it changes.")
class RunProgressEvent:
    run_id: strawberry.ID
    """The run."""
    status: str
    """The run's status."""
    run_progress: RunProgress
    """Probe progress."""
    summarize_progress: RunProgress | None
    """Summary progress; null before summaries start."""
    transcript_id: str | None = strawberry.field(
        description="The transcript stored or summarized most recently, when there is one."
    )
    at: datetime
    """When this state was read."""
    cost_so_far: float = strawberry.field(
        description="USD, from the run's ledger of provider calls (spend.total)."
    )
    spend: RunSpend = strawberry.field(description="What the run has paid, as on Run.")
    max_budget_usd: float | None = strawberry.field(
        description="The run's spend cap; null for none."
    )
    pause_reason: str | None = strawberry.field(
        description="Why the server paused the run (BUDGET_EXHAUSTED, PROVIDER_SUSPENDED)."
    )
    estimated_total_cost: float | None = strawberry.field(
        description="USD: cost so far plus each model's remaining slots at its observed "
        "average (the pre-run estimate for a model with no transcript yet)."
    )
    estimated_seconds_remaining: int | None = strawberry.field(
        description="From the rate slots have finished since the run started; null while "
        "the run is not RUNNING (0 once it has ended)."
    )
    # Every subscriber of a run gets the same snapshot: events built from it render once
    # (see app/graphql/executor.py) and the result is sent to all of them, straight to the
    # websocket once the subscription's sink has its executor (app/graphql/broadcast.py).
    shared_source: strawberry.Private[live.Snapshot | None] = None
    sink: strawberry.Private[broadcast.Sink | None] = None

    @classmethod
    def from_snapshot(
        cls, snapshot: live.Snapshot, sink: broadcast.Sink | None = None
    ) -> RunProgressEvent:
        summaries = snapshot.summaries
        return cls(
            shared_source=snapshot,
            sink=sink,
            run_id=strawberry.ID(snapshot.run_id),
            status=snapshot.status,
            run_progress=RunProgress.from_progress(snapshot.progress),
            summarize_progress=None
            if summaries is None
            else RunProgress.of_summaries(summaries.total, summaries.summarized, summaries.failed),
            transcript_id=snapshot.transcript_id,
            at=snapshot.at,
            cost_so_far=snapshot.cost_so_far,
            spend=RunSpend.from_spend(snapshot.spend),
            max_budget_usd=snapshot.max_budget_usd,
            pause_reason=snapshot.pause_reason,
            estimated_total_cost=snapshot.estimated_total_cost,
            estimated_seconds_remaining=snapshot.estimated_seconds_remaining,
        )


@strawberry.type(description="A run was created, changed status, or was deleted.")
class RunChangeEvent:
    run_id: strawberry.ID
    """The run."""
    kind: str = strawberry.field(description="CREATED | STATUS_CHANGED | DELETED")
    status: str | None
    """Its status after the change; null once deleted."""
    at: datetime
    """When it changed."""

    @strawberry.field(description="The run as it is now; null once deleted.")  # type: ignore[untyped-decorator]
    async def run(self, info: Info) -> Run | None:
        async with info.context.reader.use() as session:
            row = await service.get_run(session, str(self.run_id))
        return None if row is None else Run.from_row(row)


@strawberry.type
class RunSubscription:
    """Live streams of runs (over graphql-transport-ws)."""

    @strawberry.subscription(  # type: ignore[untyped-decorator]
        description="The run's state now, then after each change (a few per second at "
        "most), until it is COMPLETED, FAILED or CANCELLED."
    )
    async def run_progress(
        self, info: Info, run_id: strawberry.ID
    ) -> AsyncGenerator[RunProgressEvent, None]:
        """Args:
        runId: The run to follow.
        """
        sink = broadcast.current_sink()
        async for snapshot in info.context.require_live().progress(str(run_id)):
            if sink is None or not await sink.send(
                snapshot, partial(RunProgressEvent.from_snapshot, snapshot, sink)
            ):
                yield RunProgressEvent.from_snapshot(snapshot, sink)

    @strawberry.subscription(description="Runs created, changing status or deleted.")  # type: ignore[untyped-decorator]
    async def runs_changed(self, info: Info) -> AsyncGenerator[RunChangeEvent, None]:
        async for change in info.context.require_live().changes():
            yield RunChangeEvent(
                run_id=strawberry.ID(change.run_id),
                kind=change.kind,
                status=change.status,
                at=change.at,
            )
