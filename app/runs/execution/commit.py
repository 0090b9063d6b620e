"""Group commit of probe outcomes within one process.

A probe's outcome is a few statements in one transaction (the ledger row settled, the
transcript and result, the lease's end), and once they have committed, one look whether any
other probe job of the run is still open (the last one to commit advances the run,
app/runs/state.py). Sent one by one that was six round trips and two context switches each on
a busy machine, for every probe (issue 14's profile).

Here every outcome that is ready while a commit is on its way waits for the next one, and
goes with all the others then waiting in one transaction, with one look per run after it, sent
as one pipeline (`Database.pipeline`): one round trip for the lot. No timer: a lone outcome
is committed at once, and outcomes only wait while the previous batch is in flight.

One outcome that fails its statements must not fail the others: a batch that raises is
committed again one outcome at a time, so each outcome gets its own error (the probe then
retries or aborts as it would have alone). An outcome handed over is committed even if its
probe is cancelled meanwhile (an abort): the probe waits for it, as for any transaction
already sent.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.db import Database, Done, Statement

# Outcomes per transaction at most: a batch's statements and rows stay small.
MAX_BATCH = 64

# The look after the commit, for one run and the jobs of the batch that are its own: a
# statement that returns a row while the run has work left other than theirs.
Look = Callable[[str, Sequence[int]], Statement]


@dataclass(frozen=True, slots=True)
class Committed:
    """What an outcome's statements did, and whether another probe job of its run is open."""

    done: list[Done]
    others_open: bool


@dataclass(eq=False, slots=True)
class _Outcome:
    statements: tuple[Statement, ...]
    run_id: str
    job_id: int | None
    future: asyncio.Future[Committed] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Committer:
    """The outcomes of one process's jobs of one kind, committed together (see the module)."""

    def __init__(self, db: Database, look: Look) -> None:
        self.db = db
        self.look = look
        self._waiting: list[_Outcome] = []
        self._flushing: asyncio.Task[None] | None = None

    async def commit(
        self, statements: Sequence[Statement], *, run_id: str, job_id: int | None
    ) -> Committed:
        """Commit `statements` in one transaction (shared with other outcomes), then look
        whether `run_id` has work left other than `job_id`'s (`look`)."""
        outcome = _Outcome(tuple(statements), run_id, job_id)
        self._waiting.append(outcome)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="commit probe outcomes")
        try:
            return await asyncio.shield(outcome.future)
        except asyncio.CancelledError:
            # Sent or about to be: its end is the probe's, cancelled or not.
            await asyncio.wait([outcome.future])
            raise

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._commit(batch)
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch[0], error)
                    continue
                for outcome in batch:  # alone, so that only a faulty one fails
                    try:
                        await self._commit([outcome])
                    except Exception as alone:
                        _fail(outcome, alone)
            except BaseException:  # this process is stopping: so are its probes
                for outcome in batch:
                    outcome.future.cancel()
                raise

    async def _commit(self, batch: list[_Outcome]) -> None:
        runs: dict[str, list[int]] = {}
        for outcome in batch:
            jobs = runs.setdefault(outcome.run_id, [])
            if outcome.job_id is not None:
                jobs.append(outcome.job_id)
        done = await self.db.pipeline(
            [statement for outcome in batch for statement in outcome.statements],
            [self.look(run, jobs) for run, jobs in runs.items()],
        )
        looks = dict(zip(runs, done[len(done) - len(runs) :], strict=True))
        at = 0
        for outcome in batch:
            count = len(outcome.statements)
            if not outcome.future.done():
                outcome.future.set_result(
                    Committed(done[at : at + count], bool(looks[outcome.run_id].rows))
                )
            at += count


def _fail(outcome: _Outcome, error: Exception) -> None:
    """The outcome's own error, raised in its probe."""
    if not outcome.future.done():
        outcome.future.set_exception(error)


_COMMITTERS: weakref.WeakKeyDictionary[Database, dict[Look, Committer]] = (
    weakref.WeakKeyDictionary()
)


def committer_for(db: Database, look: Look) -> Committer:
    """The process's committer for `db` and this kind of outcome, made on first use."""
    kinds = _COMMITTERS.setdefault(db, {})
    if look not in kinds:
        kinds[look] = Committer(db, look)
    return kinds[look]
