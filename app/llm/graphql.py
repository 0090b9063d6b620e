"""GraphQL types and resolvers for providers and models (ValueRank's names and shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.graphql.args import IdArg, paged_field
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
    id: strawberry.ID
    name: str
    display_name: str
    max_parallel_requests: int
    requests_per_minute: int
    tokens_per_minute: int
    is_enabled: bool
    suspended_at: datetime | None
    suspended_reason: str | None
    created_at: datetime
    updated_at: datetime
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
        return None  # no provider exposes a balance API we call

    async def _models(self, info: Info) -> list[LlmModel]:
        loader = info.context.loaders.by_key("models_by_provider", service.models_by_provider)
        return [LlmModel.from_row(r, self.row) for r in await loader.load(self.row.id) or []]

    @strawberry.field
    async def models(self, info: Info) -> list[LlmModel]:
        return await self._models(info)

    @strawberry.field
    async def active_models(self, info: Info) -> list[LlmModel]:
        return [m for m in await self._models(info) if m.status == "ACTIVE"]

    @strawberry.field
    async def default_model(self, info: Info) -> LlmModel | None:
        return next((m for m in await self._models(info) if m.is_default), None)


@strawberry.type
class LlmModel:
    id: strawberry.ID
    provider_id: strawberry.ID
    model_id: str
    display_name: str
    cost_input_per_million: float
    cost_output_per_million: float
    status: str
    is_default: bool
    api_config: JSON | None
    created_at: datetime
    updated_at: datetime
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
        return LlmProvider.from_row(await self._provider(info))

    @strawberry.field
    async def is_available(self, info: Info) -> bool:
        return service.is_available(await self._provider(info))


@strawberry.type
class AvailableModel:
    id: str
    provider_id: str
    display_name: str
    versions: list[str]
    default_version: str | None
    is_available: bool
    is_default: bool


@strawberry.type
class SetDefaultModelResult:
    model: LlmModel
    previous_default: LlmModel | None


@strawberry.type
class DeprecateModelResult:
    model: LlmModel
    new_default: LlmModel | None


@strawberry.input
class CreateLlmModelInput:
    provider_id: str
    model_id: str
    display_name: str
    cost_input_per_million: float
    cost_output_per_million: float
    set_as_default: bool | None = None


@strawberry.input
class UpdateLlmModelInput:
    display_name: str | None = None
    cost_input_per_million: float | None = None
    cost_output_per_million: float | None = None
    api_config: JSON | None = None


@strawberry.input
class UpdateLlmProviderInput:
    is_enabled: bool | None = None
    max_parallel_requests: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


def _model_or_none(row: tables.LlmModel | None) -> LlmModel | None:
    return LlmModel.from_row(row) if row is not None else None


@strawberry.type
class LlmQuery:
    @paged_field(PROVIDER_PAGE)
    async def llm_providers(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[LlmProvider]:
        paging = PROVIDER_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_providers(session, paging)
        return [LlmProvider.from_row(r) for r in rows]

    @strawberry.field
    async def llm_provider(self, info: Info, ident: IdArg) -> LlmProvider | None:
        async with info.context.reader.use() as session:
            row = await service.get_provider(session, ident)
        return LlmProvider.from_row(row) if row else None

    @paged_field(MODEL_PAGE)
    async def llm_models(
        self,
        info: Info,
        provider_id: str | None = None,
        status: str | None = None,
        available_only: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[LlmModel]:
        paging = MODEL_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_models(
                session,
                provider_id=provider_id,
                status=status,
                available_only=bool(available_only),
                paging=paging,
            )
        return [LlmModel.from_row(m, p) for m, p in rows]

    @strawberry.field
    async def llm_model(self, info: Info, ident: IdArg) -> LlmModel | None:
        async with info.context.reader.use() as session:
            return _model_or_none(await service.get_model(session, ident))

    @paged_field(AVAILABLE_MODEL_PAGE)
    async def available_models(
        self,
        info: Info,
        available_only: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[AvailableModel]:
        paging = AVAILABLE_MODEL_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_models(
                session,
                provider_id=None,
                status="ACTIVE",
                available_only=bool(available_only),
                paging=paging,
            )
        return [
            AvailableModel(
                id=m.model_id,
                provider_id=p.name,
                display_name=m.display_name,
                versions=[m.model_id],
                default_version=m.model_id,
                is_available=service.is_available(p),
                is_default=m.is_default,
            )
            for m, p in rows
        ]


@strawberry.type
class LlmMutation:
    @strawberry.mutation
    async def create_llm_model(
        self, info: Info, data: Annotated[CreateLlmModelInput, strawberry.argument(name="input")]
    ) -> LlmModel:
        new = service.NewModel(
            provider_id=data.provider_id,
            model_id=data.model_id,
            display_name=data.display_name,
            cost_input_per_million=data.cost_input_per_million,
            cost_output_per_million=data.cost_output_per_million,
            set_as_default=bool(data.set_as_default),
        )
        async with info.context.db.transaction() as session:
            return LlmModel.from_row(await service.create_model(session, new))

    @strawberry.mutation
    async def update_llm_model(
        self,
        info: Info,
        ident: IdArg,
        data: Annotated[UpdateLlmModelInput, strawberry.argument(name="input")],
    ) -> LlmModel:
        async with info.context.db.transaction() as session:
            row = await service.update_model(
                session,
                ident,
                display_name=data.display_name,
                cost_input_per_million=data.cost_input_per_million,
                cost_output_per_million=data.cost_output_per_million,
                api_config=data.api_config,
            )
        return LlmModel.from_row(row)

    @strawberry.mutation
    async def deprecate_llm_model(self, info: Info, ident: IdArg) -> DeprecateModelResult:
        async with info.context.db.transaction() as session:
            model, new_default = await service.deprecate_model(session, ident)
        return DeprecateModelResult(
            model=LlmModel.from_row(model), new_default=_model_or_none(new_default)
        )

    @strawberry.mutation
    async def reactivate_llm_model(self, info: Info, ident: IdArg) -> LlmModel:
        async with info.context.db.transaction() as session:
            return LlmModel.from_row(await service.reactivate_model(session, ident))

    @strawberry.mutation
    async def set_default_llm_model(self, info: Info, ident: IdArg) -> SetDefaultModelResult:
        async with info.context.db.transaction() as session:
            model, previous = await service.set_default_model(session, ident)
        return SetDefaultModelResult(
            model=LlmModel.from_row(model), previous_default=_model_or_none(previous)
        )

    @strawberry.mutation
    async def unset_default_llm_model(self, info: Info, ident: IdArg) -> LlmModel:
        async with info.context.db.transaction() as session:
            return LlmModel.from_row(await service.unset_default_model(session, ident))

    @strawberry.mutation
    async def update_llm_provider(
        self,
        info: Info,
        ident: IdArg,
        data: Annotated[UpdateLlmProviderInput, strawberry.argument(name="input")],
    ) -> LlmProvider:
        async with info.context.db.transaction() as session:
            row = await service.update_provider(
                session,
                ident,
                is_enabled=data.is_enabled,
                max_parallel_requests=data.max_parallel_requests,
                requests_per_minute=data.requests_per_minute,
                tokens_per_minute=data.tokens_per_minute,
            )
        return LlmProvider.from_row(row)
