"""`valuerank api-key create/list/revoke` and `--version`, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed

from app.db import Database
from tests.factories import gql
from tests.live import Socket
from tests.processes import eventually_true
from tests.serve import Server, served


def valuerank(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version_prints_the_package_version() -> None:
    done = valuerank("postgresql://unused", "--version")
    assert done.returncode == 0 and done.stdout.startswith("valuerank 0.")


async def test_a_revoked_key_stops_working_at_once(
    database_url: str, db: Database, app_client: httpx.AsyncClient
) -> None:
    created = valuerank(database_url, "api-key", "create", "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert (await gql(app_client, "{ definitionCount }", key=key))["data"]

    listing = valuerank(database_url, "api-key", "list")
    assert listing.returncode == 0
    (line,) = [row for row in listing.stdout.splitlines() if " ops " in row]
    key_id, hint, _, role, *_ = line.split()
    assert role == "ADMIN" and hint == key[:10] + "..." and key not in listing.stdout

    revoked = valuerank(database_url, "api-key", "revoke", hint)  # as `list` shows it
    assert revoked.returncode == 0 and key_id in revoked.stdout
    response = await app_client.post(
        "/graphql",
        json={"query": "{ definitionCount }"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 401
    (line,) = [
        row
        for row in valuerank(database_url, "api-key", "list").stdout.splitlines()
        if key_id in row
    ]
    assert not line.rstrip().endswith("-")  # the REVOKED column holds a time

    missing = valuerank(database_url, "api-key", "revoke", "vrk_nothing")
    assert missing.returncode == 1 and "not found" in missing.stderr


async def test_revoking_a_key_closes_its_open_subscription(
    database_url: str, tmp_path: Path
) -> None:
    """Revoked from another process (the CLI), over NOTIFY: the socket closes with 4403."""
    with served(database_url, tmp_path) as server:
        created = valuerank(database_url, "api-key", "create", "--role", "viewer", "--name", "tv")
        key = created.stdout.strip()
        socket = await Socket.open(server.ws_url, key)
        await socket.subscribe("subscription { runsChanged { runId } }", {})
        await eventually_true(
            lambda: _gauge_async(server, "runsChanged", above=0), "the subscription is counted"
        )
        before = _gauge(server, "runsChanged")
        revoked = valuerank(database_url, "api-key", "revoke", key[:10])
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(ConnectionClosed) as closed:
            await socket.next("runsChanged", within=60)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "API key revoked")
        await eventually_true(
            lambda: _gauge_async(server, "runsChanged", below=before), "the gauge goes down"
        )


def _gauge(server: Server, field: str) -> float:
    text = httpx.get(server.url.removesuffix("/graphql") + "/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "valuerank_subscriptions_active" and sample.labels == {
                "field": field
            }:
                return sample.value
    return 0.0


async def _gauge_async(
    server: Server, field: str, *, below: float | None = None, above: float | None = None
) -> bool:
    value = _gauge(server, field)
    return (below is None or value < below) and (above is None or value > above)
