"""Deterministic scenario sampling, identical on every machine.

Sorted ids; Park-Miller minimal standard generator (`s = s * 16807 mod 2147483647`, value
`s / 2147483647`); Fisher-Yates from the last index (`j = floor(value * (i + 1))`); keep the
first `max(1, floor(n * pct / 100))`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

MODULUS = 2_147_483_647
MULTIPLIER = 16_807


def park_miller(seed: int) -> Iterator[float]:
    """Values in (0, 1) from the minimal standard generator; the seed must not be 0 mod M."""
    state = seed % MODULUS
    if state == 0:
        raise ValueError("a Park-Miller seed must not be a multiple of 2147483647")
    while True:
        state = state * MULTIPLIER % MODULUS
        yield state / MODULUS


def default_seed(definition_id: str) -> int:
    """A stable seed from the definition id (sha-256, never 0)."""
    digest = int.from_bytes(hashlib.sha256(definition_id.encode()).digest()[:8], "big")
    return digest % (MODULUS - 1) + 1


def sample_size(n: int, percentage: int) -> int:
    return max(1, n * percentage // 100)


def sample(ids: Sequence[str], percentage: int, seed: int) -> list[str]:
    """The sampled ids, in shuffled order (callers that need a set may sort them)."""
    shuffled = sorted(ids)
    values = park_miller(seed)
    for i in range(len(shuffled) - 1, 0, -1):
        j = int(next(values) * (i + 1))
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    return shuffled[: sample_size(len(shuffled), percentage)]
