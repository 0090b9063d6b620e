"""Alembic, configured from code (no alembic.ini): upgrade to head, or check for drift."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.db import sqlalchemy_url

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    # ConfigParser interpolation: a literal % in a URL must be doubled.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str) -> None:
    """Apply every migration (blocking: call it in a thread from async code)."""
    command.upgrade(alembic_config(database_url), "head")


def check(database_url: str) -> None:
    """Raise when the models and the migrations disagree (`alembic check`)."""
    command.check(alembic_config(database_url))


@cache
def heads() -> frozenset[str]:
    """The revisions the code expects the database to be at (read once from `migrations/`)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return frozenset(ScriptDirectory.from_config(config).get_heads())
