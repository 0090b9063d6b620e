"""The seed's run operations, verbatim, against the server."""

from __future__ import annotations

import httpx

from app.seed import DEMO_DEFINITION_ID
from tests.factories import gql

GET_RUN = """
# Get a single run
query GetRun($id: ID!) {
  run(id: $id) {
    id
    status
    definition {
      id
      name
    }
    config
    progress {
      total
      completed
      failed
    }
    transcripts {
      id
      modelId
      decisionCode
      decisionText
    }
    createdAt
    startedAt
    completedAt
  }
}
"""

LIST_RUNS = """
# List runs with filtering
query ListRuns(
  $definitionId: String
  $status: String
  $limit: Int
  $offset: Int
) {
  runs(
    definitionId: $definitionId
    status: $status
    limit: $limit
    offset: $offset
  ) {
    id
    status
    definition { id name }
    progress { total completed failed }
    createdAt
  }
}
"""

START_RUN = """
# Start a new run
mutation StartRun($input: StartRunInput!) {
  startRun(input: $input) {
    run {
      id
      status
      progress { total }
    }
    jobCount
  }
}
"""

PAUSE_RUN = """
# Pause a running run
mutation PauseRun($runId: ID!) {
  pauseRun(runId: $runId) {
    id
    status
  }
}
"""

RESUME_RUN = """
# Resume a paused run
mutation ResumeRun($runId: ID!) {
  resumeRun(runId: $runId) {
    id
    status
  }
}
"""

CANCEL_RUN = """
# Cancel a run
mutation CancelRun($runId: ID!) {
  cancelRun(runId: $runId) {
    id
    status
  }
}
"""

DELETE_RUN = """
# Soft delete a run
mutation DeleteRun($runId: ID!) {
  deleteRun(runId: $runId)
}
"""


async def test_the_seed_lifecycle_verbatim(app_client: httpx.AsyncClient, admin_key: str) -> None:
    started = await gql(
        app_client,
        START_RUN,
        {
            "input": {
                "definitionId": DEMO_DEFINITION_ID,
                "models": ["sim-steady", "sim-instant"],
                "samplePercentage": 50,
                "sampleSeed": 7,
                "priority": "HIGH",
            }
        },
        key=admin_key,
    )
    assert "errors" not in started, started
    payload = started["data"]["startRun"]
    run_id = payload["run"]["id"]
    # 6 demo scenarios, 50% → 3, × 2 models
    assert payload == {
        "run": {"id": run_id, "status": "PENDING", "progress": {"total": 6}},
        "jobCount": 6,
    }

    got = await gql(app_client, GET_RUN, {"id": run_id}, key=admin_key)
    run = got["data"]["run"]
    assert run["status"] == "PENDING"
    assert run["definition"] == {"id": DEMO_DEFINITION_ID, "name": "Demo: a colleague's mistake"}
    assert run["progress"] == {"total": 6, "completed": 0, "failed": 0}
    assert run["transcripts"] == [] and run["startedAt"] is None
    assert run["config"]["sampleSeed"] == 7 and run["config"]["priority"] == "HIGH"

    listed = await gql(
        app_client,
        LIST_RUNS,
        {"definitionId": DEMO_DEFINITION_ID, "status": "PENDING", "limit": 10, "offset": 0},
        key=admin_key,
    )
    assert [r["id"] for r in listed["data"]["runs"]] == [run_id]

    paused = await gql(app_client, PAUSE_RUN, {"runId": run_id}, key=admin_key)
    assert paused["data"]["pauseRun"] == {"id": run_id, "status": "PAUSED"}
    resumed = await gql(app_client, RESUME_RUN, {"runId": run_id}, key=admin_key)
    assert resumed["data"]["resumeRun"] == {
        "id": run_id,
        "status": "PENDING",
    }  # no probe had started
    cancelled = await gql(app_client, CANCEL_RUN, {"runId": run_id}, key=admin_key)
    assert cancelled["data"]["cancelRun"] == {"id": run_id, "status": "CANCELLED"}
    deleted = await gql(app_client, DELETE_RUN, {"runId": run_id}, key=admin_key)
    assert deleted["data"] == {"deleteRun": True}
    gone = await gql(app_client, GET_RUN, {"id": run_id}, key=admin_key)
    assert gone["data"] == {"run": None}
    listed = await gql(app_client, LIST_RUNS, {}, key=admin_key)
    assert listed["data"]["runs"] == []
