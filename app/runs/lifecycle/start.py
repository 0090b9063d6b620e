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
from app.runs import budget, provenance, sampling
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
    validate_budget(request.max_budget_usd)


def validate_budget(cap: float | None) -> None:
    if cap is not None and not (math.isfinite(cap) and cap > 0):
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


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What a new run will execute, once validated: by startRun, or a re-run of a source."""

    definition_id: str
    models: list[tuple[str, str]]
    scenario_ids: list[str]
    sample_seed: int | None
    # {"content": ..., "version": ...}: the definition as this run executes it.
    snapshot: dict[str, Any]
    origin: provenance.Origin
    # A re-run of failed slots only: [scenario id, model id, sample index] triples.
    only_slots: list[list[Any]] | None = None


async def start_run(
    session: AsyncSession, request: StartRunRequest, origin: provenance.Origin | None = None
) -> StartedRun:
    """Create a PENDING run, its scenario selections and one probe job per slot, atomically."""
    validate_options(request)
    model_ids = list(dict.fromkeys(m.strip() for m in request.models if m.strip()))
    models = await resolve_models(session, model_ids)
    await require_experiment(session, request.experiment_id)
    definition = await definitions.require_definition(session, request.definition_id)
    scenario_ids, seed = await choose_scenarios(session, definition.id, request)
    plan = RunPlan(
        definition_id=definition.id,
        models=models,
        scenario_ids=scenario_ids,
        sample_seed=seed,
        snapshot={"content": definition.content, "version": definition.version},
        origin=origin or provenance.Origin(),
    )
    return await create_run(session, request, plan)


async def require_experiment(session: AsyncSession, experiment_id: str | None) -> None:
    if experiment_id is not None and await session.get(Experiment, experiment_id) is None:
        raise NotFound.of("Experiment", experiment_id)


async def create_run(session: AsyncSession, request: StartRunRequest, plan: RunPlan) -> StartedRun:
    """The run row, its selections, provenance and jobs, from a validated request and plan."""
    samples = request.samples_per_scenario or 1
    priority = request.priority or "NORMAL"
    max_turns = 1 + len(plan.snapshot["content"].get("followups") or [])
    slots = len(plan.only_slots) if plan.only_slots is not None else None
    model_ids = [m for m, _ in plan.models]
    estimates = await budget_estimates(
        session, request.max_budget_usd, model_ids, plan.scenario_ids
    )
    run = Run(
        name=run_name(request.name),
        definition_id=plan.definition_id,
        definition_version=plan.snapshot.get("version"),
        experiment_id=request.experiment_id,
        run_category=request.run_category or DEFAULT_CATEGORY,
        priority=priority,
        config=run_config(request, plan, max_turns=max_turns, estimates=estimates),
        total_slots=slots
        if slots is not None
        else len(plan.models) * len(plan.scenario_ids) * samples,
        samples_per_scenario=samples,
        max_budget_usd=request.max_budget_usd,
        parent_run_id=plan.origin.source_run_id,
        provenance=await provenance.capture(session, plan.models, plan.origin),
        reuse_responses=request.reuse_responses,
    )
    session.add(run)
    await session.flush()
    await record_selections(session, run.id, plan.scenario_ids)
    job_count = await queue.defer_slots(
        session,
        run_id=run.id,
        models=plan.models,
        samples=samples,
        priority=priority,
        config={"temperature": request.temperature, "maxTurns": max_turns},
        only_open=False,
    )
    await session.refresh(run)
    await pubsub.publish(session, run.id, "created", status=run.status)
    return StartedRun(run=run, job_count=job_count, scenario_ids=plan.scenario_ids)


def run_config(
    request: StartRunRequest,
    plan: RunPlan,
    *,
    max_turns: int,
    estimates: dict[str, float] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "models": [m for m, _ in plan.models],
        "samplePercentage": request.sample_percentage or 100,
        "sampleSeed": plan.sample_seed,
        "samplesPerScenario": request.samples_per_scenario or 1,
        "temperature": request.temperature,
        "maxTurns": max_turns,
        "scenarioIds": request.scenario_ids and plan.scenario_ids,
        "priority": request.priority or "NORMAL",
        "maxBudgetUsd": request.max_budget_usd,
        "definitionSnapshot": plan.snapshot,
    }
    if estimates is not None:
        config["budgetEstimates"] = estimates
    if plan.only_slots is not None:
        # queue/jobs.defer_slots queues only these, now and on every resume or recovery.
        config["onlySlots"] = plan.only_slots
    return config


async def budget_estimates(
    session: AsyncSession, cap: float | None, models: list[str], scenario_ids: list[str]
) -> dict[str, float] | None:
    """With a cap: refuse unpriced models, and each model's pre-run cost per probe (what a
    call reserves before the run has observed that model). None without a cap."""
    if cap is None:
        return None
    await budget.refuse_unpriced(session, models)
    return await budget.pre_run_estimates(session, models, len(scenario_ids))


async def selection_size(session: AsyncSession, run_id: str) -> int:
    """How many scenarios the run selected."""
    connection = await session.connection()
    found = await connection.execute(
        sa.text("SELECT count(*) FROM run_scenario_selections WHERE run_id = :run"),
        {"run": run_id},
    )
    return int(found.scalar_one())


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
