"""/metrics: Prometheus text, counts of requests and operations with bounded labels."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app import prometheus


def value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


async def scrape(client: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def test_operations_are_counted_by_name_outcome_and_error_code(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_key}"}
    ok = {"type": "query", "name": "CountDefinitions", "outcome": "ok"}
    failed = {"name": "Broken", "code": "GRAPHQL_VALIDATION_FAILED"}
    before_ok, before_failed = (
        value("valuerank_graphql_operations_total", **ok),
        value("valuerank_graphql_errors_total", **failed),
    )
    for _ in range(3):
        await app_client.post(
            "/graphql", json={"query": "query CountDefinitions { definitionCount }"}, headers=auth
        )
    await app_client.post("/graphql", json={"query": "query Broken { nope }"}, headers=auth)

    samples = await scrape(app_client)
    operations = dict(
        (tuple(sorted(labels.items())), v)
        for labels, v in samples["valuerank_graphql_operations_total"]
    )
    assert operations[tuple(sorted(ok.items()))] == before_ok + 3
    assert value("valuerank_graphql_errors_total", **failed) == before_failed + 1
    durations = samples["valuerank_graphql_operation_duration_seconds_count"]
    assert any(labels.get("name") == "CountDefinitions" for labels, _ in durations)


async def test_http_requests_are_counted_by_route_with_unknown_paths_pooled(
    app_client: httpx.AsyncClient,
) -> None:
    before = value("valuerank_http_requests_total", route="other", method="GET", status="404")
    await app_client.get("/runs/some-run-id-that-must-not-become-a-label")
    await app_client.get("/healthz")
    samples = await scrape(app_client)
    routes = {labels["route"] for labels, _ in samples["valuerank_http_requests_total"]}
    assert routes <= prometheus.ROUTES | {"other"}
    assert value("valuerank_http_requests_total", route="other", method="GET", status="404") == (
        before + 1
    )
    assert value("valuerank_http_requests_total", route="/healthz", method="GET", status="200")


def test_client_chosen_operation_names_are_bounded() -> None:
    labels = {
        prometheus.operation_label(f"Op{i}") for i in range(prometheus.MAX_OPERATION_NAMES * 2)
    }
    assert len(labels) <= prometheus.MAX_OPERATION_NAMES + 1 and "other" in labels
    assert prometheus.operation_label("x" * 65) == "other"
    assert prometheus.operation_label("drop table;") == "other"
    assert prometheus.operation_label(None) == "anonymous"
