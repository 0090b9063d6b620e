from __future__ import annotations

import pytest

from app.auth import bearer_token, hash_key
from app.errors import ValidationFailed
from app.paging import page
from app.runs.progress import percent_complete


def test_page_defaults_and_caps() -> None:
    assert page(None, None, default=20, maximum=100) == page(20, 0, default=1, maximum=100)
    assert page(500, 3, default=20, maximum=100).limit == 100


def test_page_refuses_negatives() -> None:
    with pytest.raises(ValidationFailed, match="limit must not be negative"):
        page(-1, None, default=20, maximum=100)


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def test_keys_are_hashed() -> None:
    assert hash_key("vrk_x") != "vrk_x" and len(hash_key("vrk_x")) == 64


def test_percent_complete() -> None:
    assert percent_complete(0, 0) == 100.0
    assert percent_complete(3, 1) == 33.3
    assert percent_complete(2, 5) == 100.0
