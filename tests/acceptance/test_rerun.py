"""rerunRun through GraphQL: the defaults, the overrides, a FAILED-scope re-run executed by
real workers, the refusals; and provenance, fixed at start."""

from __future__ import annotations

from typing import Any

import httpx

from app.db import Database
from app.seed import DEMO_DEFINITION_ID
from tests.factories import error_codes, gql
from tests.workers import add_model, execute, scalar, wait_for_status, workers

FIELDS = """id name status parentRunId config selectedScenarios samplesPerScenario
            provenance progress { total completed failed }"""
RUN = f"run {{ {FIELDS} }}"
START = f"""mutation($input: StartRunInput!) {{ startRun(input: $input) {{ jobCount {RUN} }} }}"""
RERUN = f"""mutation($id: ID!, $input: RerunInput) {{
  rerunRun(runId: $id, input: $input) {{ jobCount {RUN} }} }}"""
READ = f"""query($id: ID!) {{ run(id: $id) {{ {FIELDS} updatedAt
  parentRun {{ id }} reruns {{ id }} }} }}"""


async def start(client: httpx.AsyncClient, key: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"definitionId": DEMO_DEFINITION_ID, "models": ["sim-steady"]}
    body = await gql(client, START, {"input": {**values, **fields}}, key=key)
    assert "errors" not in body, body
    started: dict[str, Any] = body["data"]["startRun"]
    return started


async def rerun(client: httpx.AsyncClient, key: str, run_id: str, **fields: Any) -> dict[str, Any]:
    return await gql(client, RERUN, {"id": run_id, "input": fields or None}, key=key)


async def read(client: httpx.AsyncClient, key: str, run_id: str) -> dict[str, Any]:
    body = await gql(client, READ, {"id": run_id}, key=key)
    assert "errors" not in body, body
    run: dict[str, Any] = body["data"]["run"]
    return run


SAME = (
    "models",
    "samplePercentage",
    "sampleSeed",
    "samplesPerScenario",
    "temperature",
    "priority",
    "maxBudgetUsd",
    "definitionSnapshot",
    "scenarioIds",
    "maxTurns",
)


