"""Definition, Scenario, Tag (+ links) and Experiment rows. Deletion is soft everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_field, id_field, json_field, timestamp_field, updated_at_field


class Definition(SQLModel, table=True):
    __tablename__ = "definitions"

    id: str = id_field()
    name: str
    content: dict[str, Any] = json_field()
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1", "nullable": False})
    parent_id: str | None = Field(default=None, foreign_key="definitions.id", index=True)
    preamble_version_id: str | None = None
    created_at: datetime | None = created_at_field()
    updated_at: datetime | None = updated_at_field()
    last_accessed_at: datetime | None = timestamp_field()
    deleted_at: datetime | None = timestamp_field()

    __table_args__ = (
        sa.Index(
            "ix_definitions_live_created",
            sa.text("created_at DESC"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
    )


class Scenario(SQLModel, table=True):
    __tablename__ = "scenarios"

    id: str = id_field()
    definition_id: str = Field(foreign_key="definitions.id")
    name: str
    content: dict[str, Any] = json_field()
    # Index in the expansion's cartesian product: the stable "oldest first" order.
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0", "nullable": False})
    created_at: datetime | None = created_at_field()
    deleted_at: datetime | None = timestamp_field()

    __table_args__ = (
        sa.Index(
            "ix_scenarios_live_definition",
            "definition_id",
            "position",
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index("ix_scenarios_definition", "definition_id"),
    )


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: str = id_field()
    name: str = Field(unique=True)
    created_at: datetime | None = created_at_field()


class DefinitionTag(SQLModel, table=True):
    __tablename__ = "definition_tags"

    definition_id: str = Field(foreign_key="definitions.id", primary_key=True)
    tag_id: str = Field(foreign_key="tags.id", primary_key=True, index=True)


class Experiment(SQLModel, table=True):
    __tablename__ = "experiments"

    id: str = id_field()
    name: str
    hypothesis: str | None = None
    analysis_plan: dict[str, Any] | None = json_field(nullable=True)
    created_at: datetime | None = created_at_field()
    updated_at: datetime | None = updated_at_field()
    deleted_at: datetime | None = timestamp_field()
