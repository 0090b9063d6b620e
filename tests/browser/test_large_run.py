"""A run with 1,000 transcripts: the run page reads them in pages and shows the matrix a page
of scenarios at a time, and stays usable (the next page opens, a transcript opens)."""

from __future__ import annotations

import asyncio
import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.db import Database
from tests.browser.conftest import screenshot
from tests.browser.test_console import sign_in
from tests.factories import definition_content, make_definition, make_run
from tests.serve import Server

MODELS = ["sim-instant", "sim-steady"]


def five_levels(name: str) -> dict[str, Any]:
    return {"name": name, "levels": [{"score": n, "label": f"{name}{n}"} for n in range(1, 6)]}


# 5 × 5 × 5 = 125 scenarios, × 2 models × 4 samples = 1,000 transcripts.
SAMPLES = 4
CONTENT = definition_content(five_levels("a"), five_levels("b"), five_levels("c"))
TRANSCRIPTS = """
    INSERT INTO transcripts (id, run_id, scenario_id, model_id, sample_index, content,
                             turn_count, token_count, duration_ms, estimated_cost,
                             decision_code, summary_status)
    SELECT substr(md5(random()::text || s.id || m || g), 1, 25), :run_id, s.id, m, g,
           '{"messages": [{"role": "user", "content": "q"},
                          {"role": "assistant", "content": "Rating: 3"}]}'::jsonb,
           1, 30, 5, 0.001, ((abs(hashtext(s.id || m || g)) % 5) + 1)::text, 'SUMMARIZED'
    FROM scenarios s, unnest(CAST(:models AS text[])) m, generate_series(0, :samples - 1) g
    WHERE s.definition_id = :definition_id"""


def completed_run_with_1000_transcripts(database_url: str) -> str:
    async def create() -> str:
        db = Database(database_url)
        try:
            definition = await make_definition(db, name="Large", content=CONTENT)
            run = await make_run(
                db, definition, models=MODELS, status="COMPLETED", total_slots=1000
            )
            async with db.transaction() as session:
                await (await session.connection()).execute(
                    sa.text(TRANSCRIPTS),
                    {
                        "run_id": run.id,
                        "models": MODELS,
                        "samples": SAMPLES,
                        "definition_id": definition.id,
                    },
                )
            return str(run.id)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's loop
        return thread.submit(asyncio.run, create()).result()


def test_a_run_with_1000_transcripts_is_shown_page_by_page(
    server: Server, page: Page, database_url: str
) -> None:
    run_id = completed_run_with_1000_transcripts(database_url)
    sign_in(page, server, server.key)
    page.goto(f"{server.console}#/runs/{run_id}")
    totals = page.locator("#model-totals tbody tr")
    expect(totals.nth(0)).to_contain_text("500")  # every transcript read, 250 at a time
    expect(totals.nth(1)).to_contain_text("500")
    expect(page.locator(".matrix-wrap .pager span")).to_have_text("125 scenarios · page 1 of 5")
    expect(page.locator("#matrix tbody tr")).to_have_count(25)
    expect(page.locator("#matrix a.decision")).to_have_count(25 * 2 * SAMPLES)
    page.locator(".matrix-wrap .pager button", has_text="Next").click()
    expect(page.locator(".matrix-wrap .pager span")).to_have_text("125 scenarios · page 2 of 5")
    screenshot(page, "console-1000-transcripts")
    with page.expect_download() as downloaded:  # fetched with the key, saved as a file
        page.locator(".exports button", has_text="transcripts.csv").click()
    assert downloaded.value.suggested_filename == f"{run_id}-transcripts.csv"
    with Path(downloaded.value.path()).open(newline="") as saved:
        assert len(list(csv.DictReader(saved))) == 1000
    page.locator("#matrix a.decision").first.click()
    expect(page.locator("#chat .bubble-assistant")).to_have_text("assistantRating: 3")
