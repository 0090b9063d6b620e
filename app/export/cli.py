"""`valuerank export`: the /export answers from a terminal, straight from the database
(DATABASE_URL; no server, no API key: whoever holds the database URL may read it all).

    valuerank export transcripts RUN_ID [--format csv|jsonl] [-o FILE]
    valuerank export runs [--format json|csv] [--filter NAME=VALUE ...] [-o FILE]
    valuerank export manifest RUN_ID [-o FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, BinaryIO

from app.errors import DomainError, NotFound, ValidationFailed

if TYPE_CHECKING:
    from app.db import Database

# The `runs` filters, as /export/runs.json takes them (app/export/filters.py checks them).
FILTERS = "definitionId, experimentId, status, runCategory, runType, modelId, createdAfter, ..."


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write transcripts, runs or a manifest")
    kinds = export.add_subparsers(dest="export_kind", required=True)
    run_transcripts = kinds.add_parser("transcripts", help="a run's transcripts, one per row")
    run_transcripts.add_argument("run_id", metavar="RUN_ID")
    run_transcripts.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    history = kinds.add_parser("runs", help="the run history with each run's totals")
    history.add_argument("--format", choices=["json", "csv"], default="json")
    history.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a `runs` filter: {FILTERS}",
    )
    run_manifest = kinds.add_parser("manifest", help="a run's config, totals and timestamps")
    run_manifest.add_argument("run_id", metavar="RUN_ID")
    for parser in (run_transcripts, history, run_manifest):
        parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")


def run(url: str, args: argparse.Namespace) -> int:
    """The export `args` ask for, written to `args.output` or standard output."""
    try:
        with ExitStack() as files:
            out = files.enter_context(open(args.output, "wb")) if args.output else None
            asyncio.run(_export(url, args, out or sys.stdout.buffer))
    except DomainError as refused:
        print(f"export: {refused.message}", file=sys.stderr)
        return 1
    return 0


async def _export(url: str, args: argparse.Namespace, out: BinaryIO) -> None:
    from app.db import Database

    db = Database(url, pool_size=2)
    try:
        # A terminal or a file: the writes are short and this process does nothing else.
        async for chunk in _chunks(db, args):
            out.write(chunk)
        out.flush()
    finally:
        await db.dispose()


async def _chunks(db: Database, args: argparse.Namespace) -> AsyncIterator[bytes]:
    from app.export import filters, manifest, runs, transcripts
    from app.runs import service

    if args.export_kind == "runs":
        statement = runs.history_statement(filters.run_filter(_pairs(args.filter)))
        history = runs.json_chunks if args.format == "json" else runs.csv_chunks
        async for chunk in history(db, statement):
            yield chunk
        return
    async with db.session() as session:
        found = (
            await manifest.build(session, args.run_id)
            if args.export_kind == "manifest"
            else await service.get_run(session, args.run_id)
        )
    if found is None:
        raise NotFound.of("Run", args.run_id)
    if isinstance(found, dict):
        yield json.dumps(found, indent=2, ensure_ascii=False).encode() + b"\n"
        return
    rows = transcripts.csv_chunks if args.format == "csv" else transcripts.jsonl_chunks
    async for chunk in rows(db, args.run_id):
        yield chunk


def _pairs(given: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValidationFailed(f"--filter takes NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs
