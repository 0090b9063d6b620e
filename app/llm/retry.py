"""When a failed provider call is worth another attempt, and after how long: one rule for
probes and summaries alike."""

from __future__ import annotations

from app.config import Settings
from app.llm.providers.base import ProviderError


class RetryLater(Exception):
    """The call failed in a way worth retrying; the job should run again after `delay`."""

    def __init__(self, error: ProviderError, delay: float) -> None:
        super().__init__(f"{error} (retry in {delay:.1f}s)")
        self.error = error
        self.delay = delay

    @classmethod
    def unless_last(cls, error: ProviderError, attempts: int, settings: Settings) -> None:
        """Raise when the error is retryable and attempts remain (Retry-After, else backoff)."""
        if error.retryable and attempts + 1 < settings.max_attempts:
            delay = error.retry_after or settings.retry_base_seconds * 2**attempts
            raise cls(error, delay) from error
