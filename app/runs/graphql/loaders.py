"""The Run type's page sizes, the per-request loaders its fields and queries share, and the
prefetch of a list of runs' per-run fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader

from app.definitions import service as definitions
from app.definitions.graphql import Definition
from app.definitions.models import Definition as DefinitionRow
from app.graphql.context import Info
from app.graphql.selection import child_field_names
from app.paging import PageSize
from app.runs import service
from app.runs.graphql.results import RunProgress
from app.runs.progress import Progress

if TYPE_CHECKING:
    from app.runs.graphql.types import Run

RUN_PAGE = PageSize(default=20, maximum=100)
# Without a `limit` a run's transcripts come whole, as ValueRank's GetRun expects; the cost
# limit counts a full page for them and the count taken during execution bounds the rest.
TRANSCRIPT_PAGE = PageSize(default=1000, maximum=1000)
# Failed probes are few in any healthy run: the static check counts 50 for an unlimited
# `failedProbes`, and the field budget taken during execution bounds a run that has more.
PROBE_PAGE = PageSize(default=1000, maximum=1000, estimate=50)
RECENT_TASK_PAGE = PageSize(default=5, maximum=100)


async def _progress(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], Progress]:
    found = await service.progress_by_run(session, keys)
    return {(run_id, total): found[run_id] for run_id, total in keys}


def progress_loader(info: Info) -> DataLoader[tuple[str, int], Progress]:
    return info.context.loaders.by_key("progress_by_run", _progress)


def definitions_loader(info: Info) -> DataLoader[str, DefinitionRow]:
    return info.context.loaders.by_key("definitions_by_id", definitions.definitions_by_id)


async def prefetch_runs(info: Info, runs: Sequence[Run]) -> None:
    """Each run's selected `definition` and `progress`, in one statement each for the list,
    into `Run.prefetched` (app/graphql/prefetch.py)."""
    selected = child_field_names(info) if runs else frozenset()
    wants_definition = "definition" in selected
    wants_progress = bool(selected & {"progress", "runProgress"})
    if not (wants_definition or wants_progress):
        return
    ids = list(dict.fromkeys(r.row.definition_id for r in runs))
    async with info.context.reader.use() as session:
        found = await definitions.definitions_by_id(session, ids) if wants_definition else None
        progress = (
            await service.progress_by_run(session, [(r.row.id, r.row.total_slots) for r in runs])
            if wants_progress
            else None
        )
    if found is not None:
        definitions_loader(info).prime_many(found)
        shown = {i: Definition.from_row_or_none(found.get(i)) for i in ids}
        for run in runs:
            run.prefetched["definition"] = shown[run.row.definition_id]
    if progress is not None:
        for run in runs:
            value = RunProgress.from_progress(progress[run.row.id])
            run.prefetched["progress"] = run.prefetched["run_progress"] = value
