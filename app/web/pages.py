"""The routes that serve the browser pages and their files, and the links `serve` prints."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
CONSOLE_PAGE = STATIC / "console" / "index.html"
GRAPHIQL_PAGE = STATIC / "graphiql" / "index.html"
# The pages are small and change with the server: revalidated on every load. The vendored
# files carry their version in their path, so a browser may keep them.
NO_CACHE = {"Cache-Control": "no-cache"}


def routes() -> list[BaseRoute]:
    return [
        Route("/", console, methods=["GET", "HEAD"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


async def console(request: Request) -> Response:
    """The runs console (app/web/static/console/): sign in with a key, then runs, a run's
    results and transcripts, comparisons."""
    return FileResponse(CONSOLE_PAGE, headers=NO_CACHE)


def graphiql() -> Response:
    """GraphiQL (app/web/static/graphiql/), for a browser's GET /graphql."""
    return FileResponse(GRAPHIQL_PAGE, headers=NO_CACHE)


def signed_in_graphiql_url(base_url: str, key: str) -> str:
    """GraphiQL opening with `key` in its Headers tab. The key rides in the fragment, which a
    browser never sends: it stays out of the server's and any proxy's logs."""
    return f"{base_url}/graphql#key={quote(key, safe='')}"
