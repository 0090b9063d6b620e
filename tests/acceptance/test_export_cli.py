"""`valuerank export`, as an operator runs it: the same rows as the HTTP export, to a file or
standard output, and a clear line for a run that does not exist."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

from app.db import Database
from tests.acceptance.test_cli_keys import valuerank
from tests.exports import fill_transcripts
from tests.factories import make_definition, make_run


async def test_export_from_the_terminal_matches_the_http_export(
    database_url: str,
    db: Database,
    app_client: httpx.AsyncClient,
    viewer_key: str,
    tmp_path: Path,
) -> None:
    run = await make_run(db, await make_definition(db), status="COMPLETED", name="cli")
    async with db.transaction() as session:
        await fill_transcripts(session, run.id, 500)
    headers = {"Authorization": f"Bearer {viewer_key}"}

    target = tmp_path / "t.csv"
    done = valuerank(database_url, "export", "transcripts", run.id, "-o", str(target))
    assert done.returncode == 0, done.stderr
    served = await app_client.get(f"/export/runs/{run.id}/transcripts.csv", headers=headers)
    assert target.read_bytes() == served.content
    assert len(list(csv.DictReader(io.StringIO(target.read_text())))) == 500

    lines = valuerank(database_url, "export", "transcripts", run.id, "--format", "jsonl")
    assert [json.loads(line)["transcript_id"] for line in lines.stdout.splitlines()] == [
        json.loads(line)["transcript_id"]
        for line in (
            await app_client.get(f"/export/runs/{run.id}/transcripts.jsonl", headers=headers)
        ).text.splitlines()
    ]

    history = valuerank(database_url, "export", "runs", "--filter", "status=COMPLETED")
    assert [r["name"] for r in json.loads(history.stdout)] == ["cli"]
    assert json.loads(history.stdout)[0]["transcript_count"] == 500

    manifest = valuerank(database_url, "export", "manifest", run.id)
    assert json.loads(manifest.stdout)["totals"]["transcript_count"] == 500


def test_unknown_run_and_bad_filter_are_one_line_each(database_url: str) -> None:
    missing = valuerank(database_url, "export", "transcripts", "nope")
    assert (missing.returncode, missing.stderr) == (1, "export: Run not found: nope\n")
    bad = valuerank(database_url, "export", "runs", "--filter", "status=DONE")
    assert bad.returncode == 1
    assert bad.stderr.startswith("export: Invalid status: DONE. Must be one of: PENDING")
