"""Backoff delays, how a child's exit is described, and which errors count as an outage."""

from __future__ import annotations

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException

from app.backoff import Backoff
from app.db import describe, is_transient
from app.supervisor import describe_exit


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(1.0, 30.0)
    assert [backoff.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_an_exit_is_described_by_its_code_or_its_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(0) == "exited with code 0"


def refused_connection() -> psycopg.OperationalError:
    """A real driver error: nothing listens on port 1."""
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("postgresql://postgres@127.0.0.1:1/x", connect_timeout=2)
    return caught.value


def test_a_refused_connection_is_transient_even_wrapped_by_procrastinate() -> None:
    error = refused_connection()
    try:
        raise ConnectorException from error
    except ConnectorException as wrapped:
        assert is_transient(wrapped)
        assert describe(wrapped).startswith("OperationalError: connection failed")


def test_errors_a_retry_would_only_repeat_are_not_transient() -> None:
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(psycopg.errors.UniqueViolation("duplicate key"))
    assert not is_transient(FileNotFoundError("no such file"))
