"""rerunRun: a new run from an earlier run's config and selection, linked to it by
`parent_run_id`. The source run is only read, never changed.

By default the re-run takes the source's definition snapshot (not the definition as edited
since), its selected scenarios, models, samples, temperature, priority, category, experiment,
name and budget; the overrides replace any of those. Validation and messages are startRun's
(`start.validate_options`, `start.resolve_models`). Scope FAILED runs exactly the source's
failed slots (scenario, model, sample), recorded in `config.onlySlots` so that a resume or a
recovery queues those and nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.definitions import service as definitions
from app.errors import NotFound, ValidationFailed, require_one_of
from app.runs import provenance, service
from app.runs.lifecycle import start
from app.runs.models import ProbeResult, Run

RERUN_SCOPES = ("ALL", "FAILED")


@dataclass(frozen=True, slots=True)
class RerunRequest:
    models: list[str] | None = None
    sample_percentage: int | None = None
    sample_seed: int | None = None
    samples_per_scenario: int | None = None
    temperature: float | None = None
    priority: str | None = None
    name: str | None = None
    max_budget_usd: float | None = None
    scope: str | None = None

    @property
    def resamples(self) -> bool:
        """Sampling overridden: the scenarios are drawn again, as startRun draws them."""
        return self.sample_percentage is not None or self.sample_seed is not None


async def rerun_run(
    session: AsyncSession, run_id: str, request: RerunRequest, origin: provenance.Origin
) -> start.StartedRun:
    """Validate as startRun does, then create the re-run, its selections and its jobs."""
    source = await service.get_run(session, run_id)
    if source is None:
        raise NotFound.of("Run", run_id)
    scope = require_one_of(request.scope or "ALL", RERUN_SCOPES, "scope")
    if scope == "FAILED" and (request.resamples or request.samples_per_scenario is not None):
        raise ValidationFailed(
            "scope FAILED re-runs the source run's failed slots: samplePercentage, sampleSeed "
            "and samplesPerScenario cannot be overridden"
        )
    merged = merge(source, request)
    start.validate_options(merged)
    model_ids = list(dict.fromkeys(m.strip() for m in merged.models if m.strip()))
    models = await start.resolve_models(session, model_ids)
    await start.require_experiment(session, merged.experiment_id)
    await definitions.require_definition(session, source.definition_id)
    plan = start.RunPlan(
        definition_id=source.definition_id,
        models=models,
        scenario_ids=[],
        sample_seed=merged.sample_seed,
        snapshot=dict(source.config.get("definitionSnapshot") or {"content": {}}),
        origin=dataclasses.replace(origin, source_run_id=source.id),
    )
    if scope == "FAILED":
        plan = await _failed_slots(session, source, plan)
    elif request.resamples:
        scenario_ids, seed = await start.choose_scenarios(session, source.definition_id, merged)
        plan = dataclasses.replace(plan, scenario_ids=scenario_ids, sample_seed=seed)
    else:
        selected = await service.selected_scenarios_by_run(session, [source.id])
        plan = dataclasses.replace(plan, scenario_ids=selected[source.id])
    return await start.create_run(session, merged, plan)


def merge(source: Run, request: RerunRequest) -> start.StartRunRequest:
    """The source's start request with the overrides applied."""
    config: dict[str, Any] = source.config
    return start.StartRunRequest(
        definition_id=source.definition_id,
        models=request.models if request.models is not None else list(config.get("models", [])),
        sample_percentage=_either(request.sample_percentage, config.get("samplePercentage")),
        sample_seed=_either(request.sample_seed, config.get("sampleSeed")),
        samples_per_scenario=_either(request.samples_per_scenario, source.samples_per_scenario),
        # The source's explicit scenario list, unless the overrides draw a new sample.
        scenario_ids=None if request.resamples else config.get("scenarioIds"),
        temperature=_either(request.temperature, config.get("temperature")),
        priority=_either(request.priority, source.priority),
        run_category=source.run_category,
        experiment_id=source.experiment_id,
        name=_either(request.name, source.name),
        max_budget_usd=_either(request.max_budget_usd, source.max_budget_usd),
    )


def _either(override: Any, default: Any) -> Any:
    return override if override is not None else default


async def _failed_slots(session: AsyncSession, source: Run, plan: start.RunPlan) -> start.RunPlan:
    """The plan narrowed to the source's failed slots of the re-run's models."""
    model_ids = [m for m, _ in plan.models]
    stmt = (
        select(ProbeResult.scenario_id, ProbeResult.model_id, ProbeResult.sample_index)
        .where(
            ProbeResult.run_id == source.id,
            col(ProbeResult.status) == "FAILED",
            col(ProbeResult.model_id).in_(model_ids),
        )
        .order_by(
            col(ProbeResult.scenario_id), col(ProbeResult.model_id), col(ProbeResult.sample_index)
        )
    )
    slots: list[tuple[str, str, int]] = list((await session.exec(stmt)).all())
    if not slots:
        raise ValidationFailed(f"Run {source.id} has no failed slots to re-run")
    failed_models = {m for _, m, _ in slots}
    return dataclasses.replace(
        plan,
        models=[pair for pair in plan.models if pair[0] in failed_models],
        scenario_ids=sorted({s for s, _, _ in slots}),
        only_slots=[list(slot) for slot in slots],
    )
