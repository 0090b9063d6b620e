"""The provider/model catalog: reads, edits, defaults, availability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import now
from app.errors import NotFound, ValidationFailed, require_one_of
from app.llm import api_config as api_configs
from app.llm import credentials
from app.llm.models import MODEL_STATUSES, LlmModel, LlmProvider
from app.paging import Page


def is_available(provider: LlmProvider) -> bool:
    """A model is callable when its provider is enabled and has what it needs."""
    return provider.is_enabled and credentials.has_credentials(provider.name)


# Providers -------------------------------------------------------------------------------


async def list_providers(session: AsyncSession, paging: Page) -> Sequence[LlmProvider]:
    stmt = select(LlmProvider).order_by(col(LlmProvider.display_name), col(LlmProvider.id))
    return (await session.exec(stmt.limit(paging.limit).offset(paging.offset))).all()


async def get_provider(session: AsyncSession, ident: str) -> LlmProvider | None:
    """By id, or by name (`openai`) for convenience."""
    stmt = select(LlmProvider).where(or_(LlmProvider.id == ident, LlmProvider.name == ident))
    return (await session.exec(stmt)).first()


async def require_provider(session: AsyncSession, ident: str) -> LlmProvider:
    provider = await get_provider(session, ident)
    if provider is None:
        raise NotFound.of("LlmProvider", ident)
    return provider


async def update_provider(
    session: AsyncSession,
    ident: str,
    *,
    is_enabled: bool | None = None,
    max_parallel_requests: int | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
) -> LlmProvider:
    """Change a provider's switch and limits (workers read them live)."""
    provider = await require_provider(session, ident)
    if max_parallel_requests is not None:
        if not 1 <= max_parallel_requests <= 1000:
            raise ValidationFailed("maxParallelRequests must be between 1 and 1000")
        provider.max_parallel_requests = max_parallel_requests
    if requests_per_minute is not None:
        if not 1 <= requests_per_minute <= 100_000:
            raise ValidationFailed("requestsPerMinute must be between 1 and 100000")
        provider.requests_per_minute = requests_per_minute
    if tokens_per_minute is not None:
        if not 0 <= tokens_per_minute <= 100_000_000:
            raise ValidationFailed("tokensPerMinute must be between 0 (no limit) and 100000000")
        provider.tokens_per_minute = tokens_per_minute
    if is_enabled is not None:
        provider.is_enabled = is_enabled
    provider.updated_at = now()
    session.add(provider)
    await session.flush()
    return provider


# Models ----------------------------------------------------------------------------------


async def list_models(
    session: AsyncSession,
    *,
    provider_id: str | None,
    status: str | None,
    available_only: bool,
    paging: Page,
) -> list[tuple[LlmModel, LlmProvider]]:
    stmt = select(LlmModel, LlmProvider).join(
        LlmProvider, col(LlmProvider.id) == col(LlmModel.provider_id)
    )
    if provider_id is not None:
        stmt = stmt.where(or_(LlmProvider.id == provider_id, LlmProvider.name == provider_id))
    if status is not None:
        stmt = stmt.where(LlmModel.status == require_one_of(status, MODEL_STATUSES, "status"))
    stmt = stmt.order_by(
        col(LlmProvider.display_name), col(LlmModel.display_name), col(LlmModel.id)
    )
    rows = [(m, p) for m, p in (await session.exec(stmt)).all()]
    if available_only:
        rows = [(m, p) for m, p in rows if is_available(p)]
    return rows[paging.offset : paging.offset + paging.limit]


async def get_model(session: AsyncSession, model_id: str) -> LlmModel | None:
    return await session.get(LlmModel, model_id)


async def require_model(session: AsyncSession, model_id: str, *, lock: bool = False) -> LlmModel:
    stmt = select(LlmModel).where(LlmModel.id == model_id)
    model = (await session.exec(stmt.with_for_update() if lock else stmt)).first()
    if model is None:
        raise NotFound.of("LlmModel", model_id)
    return model


def _valid_cost(value: float, field: str) -> float:
    if value < 0 or value != value or value == float("inf"):
        raise ValidationFailed(f"{field} must be a non-negative number")
    return value


# Catalog names are shown in every model picker and echoed in error messages: a name is a name.
MAX_TEXT_LENGTH = 255


def _valid_text(value: str, field: str) -> str:
    if not value.strip():
        raise ValidationFailed(f"{field} must not be empty")
    if len(value.strip()) > MAX_TEXT_LENGTH:
        raise ValidationFailed(f"{field} must be {MAX_TEXT_LENGTH} characters or less")
    return value.strip()


@dataclass(frozen=True, slots=True)
class NewModel:
    provider_id: str
    model_id: str
    display_name: str
    cost_input_per_million: float
    cost_output_per_million: float
    set_as_default: bool = False


