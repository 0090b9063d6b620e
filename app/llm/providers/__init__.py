"""Provider adapters: pick the adapter for a provider row, and build its Target from the
environment (`<PREFIX>_API_KEY`, `<PREFIX>_BASE_URL`) and the model's `apiConfig`.

`target_for` is also the one place that decides whether a provider's key may travel to the
target's host: only to the provider's own base URL or a host the operator trusts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import SplitResult, urlsplit

from app import prometheus
from app.llm.credentials import SIMULATED, env_prefix
from app.llm.providers.anthropic import AnthropicAdapter
from app.llm.providers.base import (
    Adapter,
    ChatRequest,
    Completion,
    ErrorKind,
    ProviderError,
    Target,
)
from app.llm.providers.gemini import GeminiAdapter
from app.llm.providers.openai import OpenAIAdapter
from app.llm.providers.simulated import SimulatedAdapter

__all__ = ["DEFAULT_BASE_URLS", "adapter_for", "target_for"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta",
    "xai": "https://api.x.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    SIMULATED: "simulated://",
}
DEFAULT_TIMEOUT_SECONDS = 120.0

# Extra key variables beyond `<PREFIX>_API_KEY`, in order of preference.
_EXTRA_KEY_VARIABLES: dict[str, tuple[str, ...]] = {"google": ("GEMINI_API_KEY",)}

_OPENAI_COMPATIBLE = OpenAIAdapter()
_ADAPTERS: dict[str, Adapter] = {
    "anthropic": AnthropicAdapter(),
    "google": GeminiAdapter(),
    SIMULATED: SimulatedAdapter(),
}


def adapter_for(provider_name: str) -> MeasuredAdapter:
    """Anthropic, Gemini or the simulated adapter by name; every other provider speaks OpenAI's.
    Every call through it is counted and timed (app/prometheus.py)."""
    return MeasuredAdapter(_ADAPTERS.get(provider_name, _OPENAI_COMPATIBLE), provider_name)


class MeasuredAdapter:
    """An adapter whose calls count toward the provider-call metrics: outcome, latency and
    calls in flight, labelled by provider (a bounded set: the catalog's providers)."""

    def __init__(self, adapter: Adapter, provider_name: str) -> None:
        self.wire = adapter  # the adapter that speaks the vendor's format
        self._provider = provider_name

    async def complete(self, request: ChatRequest) -> Completion:
        in_flight = prometheus.CALLS_IN_FLIGHT.labels(self._provider)
        outcome = "success"
        started = time.perf_counter()
        in_flight.inc()
        try:
            return await self.wire.complete(request)
        except ProviderError as failed:
            outcome = str(failed.kind)
            raise
        except BaseException:
            outcome = "aborted"
            raise
        finally:
            in_flight.dec()
            prometheus.PROVIDER_LATENCY.labels(self._provider).observe(
                time.perf_counter() - started
            )
            prometheus.PROVIDER_CALLS.labels(self._provider, outcome).inc()


def target_for(
    provider_name: str,
    model: str,
    api_config: dict[str, Any] | None,
    *,
    trusted_hosts: Collection[str] = (),
) -> Target:
    """Where to call `model`. `api_config` may set `baseUrl` and `timeoutSeconds`.

    `trusted_hosts` (PROVIDER_HOST_ALLOWLIST: `host` or `host:port`) may receive the provider's
    key besides its own base URL. Raises ProviderError: BAD_REQUEST for a provider with neither
    a default nor a configured base URL, or a `timeoutSeconds` that is not a positive number;
    UNTRUSTED_HOST when the provider has a key and `baseUrl` points anywhere else.
    """
    config = dict(api_config or {})
    base_url = _base_url(provider_name, config)
    api_key = _api_key(provider_name)
    if api_key is not None and not _may_receive_key(provider_name, base_url, trusted_hosts):
        # Refused rather than sent without the key: a keyless call to a stranger would still
        # carry the prompts, and would fail later with a vendor 401 that hides the reason. The
        # probe fails at once, naming the host and the setting that would allow it.
        raise ProviderError(
            ErrorKind.UNTRUSTED_HOST,
            f"the {provider_name} API key is not sent to {_host_port(urlsplit(base_url))}: it "
            f"is not the provider's base URL; an operator may list it in PROVIDER_HOST_ALLOWLIST",
        )
    return Target(
        provider=provider_name,
        model=model,
        base_url=base_url,
        api_key=api_key,
        api_config=config,
        timeout_seconds=_timeout_seconds(config),
    )


def _may_receive_key(provider_name: str, base_url: str, trusted_hosts: Collection[str]) -> bool:
    """The provider's own origin (its default or `<PREFIX>_BASE_URL`: scheme, host and port,
    so a plain-HTTP downgrade does not count), or a host the operator listed."""
    target = urlsplit(base_url)
    if target.username is not None or "\\" in target.netloc:
        # Userinfo or a backslash in the authority (`evil\@vendor`) invites parser tricks: refused
        # on write, and a URL stored before that check gets no key.
        return False
    own = (DEFAULT_BASE_URLS.get(provider_name), os.environ.get(_base_url_variable(provider_name)))
    if any(url and _origin(urlsplit(url.strip())) == _origin(target) for url in own):
        return True
    return any(_host_matches(target, entry) for entry in trusted_hosts)


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    return parts.scheme.lower(), parts.hostname or "", _port(parts)


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None  # not a number: matches nothing but another unusable URL


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_matches(target: SplitResult, entry: str) -> bool:
    """`host` matches any port of that host; `host:port` only that port."""
    allowed = urlsplit(f"//{entry.strip().lower()}")
    if not allowed.hostname or allowed.hostname != target.hostname:
        return False
    return allowed.port is None or allowed.port == _port(target)


def _host_port(parts: SplitResult) -> str:
    return parts.netloc.rsplit("@", 1)[-1] or parts.geturl()


def _api_key(provider_name: str) -> str | None:
    names = (f"{env_prefix(provider_name)}_API_KEY", *_EXTRA_KEY_VARIABLES.get(provider_name, ()))
    return next((value for name in names if (value := os.environ.get(name, "").strip())), None)


def _base_url_variable(provider_name: str) -> str:
    return f"{env_prefix(provider_name)}_BASE_URL"


def _base_url(provider_name: str, config: dict[str, Any]) -> str:
    variable = _base_url_variable(provider_name)
    candidates = (
        config.get("baseUrl"),
        os.environ.get(variable),
        DEFAULT_BASE_URLS.get(provider_name),
    )
    url = next((c.strip() for c in candidates if isinstance(c, str) and c.strip()), None)
    if url is None:
        raise ProviderError(
            ErrorKind.BAD_REQUEST, f"no base URL for provider {provider_name!r}: set {variable}"
        )
    return url if url.endswith("://") else url.rstrip("/")


def _timeout_seconds(config: dict[str, Any]) -> float:
    value = config.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ProviderError(
            ErrorKind.BAD_REQUEST, f"timeoutSeconds must be a positive number, got {value!r}"
        )
    return float(value)


def base_url_host(provider_name: str, api_config: dict[str, Any] | None) -> str | None:
    """The host (and port) a model's calls go to, for provenance; None when none is set.
    Only the host: a base URL may carry credentials in its user part or query."""
    try:
        url = _base_url(provider_name, dict(api_config or {}))
    except ProviderError:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname:
        return None
    return parts.hostname if port is None else f"{parts.hostname}:{port}"
