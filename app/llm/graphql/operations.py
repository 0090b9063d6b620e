"""Provider and model queries and mutations (ValueRank's names and shapes)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.args import IdArg, paged_field
from app.graphql.context import Info
from app.llm import models as tables
from app.llm import service
from app.llm.graphql.types import (
    AVAILABLE_MODEL_PAGE,
    MODEL_PAGE,
    PROVIDER_PAGE,
    AvailableModel,
    CreateLlmModelInput,
    DeprecateModelResult,
    LlmModel,
    LlmProvider,
    SetDefaultModelResult,
    UpdateLlmModelInput,
    UpdateLlmProviderInput,
)


def _model_or_none(row: tables.LlmModel | None) -> LlmModel | None:
    return LlmModel.from_row(row) if row is not None else None


@strawberry.type
class LlmQuery:
    """Queries on providers and models."""

    @paged_field(PROVIDER_PAGE)
    async def llm_providers(
        self, info: Info, limit: int | None = None, offset: int | None = None
    ) -> list[LlmProvider]:
        """Providers, by display name."""
        paging = PROVIDER_PAGE.page(limit, offset)
        async with info.context.reader.use() as session:
            rows = await service.list_providers(session, paging)
        return [LlmProvider.from_row(r) for r in rows]

    @strawberry.field
    async def llm_provider(self, info: Info, ident: IdArg) -> LlmProvider | None:
        """One provider; null when unknown.

        Args:
            id: The provider's id or name (e.g. openai).
        """
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
        """Catalog models, by provider then display name.

        Args:
            providerId: Only this provider's models (its id or name).
            status: Only models in this status (ACTIVE or DEPRECATED).
            availableOnly: Only models that can be called now.
        """
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
        """One model; null when unknown.

        Args:
            id: The model's catalog id (LlmModel.id).
        """
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
        """ACTIVE models as ValueRank's run form lists them.

        Args:
            availableOnly: Only models that can be called now.
        """
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
    """Mutations on the model catalog and providers (ADMIN)."""

    @strawberry.mutation
    async def create_llm_model(
        self, info: Info, data: Annotated[CreateLlmModelInput, strawberry.argument(name="input")]
    ) -> LlmModel:
        """Add a model to a provider's catalog. ADMIN. Errors: NOT_FOUND (provider), VALIDATION_ERROR (empty text, negative cost, duplicate modelId).

        Args:
            data: The new model.
        """
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
        """Change a model's name, prices or apiConfig. ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR.

        Args:
            id: The model's catalog id.
            data: The changes.
        """
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
        """Set a model DEPRECATED (new runs refuse it); a default passes to the oldest active sibling. ADMIN. Errors: NOT_FOUND.

        Args:
            id: The model's catalog id.
        """
        async with info.context.db.transaction() as session:
            model, new_default = await service.deprecate_model(session, ident)
        return DeprecateModelResult(
            model=LlmModel.from_row(model), new_default=_model_or_none(new_default)
        )

    @strawberry.mutation
    async def reactivate_llm_model(self, info: Info, ident: IdArg) -> LlmModel:
        """Set a DEPRECATED model ACTIVE again. ADMIN. Errors: NOT_FOUND.

        Args:
            id: The model's catalog id.
        """
        async with info.context.db.transaction() as session:
            return LlmModel.from_row(await service.reactivate_model(session, ident))

    @strawberry.mutation
    async def set_default_llm_model(self, info: Info, ident: IdArg) -> SetDefaultModelResult:
        """Make a model its provider's default (one per provider). ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR (a deprecated model).

        Args:
            id: The model's catalog id.
        """
        async with info.context.db.transaction() as session:
            model, previous = await service.set_default_model(session, ident)
        return SetDefaultModelResult(
            model=LlmModel.from_row(model), previous_default=_model_or_none(previous)
        )

    @strawberry.mutation
    async def unset_default_llm_model(self, info: Info, ident: IdArg) -> LlmModel:
        """Make a model no longer its provider's default. ADMIN. Errors: NOT_FOUND.

        Args:
            id: The model's catalog id.
        """
        async with info.context.db.transaction() as session:
            return LlmModel.from_row(await service.unset_default_model(session, ident))

    @strawberry.mutation
    async def update_llm_provider(
        self,
        info: Info,
        ident: IdArg,
        data: Annotated[UpdateLlmProviderInput, strawberry.argument(name="input")],
    ) -> LlmProvider:
        """Change a provider's switch and limits; workers apply them live. ADMIN. Errors: NOT_FOUND, VALIDATION_ERROR (out-of-range limit).

        Args:
            id: The provider's id or name.
            data: The changes.
        """
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
