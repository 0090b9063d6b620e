"""The /export routes: the same API keys as /graphql (`Authorization: Bearer`, viewers
included), answers streamed as they are read.

Refusals come before the first byte, as JSON in the GraphQL boundary's shape
(`{"errors": [{"message", "extensions": {"code"}}]}`): 401 without a valid key, 404 for a run
that does not exist (or is deleted), 400 for a filter it cannot read. A failure after the first
byte can only cut the stream short (the status line is gone): the client sees a truncated body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app import auth
from app.db import Database
from app.errors import DomainError, NotFound, Unauthenticated
from app.export import filters, manifest, runs, transcripts
from app.runs import service

Chunks = Callable[[Database, str], AsyncIterator[bytes]]
HistoryChunks = Callable[[Database, Any], AsyncIterator[bytes]]
CSV = "text/csv; charset=utf-8"
JSONL = "application/x-ndjson"
JSON = "application/json"


def routes() -> list[Route]:
    return [
        Route("/export/runs.json", run_history_json, methods=["GET"]),
        Route("/export/runs.csv", run_history_csv, methods=["GET"]),
        Route("/export/runs/{run_id}/transcripts.csv", transcripts_csv, methods=["GET"]),
        Route("/export/runs/{run_id}/transcripts.jsonl", transcripts_jsonl, methods=["GET"]),
        Route("/export/runs/{run_id}/manifest.json", run_manifest, methods=["GET"]),
    ]


async def transcripts_csv(request: Request) -> Response:
    return await _run_export(request, transcripts.csv_chunks, CSV, "transcripts.csv")


async def transcripts_jsonl(request: Request) -> Response:
    return await _run_export(request, transcripts.jsonl_chunks, JSONL, "transcripts.jsonl")


async def run_history_json(request: Request) -> Response:
    return await _history(request, runs.json_chunks, JSON, "runs.json")


async def run_history_csv(request: Request) -> Response:
    return await _history(request, runs.csv_chunks, CSV, "runs.csv")


async def run_manifest(request: Request) -> Response:
    db = _database(request)
    try:
        await _authenticate(request, db)
        run_id = request.path_params["run_id"]
        async with db.session() as session:
            found = await manifest.build(session, run_id)
        if found is None:
            raise NotFound.of("Run", run_id)
    except DomainError as error:
        return refusal(error)
    return _json(found, 200)


async def _run_export(request: Request, chunks: Chunks, media: str, filename: str) -> Response:
    db = _database(request)
    try:
        await _authenticate(request, db)
        run_id = request.path_params["run_id"]
        async with db.session() as session:
            if await service.get_run(session, run_id) is None:
                raise NotFound.of("Run", run_id)
    except DomainError as error:
        return refusal(error)
    return _streamed(chunks(db, run_id), media, f"run-{run_id}-{filename}")


async def _history(request: Request, chunks: HistoryChunks, media: str, filename: str) -> Response:
    db = _database(request)
    try:
        await _authenticate(request, db)
        # Built here, so that a bad filter is a 400 before the first byte.
        statement = runs.history_statement(filters.run_filter(request.query_params))
    except DomainError as error:
        return refusal(error)
    return _streamed(chunks(db, statement), media, filename)


def _streamed(body: AsyncIterator[bytes], media: str, filename: str) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(body, media_type=media, headers=disposition)


def _database(request: Request) -> Database:
    db: Database = request.app.state.runtime.db
    return db


async def _authenticate(request: Request, db: Database) -> auth.Viewer:
    token = auth.bearer_token(request.headers.get("authorization"))
    if token is None:
        raise Unauthenticated()
    async with db.session() as session:
        viewer = await auth.authenticate(session, token)
    if viewer is None:
        raise Unauthenticated("Invalid API key: it is unknown or revoked.")
    return viewer


STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}


def refusal(error: DomainError) -> Response:
    """An expected refusal as JSON: 401, 403, 404, else 400 (a request this route cannot read)."""
    status = STATUS.get(error.code, 400)
    headers = {"WWW-Authenticate": 'Bearer realm="valuerank"'} if status == 401 else {}
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return _json(body, status, headers)


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(content, status, headers=headers, media_type=JSON)
