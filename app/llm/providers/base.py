"""What every provider adapter speaks: a chat request in, a completion or a classified error out.

Errors are classified once, here at the edge (BEHAVIOUR.md, "Probe job" 4): the job only asks
`error.retryable` and `error.retry_after`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to call one model. `api_key` is never logged or returned by the API."""

    provider: str  # provider row name: openai, anthropic, google, simulated, ...
    model: str  # the model name the vendor expects (LlmModel.modelId)
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    api_config: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 120.0

    @property
    def lease_seconds(self) -> float:
        """How long a call's lease and ledger row count when nothing ends them (a worker
        killed mid-call): twice the timeout, plus 30 s."""
        return self.timeout_seconds * 2 + 30


@dataclass(frozen=True, slots=True)
class ChatRequest:
    target: Target
    messages: Sequence[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    # Deterministic providers (the simulated one) derive their reply from it:
    # "<runId>:<scenarioId>:<modelId>:<sampleIndex>:<turn>".
    seed: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    model_version: str | None  # the model name the provider reports


class ErrorKind(StrEnum):
    RATE_LIMIT = "RATE_LIMIT"  # 429 without quota exhaustion: retry after Retry-After
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"  # out of credit / billing quota: not retryable
    TIMEOUT = "TIMEOUT"
    NETWORK = "NETWORK"
    SERVER_ERROR = "SERVER_ERROR"  # 5xx (and 529 overloaded)
    BAD_REQUEST = "BAD_REQUEST"
    AUTH = "AUTH"  # 401/403
    NOT_FOUND = "NOT_FOUND"
    REFUSAL = "REFUSAL"  # the vendor blocked the content
    EMPTY_REPLY = "EMPTY_REPLY"
    # The key would go to a host that is neither the provider's nor allowlisted: not called.
    UNTRUSTED_HOST = "UNTRUSTED_HOST"


RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.SERVER_ERROR}
)


class ProviderError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds, from Retry-After (or the vendor's hint)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


class Adapter(Protocol):
    async def complete(self, request: ChatRequest) -> Completion:
        """One call. Raises ProviderError (only) for every failure, already classified."""
        ...
