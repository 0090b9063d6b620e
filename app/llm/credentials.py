"""What each provider needs from the environment to be callable. Values are never logged."""

from __future__ import annotations

import os

SIMULATED = "simulated"

# Provider name → environment variables that make it callable (any one suffices).
# OpenAI-compatible servers (Ollama, vLLM, llama.cpp) need only a base URL.
_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "ollama": ("OLLAMA_BASE_URL",),
}


def env_prefix(provider_name: str) -> str:
    return provider_name.upper().replace("-", "_")


# Shorter values are not treated as secrets to redact: masking "1" or "abc" everywhere would
# garble vendor messages and hide nothing a key-guesser could use.
_MIN_REDACTED_LENGTH = 8


def requirements(provider_name: str) -> tuple[str, ...]:
    """The environment variables that make the provider callable (any one suffices)."""
    prefix = env_prefix(provider_name)
    names = (*_REQUIREMENTS.get(provider_name, (f"{prefix}_API_KEY",)), f"{prefix}_BASE_URL")
    return tuple(dict.fromkeys(names))


def has_credentials(provider_name: str) -> bool:
    """True when the provider can be called: simulated always; others need a key or a base URL
    (a local OpenAI-compatible server may need no key)."""
    if provider_name == SIMULATED:
        return True
    return any(os.environ.get(name) for name in requirements(provider_name))


def configured_keys() -> set[str]:
    """Every key in the environment: any `*_API_KEY`, as any provider row may have one."""
    return {
        value.strip()
        for name, value in os.environ.items()
        if name.upper().endswith("_API_KEY") and len(value.strip()) >= _MIN_REDACTED_LENGTH
    }
