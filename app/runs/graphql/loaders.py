"""The Run type's page sizes and the per-request loaders its fields and queries share."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader

from app.definitions import service as definitions
from app.definitions.models import Definition as DefinitionRow
from app.graphql.context import Info
from app.paging import PageSize
from app.runs import service
from app.runs.progress import Progress

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
