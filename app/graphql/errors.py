"""Error policy: domain errors pass through with their code; anything else is masked and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types.graphql import OperationType

from app.errors import DomainError, Forbidden, Unauthenticated

log = logging.getLogger("app.graphql")

UNEXPECTED = "Unexpected error."


def is_expected(error: GraphQLError) -> bool:
    """Syntax/validation errors (no original error) and domain errors are shown as they are."""
    original = error.original_error
    return original is None or isinstance(original, DomainError)


def should_mask(error: GraphQLError) -> bool:
    return not is_expected(error)


def mask_errors() -> MaskErrors:
    return MaskErrors(should_mask_error=should_mask, error_message=UNEXPECTED)


class RequireApiKey(SchemaExtension):
    """Every operation needs a valid key; mutations need the ADMIN role. Introspection is open
    so GraphiQL can show the docs before a key is entered."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        viewer = getattr(ctx.context, "viewer", None)
        if not _introspection_only(ctx):
            if viewer is None:
                raise Unauthenticated()
            if ctx.operation_type == OperationType.MUTATION and not viewer.is_admin:
                raise Forbidden("Admin access required")
        yield


def _introspection_only(ctx: object) -> bool:
    document = getattr(ctx, "graphql_document", None)
    operation_name = getattr(ctx, "operation_name", None)
    if document is None:
        return False
    for definition in document.definitions:
        selection_set = getattr(definition, "selection_set", None)
        name = getattr(getattr(definition, "name", None), "value", None)
        if selection_set is None or (operation_name and name != operation_name):
            continue
        if getattr(definition, "operation", None) is None:
            continue
        return all(
            getattr(sel, "name", None) is not None and sel.name.value.startswith("__")
            for sel in selection_set.selections
        )
    return False


def log_unexpected(errors: list[GraphQLError], request_id: str | None) -> None:
    for error in errors:
        if not is_expected(error):
            log.error(
                "unexpected error (request %s) at %s",
                request_id,
                error.path,
                exc_info=error.original_error,
            )
