"""Docker is not on the CI machine, so the image and compose files are checked for what can
be checked without it: they parse, name files and commands that exist, run as non-root, and
set only settings the code reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import cli
from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile line, continuations joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def _is_setting(name: str) -> bool:
    return name.lower() in Settings.model_fields


def test_the_image_copies_what_exists_and_runs_as_non_root() -> None:
    instructions = _dockerfile()
    for op, args in instructions:
        if op == "COPY":
            *sources, _ = shlex.split(args)
            assert all((ROOT / source).exists() for source in sources), args
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(args for op, args in instructions if op == "ENV")
    names = re.findall(r"(\w+)=", env)
    assert [n for n in names if not n.startswith(("PYTHON", "PIP_")) and not _is_setting(n)] == []
    assert any(op == "HEALTHCHECK" and "/readyz" in args for op, args in instructions)


def _exits_ok(argv: list[str]) -> bool:
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    return done.value.code == 0


def test_the_commands_exist() -> None:
    (cmd,) = [args for op, args in _dockerfile() if op == "CMD"]
    command = yaml.safe_load(cmd)
    assert command[0] == "valuerank" and _exits_ok(command[1:])
    for name, service in _compose()["services"].items():
        if "command" in service:
            assert service["command"][0] == "valuerank", name
            assert _exits_ok(service["command"][1:]), name


def test_compose_has_a_database_a_server_and_a_scalable_worker() -> None:
    services = _compose()["services"]
    assert {"db", "server", "worker"} <= set(services)
    worker = services["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert worker["depends_on"]["server"]["condition"] == "service_healthy"
    server = services["server"]
    assert server["environment"]["RUN_WORKERS"] == "false"
    for service in (server, worker):
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert all(_is_setting(name) for name in service["environment"])
