"""startRun of 10,000 and 100,000 slots through GraphQL, beside a same-run COPY of the same
number of job rows into procrastinate_jobs (triggers included): the limit. Target: within 1.2x
(issue 14)."""

from __future__ import annotations

import asyncio
import json

import httpx
import psycopg
import sqlalchemy as sa

from app.db import libpq_url
from bench._support import Timer, fresh_database, gql, report, served

START = "mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"
MODELS = [f"bench-model-{i}" for i in range(10)]


async def setup(client: httpx.AsyncClient, key: str) -> str:
    ten = [{"score": 1 + i % 5, "label": f"l{i}"} for i in range(10)]
    content = {
        "schema_version": 2,
        "template": "[a] [b] [c]",
        "dimensions": [{"name": n, "levels": ten} for n in ("a", "b", "c")],
    }
    data = await gql(
        client,
        key,
        "mutation($i: CreateDefinitionInput!) { createDefinition(input: $i) { id scenarioCount } }",
        {"i": {"name": "bench", "content": content}},
    )
    for model in MODELS:
        await gql(
            client,
            key,
            "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }",
            {
                "i": {
                    "providerId": "simulated",
                    "modelId": model,
                    "displayName": model,
                    "costInputPerMillion": 0,
                    "costOutputPerMillion": 0,
                }
            },
        )
    return str(data["createDefinition"]["id"])


def copy_jobs(url: str, scenario_ids: list[str], samples: int) -> float:
    """COPY the same rows startRun queues, in one transaction, then roll back."""
    with psycopg.connect(libpq_url(url)) as conn, Timer() as timer:
        with conn.cursor().copy(
            "COPY procrastinate_jobs (queue_name, task_name, priority, args) FROM STDIN"
        ) as copy:
            for scenario in scenario_ids:
                for model in MODELS:
                    for sample in range(samples):
                        args = {
                            "runId": "copy",
                            "scenarioId": scenario,
                            "modelId": model,
                            "sampleIndex": sample,
                            "config": {"temperature": None, "maxTurns": 1},
                        }
                        copy.write_row(("probe_simulated", "probe_scenario", 0, json.dumps(args)))
        conn.commit()
    return timer.seconds


async def run() -> None:
    with fresh_database() as url:
        async with served(url) as (app, client, key):
            definition_id = await setup(client, key)
            db = app.state.runtime.db
            async with db.session() as session:
                rows = await session.exec(
                    sa.text("SELECT id FROM scenarios WHERE definition_id = :d"),
                    params={"d": definition_id},
                )
                scenario_ids = list(rows.scalars())
            for samples in (1, 10):
                slots = len(MODELS) * len(scenario_ids) * samples
                variables = {
                    "input": {
                        "definitionId": definition_id,
                        "models": MODELS,
                        "samplesPerScenario": samples,
                    }
                }
                with Timer() as ours:
                    data = await gql(client, key, START, variables)
                assert data["startRun"]["jobCount"] == slots
                limit = await asyncio.to_thread(copy_jobs, url, scenario_ids, samples)
                report(
                    f"startRun {slots} slots",
                    ours.seconds,
                    limit,
                    "s",
                    "<= 1.2x",
                    f"{slots / ours.seconds:,.0f} jobs/s vs COPY {slots / limit:,.0f} jobs/s",
                )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
