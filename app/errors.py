"""The domain's errors: every expected refusal, each with a GraphQL `extensions.code`.

    DomainError
    ├── NotFound            NOT_FOUND         (`Run not found: <id>`)
    ├── ValidationFailed    VALIDATION_ERROR  (bad input; nothing written)
    ├── RunStateError       RUN_STATE_ERROR   (`Cannot pause run in COMPLETED state`)
    ├── Unauthenticated     UNAUTHENTICATED   (no or invalid API key)
    └── Forbidden           FORBIDDEN         (the key's role may not do this)

Anything else raised while serving a request is a bug: the client sees "Unexpected error."
and the log holds the traceback with the request id.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """The request was refused."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "Error").strip()
        super().__init__(self.message)

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies `original_error.extensions` onto the GraphQLError.
        return {"code": self.code}


class NotFound(DomainError):
    """Not found."""

    code = "NOT_FOUND"

    @classmethod
    def of(cls, kind: str, ident: str) -> NotFound:
        return cls(f"{kind} not found: {ident}")


class ValidationFailed(DomainError):
    """Invalid input."""

    code = "VALIDATION_ERROR"


def require_one_of(value: str, allowed: tuple[str, ...], name: str) -> str:
    """`value` when it is one of `allowed`, else `Invalid <name>: <value>. Must be one of: ...`."""
    if value not in allowed:
        raise ValidationFailed(f"Invalid {name}: {value}. Must be one of: {', '.join(allowed)}")
    return value


class RunStateError(DomainError):
    """The run is not in a state that allows this."""

    code = "RUN_STATE_ERROR"


class Unauthenticated(DomainError):
    """A valid API key is required: send `Authorization: Bearer <key>`."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """This API key's role may not do this."""

    code = "FORBIDDEN"
