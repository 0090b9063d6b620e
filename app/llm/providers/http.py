"""The process's one HTTP client, and the one place where HTTP failures become ProviderErrors.

Classification (BEHAVIOUR.md, "Probe job" 4), the same for every vendor:

    timeout                                  TIMEOUT          retryable
    connect error, dropped connection, ...   NETWORK          retryable
    out of credit / billing quota (any code) QUOTA_EXHAUSTED  not retryable
    429                                      RATE_LIMIT       retryable, honours Retry-After
    402                                      QUOTA_EXHAUSTED
    401, 403                                 AUTH
    404                                      NOT_FOUND
    other 4xx (and 3xx: a wrong base URL)    BAD_REQUEST
    5xx, 529 (overloaded)                    SERVER_ERROR     retryable
    200 with a body that is not JSON         SERVER_ERROR     retryable

Messages name the HTTP status and the vendor's own message; never a key or a request header:
every configured key and every Bearer / x-api-key style value is redacted before the message
is cut to length (a cut first could leave a key's head that no longer matches it).
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx

from app.llm import credentials
from app.llm.providers.base import ErrorKind, ProviderError, Target

MAX_CONNECTIONS = 512
MAX_KEEPALIVE_CONNECTIONS = 256
CONNECT_TIMEOUT_SECONDS = 10.0
_MAX_VENDOR_MESSAGE = 300

_client: httpx.AsyncClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None


def client() -> httpx.AsyncClient:
    """The shared client, created on first use (and again if its event loop has closed)."""
    global _client, _client_loop
    if _client is None or _client.is_closed or (_client_loop and _client_loop.is_closed()):
        limits = httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
        )
        # No client-wide timeout: every call passes its target's own.
        _client = httpx.AsyncClient(limits=limits, timeout=None)
        _client_loop = _running_loop()
    return _client


async def aclose() -> None:
    """Close the shared client (its pooled connections); the next `client()` makes a new one."""
    global _client, _client_loop
    current, _client, _client_loop = _client, None, None
    if current is not None:
        await current.aclose()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def timeout_for(target: Target) -> httpx.Timeout:
    return httpx.Timeout(target.timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS)


async def post_json(
    target: Target, url: str, *, headers: Mapping[str, str], body: Mapping[str, Any]
) -> dict[str, Any]:
    """POST `body` as JSON; return the decoded JSON object of a 2xx reply or raise ProviderError."""
    try:
        response = await client().post(
            url, json=body, headers=dict(headers), timeout=timeout_for(target)
        )
    except httpx.TimeoutException as exc:
        raise ProviderError(
            ErrorKind.TIMEOUT, f"no response within {target.timeout_seconds:g}s"
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderError(ErrorKind.NETWORK, _transport_message(exc, target)) from exc
    if not response.is_success:
        raise error_from_response(response, target)
    return _json_object(response)


def _transport_message(exc: httpx.TransportError, target: Target) -> str:
    detail = _redact(str(exc), target) or "no detail"
    return f"{type(exc).__name__}: {detail}"


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(
            ErrorKind.SERVER_ERROR,
            f"HTTP {response.status_code}: reply is not valid JSON",
            status=response.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise ProviderError(
            ErrorKind.SERVER_ERROR,
            f"HTTP {response.status_code}: reply is not a JSON object",
            status=response.status_code,
        )
    return data


# Error responses -------------------------------------------------------------------------


def error_from_response(response: httpx.Response, target: Target) -> ProviderError:
    """Classify a non-2xx response (see the module docstring)."""
    status = response.status_code
    error = _vendor_error(response)
    vendor_message = _clip(_redact(_text(error.get("message")), target))
    message = f"HTTP {status}: {vendor_message}" if vendor_message else f"HTTP {status}"
    kind = _kind_for(status, error)
    retry_after = _retry_after(response, error) if kind is ErrorKind.RATE_LIMIT else None
    return ProviderError(kind, message, status=status, retry_after=retry_after)


def _kind_for(status: int, error: Mapping[str, Any]) -> ErrorKind:
    if _is_quota_exhausted(status, error):
        return ErrorKind.QUOTA_EXHAUSTED
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status == 402:
        return ErrorKind.QUOTA_EXHAUSTED
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status < 500:
        return ErrorKind.BAD_REQUEST  # 400, 422, other 4xx (and a redirect: a wrong base URL)
    return ErrorKind.SERVER_ERROR  # 5xx, 529 overloaded


def _is_quota_exhausted(status: int, error: Mapping[str, Any]) -> bool:
    """Out of credit, in each vendor's own words (as opposed to a per-minute rate limit)."""
    message = _text(error.get("message")).lower()
    # OpenAI (and compatible servers): {"error": {"type"|"code": "insufficient_quota"}}
    if "insufficient_quota" in (error.get("code"), error.get("type")):
        return True
    # Anthropic: 400/403/429 "Your credit balance is too low to access the Anthropic API..."
    if status in (400, 403, 429) and "credit balance" in message:
        return True
    # Gemini: {"error": {"status": "RESOURCE_EXHAUSTED", "message": "...quota...billing..."}}
    return (
        error.get("status") == "RESOURCE_EXHAUSTED"
        and "quota" in message
        and ("billing" in message or "exceeded your current quota" in message)
    )


