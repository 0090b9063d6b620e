"""What a model's tokens cost: one pricing rule, for a stored call (a transcript's
`estimatedCost`) and for the pre-run estimate alike. Spend accounting (app/runs/spend.py)
builds on it."""

from __future__ import annotations

from dataclasses import dataclass

TOKENS_PER_PRICE_UNIT = 1e6  # list prices are quoted per million tokens


@dataclass(frozen=True, slots=True)
class Prices:
    """A model's list prices, in USD per million tokens."""

    input_per_million: float
    output_per_million: float


def token_cost(tokens: float, usd_per_million: float) -> float:
    """USD for `tokens` at a price per million tokens."""
    return tokens * usd_per_million / TOKENS_PER_PRICE_UNIT


def call_cost(input_tokens: float, output_tokens: float, prices: Prices) -> float:
    """USD for one call (or an average call, or many): input and output at their prices."""
    return token_cost(input_tokens, prices.input_per_million) + token_cost(
        output_tokens, prices.output_per_million
    )
