"""What a run ran on, fixed when it starts (`runs.provenance`) and never written again: the
server (version, git revision when known, host, OS, architecture, Python), who started it,
the run it re-runs, and per model its provider, base URL host, prices and api config."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.llm import providers
from app.llm.models import LlmModel, LlmProvider
from app.transcripts import decision

DISTRIBUTION = "valuerank-runs"
# A deployment without a git checkout (a container image) names its revision here.
REVISION_VARIABLE = "VALUERANK_GIT_REVISION"
# api_config keys never copied: a deployment could put a secret there by mistake.
SECRET_MARKERS = ("key", "secret", "token", "password", "authorization")


@dataclass(frozen=True, slots=True)
class Origin:
    """Who starts the run and from what: the caller's API key name, the summarizer the
    server is configured with, and the source run of a re-run."""

    started_by: str | None = None
    summarizer_model: str | None = None
    source_run_id: str | None = None


async def capture(
    session: AsyncSession, models: list[tuple[str, str]], origin: Origin
) -> dict[str, Any]:
    """The provenance of a run of `models` ((model id, provider name) pairs) started now."""
    return {
        "server": server(),
        "startedBy": origin.started_by,
        "sourceRunId": origin.source_run_id,
        "models": await _models(session, models),
        "summarizerModel": origin.summarizer_model,
        "decisionParserVersion": decision.PARSER_VERSION,
    }


@functools.cache
def server() -> dict[str, Any]:
    """This process's software and machine (constant for its lifetime, so computed once)."""
    try:
        version: str | None = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = None
    return {
        "version": version,
        "gitRevision": os.environ.get(REVISION_VARIABLE) or _git_revision(),
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "python": platform.python_version(),
    }


def _git_revision() -> str | None:
    checkout = Path(__file__).resolve().parents[2]
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


async def _models(session: AsyncSession, models: list[tuple[str, str]]) -> dict[str, Any]:
    """Each model as the catalog holds it now, under the provider the run uses."""
    stmt = (
        select(LlmModel, LlmProvider.name)
        .join(LlmProvider, col(LlmProvider.id) == col(LlmModel.provider_id))
        .where(col(LlmModel.model_id).in_([m for m, _ in models]))
        .order_by(col(LlmModel.created_at))
    )
    rows: dict[tuple[str, str], LlmModel] = {}
    for model, provider in (await session.exec(stmt)).all():
        rows.setdefault((model.model_id, provider), model)
    found: dict[str, Any] = {}
    for model_id, provider in models:
        row = rows.get((model_id, provider))
        config = row.api_config if row is not None else None
        found[model_id] = {
            "provider": provider,
            "baseUrlHost": providers.base_url_host(provider, config),
            "costInputPerMillion": row.cost_input_per_million if row else None,
            "costOutputPerMillion": row.cost_output_per_million if row else None,
            "apiConfig": _without_secrets(config),
        }
    return found


def _without_secrets(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    # The base URL is kept as its host (baseUrlHost): a URL may carry credentials.
    return {
        k: v
        for k, v in config.items()
        if k != "baseUrl" and not any(m in k.lower() for m in SECRET_MARKERS)
    }
