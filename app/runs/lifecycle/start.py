"""startRun: validate, sample, create the run with its selections and jobs in one transaction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.definitions import service as definitions
from app.definitions.models import Experiment, Scenario
from app.errors import NotFound, ValidationFailed, require_one_of
from app.llm import credentials
from app.llm import service as llm
from app.queue import jobs as queue
from app.runs import sampling
from app.runs.models import PRIORITIES, RUN_CATEGORIES, Run

DEFAULT_CATEGORY = "UNKNOWN_LEGACY"
# Run names are capped like definition names; model ids like the catalog's (both are echoed).
MAX_NAME_LENGTH = definitions.MAX_NAME_LENGTH
MAX_MODEL_ID_LENGTH = llm.MAX_TEXT_LENGTH


@dataclass(frozen=True, slots=True)
class StartRunRequest:
    definition_id: str
    models: list[str]
    sample_percentage: int | None = None
    sample_seed: int | None = None
    samples_per_scenario: int | None = None
    scenario_ids: list[str] | None = None
    temperature: float | None = None
    priority: str | None = None
    run_category: str | None = None
    experiment_id: str | None = None
    name: str | None = None
    max_budget_usd: float | None = None
    reuse_responses: bool = False


@dataclass(slots=True)
class StartedRun:
    run: Run
    job_count: int
    scenario_ids: list[str] = field(default_factory=list)


def validate_options(request: StartRunRequest) -> None:
    """The checks that need no database, in ValueRank's order and wording."""
    if not [m for m in request.models if m.strip()]:
        raise ValidationFailed("At least one model must be specified")
    if any(len(m.strip()) > MAX_MODEL_ID_LENGTH for m in request.models):
        raise ValidationFailed(f"Model ids must be {MAX_MODEL_ID_LENGTH} characters or less")
    run_name(request.name)
    if request.sample_percentage is not None and not 1 <= request.sample_percentage <= 100:
        raise ValidationFailed("samplePercentage must be between 1 and 100")
    if request.samples_per_scenario is not None and not 1 <= request.samples_per_scenario <= 100:
        raise ValidationFailed("samplesPerScenario must be between 1 and 100")
    temperature = request.temperature
    if temperature is not None and not (math.isfinite(temperature) and 0 <= temperature <= 2):
        raise ValidationFailed("temperature must be between 0 and 2")
    if request.priority is not None:
        require_one_of(request.priority, PRIORITIES, "priority")
    if request.run_category is not None and request.run_category not in RUN_CATEGORIES:
        raise ValidationFailed(
            "Invalid runCategory. Expected PILOT, PRODUCTION, REPLICATION, VALIDATION, "
            "or UNKNOWN_LEGACY."
        )
    if request.sample_seed is not None and request.sample_seed % sampling.MODULUS == 0:
        raise ValidationFailed("sampleSeed must not be 0")
    if request.scenario_ids is not None and not request.scenario_ids:
        raise ValidationFailed("scenarioIds must not be empty when given")
    budget = request.max_budget_usd
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ValidationFailed("maxBudgetUsd must be a positive number")


def run_name(name: str | None) -> str | None:
    """The name to store: trimmed, None when blank, refused past MAX_NAME_LENGTH."""
    cleaned = name.strip() if name else ""
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"Name must be {MAX_NAME_LENGTH} characters or less")
    return cleaned or None


async def resolve_models(session: AsyncSession, model_ids: list[str]) -> list[tuple[str, str]]:
    """(model id, provider name) for each requested model; refuses unknown, deprecated and
    disabled ones, naming them."""
    usable: dict[str, str] = {}
    disabled: dict[str, str] = {}
    for model_id, status, provider, enabled in await llm.catalog_entries(session, model_ids):
        if status != "ACTIVE":
            continue
        if enabled:
            usable.setdefault(model_id, provider)
        else:
            disabled.setdefault(model_id, provider)
    invalid = [m for m in model_ids if m not in usable and m not in disabled]
    if invalid:
        raise ValidationFailed(
            f"The following models are not active or valid: {', '.join(invalid)}. "
            "Please refresh your page to get the latest model list."
        )
    off = [f"{m} ({disabled[m]})" for m in model_ids if m not in usable]
    if off:
        raise ValidationFailed(f"The following models' providers are disabled: {', '.join(off)}")
    refuse_unavailable([(m, usable[m]) for m in model_ids])
    return [(m, usable[m]) for m in model_ids]


