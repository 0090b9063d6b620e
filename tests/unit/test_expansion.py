"""Scenario expansion: the cartesian product, placeholders, the cap, the no-dimension case."""

from __future__ import annotations

import pytest

from app.definitions.expansion import MAX_SCENARIOS, expand
from app.errors import ValidationFailed
from tests.factories import definition_content, dimension


def test_product_in_dimension_order_with_names_and_scores() -> None:
    content = definition_content(
        dimension("stakes", "low", "high"), dimension("urgency", "later", "soon", "now")
    )
    scenarios = expand(content)
    assert [s.name for s in scenarios] == [
        "stakes=low, urgency=later",
        "stakes=low, urgency=soon",
        "stakes=low, urgency=now",
        "stakes=high, urgency=later",
        "stakes=high, urgency=soon",
        "stakes=high, urgency=now",
    ]
    assert scenarios[4].content["dimension_values"] == {"stakes": 2, "urgency": 2}


def test_placeholders_take_first_option_else_label() -> None:
    content = {
        "schema_version": 2,
        "template": "Stakes: [stakes]. Time: [urgency]. Unknown: [other].",
        "preamble": "Be candid.",
        "followups": [{"label": "why", "prompt": "Why?"}],
        "dimensions": [
            {
                "name": "stakes",
                "levels": [{"score": 5, "label": "high", "options": ["a lot", "x"]}],
            },
            {"name": "urgency", "levels": [{"score": 1, "label": "tomorrow"}]},
        ],
    }
    (scenario,) = expand(content)
    assert scenario.content == {
        "prompt": "Stakes: a lot. Time: tomorrow. Unknown: [other].",
        "preamble": "Be candid.",
        "followups": [{"label": "why", "prompt": "Why?"}],
        "dimension_values": {"stakes": 5, "urgency": 1},
    }


def test_no_dimensions_yields_one_scenario() -> None:
    (scenario,) = expand({"schema_version": 2, "template": "Just this.", "dimensions": []})
    assert scenario.name == "baseline"
    assert scenario.content == {"prompt": "Just this.", "dimension_values": {}}


def test_cap_refuses_an_oversized_product() -> None:
    ten_levels = [{"score": 1 + i % 5, "label": f"l{i}"} for i in range(10)]
    dimensions = [{"name": f"d{i}", "levels": ten_levels} for i in range(5)]
    content = definition_content(*dimensions)
    with pytest.raises(
        ValidationFailed, match=f"expands to 100000 scenarios; the limit is {MAX_SCENARIOS}"
    ):
        expand(content)


def test_expansion_is_deterministic() -> None:
    content = definition_content(dimension("a", "x", "y"), dimension("b", "p", "q"))
    assert expand(content) == expand(content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([], "Content must be a JSON object"),
        ({"dimensions": []}, "content.template must be a non-empty string"),
        ({"template": "t", "dimensions": {}}, "Dimensions must be an array"),
        (
            {"template": "t", "dimensions": [{"name": "a", "levels": []}]},
            r"levels must be a non-empty array",
        ),
        (
            {
                "template": "t",
                "dimensions": [{"name": "a", "levels": [{"score": 9, "label": "x"}]}],
            },
            r"score must be an integer from 1 to 5",
        ),
        (
            {"template": "t", "dimensions": [dimension("a", "x"), dimension("a", "y")]},
            "Duplicate dimension names: a",
        ),
        ({"template": "t", "followups": [{"label": "x"}]}, r"followups\[0\].prompt"),
    ],
)
def test_malformed_content_is_refused_with_a_specific_message(
    content: object, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        expand(content)
