"""/export paths as metric labels: a run's id never becomes a label value."""

from __future__ import annotations

from app import prometheus


def test_a_runs_export_is_labelled_by_its_route_not_its_id() -> None:
    label = prometheus.route_label("/export/runs/cabc123/transcripts.csv")
    assert label == "/export/runs/{id}/transcripts.csv"
    assert prometheus.route_label("/export/runs.json") == "/export/runs.json"
    assert prometheus.route_label("/export/runs/cabc/other.csv") == "other"
