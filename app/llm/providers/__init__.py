"""Provider adapters: pick the adapter for a provider row, and build its Target from the
environment (`<PREFIX>_API_KEY`, `<PREFIX>_BASE_URL`) and the model's `apiConfig`."""

from __future__ import annotations

import os
from typing import Any

from app.llm.credentials import SIMULATED, env_prefix
from app.llm.providers.anthropic import AnthropicAdapter
from app.llm.providers.base import Adapter, ErrorKind, ProviderError, Target
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


def adapter_for(provider_name: str) -> Adapter:
    """Anthropic, Gemini or the simulated adapter by name; every other provider speaks OpenAI's."""
    return _ADAPTERS.get(provider_name, _OPENAI_COMPATIBLE)


def target_for(provider_name: str, model: str, api_config: dict[str, Any] | None) -> Target:
    """Where to call `model`. `api_config` may set `baseUrl` and `timeoutSeconds`.

    Raises ProviderError(BAD_REQUEST) for a provider with neither a default nor a configured
    base URL, or a `timeoutSeconds` that is not a positive number.
    """
    config = dict(api_config or {})
    return Target(
        provider=provider_name,
        model=model,
        base_url=_base_url(provider_name, config),
        api_key=_api_key(provider_name),
        api_config=config,
        timeout_seconds=_timeout_seconds(config),
    )


def _api_key(provider_name: str) -> str | None:
    names = (f"{env_prefix(provider_name)}_API_KEY", *_EXTRA_KEY_VARIABLES.get(provider_name, ()))
    return next((value for name in names if (value := os.environ.get(name, "").strip())), None)


def _base_url(provider_name: str, config: dict[str, Any]) -> str:
    variable = f"{env_prefix(provider_name)}_BASE_URL"
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
