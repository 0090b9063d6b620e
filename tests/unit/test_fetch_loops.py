"""A queue's concurrency split over Procrastinate workers, each fetching on its own."""

from __future__ import annotations

import pytest

from workers.loops import FETCH_LOOP_SLOTS, fetch_loops


@pytest.mark.parametrize("concurrency", [1, 8, 16, 17, 32, 33, 128, 129])
def test_every_slot_is_in_one_loop_and_no_loop_holds_more_than_its_share(
    concurrency: int,
) -> None:
    loops = fetch_loops("probe_simulated", concurrency)
    assert sum(loop.concurrency for loop in loops) == concurrency
    assert all(1 <= loop.concurrency <= FETCH_LOOP_SLOTS for loop in loops)
    assert [loop.index for loop in loops] == list(range(len(loops)))
    assert max(loop.concurrency for loop in loops) - min(loop.concurrency for loop in loops) <= 1
    assert len(loops) == -(-concurrency // FETCH_LOOP_SLOTS)
