"""Webhook figures for /metrics (health/metrics.py's registry), read from the database at each
scrape: deliveries by status, the oldest due delivery's wait, open circuits, calls by outcome."""

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from health.metrics import REGISTRY
from webhooks.models import EventCallback, Webhook, WebhookDelivery


class WebhooksCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _deliveries()
        yield from _webhooks()
        yield _callbacks()


def _deliveries() -> Metric:
    family = GaugeMetricFamily(
        "webhooks_deliveries",
        "Webhook deliveries by status (pending: not yet delivered; failed: every retry failed).",
        labels=["status"],
    )
    rows = WebhookDelivery.objects.order_by().values("status").annotate(n=Count("pk"))
    found = {row["status"]: row["n"] for row in rows}
    for status in WebhookDelivery.Status.values:
        family.add_metric([status], found.get(status, 0))
    return family


def _webhooks() -> Iterator[Metric]:
    counts = Webhook.objects.aggregate(
        open=Count("pk", filter=Q(circuit_state=Webhook.Circuit.OPEN)),
        disabled=Count("pk", filter=Q(disabled_at__isnull=False)),
    )
    yield GaugeMetricFamily(
        "webhooks_circuits_open", "Webhooks whose circuit is open.", value=counts["open"]
    )
    yield GaugeMetricFamily("webhooks_disabled", "Webhooks disabled.", value=counts["disabled"])
    oldest = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).aggregate(due=Min("next_attempt_at"))["due"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    yield GaugeMetricFamily(
        "webhooks_oldest_due_age_seconds",
        "Seconds the oldest due delivery has waited for a worker (0 when none is due).",
        value=age,
    )


def _callbacks() -> Metric:
    family = GaugeMetricFamily(
        "webhooks_callbacks", "Calls of callback URLs by outcome.", labels=["outcome"]
    )
    counts = EventCallback.objects.aggregate(
        succeeded=Count("pk", filter=Q(response_code__startswith="2")),
        total=Count("pk"),
    )
    family.add_metric(["succeeded"], counts["succeeded"])
    family.add_metric(["failed"], counts["total"] - counts["succeeded"])
    return family


REGISTRY.register(WebhooksCollector())
