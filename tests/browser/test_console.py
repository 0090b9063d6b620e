"""The runs console at /: sign in, start a run on the slow demo model and watch it complete
through the subscription, read a transcript, pause and resume a run; a viewer's key cannot
press the controls."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import BrowserContext, Page, expect

from app.db import Database
from tests.browser.conftest import base_url, screenshot
from tests.browser.test_graphiql import START, post, wait_for_editor_text
from tests.factories import create_key
from tests.serve import Server

# Every value the probe progress bar has shown, recorded in the page as it changes.
RECORD_PROGRESS = """() => {
  window.seenProgress = [];
  new MutationObserver(() => {
    const bar = document.querySelector('[aria-label="probe progress"]');
    if (bar) window.seenProgress.push(Number(bar.getAttribute('aria-valuenow')));
  }).observe(document.getElementById('view'), { subtree: true, childList: true, attributes: true });
}"""
MOVED = "() => window.seenProgress.some((value) => value > 0 && value < 100)"


def sign_in(page: Page, server: Server, key: str) -> None:
    assert server.console == f"{base_url(server)}/"
    page.goto(server.console)
    page.locator("#api-key").fill(key)
    page.locator("#sign-in button[type=submit]").click()
    expect(page.locator("#runs")).to_be_visible()


def start_in_console(page: Page, model: str, samples: int) -> str:
    page.locator(f"#start-run input[value={model}]").check()
    page.locator("#start-run input[name=samplesPerScenario]").fill(str(samples))
    page.locator("#start-run button[type=submit]").click()
    page.wait_for_url(re.compile(r"#/runs/\w+$"))
    return page.url.rsplit("/", 1)[1]


def viewer_key(database_url: str) -> str:
    async def create() -> str:
        db = Database(database_url)
        try:
            return await create_key(db, "VIEWER")
        finally:
            await db.dispose()

    # Playwright's sync API runs an event loop on this thread: the key is made on another.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, create()).result()


def test_a_run_started_in_the_console_is_watched_to_its_end_and_read(
    server: Server, page: Page
) -> None:
    sign_in(page, server, server.key)
    expect(page.locator("#who")).to_have_text("admin key")
    screenshot(page, "console-runs")
    start_in_console(page, "sim-demo-slow", samples=10)
    expect(page.locator("#live-box")).to_be_visible()
    page.evaluate(RECORD_PROGRESS)
    page.wait_for_function(MOVED)  # a value between 0 and 100: the bar moved
    screenshot(page, "console-run-live")
    expect(page.locator("#run-status")).to_have_text("COMPLETED", timeout=120_000)
    expect(page.locator('[aria-label="probe progress"]')).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#eta")).to_have_text("done")
    chips = page.locator("#matrix a.decision:not(.decision-none)")
    expect(chips.first).to_be_visible()
    screenshot(page, "console-run-completed")

    chips.first.click()
    expect(page.locator("#chat .bubble-assistant").first).to_contain_text("Rating:")
    expect(page.locator("#transcript-facts")).to_contain_text("sim-demo-slow-sim")  # model version
    expect(page.locator("#decision")).not_to_contain_text("pending")
    screenshot(page, "console-transcript")


def test_an_admin_pauses_and_resumes_a_run(server: Server, page: Page) -> None:
    sign_in(page, server, server.key)
    run_id = start_in_console(page, "sim-demo-slow", samples=50)
    page.locator("#action-pause").click()
    expect(page.locator("#run-status")).to_have_text("PAUSED")
    expect(page.locator("#action-resume")).to_be_enabled()
    expect(page.locator("#action-pause")).to_be_disabled()
    screenshot(page, "console-run-paused")
    page.locator("#action-resume").click()
    expect(page.locator("#run-status")).to_have_text(re.compile("PENDING|RUNNING|SUMMARIZING"))
    page.locator("#action-cancel").click()
    expect(page.locator("#run-status")).to_have_text("CANCELLED")
    status = post(server, "query($id: ID!) { run(id: $id) { status } }", id=run_id)
    assert status == {"run": {"status": "CANCELLED"}}


def test_a_viewer_sees_the_controls_disabled(server: Server, page: Page, database_url: str) -> None:
    run_id = post(
        server,
        START,
        input={"definitionId": "demo-definition-honesty", "models": ["sim-demo-slow"]},
    )["startRun"]["run"]["id"]
    page.goto(server.console)
    page.locator("#api-key").fill("vrk_wrong")
    page.locator("#sign-in button[type=submit]").click()
    expect(page.locator("#sign-in .error")).to_have_text(
        "This API key is not valid: Invalid API key: it is unknown or revoked."
    )
    sign_in(page, server, viewer_key(database_url))
    expect(page.locator("#who")).to_have_text("viewer key (read-only)")
    expect(page.locator("#start-run button[type=submit]")).to_be_disabled()
    page.locator(f'#runs tr[data-run-id="{run_id}"] a').click()
    expect(page.locator("#live-box")).to_be_visible()
    for action in ("pause", "resume", "cancel", "rerun"):
        expect(page.locator(f"#action-{action}")).to_be_disabled()
    screenshot(page, "console-viewer")


def test_two_runs_are_compared_side_by_side(server: Server, page: Page) -> None:
    demo = {"definitionId": "demo-definition-honesty", "models": ["sim-instant"]}
    runs = [post(server, START, input=demo)["startRun"]["run"]["id"] for _ in range(2)]
    sign_in(page, server, server.key)
    for run_id in runs:  # each run's page tells when it is done
        page.goto(f"{server.console}#/runs/{run_id}")
        expect(page.locator("#run-status")).to_have_text("COMPLETED")
    page.goto(f"{server.console}#/runs")
    for run_id in runs:
        page.locator(f'#runs tr[data-run-id="{run_id}"] input[type=checkbox]').check()
    page.locator("#compare-selected").click()
    expect(page.locator("#comparison")).to_contain_text("6 matched slots")
    expect(page.locator("#compare-models tbody tr")).to_have_count(1)
    expect(page.locator("#compare-models")).to_contain_text("sim-instant")
    screenshot(page, "console-compare")


def test_graphiql_opened_from_the_console_has_its_key(
    server: Server, page: Page, context: BrowserContext
) -> None:
    sign_in(page, server, server.key)
    with context.expect_page() as opened:
        page.locator("nav a", has_text="GraphiQL").click()
    graphiql = opened.value
    expect(graphiql.locator(".graphiql-tab")).to_have_count(5)
    wait_for_editor_text(graphiql, f'"Authorization": "Bearer {server.key}"')