async def create_model(session: AsyncSession, new: NewModel) -> LlmModel:
    """Add a model to a provider's catalog, optionally as its default."""
    model_id = _valid_text(new.model_id, "modelId")
    display_name = _valid_text(new.display_name, "displayName")
    cost_in = _valid_cost(new.cost_input_per_million, "costInputPerMillion")
    cost_out = _valid_cost(new.cost_output_per_million, "costOutputPerMillion")
    provider = await require_provider(session, new.provider_id)
    duplicate = select(LlmModel.id).where(
        LlmModel.provider_id == provider.id, LlmModel.model_id == model_id
    )
    if (await session.exec(duplicate)).first() is not None:
        raise ValidationFailed(f"Model {model_id} already exists for provider {provider.name}")
    model = LlmModel(
        provider_id=provider.id,
        model_id=model_id,
        display_name=display_name,
        cost_input_per_million=cost_in,
        cost_output_per_million=cost_out,
    )
    session.add(model)
    await session.flush()
    if new.set_as_default:
        model, _ = await set_default_model(session, model.id)
    return model


async def update_model(
    session: AsyncSession,
    model_id: str,
    *,
    display_name: str | None = None,
    cost_input_per_million: float | None = None,
    cost_output_per_million: float | None = None,
    api_config: Any = None,
) -> LlmModel:
    model = await require_model(session, model_id, lock=True)
    if display_name is not None:
        model.display_name = _valid_text(display_name, "displayName")
    if cost_input_per_million is not None:
        model.cost_input_per_million = _valid_cost(cost_input_per_million, "costInputPerMillion")
    if cost_output_per_million is not None:
        model.cost_output_per_million = _valid_cost(cost_output_per_million, "costOutputPerMillion")
    if api_config is not None:
        model.api_config = api_configs.validated(api_config)
    return await _save(session, model)


async def deprecate_model(session: AsyncSession, model_id: str) -> tuple[LlmModel, LlmModel | None]:
    """Deprecate a model; when it was its provider's default, promote the oldest active sibling."""
    model = await require_model(session, model_id, lock=True)
    was_default = model.is_default
    model.status = "DEPRECATED"
    model.is_default = False
    model = await _save(session, model)
    if not was_default:
        return model, None
    successor_stmt = (
        select(LlmModel)
        .where(LlmModel.provider_id == model.provider_id, LlmModel.status == "ACTIVE")
        .order_by(col(LlmModel.created_at), col(LlmModel.id))
    )
    successor = (await session.exec(successor_stmt)).first()
    if successor is None:
        return model, None
    successor.is_default = True
    return model, await _save(session, successor)


async def reactivate_model(session: AsyncSession, model_id: str) -> LlmModel:
    model = await require_model(session, model_id, lock=True)
    model.status = "ACTIVE"
    return await _save(session, model)


async def set_default_model(
    session: AsyncSession, model_id: str
) -> tuple[LlmModel, LlmModel | None]:
    """Make a model its provider's one default; return it and the previous default."""
    model = await require_model(session, model_id, lock=True)
    if model.status != "ACTIVE":
        raise ValidationFailed(f"Cannot set deprecated model {model.model_id} as default")
    previous_stmt = select(LlmModel).where(
        LlmModel.provider_id == model.provider_id,
        col(LlmModel.is_default).is_(True),
        LlmModel.id != model.id,
    )
    previous = (await session.exec(previous_stmt.with_for_update())).first()
    if previous is not None:
        previous.is_default = False
        previous = await _save(session, previous)
    model.is_default = True
    return await _save(session, model), previous


async def unset_default_model(session: AsyncSession, model_id: str) -> LlmModel:
    model = await require_model(session, model_id, lock=True)
    model.is_default = False
    return await _save(session, model)


async def _save(session: AsyncSession, model: LlmModel) -> LlmModel:
    model.updated_at = now()
    session.add(model)
    await session.flush()
    return model


# Batch loads (DataLoaders) -----------------------------------------------------------------


async def catalog_entries(
    session: AsyncSession, model_ids: Sequence[str]
) -> list[tuple[str, str, str, bool]]:
    """(model id, status, provider name, provider enabled) for the given API model ids, oldest
    catalog row first (a model id may exist under more than one provider)."""
    stmt = (
        select(LlmModel.model_id, LlmModel.status, LlmProvider.name, LlmProvider.is_enabled)
        .join(LlmProvider, col(LlmProvider.id) == col(LlmModel.provider_id))
        .where(col(LlmModel.model_id).in_(model_ids))
        .order_by(col(LlmModel.created_at))
    )
    return [tuple(row) for row in (await session.exec(stmt)).all()]  # type: ignore[misc]


async def providers_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, LlmProvider]:
    rows = (await session.exec(select(LlmProvider).where(col(LlmProvider.id).in_(ids)))).all()
    return {row.id: row for row in rows}


async def models_by_provider(
    session: AsyncSession, provider_ids: Sequence[str]
) -> dict[str, list[LlmModel]]:
    stmt = (
        select(LlmModel)
        .where(col(LlmModel.provider_id).in_(provider_ids))
        .order_by(col(LlmModel.display_name), col(LlmModel.id))
    )
    grouped: dict[str, list[LlmModel]] = {p: [] for p in provider_ids}
    for row in (await session.exec(stmt)).all():
        grouped[row.provider_id].append(row)
    return grouped


async def models_by_model_id(
    session: AsyncSession, model_ids: Sequence[str]
) -> dict[str, LlmModel]:
    """Catalog rows by their API model id (`gpt-4o-mini`), as runs name them."""
    stmt = select(LlmModel).where(col(LlmModel.model_id).in_(model_ids))
    found: dict[str, LlmModel] = {}
    for row in (await session.exec(stmt.order_by(col(LlmModel.created_at)))).all():
        found.setdefault(row.model_id, row)
    return found
