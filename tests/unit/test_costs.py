"""One cost rule for a stored call and for the pre-run estimate (app/llm/costs.py)."""

from __future__ import annotations

import pytest

from app.llm.costs import Prices, call_cost, token_cost
from app.runs.spend import Estimate, ModelEstimate

PRICES = Prices(input_per_million=3.0, output_per_million=15.0)


def test_a_call_costs_its_input_and_output_tokens_at_their_prices_per_million() -> None:
    assert token_cost(1_000_000, 3.0) == 3.0
    assert call_cost(1_000_000, 1_000_000, PRICES) == 18.0
    assert call_cost(1200, 300, PRICES) == pytest.approx(0.0036 + 0.0045)
    assert call_cost(0, 0, PRICES) == 0.0


def test_the_pre_run_estimate_is_its_probes_at_the_cost_of_an_average_call() -> None:
    model = ModelEstimate(
        model_id="m",
        display_name="M",
        probes=40,
        avg_input=1200.0,
        avg_output=300.0,
        prices=PRICES,
        sample_count=7,
        is_using_fallback=False,
    )
    assert model.total_cost == pytest.approx(40 * call_cost(1200, 300, PRICES))
    assert model.input_cost + model.output_cost == pytest.approx(model.total_cost)
    estimate = Estimate(scenario_count=20, per_model=[model, model], fallback_reason=None)
    assert estimate.total == pytest.approx(2 * model.total_cost)
