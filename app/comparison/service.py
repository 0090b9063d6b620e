"""compareRuns: settings that differ, per-model decisions side by side, totals' deltas.

Slots are matched by scenario id, model id and sample index. A definition's content edit
re-expands its scenarios under new ids, so two runs of different definition versions match
only the scenarios both ran (none after a content edit): their per-model aggregates still
compare, and `matchedSlotCount` says how many slots the decision comparison covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import NotFound
from app.runs import history, service
from app.runs.models import Run
from app.transcripts import statistics
from app.transcripts.statistics import Decisions

# Settings compared besides the run's own columns; the snapshot is compared by its version.
IGNORED_CONFIG = frozenset({"definitionSnapshot", "onlySlots"})


@dataclass(frozen=True, slots=True)
class ConfigChange:
    key: str
    base: Any
    other: Any


@dataclass(frozen=True, slots=True)
class ModelComparison:
    model_id: str
    base: Decisions
    other: Decisions

    @property
    def mean_delta(self) -> float | None:
        base, other = self.base.mean_decision, self.other.mean_decision
        return other - base if base is not None and other is not None else None


@dataclass(frozen=True, slots=True)
class Comparison:
    base: Run
    other: Run
    config_changes: list[ConfigChange]
    per_model: list[ModelComparison]
    matched_slots: int
    changed_decisions: int

    def _total(self, side: int, attribute: str) -> Any:
        return sum(getattr(getattr(m, ("base", "other")[side]), attribute) for m in self.per_model)

    @property
    def cost_delta(self) -> float:
        return float(self._total(1, "cost") - self._total(0, "cost"))

    @property
    def token_delta(self) -> int:
        return int(self._total(1, "tokens") - self._total(0, "tokens"))

    @property
    def duration_delta_seconds(self) -> float | None:
        base, other = duration(self.base), duration(self.other)
        return other - base if base is not None and other is not None else None


def duration(run: Run) -> float | None:
    if run.started_at is None or run.completed_at is None:
        return None
    return (run.completed_at - run.started_at).total_seconds()


async def compare_runs(session: AsyncSession, base_id: str, other_id: str) -> Comparison:
    """Both runs (NOT_FOUND naming the missing one), in three statements."""
    found = await service.runs_by_id(session, [base_id, other_id])
    for run_id in (base_id, other_id):
        if run_id not in found or found[run_id].deleted_at is not None:
            raise NotFound.of("Run", run_id)
    base, other = found[base_id], found[other_id]
    totals = await history.transcript_totals(session, [base.id, other.id], per_run=True)
    models = sorted(
        {m for _, m in totals}
        | set(base.config.get("models", []))
        | set(other.config.get("models", []))
    )
    per_model = [
        ModelComparison(
            m, totals.get((base.id, m), Decisions()), totals.get((other.id, m), Decisions())
        )
        for m in models
    ]
    matched, changed = await statistics.matched_slots(session, base.id, other.id)
    return Comparison(base, other, config_changes(base, other), per_model, matched, changed)


def config_changes(base: Run, other: Run) -> list[ConfigChange]:
    """The settings that differ, by name (config keys, plus definition and category)."""
    left, right = settings(base), settings(other)
    return [
        ConfigChange(key, left.get(key), right.get(key))
        for key in sorted(left.keys() | right.keys())
        if left.get(key) != right.get(key)
    ]


def settings(run: Run) -> dict[str, Any]:
    config = {k: v for k, v in run.config.items() if k not in IGNORED_CONFIG}
    return {
        **config,
        "definitionId": run.definition_id,
        "definitionVersion": run.definition_version,
        "runCategory": run.run_category,
    }