def refuse_unavailable(models: list[tuple[str, str]]) -> None:
    """Refuse models whose provider has no credentials here: their workers would call the
    vendor without a key, and every probe would fail with the vendor's 401 instead."""
    missing = [
        f"{model_id} ({provider}: set {' or '.join(credentials.requirements(provider))})"
        for model_id, provider in models
        if not credentials.has_credentials(provider)
    ]
    if missing:
        raise ValidationFailed(
            f"The following models are not available, their provider has no credentials: "
            f"{', '.join(missing)}"
        )


async def choose_scenarios(
    session: AsyncSession, definition_id: str, request: StartRunRequest
) -> tuple[list[str], int | None]:
    """The scenario ids to run (sorted) and the seed used, if any."""
    stmt = select(Scenario.id).where(
        Scenario.definition_id == definition_id, col(Scenario.deleted_at).is_(None)
    )
    live = list((await session.exec(stmt)).all())
    if not live:
        raise ValidationFailed(f"Definition {definition_id} has no scenarios")
    if request.scenario_ids is not None:
        wanted = list(dict.fromkeys(request.scenario_ids))
        invalid = sorted(set(wanted) - set(live))
        if invalid:
            raise ValidationFailed(
                f"Invalid scenarioIds for definition {definition_id}: {', '.join(invalid)}"
            )
        return sorted(wanted), request.sample_seed
    percentage = request.sample_percentage or 100
    if percentage >= 100:
        return sorted(live), request.sample_seed
    seed = request.sample_seed or sampling.default_seed(definition_id)
    return sorted(sampling.sample(live, percentage, seed)), seed


async def start_run(session: AsyncSession, request: StartRunRequest) -> StartedRun:
    """Create a PENDING run, its scenario selections and one probe job per slot, atomically."""
    validate_options(request)
    model_ids = list(dict.fromkeys(m.strip() for m in request.models if m.strip()))
    models = await resolve_models(session, model_ids)
    if (
        request.experiment_id is not None
        and await session.get(Experiment, request.experiment_id) is None
    ):
        raise NotFound.of("Experiment", request.experiment_id)
    definition = await definitions.require_definition(session, request.definition_id)
    scenario_ids, seed = await choose_scenarios(session, definition.id, request)
    samples = request.samples_per_scenario or 1
    priority = request.priority or "NORMAL"
    max_turns = 1 + len(definition.content.get("followups") or [])
    config: dict[str, Any] = {
        "models": model_ids,
        "samplePercentage": request.sample_percentage or 100,
        "sampleSeed": seed,
        "samplesPerScenario": samples,
        "temperature": request.temperature,
        "maxTurns": max_turns,
        "scenarioIds": request.scenario_ids and scenario_ids,
        "priority": priority,
        "maxBudgetUsd": request.max_budget_usd,
        "definitionSnapshot": {"content": definition.content, "version": definition.version},
    }
    run = Run(
        name=run_name(request.name),
        definition_id=definition.id,
        definition_version=definition.version,
        experiment_id=request.experiment_id,
        run_category=request.run_category or DEFAULT_CATEGORY,
        priority=priority,
        config=config,
        total_slots=len(models) * len(scenario_ids) * samples,
        samples_per_scenario=samples,
        max_budget_usd=request.max_budget_usd,
        reuse_responses=request.reuse_responses,
    )
    session.add(run)
    await session.flush()
    await record_selections(session, run.id, scenario_ids)
    job_count = await queue.defer_slots(
        session,
        run_id=run.id,
        models=models,
        samples=samples,
        priority=priority,
        config={"temperature": request.temperature, "maxTurns": max_turns},
        only_open=False,
    )
    await session.refresh(run)
    await pubsub.publish(session, run.id, "created", status=run.status)
    return StartedRun(run=run, job_count=job_count, scenario_ids=scenario_ids)


async def record_selections(session: AsyncSession, run_id: str, scenario_ids: list[str]) -> None:
    """One row per selected scenario, ids generated in the database (set-based, any size)."""
    connection = await session.connection()
    await connection.execute(
        sa.text(
            """
            INSERT INTO run_scenario_selections (id, run_id, scenario_id)
            SELECT 's' || md5(CAST(:run_id AS text) || scenario_id), :run_id, scenario_id
            FROM unnest(CAST(:ids AS text[])) AS scenario_id
            """
        ),
        {"run_id": run_id, "ids": scenario_ids},
    )
