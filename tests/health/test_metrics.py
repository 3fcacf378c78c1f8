"""/metrics in Prometheus's text format, read back with prometheus_client's own parser."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from health.models import ProcessPresence
from ordercopies import services
from ordercopies.models import OrderCopy

pytestmark = [pytest.mark.django_db]


def _samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_copies_by_status_the_backlog_and_durations(
    client: Client, make_order
) -> None:
    completed = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_execute(order_copy_id=completed.pk)
    no_address = make_order(billing_address=None)
    failed = services.order_copy_create(
        source_order=no_address, mode="test", place_target_order=True
    )
    services.order_copy_execute(order_copy_id=failed.pk)
    services.order_copy_create(source_order=make_order(), mode="test")
    statuses = dict(OrderCopy.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == ["completed", "failed", "pending"]

    samples = _samples(client)

    def copies(status: str, mode: str = "test") -> float:
        return samples[("ordercopies_copies", (("mode", mode), ("status", status)))]

    assert (copies("completed"), copies("failed"), copies("pending")) == (1, 1, 1)
    assert copies("in_progress") == copies("aborted") == copies("completed", "live") == 0
    assert samples[("ordercopies_backlog", (("status", "pending"),))] == 1
    assert samples[("ordercopies_backlog", (("status", "in_progress"),))] == 0
    assert 0 <= samples[("ordercopies_oldest_pending_age_seconds", ())] < 60
    assert samples[("ordercopies_copy_duration_seconds_count", ())] == 2
    assert samples[("ordercopies_copy_duration_seconds_bucket", (("le", "+Inf"),))] == 2
    assert samples[("ordercopies_copy_duration_seconds_sum", ())] >= 0
    assert samples[("ordercopies_processes_alive", (("kind", "worker"),))] == 0
    assert samples[("subscriptions_runs", (("outcome", "succeeded"),))] == 0


def test_metrics_count_api_answers_by_status(client: Client) -> None:
    key = ("api_requests_total", (("method", "GET"), ("status", "401")))
    before = _samples(client).get(key, 0.0)
    assert client.get("/api/order_copies").status_code == 401
    assert client.get("/api/order_copies").status_code == 401
    client.get("/")  # not the API: not counted
    assert _samples(client)[key] == before + 2


def test_metrics_count_live_workers(client: Client, worker_presence: ProcessPresence) -> None:
    assert _samples(client)[("ordercopies_processes_alive", (("kind", "worker"),))] == 1
