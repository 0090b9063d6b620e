"""Browser tests: GraphiQL and the runs console in headless Chromium, driven by Playwright,
against `valuerank serve` as a real process with its workers.

The browser is the machine's own Chromium (`apt-get install chromium`; CHROMIUM overrides the
path), never one Playwright downloads. Without one these tests are skipped and the summary says
so. Every request to a host other than this machine is aborted and recorded: the pages must
work offline. Each test saves screenshots under test-artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from tests.serve import ROOT, Server, served
from tests.workers import FAST

ARTIFACTS = ROOT / "test-artifacts" / "browser"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SKIPPED = "browser tests skipped: no chromium found (apt-get install chromium, or set CHROMIUM)"


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    return next((p for c in candidates if c and (p := shutil.which(c))), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_path() is not None:
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=SKIPPED)
    browser_items = [item for item in items if here in item.path.parents]
    for item in browser_items:
        item.add_marker(skip)
    config.stash[_skipped] = len(browser_items)


_skipped = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = terminalreporter.config.stash.get(_skipped, 0)
    if count:
        terminalreporter.write_sep("=", f"{SKIPPED}: {count} tests", yellow=True, bold=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module. Not per session: while Playwright's sync API is open its event
    loop counts as running on this thread, and the async tests that follow could not run."""
    executable = chromium_path()
    assert executable is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The server with its workers, quick retries (tests/workers.py FAST)."""
    with served(database_url, tmp_path, log=tmp_path / "server.log", **FAST) as running:
        yield running


class Offline:
    """Aborts every request to another host, and remembers it."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


# A busy CI machine: every wait is for a condition, with room to spare.
expect.set_options(timeout=60_000)


@pytest.fixture
def offline() -> Offline:
    return Offline()


@pytest.fixture
def context(browser: Browser, offline: Offline) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1400, "height": 900})
    opened.set_default_timeout(60_000)  # a busy CI machine; every wait is for a condition
    opened.route("**/*", offline)
    try:
        yield opened
    finally:
        opened.close()
    assert offline.blocked == [], f"requests beyond this machine: {offline.blocked}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def base_url(server: Server) -> str:
    return server.url.removesuffix("/graphql")
