"""`python -m workers` (also `valuerank worker`, `make worker`): one Procrastinate worker per
provider queue, one for summaries and one for maintenance, in this process. Run as many
processes as you like, on as many machines: the limits and the run state live in Postgres."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from app.config import get_settings
from workers.runner import run_workers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    args = parser.parse_args(argv)
    settings = get_settings()
    url = args.database_url or settings.database_url
    if not url:
        parser.error(
            "set DATABASE_URL (or pass --database-url): workers need the server's database"
        )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_workers(settings, url, stop=stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
