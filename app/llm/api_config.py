"""What a model's `apiConfig` may hold, checked when it is written.

Only the keys the code reads, each within a range a real deployment needs:

    baseUrl         http(s) URL with a host, no user info, query or fragment (target_for)
    timeoutSeconds  number, 0 < t <= 600 (target_for; a provider lease lasts twice as long)
    latencyMs       number, 0 <= ms <= 60000 (simulated provider)
    failureRate     number, 0 <= rate <= 1 (simulated provider)
    failAlways      boolean (simulated provider)
    failureKind     one of FAILURE_KINDS, how failureRate's calls fail (simulated provider)

A row stored before these checks is still read defensively by `target_for` and the simulated
adapter; this module keeps new ones sane so a mistake is refused where it is made, not
discovered by every probe of a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from app.errors import ValidationFailed

# The simulated provider's failure kinds (its FAILURE_KINDS keys; this module reads no adapter).
FAILURE_KINDS = (
    "RATE_LIMITED",
    "SERVER_ERROR",
    "TIMEOUT",
    "QUOTA_EXHAUSTED",
    "AUTH",
    "REFUSAL",
    "EMPTY",
)
MAX_BASE_URL_LENGTH = 2048
MAX_TIMEOUT_SECONDS = 600
MAX_LATENCY_MS = 60_000
# Echoed names of unknown keys are cut to this (the client sent them; no need to send 1 MB back).
_MAX_ECHOED_KEY = 64


def validated(value: Any) -> dict[str, Any]:
    """A copy of `value` when every key is known and every value in range; else
    ValidationFailed naming the field and what it allows."""
    if not isinstance(value, dict):
        raise ValidationFailed("apiConfig must be a JSON object")
    unknown = [key for key in value if key not in _RULES]
    if unknown:
        names = ", ".join(str(key)[:_MAX_ECHOED_KEY] for key in unknown[:5])
        raise ValidationFailed(f"apiConfig: unknown key {names}. Allowed keys: {', '.join(_RULES)}")
    for key, check in _RULES.items():
        if key in value:
            check(value[key])
    return dict(value)


def _base_url(value: Any) -> None:
    rule = (
        f"apiConfig.baseUrl must be an http or https URL with a host (no user info, query or "
        f"fragment), at most {MAX_BASE_URL_LENGTH} characters"
    )
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_BASE_URL_LENGTH:
        raise ValidationFailed(rule)
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValidationFailed(rule) from exc
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or "\\" in parts.netloc
        or parts.query
        or parts.fragment
    ):
        raise ValidationFailed(rule)


def _number(
    field: str, low: float, high: float, *, low_open: bool = False
) -> Callable[[Any], None]:
    lower = f"greater than {low:g}" if low_open else f"at least {low:g}"
    rule = f"apiConfig.{field} must be a number {lower} and at most {high:g}"

    def check(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed(rule)
        in_range = (low < value if low_open else low <= value) and value <= high
        if not (math.isfinite(value) and in_range):
            raise ValidationFailed(rule)

    return check


def _choice(field: str, allowed: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in allowed:
            raise ValidationFailed(f"apiConfig.{field} must be one of {', '.join(allowed)}")

    return check


def _boolean(field: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, bool):
            raise ValidationFailed(f"apiConfig.{field} must be true or false")

    return check


_RULES: dict[str, Callable[[Any], None]] = {
    "baseUrl": _base_url,
    "timeoutSeconds": _number("timeoutSeconds", 0, MAX_TIMEOUT_SECONDS, low_open=True),
    "latencyMs": _number("latencyMs", 0, MAX_LATENCY_MS),
    "failureRate": _number("failureRate", 0, 1),
    "failAlways": _boolean("failAlways"),
    "failureKind": _choice("failureKind", FAILURE_KINDS),
}
