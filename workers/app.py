"""The Procrastinate app the workers run: its connector and its tasks."""

from __future__ import annotations

import procrastinate

from app.config import Settings
from app.db import libpq_url
from workers import maintenance, probe, summarize


def build_app(database_url: str, settings: Settings, *, pool_size: int = 20) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url), min_size=1, max_size=pool_size
        )
    )
    probe.register(app)
    summarize.register(app)
    maintenance.register(app, cron=settings.recovery_cron)
    return app
