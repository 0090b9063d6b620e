"""The one ETA rule, shared by `executionMetrics` and the `runProgress` subscription."""

from __future__ import annotations

import pytest

from app.runs.progress import seconds_remaining


def test_a_running_run_finishes_its_remaining_slots_at_its_rate_so_far() -> None:
    # 10 of 40 slots in 30 s: 30 left at 3 s each.
    assert seconds_remaining("RUNNING", 40, 10, 30.0) == 90
    assert seconds_remaining("RUNNING", 3, 2, 1.0) == 1  # 0.5 s rounds up


def test_a_running_run_with_every_slot_finished_has_nothing_left() -> None:
    assert seconds_remaining("RUNNING", 4, 4, 12.0) == 0


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "CANCELLED"])
def test_an_ended_run_has_nothing_left(status: str) -> None:
    assert seconds_remaining(status, 40, 10, 30.0) == 0


@pytest.mark.parametrize("status", ["PAUSED", "PENDING", "SUMMARIZING"])
def test_a_run_that_is_not_running_has_no_eta(status: str) -> None:
    assert seconds_remaining(status, 40, 10, 30.0) is None


def test_no_eta_before_the_first_slot_finishes_or_the_run_starts() -> None:
    assert seconds_remaining("RUNNING", 40, 0, 30.0) is None
    assert seconds_remaining("RUNNING", 40, 10, None) is None
