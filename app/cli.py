"""`valuerank`: serve, migrate, seed, api-key create/list/revoke, export, export-schema, worker,
watch."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from app import gc_tuning, logs
from app.config import Settings, get_settings, settings_table
from app.export import cli as export_cli

SETTINGS_EPILOG = (
    "settings (environment variables, or a .env file in the working directory):\n"
    + settings_table()
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    return _run(args, settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="valuerank", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="serve GraphQL (embedded PostgreSQL when DATABASE_URL is unset)",
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.add_argument(
        "--check", action="store_true", help="fail if models and migrations differ"
    )
    commands.add_parser("seed", help="load the demo catalog (idempotent)")
    api_key = commands.add_parser("api-key", help="manage API keys")
    api_key_commands = api_key.add_subparsers(dest="api_key_command", required=True)
    create = api_key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    create.add_argument("--name", default="cli")
    api_key_commands.add_parser("list", help="every key: id, hint, name, role, created, revoked")
    revoke = api_key_commands.add_parser(
        "revoke", help="revoke a key (by id or hint); it stops working at once"
    )
    revoke.add_argument("ref", metavar="ID_OR_HINT")
    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--check", metavar="FILE", help="fail if FILE differs from the code's SDL")
    export_cli.add_parser(commands)
    commands.add_parser(
        "worker",
        help="run job workers",
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings_command = commands.add_parser(
        "settings", help="every setting: environment variable, default, meaning"
    )
    settings_command.add_argument(
        "--markdown", action="store_true", help="as the README's configuration table"
    )
    watch = commands.add_parser("watch", help="show a run's live progress until it ends")
    watch.add_argument("run_id", metavar="RUN_ID")
    watch.add_argument("--url", help="the GraphQL endpoint (default: $VALUERANK_URL or local)")
    watch.add_argument(
        "--api-key", help="default: $VALUERANK_API_KEY, else the key `serve` keeps in DATA_DIR"
    )
    return parser


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        try:
            return asyncio.run(_serve(settings))
        except KeyboardInterrupt:  # Ctrl-C: uvicorn has already shut down cleanly
            return 130
    if args.command == "migrate":
        return _with_database(settings, lambda url: _migrate(url, check=args.check))
    if args.command == "seed":
        return _with_database(settings, lambda url: asyncio.run(_seed(url)))
    if args.command == "api-key":
        return _with_database(settings, lambda url: asyncio.run(_api_key(url, args)))
    if args.command == "export":
        return _with_database(settings, lambda url: export_cli.run(url, args))
    if args.command == "export-schema":
        return _export_schema(args.check)
    if args.command == "worker":
        # The workers are their own program (`python -m workers`); the app never imports them.
        os.execv(sys.executable, [sys.executable, "-m", "workers"])
    if args.command == "watch":
        return _watch(settings, args.run_id, args.url, args.api_key)
    if args.command == "settings":
        print(settings_table(markdown=args.markdown))
        return 0
    return 2


async def _serve(settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    listening = _listen(settings.host, settings.port)
    if listening is None:
        return 1
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        # app/logs.py formats and levels uvicorn's lines like every other (no log_level here:
        # uvicorn would set its access log back to INFO).
        log_config=None,
        # Subscription messages are a few hundred bytes: compressing each one costs a fifth
        # of the server's CPU per event and saves almost nothing.
        ws_per_message_deflate=False,
        # A websocket message is capped like an HTTP body (uvicorn's default is 16 MiB); a
        # bigger one closes the connection with 1009 (message too big).
        ws_max_size=settings.max_request_bytes,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        if serving.done():
            await serving
            return 1
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.port
    gc_tuning.tune_for_service()  # started: what it built lives as long as the process
    _print_addresses(f"http://{settings.host}:{port}", app.state.runtime.admin_key)
    await serving
    return 0


def _print_addresses(base_url: str, admin_key: str | None) -> None:
    """The two lines scripts read (`GraphiQL:`, `API key:`), then the browser's addresses: the
    runs console, and GraphiQL signed in with the local admin key, only when this server made
    that key (LOCAL_ADMIN_KEY); a key given some other way is never printed in a link."""
    from app.web import pages

    print(f"GraphiQL: {base_url}/graphql", flush=True)
    print(f"API key: {admin_key}", flush=True)
    print(f"Runs console: {base_url}/", flush=True)
    if admin_key is not None:
        print(
            f"GraphiQL, signed in: {pages.signed_in_graphiql_url(base_url, admin_key)}",
            flush=True,
        )


def _listen(host: str, port: int) -> socket.socket | None:
    """The server's socket, bound before anything starts (the embedded database, workers),
    so a busy port is one clear line instead of a traceback after startup."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        reason = (
            "is in use (another `make run`?)" if exc.errno == errno.EADDRINUSE else exc.strerror
        )
        print(
            f"serve: cannot listen on {host}:{port}: the port {reason}. Stop the other server, "
            f"or choose another port with PORT=<port> (and HOST=<address>).",
            file=sys.stderr,
        )
        return None
    return listening


def _watch(settings: Settings, run_id: str, url: str | None, api_key: str | None) -> int:
    from app import watch

    try:
        key = watch.resolve_api_key(api_key, os.environ, settings.admin_key_file)
        return asyncio.run(
            watch.watch(run_id, url=watch.resolve_url(url, os.environ), api_key=key, out=sys.stdout)
        )
    except watch.WatchError as exc:
        print(f"watch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130  # the shell's convention for "stopped by Ctrl-C"


def _with_database(settings: Settings, action: object) -> int:
    """Run `action(url)` against the configured database, or the embedded one."""
    from app.embedded import EmbeddedPostgres

    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
    try:
        assert callable(action)
        result = action(url)
        return int(result or 0)
    finally:
        if embedded is not None:
            embedded.stop()


def _migrate(url: str, *, check: bool) -> int:
    from app import migrations

    migrations.upgrade(url)
    if check:
        migrations.check(url)
    return 0


async def _seed(url: str) -> int:
    from app import seed
    from app.db import Database

    db = Database(url)
    try:
        async with db.transaction() as session:
            await seed.load_demo(session)
    finally:
        await db.dispose()
    return 0


async def _api_key(url: str, args: argparse.Namespace) -> int:
    from app import auth
    from app.db import Database
    from app.errors import DomainError

    db = Database(url)
    try:
        async with db.transaction() as session:
            if args.api_key_command == "create":
                _, raw = await auth.create_api_key(session, role=args.role, name=args.name)
                print(raw)
            elif args.api_key_command == "list":
                print(_key_table(await auth.list_api_keys(session)))
            else:
                row = await auth.revoke_api_key(session, args.ref)
                print(f"revoked {row.id} ({row.key_hint}..., {row.name}, {row.role})")
    except DomainError as refused:
        print(f"api-key: {refused.message}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


def _key_table(keys: list[Any]) -> str:
    rows = [("ID", "HINT", "NAME", "ROLE", "CREATED", "REVOKED")]
    for key in keys:
        rows.append(
            (
                key.id,
                f"{key.key_hint}...",
                key.name,
                key.role,
                _when(key.created_at),
                _when(key.revoked_at) if key.revoked_at else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("valuerank-runs")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _export_schema(check: str | None) -> int:
    from app.graphql.schema import schema

    sdl = schema.as_str() + "\n"
    if check is None:
        sys.stdout.write(sdl)
        return 0
    if Path(check).read_text() != sdl:
        print(f"{check} is stale: run `make schema`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
