"""Settings parsed from the environment: the provider host allowlist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_provider_host_allowlist_is_comma_separated_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_HOST_ALLOWLIST", " GPU-box.lan, gateway.internal:8443,,[::1]:9 ")
    assert Settings().provider_host_allowlist == ["gpu-box.lan", "gateway.internal:8443", "[::1]:9"]


def test_provider_host_allowlist_is_empty_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROVIDER_HOST_ALLOWLIST", raising=False)
    assert Settings(_env_file=None).provider_host_allowlist == []


@pytest.mark.parametrize(
    "entry", ["https://gpu-box.lan/v1", "gpu-box.lan/v1", "user@gpu-box.lan", "gpu-box.lan:http"]
)
def test_provider_host_allowlist_refuses_what_is_not_host_or_host_port(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    # Accepted, a URL would trust nothing and the operator would not know why keys stay home.
    monkeypatch.setenv("PROVIDER_HOST_ALLOWLIST", f"ok.lan,{entry}")
    with pytest.raises(ValidationError, match="is not host or host:port"):
        Settings()
