"""The per-request GraphQL context: database, caller, loaders, request id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry

from app.auth import Viewer
from app.config import Settings
from app.db import Database
from app.graphql.loaders import Loaders


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer | None
    request: Any = None
    response: Any = None
    request_id: str = field(default_factory=lambda: secrets.token_hex(8))
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)


Info: TypeAlias = strawberry.Info[Context, None]
