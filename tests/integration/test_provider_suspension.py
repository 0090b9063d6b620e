"""resumeLlmProvider on the service level: it resumes the runs the suspension paused, and only
those; a run a person paused stays paused."""

from __future__ import annotations

from app.db import Database
from app.runs.lifecycle import suspension
from app.seed import load_demo
from tests.factories import make_definition, make_run
from tests.workers import execute, scalar


async def test_resume_lifts_the_suspension_and_resumes_only_the_runs_it_paused(
    db: Database,
) -> None:
    async with db.transaction() as session:
        await load_demo(session)
    definition = await make_definition(db)
    by_suspension = await make_run(
        db, definition, status="PAUSED", pause_reason="PROVIDER_SUSPENDED"
    )
    by_a_person = await make_run(db, definition, status="PAUSED")
    await execute(
        db,
        "UPDATE llm_providers SET suspended_at = now(), suspended_reason = 'AUTH: bad key' "
        "WHERE name = 'simulated'",
    )
    async with db.transaction() as session:
        provider = await suspension.resume_provider(session, "simulated")
    assert (provider.suspended_at, provider.suspended_reason) == (None, None)
    resumed = await scalar(
        db,
        "SELECT status || '/' || coalesce(pause_reason, '-') FROM runs WHERE id = :r",
        r=by_suspension.id,
    )
    assert resumed == "PENDING/-"  # it had not started: resumed to where it was
    held = await scalar(
        db,
        "SELECT status || '/' || coalesce(pause_reason, '-') FROM runs WHERE id = :r",
        r=by_a_person.id,
    )
    assert held == "PAUSED/-"
