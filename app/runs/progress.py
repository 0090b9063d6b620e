"""Progress is derived from probe-result rows, never kept as counters that can drift."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.runs.models import TERMINAL_STATUSES


@dataclass(slots=True)
class ModelCounts:
    completed: int = 0
    failed: int = 0


@dataclass(slots=True)
class Progress:
    total: int
    by_model: dict[str, ModelCounts] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return sum(c.completed for c in self.by_model.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.by_model.values())

    @property
    def percent_complete(self) -> float:
        return percent_complete(self.total, self.completed + self.failed)


def percent_complete(total: int, done: int) -> float:
    """`min(100, round(done / total × 100, 1))`, and 100 when there is nothing to do."""
    if total <= 0:
        return 100.0
    return min(100.0, round(done / total * 100, 1))


def shows_summaries(transcripts: int, status: str) -> bool:
    """Whether a run has summarization progress to show: transcripts, or a summarizing stage."""
    return transcripts > 0 or status in ("SUMMARIZING", "COMPLETED")


def seconds_remaining(
    status: str, total: int, finished: int, elapsed_seconds: float | None
) -> int | None:
    """The one ETA rule (executionMetrics and runProgress both use it): the remaining slots at
    the rate slots have finished since the run started. 0 once the run has ended; None while
    it is not RUNNING (a PAUSED run is not moving, a PENDING one has not started, summaries
    are not probes) or before its first slot has finished."""
    if status in TERMINAL_STATUSES:
        return 0
    if status != "RUNNING" or elapsed_seconds is None or finished <= 0:
        return None
    remaining = max(0, total - finished)
    return math.ceil(remaining * max(elapsed_seconds, 0.0) / finished)
