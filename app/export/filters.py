"""The `runs` filters as query parameters (`?status=COMPLETED&createdAfter=2026-01-01T00:00:00Z`):
the same names as the GraphQL arguments, the same RunFilter, the same refusals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from app.errors import ValidationFailed
from app.runs import service as runs

TEXT = {
    "definitionId": "definition_id",
    "experimentId": "experiment_id",
    "status": "status",
    "runCategory": "run_category",
    "runType": "run_type",
    "modelId": "model_id",
    "analysisStatus": "analysis_status",
}
DATES = {"createdAfter": "created_after", "createdBefore": "created_before"}
KNOWN = (*TEXT, *DATES, "definitionTagIds", "hasAnalysis")


def run_filter(params: Mapping[str, str]) -> runs.RunFilter:
    """The filter the parameters describe; ValidationFailed names a parameter it cannot read."""
    unknown = sorted(set(params) - set(KNOWN))
    if unknown:
        raise ValidationFailed(
            f"Unknown parameter: {unknown[0]}. Known parameters: {', '.join(KNOWN)}"
        )
    values: dict[str, object] = {TEXT[k]: v for k, v in params.items() if k in TEXT}
    values.update({DATES[k]: parse_datetime(k, v) for k, v in params.items() if k in DATES})
    if "definitionTagIds" in params:
        tags = params["definitionTagIds"].split(",")
        values["definition_tag_ids"] = tuple(t.strip() for t in tags if t.strip())
    if "hasAnalysis" in params:
        values["has_analysis"] = _boolean("hasAnalysis", params["hasAnalysis"])
    return runs.RunFilter(**values)  # type: ignore[arg-type]


def parse_datetime(name: str, text: str) -> datetime:
    """ISO 8601; a time without an offset is UTC (as GraphQL's DateTime reads it)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationFailed(
            f"Invalid {name}: {text}. Expected an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _boolean(name: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise ValidationFailed(f"Invalid {name}: {text}. Must be one of: true, false")
    return text == "true"
