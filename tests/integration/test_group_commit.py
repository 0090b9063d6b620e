"""`Database.pipeline` and the group commit of probe outcomes (app/runs/execution/commit.py),
against PostgreSQL: what commits together, what a faulty statement takes down with it (only
its own outcome), and that a batch is one round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import psycopg
import pytest
import sqlalchemy as sa

from app.db import Database, Done, Statement, new_id
from app.queue.state import open_probe_job
from app.runs.execution.commit import Committer

INSERT = sa.text("INSERT INTO group_commit_probe (k) VALUES (:k)")
COUNT = sa.text("SELECT count(*) FROM group_commit_probe")


class CountingDatabase(Database):
    """The real database, counting the pipelines sent to it."""

    pipelines = 0

    async def pipeline(
        self, transaction: Sequence[Statement], then: Sequence[Statement] = ()
    ) -> list[Done]:
        self.pipelines += 1
        return await super().pipeline(transaction, then)


@pytest.fixture
async def counting(database_url: str) -> AsyncIterator[CountingDatabase]:
    db = CountingDatabase(database_url, pool_size=5)
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text("CREATE TABLE group_commit_probe (k text PRIMARY KEY)")
        )
    try:
        yield db
    finally:
        await db.dispose()


def insert(key: str) -> Statement:
    return Statement(INSERT, {"k": key})


async def test_the_look_after_the_transaction_sees_its_commit(counting: Database) -> None:
    done = await counting.pipeline([insert("a"), insert("b")], [Statement(COUNT, {})])
    assert [d.rowcount for d in done[:2]] == [1, 1]
    assert done[2].scalar() == 2


async def test_a_failing_statement_commits_nothing_of_its_transaction(
    counting: Database,
) -> None:
    await counting.pipeline([insert("taken")])
    with pytest.raises(psycopg.errors.UniqueViolation):
        await counting.pipeline([insert("fresh"), insert("taken")], [Statement(COUNT, {})])
    # Nothing of it is kept, and the pooled connections still work.
    for _ in range(5):
        done = await counting.pipeline([], [Statement(COUNT, {})])
        assert done[0].scalar() == 1


async def test_outcomes_ready_together_commit_in_one_round_trip(
    counting: CountingDatabase,
) -> None:
    committer = Committer(counting, open_probe_job)
    run = new_id()
    # Every commit() below is queued before the flushing task first runs (asyncio runs ready
    # tasks in order), so the twenty outcomes make one batch.
    results = await asyncio.gather(
        *(committer.commit([insert(f"k{i}")], run_id=run, job_id=i) for i in range(20))
    )
    assert counting.pipelines == 1
    assert all(r.done[0].rowcount == 1 and not r.others_open for r in results)
    done = await counting.pipeline([], [Statement(COUNT, {})])
    assert done[0].scalar() == 20


async def test_a_faulty_outcome_fails_alone(counting: CountingDatabase) -> None:
    await counting.pipeline([insert("taken")])
    committer = Committer(counting, open_probe_job)
    outcomes = [insert(f"k{i}") for i in range(9)] + [insert("taken")]
    results = await asyncio.gather(
        *(committer.commit([o], run_id=new_id(), job_id=None) for o in outcomes),
        return_exceptions=True,
    )
    assert isinstance(results[-1], psycopg.errors.UniqueViolation)
    assert all(not isinstance(r, BaseException) for r in results[:-1])
    # The batch failed, then each outcome went alone.
    assert counting.pipelines == 2 + len(outcomes)
    done = await counting.pipeline([], [Statement(COUNT, {})])
    assert done[0].scalar() == 10


async def test_a_cancelled_probe_still_waits_for_its_outcome(counting: Database) -> None:
    committer = Committer(counting, open_probe_job)
    probe = asyncio.ensure_future(committer.commit([insert("x")], run_id=new_id(), job_id=1))
    await asyncio.sleep(0)  # queued
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    # The outcome it handed over was committed before the cancellation went on.
    done = await counting.pipeline([], [Statement(COUNT, {})])
    assert done[0].scalar() == 1
