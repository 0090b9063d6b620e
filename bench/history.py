"""`runStats` over 1,000 runs and 100,000 transcripts: SQL statements per request (the same
as over 10 runs: one per figure group, never one per run) and the time, printed."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import sqlalchemy as sa

from bench._support import fresh_database, gql, served

STATS = """{ runStats { totalRuns completed failed successRate avgDurationSeconds totalTokens
  totalCost transcriptCount perModel { modelId runCount transcriptCount failedCount avgTokens
  avgDurationMs totalCost decisionDistribution { code count } } } }"""
ROUNDS = 5
PER_RUN = 100

FILL = """
INSERT INTO runs (id, definition_id, status, config, total_slots, created_at, started_at,
                  completed_at)
SELECT 'run-' || g, :d, CASE WHEN g % 10 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
       jsonb_build_object('models', jsonb_build_array('sim-steady', 'sim-instant')),
       CAST(:per_run AS int),
       now() - make_interval(secs => g), now() - make_interval(secs => g),
       now() - make_interval(secs => g) + make_interval(secs => g % 60)
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g;
INSERT INTO transcripts (id, run_id, scenario_id, model_id, sample_index, content, turn_count,
                         token_count, input_tokens, output_tokens, duration_ms, estimated_cost,
                         decision_code, summary_status)
SELECT 't-' || r || '-' || g, 'run-' || r, s.ids[1 + g % array_length(s.ids, 1)],
       CASE WHEN g % 2 = 0 THEN 'sim-steady' ELSE 'sim-instant' END, g, '{"messages": []}', 1,
       30, 10, 20, 5 + g % 7, 0.0001, (1 + g % 5)::text, 'SUMMARIZED'
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) r
CROSS JOIN generate_series(1, CAST(:per_run AS int)) g
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM scenarios WHERE definition_id = :d) s;
INSERT INTO probe_results (id, run_id, scenario_id, model_id, sample_index, status)
SELECT 'p-' || r, 'run-' || r, (SELECT min(id) FROM scenarios WHERE definition_id = :d),
       'sim-steady', 1000, 'FAILED'
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) r WHERE r % 10 = 0
"""


async def fill(db: Any, first: int, last: int) -> None:
    params = {"d": "demo-definition-honesty", "first": first, "last": last, "per_run": PER_RUN}
    async with db.transaction() as session:
        connection = await session.connection()
        for statement in FILL.strip().split(";\n"):
            await connection.execute(sa.text(statement), params)
        await connection.execute(sa.text("ANALYZE"))


async def run() -> None:
    with fresh_database() as url:
        async with served(url) as (app, client, key):
            db = app.state.runtime.db
            counter = {"n": 0}

            def seen(*_: Any) -> None:
                counter["n"] += 1

            sa.event.listen(db.engine.sync_engine, "before_cursor_execute", seen)

            async def statements() -> int:
                before = counter["n"]
                await gql(client, key, STATS, {})
                return counter["n"] - before

            await fill(db, 1, 10)
            few = await statements()
            await fill(db, 11, 1000)
            many = await statements()
            times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                data = await gql(client, key, STATS, {})
                times.append(time.perf_counter() - start)
            found = data["runStats"]
            assert found["totalRuns"] == 1000 and found["transcriptCount"] == 1000 * PER_RUN
            print(
                f"runStats, 1,000 runs / {1000 * PER_RUN:,} transcripts: "
                f"{statistics.median(times) * 1000:.0f} ms (median of {ROUNDS}); "
                f"{many} SQL statements/request ({few} over 10 runs; target: constant)",
                flush=True,
            )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