def _vendor_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object all three vendors put in their error bodies, or {}."""
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):  # some OpenAI-compatible servers: {"error": "message"}
        return {"message": error}
    return {}


def _text(value: Any) -> str:
    """A vendor's string on one line, whole (redact it before `_clip`)."""
    return " ".join(value.split()) if isinstance(value, str) else ""


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_VENDOR_MESSAGE else text[: _MAX_VENDOR_MESSAGE - 1] + "…"


REDACTED = "[redacted]"
# A credential the way it travels: `Bearer <value>`, `x-api-key: <value>`, `api_key=<value>`,
# `Authorization: Bearer <value>`. Values under 8 characters are words ("Bearer auth"), not keys.
_CREDENTIAL_VALUE = re.compile(
    r"(?i)(\bbearer\s+|\b(?:x-(?:goog-)?api-key|api[-_]?key|authorization)[\"']?\s*[:=]\s*"
    r"[\"']?(?:bearer\s+)?)[^\s\"',;&]{8,}"
)


def _redact(text: str, target: Target) -> str:
    """Vendors sometimes echo the key they were sent (or another); none may reach logs or the
    API. Every key this process holds is masked, longest first (a key containing another goes
    whole), then anything shaped like a credential."""
    keys = credentials.configured_keys() | ({target.api_key} if target.api_key else set())
    for key in sorted(keys, key=len, reverse=True):
        text = text.replace(key, REDACTED)
    return _CREDENTIAL_VALUE.sub(lambda match: match.group(1) + REDACTED, text)


# Retry-After -----------------------------------------------------------------------------


def _retry_after(response: httpx.Response, error: Mapping[str, Any]) -> float | None:
    """Seconds to wait: `retry-after-ms`, else `Retry-After`, else Gemini's RetryInfo."""
    millis = _seconds(response.headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    header = response.headers.get("retry-after")
    if header is not None:
        return parse_retry_after(header)
    return _gemini_retry_delay(error)


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """A Retry-After value, as seconds (never negative): delta-seconds or an HTTP date."""
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _gemini_retry_delay(error: Mapping[str, Any]) -> float | None:
    """Gemini puts the wait in `details[*]` of type RetryInfo: {"retryDelay": "21s"}."""
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return _seconds(delay[:-1])
    return None


# Reading replies -------------------------------------------------------------------------


def mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {} (vendors omit fields freely)."""
    return value if isinstance(value, dict) else {}


def objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in `value` if it is a list, else []."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def token_count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def model_name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def require_text(text: str) -> str:
    """The reply text, unless it is empty or only whitespace (EMPTY_REPLY, not retryable)."""
    if not text.strip():
        raise ProviderError(ErrorKind.EMPTY_REPLY, "HTTP 200: the reply has no text", status=200)
    return text


def refusal(reason: str) -> ProviderError:
    return ProviderError(ErrorKind.REFUSAL, f"HTTP 200: {_clip(_text(reason))}", status=200)
