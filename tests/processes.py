"""Looking at real processes from a test: a process's children, whether one still runs, and
waiting for a condition (a deadline is only a ceiling, never what a test measures)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def eventually(condition: Callable[[], bool], what: str, *, within: float = 90.0) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


async def eventually_true(
    check: Callable[[], Awaitable[bool]], what: str, *, within: float = 90.0
) -> None:
    """`eventually` for a check that has to await (a GraphQL query, a database read)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


async def only_child(pid: int, *, other_than: int | None = None) -> int:
    """The single child process of `pid` (waiting for it to appear), not `other_than`."""
    children: list[int] = []

    def one() -> bool:
        children[:] = [c for c in children_of(pid) if c != other_than]
        return len(children) == 1

    await eventually(one, f"one child process of {pid}")
    return children[0]


def log_has(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")
