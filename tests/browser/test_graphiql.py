"""GraphiQL from this server: offline, opened signed in from the link `serve` prints, a query
and a subscription with the pre-filled key, and a refused key explained at once."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import base_url, screenshot
from tests.serve import Server

START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }"""
INVALID = "This API key is not valid: Invalid API key: it is unknown or revoked."
EDITOR_HOLDING = """([text]) => [...document.querySelectorAll('.CodeMirror')]
    .some((e) => e.CodeMirror.getValue().includes(text))"""
SET_EDITOR_HOLDING = """([text, value]) => [...document.querySelectorAll('.CodeMirror')]
    .find((e) => e.CodeMirror.getValue().includes(text)).CodeMirror.setValue(value)"""


def post(server: Server, query: str, **variables: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read())
    assert "errors" not in body, body
    return dict(body["data"])


def wait_for_editor_text(page: Page, text: str) -> None:
    page.wait_for_function(EDITOR_HOLDING, arg=[text])


def open_tab(page: Page, index: int) -> None:
    page.locator(".graphiql-tab").nth(index).locator(".graphiql-tab-button").click()


def test_signed_in_link_opens_the_readme_tabs_and_runs_a_query_and_a_subscription(
    server: Server, page: Page
) -> None:
    # The link `serve` printed for the key it made.
    assert server.signed_in == f"{base_url(server)}/graphql#key={server.key}"
    page.goto(server.signed_in)
    expect(page.locator(".graphiql-tab")).to_have_count(5)
    wait_for_editor_text(page, f'"Authorization": "Bearer {server.key}"')
    assert "key=" not in page.url  # the key leaves the address bar once stored
    page.locator(".graphiql-execute-button").click()
    wait_for_editor_text(page, '"modelId": "sim-demo-slow"')
    screenshot(page, "graphiql-query")

    run_id = post(
        server, START, input={"definitionId": "demo-definition-honesty", "models": ["sim-instant"]}
    )["startRun"]["run"]["id"]
    open_tab(page, 2)  # the README's runProgress subscription
    wait_for_editor_text(page, f'"Authorization": "Bearer {server.key}"')
    page.evaluate(SET_EDITOR_HOLDING, ["<run id from startRun>", json.dumps({"id": run_id})])
    page.locator(".graphiql-execute-button").click()
    wait_for_editor_text(page, '"status": "COMPLETED"')  # the last event, over the websocket
    screenshot(page, "graphiql-subscription")


def test_a_refused_key_is_explained_at_once(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{base_url(server)}/graphql#key=vrk_wrong")
    expect(page.locator("#notice")).to_have_text(INVALID)
    open_tab(page, 3)  # runsChanged: refused before any websocket is opened
    page.locator(".graphiql-execute-button").click()
    wait_for_editor_text(page, INVALID)
    screenshot(page, "graphiql-refused-key")
