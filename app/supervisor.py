"""`serve`'s worker process, kept alive: restarted with backoff when it dies, stopped (never
restarted) when `serve` shuts down, and gone with `serve` even when `serve` is killed outright.

The child runs in its own session, so a Ctrl-C in the terminal reaches `serve` alone and `serve`
stops the child in order; `--stop-with-parent` makes the child watch `serve`'s pid and stop by
itself if `serve` disappears without a word (kill -9), instead of working on as an orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from app.backoff import Backoff

log = logging.getLogger(__name__)


def describe_exit(returncode: int) -> str:
    """`exited with code 1` or `killed by SIGKILL` (asyncio reports a signal as -signum)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def worker_command() -> list[str]:
    """`python -m workers`, told to stop when this process goes away."""
    return [sys.executable, "-m", "workers", "--stop-with-parent", str(os.getpid())]


class Supervisor:
    """Runs `command` as a child process until `stop()`, restarting it whenever it dies."""

    def __init__(
        self,
        command: Sequence[str],
        env: dict[str, str],
        *,
        backoff: Backoff,
        stable_seconds: float,
        stop_timeout: float = 15.0,
    ) -> None:
        self.command = list(command)
        self.env = env
        self.backoff = backoff
        self.stable_seconds = stable_seconds
        self.stop_timeout = stop_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the child and watch it; returns once the first child is running."""
        await self._spawn()
        self._task = asyncio.create_task(self._watch(), name="worker supervisor")

    async def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after `stop_timeout`) and restart nothing."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self.process is not None:
            await _terminate(self.process, self.stop_timeout)

    async def _spawn(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        log.info("worker process %d started", self.process.pid)

    async def _watch(self) -> None:
        while self.process is not None:
            started = time.monotonic()
            exited = asyncio.create_task(self.process.wait())
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if self._stopping.is_set():
                exited.cancel()
                return
            if time.monotonic() - started >= self.stable_seconds:
                self.backoff.reset()  # it had been healthy: this is a fresh failure
            delay = self.backoff.next_delay()
            log.warning(
                "worker process %d %s; restarting it in %.1f s",
                self.process.pid,
                describe_exit(exited.result()),
                delay,
            )
            if await self._stopped_within(delay):
                return
            await self._spawn()
            self.restarts += 1

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()


async def _terminate(process: asyncio.subprocess.Process, grace: float) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        process.kill()
        await process.wait()