async def test_a_rerun_repeats_the_source_and_never_changes_it(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    source = await start(
        app_client,
        admin_key,
        models=["sim-steady", "sim-instant"],
        samplePercentage=50,
        samplesPerScenario=2,
        temperature=0.3,
        priority="HIGH",
        name="first",
        maxBudgetUsd=5.0,
    )
    before = await read(app_client, admin_key, source["run"]["id"])
    # The definition changes afterwards: the re-run keeps the source's snapshot.
    await execute(
        db,
        'UPDATE definitions SET content = content || \'{"preamble": "x"}\' WHERE id = :d',
        d=DEMO_DEFINITION_ID,
    )
    body = await rerun(app_client, admin_key, source["run"]["id"])
    assert "errors" not in body, body
    again = body["data"]["rerunRun"]
    assert again["jobCount"] == source["jobCount"] == 3 * 2 * 2
    new = again["run"]
    for key in SAME:
        assert new["config"][key] == before["config"][key], key
    assert new["selectedScenarios"] == before["selectedScenarios"]
    assert (new["name"], new["status"], new["parentRunId"]) == ("first", "PENDING", before["id"])
    assert new["provenance"]["sourceRunId"] == before["id"]
    after = await read(app_client, admin_key, before["id"])
    assert after["reruns"] == [{"id": new["id"]}] and after["parentRun"] is None
    assert {k: v for k, v in after.items() if k != "reruns"} == {
        k: v for k, v in before.items() if k != "reruns"
    }
    child = await read(app_client, admin_key, new["id"])
    assert child["parentRun"] == {"id": before["id"]}


async def test_overrides_replace_what_they_name(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    source = await start(app_client, admin_key, samplesPerScenario=2, temperature=0.3)
    body = await rerun(
        app_client,
        admin_key,
        source["run"]["id"],
        models=["sim-instant"],
        samplesPerScenario=1,
        temperature=1.0,
        priority="LOW",
        name="  second ",
        samplePercentage=50,
        sampleSeed=7,
    )
    assert "errors" not in body, body
    new = body["data"]["rerunRun"]
    config = new["run"]["config"]
    assert new["jobCount"] == 3  # 50% of the demo's 6 scenarios, one model, one sample
    assert (config["models"], config["temperature"], config["priority"]) == (
        ["sim-instant"],
        1.0,
        "LOW",
    )
    assert (config["samplePercentage"], config["sampleSeed"]) == (50, 7)
    assert new["run"]["name"] == "second"


async def test_refusals_are_start_runs_with_its_codes_and_messages(
    app_client: httpx.AsyncClient, admin_key: str, viewer_key: str
) -> None:
    run_id = (await start(app_client, admin_key))["run"]["id"]
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("nope", {}, "NOT_FOUND", "Run not found: nope"),
        (
            run_id,
            {"scope": "SOME"},
            "VALIDATION_ERROR",
            "Invalid scope: SOME. Must be one of: ALL, FAILED",
        ),
        (run_id, {"temperature": 3}, "VALIDATION_ERROR", "temperature must be between 0 and 2"),
        (run_id, {"models": []}, "VALIDATION_ERROR", "At least one model must be specified"),
        (
            run_id,
            {"models": ["gpt-9"]},
            "VALIDATION_ERROR",
            "The following models are not active or valid: gpt-9. "
            "Please refresh your page to get the latest model list.",
        ),
        (
            run_id,
            {"samplePercentage": 0},
            "VALIDATION_ERROR",
            "samplePercentage must be between 1 and 100",
        ),
        (
            run_id,
            {"scope": "FAILED"},
            "VALIDATION_ERROR",
            f"Run {run_id} has no failed slots to re-run",
        ),
        (
            run_id,
            {"scope": "FAILED", "samplesPerScenario": 2},
            "VALIDATION_ERROR",
            "scope FAILED re-runs the source run's failed slots: samplePercentage, sampleSeed "
            "and samplesPerScenario cannot be overridden",
        ),
    ]
    for target, fields, code, message in cases:
        body = await rerun(app_client, admin_key, target, **fields)
        assert error_codes(body) == [code], (fields, body)
        assert body["errors"][0]["message"] == message
    denied = await rerun(app_client, viewer_key, run_id)
    assert error_codes(denied) == ["FORBIDDEN"]
    count = await gql(app_client, "{ runCount }", key=admin_key)
    assert count["data"]["runCount"] == 1  # no refusal wrote a run


JOBS = """SELECT count(*) FROM procrastinate_jobs WHERE args->>'runId' = :r AND status = 'todo'"""


async def test_a_failed_scope_rerun_runs_exactly_the_failed_slots_and_completes(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-broken", {"failAlways": True})
    source = await start(app_client, admin_key, models=["sim-steady", "sim-broken"])
    source_id = source["run"]["id"]
    with workers(database_url):
        assert await wait_for_status(db, source_id, {"COMPLETED", "FAILED"}) == "COMPLETED"
    await execute(db, "UPDATE llm_models SET api_config = '{}' WHERE model_id = 'sim-broken'")
    body = await rerun(app_client, admin_key, source_id, scope="FAILED", name="retry")
    assert "errors" not in body, body
    new = body["data"]["rerunRun"]
    new_id = new["run"]["id"]
    failed = await scalar(
        db,
        """SELECT jsonb_agg(jsonb_build_array(scenario_id, model_id, sample_index)
                            ORDER BY scenario_id, model_id, sample_index)
           FROM probe_results WHERE run_id = :r AND status = 'FAILED'""",
        r=source_id,
    )
    queued = await scalar(
        db,
        """SELECT jsonb_agg(jsonb_build_array(args->>'scenarioId', args->>'modelId',
                                              (args->>'sampleIndex')::int)
                            ORDER BY args->>'scenarioId', args->>'modelId', args->>'sampleIndex')
           FROM procrastinate_jobs WHERE args->>'runId' = :r""",
        r=new_id,
    )
    assert len(failed) == 6 and queued == failed  # every demo scenario, on sim-broken only
    assert new["jobCount"] == 6 and new["run"]["progress"]["total"] == 6
    assert new["run"]["config"]["models"] == ["sim-broken"]
    # A pause and a resume queue the open failed slots again, and nothing else.
    for verb in ("pauseRun", "resumeRun"):
        paused = await gql(
            app_client,
            f"mutation($id: ID!) {{ {verb}(runId: $id) {{ id }} }}",
            {"id": new_id},
            key=admin_key,
        )
        assert "errors" not in paused, paused
    assert await scalar(db, JOBS, r=new_id) == 6
    with workers(database_url):
        assert await wait_for_status(db, new_id, {"COMPLETED", "FAILED"}) == "COMPLETED"
    done = await read(app_client, admin_key, new_id)
    assert done["progress"] == {"total": 6, "completed": 6, "failed": 0}
    source_after = await read(app_client, admin_key, source_id)
    assert source_after["progress"] == {"total": 12, "completed": 6, "failed": 6}


async def test_provenance_is_fixed_at_start_whatever_the_prices_do_later(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    await execute(
        db,
        """UPDATE llm_models SET api_config = api_config || CAST(:c AS jsonb)
           WHERE model_id = 'sim-steady'""",
        c='{"baseUrl": "https://user:secret@sim.example:8443/v1?key=k", "apiKey": "k"}',
    )
    run = (await start(app_client, admin_key, models=["sim-steady", "sim-instant"]))["run"]
    fixed = run["provenance"]
    assert fixed["startedBy"] == "test admin" and fixed["sourceRunId"] is None
    assert fixed["summarizerModel"] == "sim-instant"
    assert fixed["decisionParserVersion"]
    assert set(fixed["server"]) == {"version", "gitRevision", "host", "os", "arch", "python"}
    steady = fixed["models"]["sim-steady"]
    assert steady == {
        "provider": "simulated",
        "baseUrlHost": "sim.example:8443",
        "costInputPerMillion": 0.5,
        "costOutputPerMillion": 1.5,
        "apiConfig": {"latencyMs": 50, "failureRate": 0.0},
    }
    assert "secret" not in str(fixed) and "key=k" not in str(fixed)
    await execute(
        db,
        """UPDATE llm_models SET cost_input_per_million = 9, cost_output_per_million = 99,
           api_config = '{}'""",
    )
    again = await read(app_client, admin_key, run["id"])
    assert again["provenance"] == fixed
