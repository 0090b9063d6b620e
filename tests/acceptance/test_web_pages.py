"""The browser pages over HTTP: the runs console at / (it was a 404), GraphiQL for a
browser's GET /graphql, their files under /static, and nothing outside that folder."""

from __future__ import annotations

import httpx

HTML = {"Accept": "text/html"}


async def test_the_console_is_served_at_the_root(app_client: httpx.AsyncClient) -> None:
    page = await app_client.get("/", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/static/console/app.js">' in page.text
    script = await app_client.get("/static/console/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_graphiql_loads_its_files_from_this_server(app_client: httpx.AsyncClient) -> None:
    page = await app_client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "/static/vendor/graphiql@3.8.3/graphiql.min.js" in page.text
    assert "unpkg.com" not in page.text and "cdn" not in page.text.lower()
    vendored = await app_client.get("/static/vendor/graphiql@3.8.3/graphiql.min.js")
    assert vendored.status_code == 200 and len(vendored.content) > 1_000_000


async def test_static_files_stay_inside_their_folder(app_client: httpx.AsyncClient) -> None:
    for path in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/static/nothing.js"):
        assert (await app_client.get(path)).status_code == 404, path
