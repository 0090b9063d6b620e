"""Exponential backoff for things that restart or reconnect: 1 s, 2 s, 4 s ... capped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays that double from `first` up to `cap`; `reset()` after a success."""

    first: float = 1.0
    cap: float = 30.0
    factor: float = 2.0
    _next: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def next_delay(self) -> float:
        """The delay to wait now; the one after it is longer, up to the cap."""
        delay = self._next
        self._next = min(self.cap, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = min(self.first, self.cap)
