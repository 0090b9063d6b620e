"""Reads through the HTTP endpoint: the seed's GetRun on a run with 1,000 transcripts, and
`runs(limit: 100)`, beside graphql-core's bare execution of the same already-loaded data (the
limit), with the SQL statements per request. Targets (issue 14): GetRun <= 1.2x, runs(limit: 100)
<= 1.5x, statements constant."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import graphql
import sqlalchemy as sa

from app import gc_tuning
from bench._support import fresh_database, report, served

GET_RUN = """query GetRun($id: ID!) { run(id: $id) { id status definition { id name } config
  progress { total completed failed } transcripts { id modelId decisionCode decisionText }
  createdAt startedAt completedAt } }"""
LIST_RUNS = """query ListRuns { runs(limit: 100) { id status definition { id name }
  progress { total completed failed } createdAt } }"""
ROUNDS = 40
BARE_SCHEMA = graphql.build_schema(Path("schema.graphql").read_text())

FILL = """
INSERT INTO runs (id, definition_id, status, config, total_slots, created_at)
SELECT 'run-' || g, :d, 'COMPLETED', jsonb_build_object('models', jsonb_build_array('sim-steady')),
       1000, now() - make_interval(secs => g)
FROM generate_series(1, 100) g;
INSERT INTO transcripts (id, run_id, scenario_id, model_id, sample_index, content, turn_count,
                         token_count, duration_ms, decision_code, decision_text, summary_status)
SELECT 't-' || g, 'run-1', (SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1),
       'sim-steady', g, '{"messages": []}', 1, 30, 5, '4', 'Reports it at once.', 'SUMMARIZED'
FROM generate_series(1, 1000) g;
INSERT INTO probe_results (id, run_id, scenario_id, model_id, sample_index, status, transcript_id)
SELECT 'p-' || g, 'run-1', (SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1),
       'sim-steady', g, 'SUCCESS', 't-' || g
FROM generate_series(1, 1000) g;
"""


async def measure(
    client: Any, key: str, query: str, variables: dict[str, Any]
) -> tuple[float, float, float]:
    """Medians of: our HTTP request, graphql-core's bare execution of its data, and the floor
    (an authenticated `{ __typename }`), taken in alternation so that the shared machine's
    noise falls on all three alike."""
    headers = {"Authorization": f"Bearer {key}"}

    async def post(document: str, values: dict[str, Any]) -> Any:
        response = await client.post(
            "/graphql", json={"query": document, "variables": values}, headers=headers
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    data = await post(query, variables)
    schema = BARE_SCHEMA
    document = graphql.parse(query)
    ours, bare, floor = [], [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await post(query, variables)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = graphql.execute_sync(schema, document, root_value=data, variable_values=variables)
        bare.append(time.perf_counter() - start)
        assert not result.errors, result.errors
        start = time.perf_counter()
        await post("{ __typename }", {})
        floor.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(bare), statistics.median(floor)


async def run() -> None:
    with fresh_database() as url:
        async with served(url) as (app, client, key):
            db = app.state.runtime.db
            async with db.transaction() as session:
                connection = await session.connection()
                for statement in FILL.strip().split(";\n"):
                    if statement.strip():
                        await connection.execute(
                            sa.text(statement), {"d": "demo-definition-honesty"}
                        )
            gc_tuning.tune_for_service()  # as `serve` does once it listens
            counter = {"n": 0}

            def seen(*_: Any) -> None:
                counter["n"] += 1

            sa.event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
            for name, query, variables, target in [
                ("GetRun, 1,000 transcripts", GET_RUN, {"id": "run-1"}, "<= 1.2x"),
                ("runs(limit: 100)", LIST_RUNS, {}, "<= 1.5x"),
            ]:
                before = counter["n"]
                await client.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {key}"},
                )
                statements = counter["n"] - before
                ours, bare, floor = await measure(client, key, query, variables)
                report(
                    name,
                    ours * 1000,
                    bare * 1000,
                    "ms",
                    target,
                    f"{statements} SQL statements/request; "
                    f"HTTP floor (authenticated {{ __typename }}) {floor * 1000:.1f} ms",
                )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
