"""The console's dashboard on the admin index: copies by status over the last hour, day and
week, the backlog and throughput, the top failure reasons, the subscriptions due soon or whose
last run failed, and whether workers and the scheduler are alive. A fixed number of queries
whatever the data (pinned by a test); each figure links to the list it counts."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from health.presence import presence_alive_counts, presence_list
from ordercopies.admin.displays import ERROR_KINDS, status_badge
from ordercopies.models import OrderCopy
from subscriptions.models import OrderSubscription

WINDOWS = (("hour", timedelta(hours=1)), ("day", timedelta(days=1)), ("week", timedelta(days=7)))
FAILURES_READ = 500  # the latest failed copies the top reasons are counted from
TOP_FAILURES = 5
DUE_SHOWN = 5


NO_WORKER = "queued, but no worker is running: it waits until one starts"


def worker_alive() -> bool:
    """Whether any worker holds its presence (health/presence.py), in one query."""
    return presence_alive_counts()["worker"] > 0


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str
    message: str
    count: int
    url: str


def copies_url(**params: str) -> str:
    changelist = reverse("admin:ordercopies_ordercopy_changelist")
    return f"{changelist}?{urlencode(params)}" if params else changelist


def dashboard_context(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    presences = list(presence_list())
    workers = [p for p in presences if p.kind == "worker" and p.alive]  # type: ignore[attr-defined]
    schedulers = [p for p in presences if p.kind == "scheduler" and p.alive]  # type: ignore[attr-defined]
    backlog = _backlog(now)
    return {
        "now": now,
        "workers": workers,
        "schedulers": schedulers,
        "backlog": backlog,
        "moving": bool(backlog["pending"] or backlog["in_progress"]),
        "by_status": _by_status(now),
        "failures": _failures(now),
        "subscriptions": _subscriptions(now),
    }


def _by_status(now: datetime) -> list[dict[str, Any]]:
    """One row per status: its badge and, per window, the count and the list's link."""
    since = {name: now - length for name, length in WINDOWS}
    rows = (
        OrderCopy.objects.filter(created_at__gte=since["week"])
        .order_by()
        .values("status")
        .annotate(
            **{name: Count("pk", filter=Q(created_at__gte=since[name])) for name, _ in WINDOWS}
        )
    )
    found: dict[str, dict[str, Any]] = {row["status"]: dict(row) for row in rows}
    return [
        {
            "status": status,
            "badge": status_badge(status),
            "cells": [
                (
                    found.get(status, {}).get(name, 0),
                    copies_url(status__exact=status, created_at__gte=since[name].isoformat()),
                )
                for name, _ in WINDOWS
            ],
        }
        for status in OrderCopy.Status.values
    ]


def _backlog(now: datetime) -> dict[str, Any]:
    hour = now - timedelta(hours=1)
    pending = Q(status=OrderCopy.Status.PENDING)
    row = OrderCopy.objects.aggregate(
        pending=Count("pk", filter=pending),
        in_progress=Count("pk", filter=Q(status=OrderCopy.Status.IN_PROGRESS)),
        oldest=Min("created_at", filter=pending),
        completed_hour=Count("pk", filter=Q(completed_at__gte=hour)),
        failed_hour=Count("pk", filter=Q(failed_at__gte=hour)),
    )
    row["oldest_age"] = (now - row["oldest"]) if row["oldest"] else None
    row["per_minute"] = round((row["completed_hour"] + row["failed_hour"]) / 60, 1)
    row["pending_url"] = copies_url(status__exact="pending")
    row["in_progress_url"] = copies_url(status__exact="in_progress")
    return row


def _failures(now: datetime) -> list[Failure]:
    """The most frequent (kind, message) among the latest failed copies of the last week."""
    logs = OrderCopy.objects.filter(
        status=OrderCopy.Status.FAILED, failed_at__gte=now - timedelta(days=7)
    ).order_by("-failed_at")[:FAILURES_READ]
    counter: Counter[tuple[str, str]] = Counter()
    for errors_log in logs.values_list("errors_log", flat=True):
        for kind, messages in (errors_log or {}).items():
            counter.update((kind, message) for message in messages)
    return [
        Failure(
            kind=ERROR_KINDS.get(kind, kind),
            message=message,
            count=count,
            url=copies_url(status__exact="failed", error_kind=kind, q=message),
        )
        for (kind, message), count in counter.most_common(TOP_FAILURES)
    ]


def _subscriptions(now: datetime) -> dict[str, Any]:
    changelist = reverse("admin:subscriptions_ordersubscription_changelist")
    due = OrderSubscription.objects.filter(
        status=OrderSubscription.Status.ACTIVE, next_run_at__lte=now + timedelta(hours=24)
    ).order_by("next_run_at")
    counts = OrderSubscription.objects.aggregate(
        due=Count("pk", filter=Q(pk__in=due.values("pk"))),
        failed=Count("pk", filter=Q(succeeded_on_last_run=False)),
    )
    return {
        "due": list(due[:DUE_SHOWN]),
        "due_count": counts["due"],
        "failed_count": counts["failed"],
        "failed_url": f"{changelist}?{urlencode({'succeeded_on_last_run__exact': 0})}",
        "changelist": changelist,
    }
