"""Definition content → scenarios: the deterministic cartesian expansion of BEHAVIOUR.md.

Content: `{ schema_version: 2, template, dimensions: [{ name, levels: [{ score, label,
description?, options? }] }], preamble?, followups?: [{ label, prompt }], matching_rules? }`.
One scenario per combination of levels (dimension order); `[name]` placeholders take the level's
first option, or its label when it has none.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationFailed

MAX_SCENARIOS = 10_000
NO_DIMENSIONS_NAME = "baseline"


@dataclass(frozen=True, slots=True)
class Level:
    score: int
    label: str
    options: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.options[0] if self.options else self.label


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    levels: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class ExpandedScenario:
    name: str
    content: dict[str, Any]


def expand(content: Any, *, cap: int = MAX_SCENARIOS) -> list[ExpandedScenario]:
    """Validate definition content and return its scenarios, in product order."""
    content = _require_object(content)
    template = content.get("template")
    if not isinstance(template, str) or not template.strip():
        raise ValidationFailed("content.template must be a non-empty string")
    dimensions = parse_dimensions(content.get("dimensions", []))
    count = math.prod(len(d.levels) for d in dimensions)
    if count > cap:
        raise ValidationFailed(f"Definition expands to {count} scenarios; the limit is {cap}")
    shared = _shared_content(content)
    if not dimensions:
        return [
            ExpandedScenario(
                NO_DIMENSIONS_NAME, {"prompt": template, **shared, "dimension_values": {}}
            )
        ]
    return [
        _scenario(template, dimensions, combo, shared)
        for combo in itertools.product(*(d.levels for d in dimensions))
    ]


def _scenario(
    template: str,
    dimensions: list[Dimension],
    combo: tuple[Level, ...],
    shared: dict[str, Any],
) -> ExpandedScenario:
    prompt = template
    for dimension, level in zip(dimensions, combo, strict=True):
        prompt = prompt.replace(f"[{dimension.name}]", level.text)
    name = ", ".join(f"{d.name}={lvl.label}" for d, lvl in zip(dimensions, combo, strict=True))
    values = {d.name: lvl.score for d, lvl in zip(dimensions, combo, strict=True)}
    return ExpandedScenario(name, {"prompt": prompt, **shared, "dimension_values": values})


def _shared_content(content: dict[str, Any]) -> dict[str, Any]:
    shared: dict[str, Any] = {}
    preamble = content.get("preamble")
    if preamble is not None:
        if not isinstance(preamble, str):
            raise ValidationFailed("content.preamble must be a string")
        if preamble.strip():
            shared["preamble"] = preamble
    followups = content.get("followups")
    if followups is not None:
        shared["followups"] = _parse_followups(followups)
    matching_rules = content.get("matching_rules")
    if matching_rules is not None and not isinstance(matching_rules, str):
        raise ValidationFailed("content.matching_rules must be a string")
    return shared


def _parse_followups(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        raise ValidationFailed("content.followups must be an array")
    parsed = []
    for i, item in enumerate(raw):
        prompt = item.get("prompt") if isinstance(item, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationFailed(f"content.followups[{i}].prompt must be a non-empty string")
        label = item.get("label", f"followup {i + 1}")
        if not isinstance(label, str):
            raise ValidationFailed(f"content.followups[{i}].label must be a string")
        parsed.append({"label": label, "prompt": prompt})
    return parsed


def parse_dimensions(raw: Any) -> list[Dimension]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed("Dimensions must be an array")
    dimensions = [_parse_dimension(i, item) for i, item in enumerate(raw)]
    names = [d.name for d in dimensions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationFailed(f"Duplicate dimension names: {', '.join(duplicates)}")
    return dimensions


def _parse_dimension(index: int, raw: Any) -> Dimension:
    where = f"content.dimensions[{index}]"
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{where} must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(f"{where}.name must be a non-empty string")
    levels = raw.get("levels")
    if not isinstance(levels, list) or not levels:
        raise ValidationFailed(f"{where}.levels must be a non-empty array")
    return Dimension(
        name, tuple(_parse_level(f"{where}.levels[{j}]", lv) for j, lv in enumerate(levels))
    )


def _parse_level(where: str, raw: Any) -> Level:
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{where} must be an object")
    score = raw.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationFailed(f"{where}.score must be an integer from 1 to 5")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValidationFailed(f"{where}.label must be a non-empty string")
    options = raw.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ValidationFailed(f"{where}.options must be an array of strings")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ValidationFailed(f"{where}.description must be a string")
    return Level(score, label, tuple(options))


def _require_object(content: Any) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise ValidationFailed("Content must be a JSON object")
    version = content.get("schema_version", 2)
    if version not in (1, 2):
        raise ValidationFailed(f"Unsupported content.schema_version: {version!r} (expected 2)")
    return content
