"""The runs API: validation, jobs, the transition matrix, atomicity, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from app.db import Database, libpq_url
from app.runs.lifecycle import control
from app.runs.models import RUN_STATUSES
from app.seed import DEMO_DEFINITION_ID
from tests.factories import error_codes, gql, make_definition, make_run

START = """mutation($input: StartRunInput!) { startRun(input: $input) {
  run { id status runCategory samplesPerScenario selectedScenarios config progress { total } }
  jobCount pairedRunIds } }"""


async def start(client: httpx.AsyncClient, key: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"definitionId": DEMO_DEFINITION_ID, "models": ["sim-steady"]}
    values.update(fields)
    return await gql(client, START, {"input": values}, key=key)


async def table_counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        row = (
            await session.exec(
                sa.text(
                    "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM run_scenario_selections),"
                    " (SELECT count(*) FROM procrastinate_jobs)"
                )
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def jobs_of(db: Database, run_id: str) -> list[tuple[str, str, int, str, dict[str, Any]]]:
    async with db.session() as session:
        rows = await session.exec(
            sa.text(
                "SELECT queue_name, task_name, priority, status::text, args FROM procrastinate_jobs"
                " WHERE args->>'runId' = :id ORDER BY id"
            ),
            params={"id": run_id},
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


@pytest.fixture
def no_provider_credentials(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for provider in ("OPENAI", "ANTHROPIC"):
        for suffix in ("API_KEY", "BASE_URL"):
            monkeypatch.delenv(f"{provider}_{suffix}", raising=False)
    return monkeypatch


async def test_start_run_queues_one_job_per_slot(
    app_client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    no_provider_credentials: pytest.MonkeyPatch,
) -> None:
    no_provider_credentials.setenv("OPENAI_API_KEY", "sk-test")
    body = await start(
        app_client,
        admin_key,
        models=["sim-steady", "gpt-4o-mini", "sim-steady"],
        samplesPerScenario=2,
        temperature=0.7,
        runCategory="PILOT",
        name="first",
    )
    assert "errors" not in body, body
    payload = body["data"]["startRun"]
    run = payload["run"]
    assert payload["jobCount"] == 2 * 6 * 2 and payload["pairedRunIds"] is None
    assert run["progress"] == {"total": 24}
    assert (run["status"], run["runCategory"], run["samplesPerScenario"]) == ("PENDING", "PILOT", 2)
    assert len(run["selectedScenarios"]) == 6
    config = run["config"]
    assert config["models"] == ["sim-steady", "gpt-4o-mini"]
    assert config["temperature"] == 0.7 and config["samplesPerScenario"] == 2
    assert config["definitionSnapshot"]["version"] == 1
    assert config["definitionSnapshot"]["content"]["dimensions"][0]["name"] == "stakes"
    jobs = await jobs_of(db, run["id"])
    assert len(jobs) == 24
    assert {(q, t, p, s) for q, t, p, s, _ in jobs} == {
        ("probe_simulated", "probe_scenario", 0, "todo"),
        ("probe_openai", "probe_scenario", 0, "todo"),
    }
    slots = {(a["scenarioId"], a["modelId"], a["sampleIndex"]) for *_, a in jobs}
    assert len(slots) == 24
    assert jobs[0][4]["config"] == {"temperature": 0.7, "maxTurns": 2}
    assert set(jobs[0][4]) == {"runId", "scenarioId", "modelId", "sampleIndex", "config"}


async def test_explicit_scenario_ids_and_sampling_are_recorded(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    scenarios = await gql(
        app_client, f'{{ scenarios(definitionId: "{DEMO_DEFINITION_ID}") {{ id }} }}', key=admin_key
    )
    ids = [s["id"] for s in scenarios["data"]["scenarios"]]
    body = await start(app_client, admin_key, scenarioIds=[ids[3], ids[1], ids[3]])
    run = body["data"]["startRun"]["run"]
    assert run["selectedScenarios"] == sorted([ids[1], ids[3]])
    assert body["data"]["startRun"]["jobCount"] == 2

    first = await start(app_client, admin_key, samplePercentage=34)
    second = await start(app_client, admin_key, samplePercentage=34)
    picked = first["data"]["startRun"]["run"]
    assert len(picked["selectedScenarios"]) == 2  # floor(6 * 34 / 100)
    # Default seed: a stable hash of the definition id → the same picks every time.
    assert picked["selectedScenarios"] == second["data"]["startRun"]["run"]["selectedScenarios"]
    assert (
        picked["config"]["sampleSeed"] == second["data"]["startRun"]["run"]["config"]["sampleSeed"]
    )


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"models": []}, "VALIDATION_ERROR", "At least one model must be specified"),
        ({"samplePercentage": 0}, "VALIDATION_ERROR", "samplePercentage must be between 1 and 100"),
        (
            {"samplePercentage": 101},
            "VALIDATION_ERROR",
            "samplePercentage must be between 1 and 100",
        ),
        (
            {"samplesPerScenario": 0},
            "VALIDATION_ERROR",
            "samplesPerScenario must be between 1 and 100",
        ),
        (
            {"samplesPerScenario": 101},
            "VALIDATION_ERROR",
            "samplesPerScenario must be between 1 and 100",
        ),
        ({"temperature": 2.5}, "VALIDATION_ERROR", "temperature must be between 0 and 2"),
        ({"temperature": -0.1}, "VALIDATION_ERROR", "temperature must be between 0 and 2"),
        (
            {"priority": "URGENT"},
            "VALIDATION_ERROR",
            "Invalid priority: URGENT. Must be one of: LOW, NORMAL, HIGH",
        ),
        (
            {"runCategory": "BETA"},
            "VALIDATION_ERROR",
            "Invalid runCategory. Expected PILOT, PRODUCTION, REPLICATION, VALIDATION, or UNKNOWN_LEGACY.",
        ),
        ({"samplePercentage": 50, "sampleSeed": 0}, "VALIDATION_ERROR", "sampleSeed must not be 0"),
        (
            {"models": ["sim-steady", "gpt-9", "nope"]},
            "VALIDATION_ERROR",
            "The following models are not active or valid: gpt-9, nope. Please refresh your page to get the latest model list.",
        ),
        ({"experimentId": "exp-missing"}, "NOT_FOUND", "Experiment not found: exp-missing"),
        ({"definitionId": "def-missing"}, "NOT_FOUND", "Definition not found: def-missing"),
        (
            {"scenarioIds": ["not-mine"]},
            "VALIDATION_ERROR",
            f"Invalid scenarioIds for definition {DEMO_DEFINITION_ID}: not-mine",
        ),
        ({"scenarioIds": []}, "VALIDATION_ERROR", "scenarioIds must not be empty when given"),
        ({"maxBudgetUsd": -1}, "VALIDATION_ERROR", "maxBudgetUsd must be a positive number"),
        ({"name": "x" * 1_000_000}, "VALIDATION_ERROR", "Name must be 255 characters or less"),
        ({"name": "x" * 256}, "VALIDATION_ERROR", "Name must be 255 characters or less"),
        (
            {"models": ["m" * 100_000]},
            "VALIDATION_ERROR",
            "Model ids must be 255 characters or less",
        ),
    ],
)
async def test_start_run_refusals_write_nothing(
    app_client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    fields: dict[str, Any],
    code: str,
    message: str,
) -> None:
    before = await table_counts(db)
    body = await start(app_client, admin_key, **fields)
    assert error_codes(body) == [code]
    assert body["errors"][0]["message"] == message
    assert await table_counts(db) == before


async def test_deprecated_models_and_disabled_providers_are_refused(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    await gql(
        app_client,
        'mutation { updateLlmProvider(id: "openai", input: {isEnabled: false}) { id } }',
        key=admin_key,
    )
    body = await start(app_client, admin_key, models=["gpt-4o-mini"])
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert (
        body["errors"][0]["message"]
        == "The following models' providers are disabled: gpt-4o-mini (openai)"
    )
    async with db.transaction() as session:
        await session.exec(
            sa.text("UPDATE llm_models SET status = 'DEPRECATED' WHERE model_id = 'sim-flaky'")
        )
    body = await start(app_client, admin_key, models=["sim-flaky"])
    assert body["errors"][0]["message"].startswith(
        "The following models are not active or valid: sim-flaky."
    )


async def test_models_whose_provider_has_no_credentials_are_refused(
    app_client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    no_provider_credentials: pytest.MonkeyPatch,
) -> None:
    # isAvailable says false; a run would send every probe to the vendor without a key.
    before = await table_counts(db)
    body = await start(
        app_client, admin_key, models=["sim-steady", "gpt-4o-mini", "claude-haiku-4-5"]
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == (
        "The following models are not available, their provider has no credentials: "
        "gpt-4o-mini (openai: set OPENAI_API_KEY or OPENAI_BASE_URL), "
        "claude-haiku-4-5 (anthropic: set ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)"
    )
    assert await table_counts(db) == before
    no_provider_credentials.setenv("OPENAI_API_KEY", "sk-test")
    no_provider_credentials.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/v1")
    started = await start(
        app_client, admin_key, models=["sim-steady", "gpt-4o-mini", "claude-haiku-4-5"]
    )
    assert "errors" not in started, started


async def test_definitions_without_live_scenarios_or_deleted_are_refused(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    async with db.transaction() as session:
        await session.exec(
            sa.text("UPDATE scenarios SET deleted_at = now() WHERE definition_id = :id"),
            params={"id": definition.id},
        )
    body = await start(app_client, admin_key, definitionId=definition.id)
    assert body["errors"][0]["message"] == f"Definition {definition.id} has no scenarios"
    await gql(
        app_client,
        "mutation($id: String!) { deleteDefinition(id: $id) { count } }",
        {"id": DEMO_DEFINITION_ID},
        key=admin_key,
    )
    body = await start(app_client, admin_key)
    assert error_codes(body) == ["NOT_FOUND"]


async def test_a_failure_half_way_leaves_nothing_behind(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    # A real database failure in the middle of the job insert: the 5th job row raises.
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(
            """
            CREATE SEQUENCE injected_failure_seq;
            CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF nextval('injected_failure_seq') = 5 THEN RAISE EXCEPTION 'disk on fire'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER injected_failure BEFORE INSERT ON procrastinate_jobs
              FOR EACH ROW EXECUTE FUNCTION injected_failure();
            """
        )
    before = await table_counts(db)
    body = await start(app_client, admin_key, models=["sim-steady", "sim-instant"])
    assert body["errors"][0]["message"] == "Unexpected error."
    assert await table_counts(db) == before == (0, 0, 0)
    body = await start(app_client, admin_key, models=["sim-steady", "sim-instant"])
    assert body["data"]["startRun"]["jobCount"] == 12  # sequence past 5: the next start succeeds
    assert await table_counts(db) == (1, 6, 12)


VERBS = {
    "pause": ("pauseRun", ("PENDING", "RUNNING"), "PAUSED"),
    "resume": ("resumeRun", ("PAUSED",), None),
    "cancel": ("cancelRun", ("PENDING", "RUNNING", "PAUSED"), "CANCELLED"),
}


@pytest.mark.parametrize("status", RUN_STATUSES)
@pytest.mark.parametrize("verb", sorted(VERBS))
async def test_transition_matrix(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, verb: str, status: str
) -> None:
    field, allowed, target = VERBS[verb]
    definition = await make_definition(db)
    run = await make_run(db, definition, status=status)
    body = await gql(
        app_client,
        f"mutation($id: ID!) {{ {field}(runId: $id) {{ status completedAt }} }}",
        {"id": run.id},
        key=admin_key,
    )
    if status in allowed:
        assert "errors" not in body, body
        expected = target or "PENDING"  # resume with no probe started → PENDING
        assert body["data"][field]["status"] == expected
        assert (body["data"][field]["completedAt"] is not None) == (expected == "CANCELLED")
    else:
        assert error_codes(body) == ["RUN_STATE_ERROR"]
        assert body["errors"][0]["message"] == f"Cannot {verb} run in {status} state"
        check = await gql(
            app_client, "query($id: ID!) { run(id: $id) { status } }", {"id": run.id}, key=admin_key
        )
        assert check["data"]["run"]["status"] == status


@pytest.mark.parametrize("status", RUN_STATUSES)
async def test_summarization_controls_matrix(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, status: str
) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, status=status)
    cancel = await gql(
        app_client,
        "mutation($id: ID!) { cancelSummarization(runId: $id) { run { status } cancelledCount } }",
        {"id": run.id},
        key=admin_key,
    )
    if status == "SUMMARIZING":
        assert cancel["data"]["cancelSummarization"] == {
            "run": {"status": "COMPLETED"},
            "cancelledCount": 0,
        }
    else:
        assert (
            cancel["errors"][0]["message"] == f"Cannot cancel summarization run in {status} state"
        )
    other = await make_run(db, definition, status=status)
    restart = await gql(
        app_client,
        "mutation($id: ID!) { restartSummarization(runId: $id) { run { status } queuedCount } }",
        {"id": other.id},
        key=admin_key,
    )
    if status in ("COMPLETED", "FAILED", "CANCELLED"):
        assert restart["data"]["restartSummarization"] == {
            "run": {"status": status},
            "queuedCount": 0,
        }
    else:
        assert error_codes(restart) == ["RUN_STATE_ERROR"]
        assert (
            restart["errors"][0]["message"] == f"Cannot restart summarization run in {status} state"
        )


async def test_unknown_run_is_not_found_for_every_verb(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    for field, selection in [
        ("pauseRun", "{ id }"),
        ("resumeRun", "{ id }"),
        ("cancelRun", "{ id }"),
        ("deleteRun", ""),
        ("cancelSummarization", "{ cancelledCount }"),
        ("restartSummarization", "{ queuedCount }"),
    ]:
        body = await gql(
            app_client, f'mutation {{ {field}(runId: "ghost") {selection} }}', key=admin_key
        )
        assert error_codes(body) == ["NOT_FOUND"], field
        assert body["errors"][0]["message"] == "Run not found: ghost"


async def test_pause_cancels_queued_jobs_and_resume_requeues_exactly_the_open_slots(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    body = await start(app_client, admin_key, models=["sim-steady", "sim-instant"])
    run_id = body["data"]["startRun"]["run"]["id"]
    await gql(
        app_client,
        "mutation($id: ID!) { pauseRun(runId: $id) { id } }",
        {"id": run_id},
        key=admin_key,
    )
    jobs = await jobs_of(db, run_id)
    assert {s for _, _, _, s, _ in jobs} == {"cancelled"}
    # Two slots finished before the pause; one job was running when it came.
    done = [a for *_, a in jobs[:2]]
    running = jobs[2][4]
    async with db.transaction() as session:
        for args in done:
            await session.exec(
                sa.text(
                    "INSERT INTO probe_results (id, run_id, scenario_id, model_id, sample_index, status)"
                    " VALUES (md5(random()::text), :r, :s, :m, :i, 'SUCCESS')"
                ),
                params={
                    "r": run_id,
                    "s": args["scenarioId"],
                    "m": args["modelId"],
                    "i": args["sampleIndex"],
                },
            )
        await session.exec(
            sa.text(
                "UPDATE procrastinate_jobs SET status = 'doing' WHERE args = CAST(:a AS jsonb)"
            ),
            params={"a": __import__("json").dumps(running)},
        )
        await session.exec(
            sa.text("UPDATE runs SET started_at = now() WHERE id = :id"), params={"id": run_id}
        )
    resumed = await gql(
        app_client,
        "mutation($id: ID!) { resumeRun(runId: $id) { status } }",
        {"id": run_id},
        key=admin_key,
    )
    assert resumed["data"]["resumeRun"]["status"] == "RUNNING"
    todo = [a for *_, s, a in await jobs_of(db, run_id) if s == "todo"]
    assert len(todo) == 12 - 2 - 1
    requeued = {(a["scenarioId"], a["modelId"], a["sampleIndex"]) for a in todo}
    excluded = {(a["scenarioId"], a["modelId"], a["sampleIndex"]) for a in [*done, running]}
    assert not requeued & excluded
    assert all(a["config"] == {"temperature": None, "maxTurns": 2} for a in todo)


async def test_cancel_cancels_queued_and_aborts_running_jobs(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    body = await start(app_client, admin_key)
    run_id = body["data"]["startRun"]["run"]["id"]
    async with db.transaction() as session:
        await session.exec(
            sa.text(
                "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = (SELECT min(id) FROM procrastinate_jobs)"
            )
        )
    await gql(
        app_client,
        "mutation($id: ID!) { cancelRun(runId: $id) { id } }",
        {"id": run_id},
        key=admin_key,
    )
    async with db.session() as session:
        rows = (
            await session.exec(
                sa.text("SELECT status::text, abort_requested FROM procrastinate_jobs ORDER BY id")
            )
        ).all()
    assert rows[0] == ("doing", True)
    assert {tuple(r) for r in rows[1:]} == {("cancelled", False)}


async def test_delete_cancels_an_active_run_and_hides_it_everywhere(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    body = await start(app_client, admin_key)
    run_id = body["data"]["startRun"]["run"]["id"]
    deleted = await gql(
        app_client, "mutation($id: ID!) { deleteRun(runId: $id) }", {"id": run_id}, key=admin_key
    )
    assert deleted["data"] == {"deleteRun": True}
    seen = await gql(
        app_client,
        """query($id: ID!) { run(id: $id) { id } deleted: run(id: $id, includeDeleted: true) { status deletedAt }
           runs { id } runCount standaloneActiveRuns { id } }""",
        {"id": run_id},
        key=admin_key,
    )
    assert seen["data"]["run"] is None
    assert seen["data"]["deleted"]["status"] == "CANCELLED" and seen["data"]["deleted"]["deletedAt"]
    assert (
        seen["data"]["runs"],
        seen["data"]["runCount"],
        seen["data"]["standaloneActiveRuns"],
    ) == ([], 0, [])
    assert {s for _, _, _, s, _ in await jobs_of(db, run_id)} == {"cancelled"}
    again = await gql(
        app_client, "mutation($id: ID!) { deleteRun(runId: $id) }", {"id": run_id}, key=admin_key
    )
    assert again["errors"][0]["message"] == f"Run not found: {run_id}"
    for verb in ("pauseRun", "cancelRun"):
        refused = await gql(
            app_client,
            f"mutation($id: ID!) {{ {verb}(runId: $id) {{ id }} }}",
            {"id": run_id},
            key=admin_key,
        )
        assert error_codes(refused) == ["NOT_FOUND"]


async def test_update_run_renames(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, name="old")
    body = await gql(
        app_client,
        'mutation($id: ID!) { updateRun(runId: $id, input: {name: "new"}) { name updatedAt } }',
        {"id": run.id},
        key=admin_key,
    )
    assert body["data"]["updateRun"]["name"] == "new"
    cleared = await gql(
        app_client,
        "mutation($id: ID!) { updateRun(runId: $id, input: {name: null}) { name } }",
        {"id": run.id},
        key=admin_key,
    )
    assert cleared["data"]["updateRun"]["name"] is None
    too_long = await gql(
        app_client,
        "mutation($id: ID!, $name: String) { updateRun(runId: $id, input: {name: $name}) { name } }",
        {"id": run.id, "name": "x" * 1_000_000},
        key=admin_key,
    )
    assert error_codes(too_long) == ["VALIDATION_ERROR"]
    assert too_long["errors"][0]["message"] == "Name must be 255 characters or less"


async def test_restart_summarization_queues_unsummarized_transcripts(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    from tests.factories import add_slot

    definition = await make_definition(db)
    run = await make_run(db, definition, status="COMPLETED")
    async with db.session() as session:
        scenario_ids = list(
            (
                await session.exec(
                    sa.text("SELECT id FROM scenarios WHERE definition_id = :d ORDER BY position"),
                    params={"d": definition.id},
                )
            ).scalars()
        )
    await add_slot(db, run, scenario_ids[0], "sim-steady", decision_code="3")
    await add_slot(db, run, scenario_ids[1], "sim-steady")
    query = "mutation($id: ID!, $f: Boolean) { restartSummarization(runId: $id, force: $f) { run { status completedAt } queuedCount } }"
    body = await gql(app_client, query, {"id": run.id, "f": False}, key=admin_key)
    assert body["data"]["restartSummarization"] == {
        "run": {"status": "SUMMARIZING", "completedAt": None},
        "queuedCount": 1,
    }
    cancelled = await gql(
        app_client,
        "mutation($id: ID!) { cancelSummarization(runId: $id) { run { status } cancelledCount } }",
        {"id": run.id},
        key=admin_key,
    )
    assert cancelled["data"]["cancelSummarization"] == {
        "run": {"status": "COMPLETED"},
        "cancelledCount": 1,
    }
    forced = await gql(app_client, query, {"id": run.id, "f": True}, key=admin_key)
    assert forced["data"]["restartSummarization"]["queuedCount"] == 2
    jobs = await jobs_of(db, run.id)
    assert [(q, t, s) for q, t, _, s, _ in jobs] == [
        ("summarize", "summarize_transcript", "cancelled"),
        ("summarize", "summarize_transcript", "todo"),
        ("summarize", "summarize_transcript", "todo"),
    ]


async def test_concurrent_pauses_leave_one_winner(db: Database) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, status="RUNNING")

    async def pause() -> str:
        async with db.transaction() as session:
            await control.pause_run(session, run.id)
        return "ok"

    results = await asyncio.gather(*(pause() for _ in range(2)), return_exceptions=True)
    assert sorted(str(r) for r in results) == ["Cannot pause run in PAUSED state", "ok"]


async def test_pause_racing_cancel_ends_consistent(db: Database) -> None:
    definition = await make_definition(db)
    for _ in range(5):
        run = await make_run(db, definition, status="RUNNING")

        async def act(verb: Any, run_id: str = run.id) -> str:
            async with db.transaction() as session:
                await verb(session, run_id)
            return "ok"

        results = await asyncio.gather(
            act(control.pause_run), act(control.cancel_run), return_exceptions=True
        )
        async with db.session() as session:
            final = (
                await session.exec(
                    sa.text("SELECT status FROM runs WHERE id = :id"), params={"id": run.id}
                )
            ).scalar_one()
        # Either order is legal: pause then cancel (both succeed) or cancel then a refused pause.
        if final == "CANCELLED" and all(r == "ok" for r in results):
            continue
        assert final == "CANCELLED"
        assert [str(r) for r in results] == ["Cannot pause run in CANCELLED state", "ok"]


async def test_a_pause_a_person_asked_for_has_no_reason(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, models=["sim-steady"], status="RUNNING")
    query = "mutation($id: ID!) { pauseRun(runId: $id) { status pauseReason } }"
    body = await gql(app_client, query, {"id": run.id}, key=admin_key)
    assert body["data"]["pauseRun"] == {"status": "PAUSED", "pauseReason": None}
