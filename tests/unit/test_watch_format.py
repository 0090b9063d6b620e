"""`valuerank watch`'s line: bar, percent, money, ETA, and what a missing estimate shows."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from app.watch import (
    Counts,
    Event,
    Screen,
    WatchError,
    format_bar,
    format_eta,
    format_final,
    format_money,
    format_percent,
    format_progress,
    resolve_api_key,
    websocket_url,
)

RUNNING = Event(
    status="RUNNING",
    progress=Counts(total=20, completed=9, failed=0),
    percent=45.0,
    summaries=None,
    cost_so_far=0.0123,
    estimated_total_cost=0.027,
    seconds_remaining=12,
)


def event(**overrides: Any) -> Event:
    return dataclasses.replace(RUNNING, **overrides)


@pytest.mark.parametrize(
    ("percent", "bar"),
    [
        (0.0, "[--------------------]"),
        (45.0, "[#########-----------]"),
        (99.9, "[###################-]"),
        (100.0, "[####################]"),
        (120.0, "[####################]"),
        (-5.0, "[--------------------]"),
    ],
)
def test_bar_fills_by_percent_and_is_full_only_at_100(percent: float, bar: str) -> None:
    assert format_bar(percent) == bar


def test_percent_and_money() -> None:
    assert format_percent(45.0) == " 45.0%"
    assert format_percent(100.0) == "100.0%"
    assert format_money(0.0123) == "$0.0123"
    assert format_money(0) == "$0.0000"
    assert format_money(12.5) == "$12.5000"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, None),
        (0, "ETA 0s"),
        (12, "ETA 12s"),
        (125, "ETA 2m05s"),
        (3720, "ETA 1h02m"),
        (-3, "ETA 0s"),
    ],
)
def test_eta(seconds: int | None, text: str | None) -> None:
    assert format_eta(seconds) == text


def test_a_running_line() -> None:
    assert format_progress(event()) == (
        "RUNNING     [#########-----------]   45.0%  9 done  0 failed / 20"
        "  $0.0123 of ~$0.0270  ETA 12s"
    )


def test_null_estimates_leave_out_the_total_and_the_eta() -> None:
    line = format_progress(
        event(status="PENDING", percent=0.0, estimated_total_cost=None, seconds_remaining=None)
    )
    assert line == "PENDING     [--------------------]    0.0%  9 done  0 failed / 20  $0.0123"


def test_summarizing_shows_the_summaries_it_waits_for() -> None:
    line = format_progress(
        event(
            status="SUMMARIZING",
            progress=Counts(20, 19, 1),
            percent=100.0,
            summaries=Counts(19, 4, 0),
            seconds_remaining=None,
        )
    )
    assert line.endswith(
        "19 done  1 failed / 20  $0.0123 of ~$0.0270  summaries 4 done  0 failed / 19"
    )


def test_final_line() -> None:
    done = event(
        status="COMPLETED", progress=Counts(20, 20, 0), percent=100.0, summaries=Counts(20, 20, 0)
    )
    assert format_final("run-1", done) == (
        "Run run-1 COMPLETED: 20 done  0 failed / 20  summaries 20 done  0 failed / 20  $0.0123"
    )


def test_http_addresses_become_websocket_addresses() -> None:
    assert websocket_url("http://127.0.0.1:8000/graphql") == "ws://127.0.0.1:8000/graphql"
    assert websocket_url("HTTPS://example.org/graphql") == "wss://example.org/graphql"
    assert websocket_url("wss://example.org/graphql") == "wss://example.org/graphql"
    with pytest.raises(WatchError, match="not an http"):
        websocket_url("example.org/graphql")


def test_the_key_comes_from_the_flag_then_the_environment_then_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "admin-api-key"
    key_file.write_text("from-file\n")
    env = {"VALUERANK_API_KEY": "from-env"}
    assert resolve_api_key("from-flag", env, key_file) == "from-flag"
    assert resolve_api_key(None, env, key_file) == "from-env"
    assert resolve_api_key(None, {}, key_file) == "from-file"
    with pytest.raises(WatchError, match="no API key"):
        resolve_api_key(None, {}, tmp_path / "missing")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_redraws_one_line_and_a_pipe_gets_one_per_event() -> None:
    piped = io.StringIO()
    screen = Screen(piped)
    screen.show("RUNNING long line")
    screen.show("RUNNING")
    screen.end("done")
    assert piped.getvalue() == "RUNNING long line\nRUNNING\ndone\n"

    terminal = Terminal()
    screen = Screen(terminal)
    screen.show("RUNNING long line")
    screen.show("RUNNING")
    screen.end("done")
    # Each redraw blanks what the previous, longer line left behind.
    assert terminal.getvalue() == "\rRUNNING long line" + "\rRUNNING          " + "\rdone   \n"


def test_spend_against_the_cap_and_why_the_server_paused() -> None:
    paused = event(status="PAUSED", max_budget_usd=0.05, pause_reason="BUDGET_EXHAUSTED")
    assert format_progress(paused) == (
        "PAUSED (BUDGET_EXHAUSTED) [#########-----------]   45.0%  9 done  0 failed / 20  "
        "$0.0123 of ~$0.0270  cap $0.0500 (25%)  ETA 12s"
    )
    assert format_progress(event(status="PAUSED")).startswith("PAUSED      [")
