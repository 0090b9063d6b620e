"""GraphQL types for providers and models (ValueRank's names and shapes)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.graphql.context import Info
from app.llm import models as tables
from app.llm import service
from app.paging import PageSize

# The catalog is listed whole (up to 1,000 rows) when no limit is given; it is an admin's to
# grow, so the cost limit counts its typical size (app/paging.py).
PROVIDER_PAGE = PageSize(default=1000, maximum=1000, estimate=20)
MODEL_PAGE = PageSize(default=1000, maximum=1000, estimate=100)
AVAILABLE_MODEL_PAGE = PageSize(default=50, maximum=100)


@strawberry.type
class LlmProvider:
    """An LLM vendor (openai, anthropic, ..., simulated) and its limits. API keys are never exposed."""

    id: strawberry.ID
    """The provider's id."""
    name: str
    """Its short name, e.g. openai."""
    display_name: str
    """Its display name."""
    max_parallel_requests: int
    """Cap on its calls in flight, across every worker (1-1000)."""
    requests_per_minute: int
    """Cap on calls started per minute (1-100000)."""
    tokens_per_minute: int
    """Cap on tokens per minute, reserved per call; 0 for no limit."""
    is_enabled: bool
    """Whether its models may be called."""
    suspended_at: datetime | None
    """When the vendor refused the account (credit exhausted, bad key); null when not suspended."""
    suspended_reason: str | None
    """The vendor's message for the suspension, keys redacted; null when not suspended."""
    created_at: datetime
    """When it was created."""
    updated_at: datetime
    """When it last changed."""
    row: strawberry.Private[tables.LlmProvider]

    @classmethod
    def from_row(cls, row: tables.LlmProvider) -> LlmProvider:
        assert row.created_at is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            display_name=row.display_name,
            max_parallel_requests=row.max_parallel_requests,
            requests_per_minute=row.requests_per_minute,
            tokens_per_minute=row.tokens_per_minute,
            is_enabled=row.is_enabled,
            suspended_at=row.suspended_at,
            suspended_reason=row.suspended_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field
    def balance(self) -> float | None:
        """Always null (no vendor balance is read)."""
        return None  # no provider exposes a balance API we call

    async def _models(self, info: Info) -> list[LlmModel]:
        loader = info.context.loaders.by_key("models_by_provider", service.models_by_provider)
        return [LlmModel.from_row(r, self.row) for r in await loader.load(self.row.id) or []]

    @strawberry.field
    async def models(self, info: Info) -> list[LlmModel]:
        """Its models, every status."""
        return await self._models(info)

    @strawberry.field
    async def active_models(self, info: Info) -> list[LlmModel]:
        """Its ACTIVE models."""
        return [m for m in await self._models(info) if m.status == "ACTIVE"]

    @strawberry.field
    async def default_model(self, info: Info) -> LlmModel | None:
        """Its default model, if any."""
        return next((m for m in await self._models(info) if m.is_default), None)


@strawberry.type
class LlmModel:
    """A model in the catalog, with its price."""

    id: strawberry.ID
    """The catalog row's id."""
    provider_id: strawberry.ID
    """Its provider's id."""
    model_id: str
    """The identifier runs use, e.g. gpt-4o-mini."""
    display_name: str
    """Its display name."""
    cost_input_per_million: float
    """USD per million prompt tokens."""
    cost_output_per_million: float
    """USD per million completion tokens."""
    status: str
    """ACTIVE or DEPRECATED."""
    is_default: bool
    """Whether it is its provider's default (one per provider)."""
    api_config: JSON | None
    """Provider-specific settings, as given (e.g. the simulated provider's failureKind)."""
    created_at: datetime
    """When it was created."""
    updated_at: datetime
    """When it last changed."""
    row: strawberry.Private[tables.LlmModel]
    provider_row: strawberry.Private[tables.LlmProvider | None]

    @classmethod
    def from_row(cls, row: tables.LlmModel, provider: tables.LlmProvider | None = None) -> LlmModel:
        assert row.created_at is not None and row.updated_at is not None
        return cls(
            id=strawberry.ID(row.id),
            provider_id=strawberry.ID(row.provider_id),
            model_id=row.model_id,
            display_name=row.display_name,
            cost_input_per_million=row.cost_input_per_million,
            cost_output_per_million=row.cost_output_per_million,
            status=row.status,
            is_default=row.is_default,
            api_config=JSON(row.api_config),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
            provider_row=provider,
        )

    async def _provider(self, info: Info) -> tables.LlmProvider:
        if self.provider_row is None:
            loader = info.context.loaders.by_key("providers_by_id", service.providers_by_id)
            self.provider_row = await loader.load(self.row.provider_id)
        assert self.provider_row is not None
        return self.provider_row

    @strawberry.field
    async def provider(self, info: Info) -> LlmProvider:
        """Its provider."""
        return LlmProvider.from_row(await self._provider(info))

    @strawberry.field
    async def is_available(self, info: Info) -> bool:
        """Whether it can be called: its provider is enabled and has credentials."""
        return service.is_available(await self._provider(info))


@strawberry.type
class AvailableModel:
    """An ACTIVE model as ValueRank's run form lists it."""

    id: str
    """The model identifier (LlmModel.modelId)."""
    provider_id: str
    """The provider's name (e.g. openai)."""
    display_name: str
    """Its display name."""
    versions: list[str]
    """Its versions: the model identifier alone."""
    default_version: str | None
    """The model identifier."""
    is_available: bool
    """Whether it can be called: its provider is enabled and has credentials."""
    is_default: bool
    """Whether it is its provider's default."""


@strawberry.type
class SetDefaultModelResult:
    """What setDefaultLlmModel changed."""

    model: LlmModel
    """The new default."""
    previous_default: LlmModel | None
    """The provider's default before, if any."""


@strawberry.type
class DeprecateModelResult:
    """What deprecateLlmModel changed."""

    model: LlmModel
    """The deprecated model."""
    new_default: LlmModel | None
    """The provider's new default when the model was it (its oldest active sibling); null otherwise."""


@strawberry.input
class CreateLlmModelInput:
    """A new catalog model."""

    provider_id: str
    """The provider, by id or name."""
    model_id: str
    """The identifier runs will use; unique per provider."""
    display_name: str
    """Its display name."""
    cost_input_per_million: float
    """USD per million prompt tokens."""
    cost_output_per_million: float
    """USD per million completion tokens."""
    set_as_default: bool | None = None
    """Make it the provider's default."""


@strawberry.input
class UpdateLlmModelInput:
    """Changes to a model; omitted fields stay as they are."""

    display_name: str | None = None
    """A new display name."""
    cost_input_per_million: float | None = None
    """USD per million prompt tokens."""
    cost_output_per_million: float | None = None
    """USD per million completion tokens."""
    api_config: JSON | None = None
    """Provider-specific settings."""


@strawberry.input
class UpdateLlmProviderInput:
    """Changes to a provider; omitted fields stay as they are. Running workers apply them without a restart."""

    is_enabled: bool | None = None
    """Allow or stop calls to its models."""
    max_parallel_requests: int | None = None
    """Cap on calls in flight, 1-1000."""
    requests_per_minute: int | None = None
    """Cap on calls per minute, 1-100000."""
    tokens_per_minute: int | None = None
    """Cap on tokens per minute, 0 (no limit) to 100000000."""
