"""Garbage-collector settings for the long-running processes (`serve`, once it listens, and
the workers).

Profiled under load (issue 14, py-spy --native on a worker at 256 probes in flight), CPython's
cyclic collector took two thirds of a worker's CPU: with the default thresholds it ran a
young collection every 700 net allocations and, every hundred of those, a full one over every
object the process holds (SQLAlchemy's and Strawberry's metadata, compiled-statement caches,
the jobs in flight). Two changes, as large Python services commonly make them:

- `gc.freeze()` once start-up is over: what was built at start-up (modules, schema, metadata)
  lives as long as the process, so no full collection walks it again.
- A young generation of `GEN0_THRESHOLD` allocations instead of 700: request and job objects
  are mostly freed by reference counting; the collector only has cycles to find, and finds
  them as surely, less often. Memory held by uncollected cycles stays bounded by the
  threshold (bench/soak.py samples every process's memory).

In `serve` the full collections were also the live pushes' latency tail: over 1,000
websocket subscribers each one took 0.1-0.8 s, every few changes, during which nothing was
sent (bench/live.py, p95 at 1,000 subscribers: 296 ms with the defaults on a busy machine;
back to back on a quieter one, 89 ms with `gc.freeze()` alone and 52 ms with both). The
price, measured by bench/soak.py with subscriptions ending and starting all the time: the
cycles of ended subscriptions (Strawberry's operation, its cancelled tasks and their
tracebacks, about 150 objects each) wait for a full collection, so serve's memory rises by
about 70 MB (135 to 207 MB with 500 subscribers) before it levels off.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000
GEN1_THRESHOLD = 20
GEN2_THRESHOLD = 20


def tune_for_service() -> None:
    """Call once the process has imported and built what it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
