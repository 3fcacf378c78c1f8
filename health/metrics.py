"""/metrics in Prometheus's text format. Copies, the backlog, durations, subscription runs and
live processes are read from the database at each scrape, so every web process answers the
same whatever process did the work; API requests are counted by the process that answered them
(scrape each web process, or sum them)."""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from health.presence import presence_alive_counts
from health.selectors import backlog_get
from ordercopies.models import OrderCopy
from subscriptions.models import SubscriptionRun

REGISTRY = CollectorRegistry()
API_REQUESTS = Counter(
    "api_requests",
    "Answers of /api/ and /oauth/ by this process, by method and HTTP status.",
    ["method", "status"],
    registry=REGISTRY,
)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _copies()
        yield from _backlog()
        yield _durations()
        yield _subscription_runs()
        yield _processes()


def _copies() -> Metric:
    family = GaugeMetricFamily(
        "ordercopies_copies",
        "Order copies by status (completed, failed and aborted are the outcomes) and mode.",
        labels=["status", "mode"],
    )
    rows = OrderCopy.objects.order_by().values("status", "mode").annotate(n=Count("pk"))
    found = {(row["status"], row["mode"]): row["n"] for row in rows}
    for status in OrderCopy.Status.values:
        for mode in ("test", "live"):
            family.add_metric([status, mode], found.get((status, mode), 0))
    return family


def _backlog() -> Iterator[Metric]:
    backlog = backlog_get()
    waiting = GaugeMetricFamily(
        "ordercopies_backlog", "Copies waiting for or held by a worker.", labels=["status"]
    )
    waiting.add_metric(["pending"], backlog.pending)
    waiting.add_metric(["in_progress"], backlog.in_progress)
    yield waiting
    yield GaugeMetricFamily(
        "ordercopies_oldest_pending_age_seconds",
        "Seconds the oldest pending copy has waited (0 when none is pending).",
        value=backlog.oldest_pending_age() or 0.0,
    )


def _durations() -> Metric:
    """From start to end of the last attempt of every ended copy, in one query."""
    ended = Coalesce("completed_at", "failed_at")
    duration = ExpressionWrapper(ended - F("started_at"), output_field=DurationField())
    copies = OrderCopy.objects.filter(started_at__isnull=False).exclude(
        completed_at__isnull=True, failed_at__isnull=True
    )
    counts = copies.annotate(duration=duration).aggregate(
        total=Count("pk"),
        seconds=Sum(duration),
        **{
            f"le_{index}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
            for index, bound in enumerate(DURATION_BUCKETS)
        },
    )
    buckets = [(str(bound), counts[f"le_{index}"]) for index, bound in enumerate(DURATION_BUCKETS)]
    buckets.append(("+Inf", counts["total"]))
    return HistogramMetricFamily(
        "ordercopies_copy_duration_seconds",
        "Seconds from a copy's start to its end (completed or failed), last attempt.",
        buckets=buckets,
        sum_value=counts["seconds"].total_seconds() if counts["seconds"] else 0.0,
    )


def _subscription_runs() -> Metric:
    family = GaugeMetricFamily(
        "subscriptions_runs",
        "Subscription runs by outcome (running: its copy has not ended).",
        labels=["outcome"],
    )
    counts = SubscriptionRun.objects.aggregate(
        n_running=Count("pk", filter=Q(ended_at__isnull=True)),
        n_succeeded=Count("pk", filter=Q(succeeded=True)),
        n_failed=Count("pk", filter=Q(succeeded=False)),
    )
    for outcome in ("running", "succeeded", "failed"):
        family.add_metric([outcome], counts[f"n_{outcome}"])
    return family


def _processes() -> Metric:
    family = GaugeMetricFamily(
        "ordercopies_processes_alive", "Live workers and schedulers.", labels=["kind"]
    )
    for kind, count in presence_alive_counts().items():
        family.add_metric([kind], count)
    return family


REGISTRY.register(DatabaseCollector())
