"""`valuerank api-key create/list/revoke` and `--version`, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from app.db import Database
from tests.factories import gql


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
