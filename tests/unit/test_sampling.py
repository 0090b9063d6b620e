"""Sampling: Park-Miller + Fisher-Yates from the last index, checked against a hand computation."""

from __future__ import annotations

import pytest

from app.runs import sampling


def test_park_miller_first_values_from_seed_1() -> None:
    values = sampling.park_miller(1)
    # 16807, 16807^2 mod M = 282475249, 282475249 * 16807 mod M = 1622650073
    assert [next(values) for _ in range(3)] == [
        16807 / 2147483647,
        282475249 / 2147483647,
        1622650073 / 2147483647,
    ]


def test_known_small_case_by_hand() -> None:
    # sorted [a b c d]; i=3: j=floor(0.0000078*4)=0 → [d b c a]; i=2: j=floor(0.1315*3)=0
    # → [c b d a]; i=1: j=floor(0.7556*2)=1 → unchanged; keep max(1, 4*50//100)=2 → [c b].
    assert sampling.sample(["d", "b", "a", "c"], 50, seed=1) == ["c", "b"]


def test_same_seed_same_picks_regardless_of_input_order() -> None:
    ids = [f"s{i:03d}" for i in range(200)]
    first = sampling.sample(ids, 10, seed=42)
    assert first == sampling.sample(list(reversed(ids)), 10, seed=42)
    assert len(first) == 20 and len(set(first)) == 20
    assert first != sampling.sample(ids, 10, seed=43)


def test_at_least_one_is_kept() -> None:
    assert len(sampling.sample(["x", "y", "z"], 1, seed=7)) == 1


def test_default_seed_is_stable_and_non_zero() -> None:
    seed = sampling.default_seed("cdefinition123")
    assert seed == sampling.default_seed("cdefinition123")
    assert 1 <= seed < sampling.MODULUS


def test_zero_seed_is_refused() -> None:
    with pytest.raises(ValueError):
        next(sampling.park_miller(0))
