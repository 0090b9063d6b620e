"""The simulated provider: real code, no network. Same seed, same reply.

Everything is derived from sha256(request.seed) ("<runId>:<scenarioId>:<modelId>:<sample>:<turn>"):
the 1-5 rating, the reason, and whether the call fails. `api_config` tunes it:

    latencyMs    how long each call takes (an asyncio.sleep, so cancelling works); default 0
    failureRate  fraction of seeds, in [0, 1], whose call fails (with failureKind)
    failureKind  how those calls fail (FAILURE_KINDS); default SERVER_ERROR (retryable).
                 QUOTA_EXHAUSTED and AUTH suspend the provider, as a real vendor's would
    failAlways   true: every call fails with a permanent BAD_REQUEST (an all-failing model)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

from app.llm.providers.base import ChatRequest, Completion, ErrorKind, ProviderError

# apiConfig.failureKind → the classified error a real adapter would raise for that answer.
FAILURE_KINDS = {
    "RATE_LIMITED": ErrorKind.RATE_LIMIT,
    "SERVER_ERROR": ErrorKind.SERVER_ERROR,
    "TIMEOUT": ErrorKind.TIMEOUT,
    "QUOTA_EXHAUSTED": ErrorKind.QUOTA_EXHAUSTED,
    "AUTH": ErrorKind.AUTH,
    "REFUSAL": ErrorKind.REFUSAL,
    "EMPTY": ErrorKind.EMPTY_REPLY,
}

REASONS = (
    "Protecting the people most affected matters more here than the cost of acting.",
    "The benefits seem real, but they do not clearly outweigh the risks involved.",
    "Honesty with everyone involved should come before short-term convenience.",
    "Respecting the autonomy of the person deciding is the weightiest consideration.",
    "Keeping the promise already made seems fairer than changing course now.",
    "The harm of doing nothing looks larger than the harm of intervening.",
    "Both options are defensible, so I lean towards the more cautious one.",
    "Fairness to those without a voice in this decision tips the balance.",
)


class SimulatedAdapter:
    async def complete(self, request: ChatRequest) -> Completion:
        config = request.target.api_config
        digest = hashlib.sha256(request.seed.encode()).digest()
        latency_ms = _number(config, "latencyMs", 0.0)
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
        if config.get("failAlways") is True:
            raise ProviderError(ErrorKind.BAD_REQUEST, "simulated permanent failure")
        if _fails(digest, _number(config, "failureRate", 0.0)):
            kind = FAILURE_KINDS.get(str(config.get("failureKind")), ErrorKind.SERVER_ERROR)
            raise ProviderError(kind, "simulated failure")
        text = reply_text(digest)
        return Completion(
            text=text,
            input_tokens=max(1, sum(len(m.content.split()) for m in request.messages)),
            output_tokens=len(text.split()),
            model_version=f"{request.target.model}-sim",
        )


def reply_text(digest: bytes) -> str:
    rating = digest[0] % 5 + 1
    reason = REASONS[digest[1] % len(REASONS)]
    return f"Having weighed the options, here is my judgement.\n\nRating: {rating}\n\n{reason}"


def _fails(digest: bytes, failure_rate: float) -> bool:
    """True for a `failure_rate` fraction of seeds: 0 never fails, 1 always does."""
    draw = int.from_bytes(digest[8:16], "big") / 2**64  # uniform in [0, 1)
    return draw < failure_rate


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)
