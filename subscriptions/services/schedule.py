"""One pass of the scheduler (`manage.py run_subscriptions`): everything time makes happen.

Safe to run in any number of processes at once: each subscription is claimed with
`SELECT … FOR UPDATE SKIP LOCKED` in a short transaction of its own, re-checked under the lock,
and a scheduled time has one run row at most (a unique constraint).
"""

import logging
from collections.abc import Sized
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.actors import Actor
from events.services import event_record
from ordercopies.services import copies_queued_together
from subscriptions.models import RENEWAL_ALERT_HOURS, OrderSubscription
from subscriptions.services.common import iso, transition
from subscriptions.services.lifecycle import PLACED, order_subscription_activate_by_source_order
from subscriptions.services.runs import (
    order_subscription_close_lost_runs,
    run_start,
    runs_start,
)

logger = logging.getLogger(__name__)

SCHEDULER = Actor(kind="system", label="subscription scheduler")
Status = OrderSubscription.Status


@dataclass(slots=True)
class SchedulerReport:
    """What one pass did, by subscription id (runs closed: by run id)."""

    activated: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    already_ran: list[str] = field(default_factory=list)
    alerted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, Sized] = {
            "runs started": self.started,
            "expired": self.expired,
            "renewal alerts": self.alerted,
            "activated by their source order": self.activated,
            "lost runs closed": self.closed,
            "times already run": self.already_ran,
            "errors": self.errors,
        }
        return ", ".join(f"{label}: {len(ids)}" for label, ids in counts.items())


def order_subscription_run_due(*, limit: int = 100) -> SchedulerReport:
    """Activate drafts whose source order was placed, close lost runs, expire, start up to
    `limit` due runs (one copy each, however late: missed times are counted, not run), then
    record the renewal alerts now due."""
    report = SchedulerReport()
    report.activated = _activate_placed_drafts()
    report.closed = order_subscription_close_lost_runs()
    report.expired = _expire_due(now=timezone.now())
    _start_due(report, now=timezone.now(), limit=limit)
    report.alerted = _renewal_alerts_due(now=timezone.now())
    return report


def _activate_placed_drafts() -> list[str]:
    """Normally done as the source order's placement commits; this catches a process that
    stopped in between."""
    order_ids = (
        OrderSubscription.objects.filter(
            status=Status.DRAFT, activate_by_source_order=True, source_order__status__in=PLACED
        )
        .values_list("source_order_id", flat=True)
        .distinct()
    )
    activated: list[str] = []
    for order_id in list(order_ids):
        subscriptions = order_subscription_activate_by_source_order(
            order_id=order_id, actor=SCHEDULER
        )
        activated += [subscription.pk for subscription in subscriptions]
    return activated


def _expire_due(*, now: datetime) -> list[str]:
    """Active subscriptions past expires_at become inactive (running ones when their run ends)."""
    expired = []
    with transaction.atomic():
        due = OrderSubscription.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status=Status.ACTIVE, expires_at__lte=now
        )
        for subscription in due:
            transition(subscription, "expire")
            subscription.save(update_fields=["status", "updated_at"])
            event_record(
                name="order_subscriptions.expire",
                resource=subscription,
                actor=SCHEDULER,
                payload={"expires_at": iso(subscription.expires_at)},
            )
            expired.append(subscription.pk)
    return expired


def _due(*, now: datetime) -> QuerySet[OrderSubscription]:
    return (
        OrderSubscription.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Status.ACTIVE, next_run_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("next_run_at", "pk")
    )


def _start_due(report: SchedulerReport, *, now: datetime, limit: int) -> None:
    """Every due run, up to `limit` (a safety valve), in transactions of up to
    ORDER_COPY_BATCH_SIZE subscriptions claimed at once with SKIP LOCKED. A chunk's runs start
    set-wise (`runs_start`), their copies queued together in batched jobs committed with them;
    when that fails, the chunk starts one run at a time, each in a savepoint, so that one broken
    subscription does not stop the others."""
    tried: set[str] = set()
    while len(report.started) < limit:
        size = min(settings.ORDER_COPY_BATCH_SIZE, limit - len(report.started))
        with transaction.atomic(), copies_queued_together():
            chunk = list(_due(now=now).exclude(pk__in=tried)[:size])
            if not chunk:
                return
            tried |= {subscription.pk for subscription in chunk}
            for subscription in _start_chunk(chunk, report=report):
                try:
                    with transaction.atomic():
                        _start_one(subscription, report=report)
                except Exception:
                    # Logged, and tried again at the next pass.
                    logger.exception("subscription %s: its run could not start", subscription.pk)
                    report.errors.append(subscription.pk)


def _start_chunk(
    chunk: list[OrderSubscription], *, report: SchedulerReport
) -> list[OrderSubscription]:
    """The chunk's runs started set-wise; returns the subscriptions left to start one at a
    time: those whose time already ran, or the whole chunk when the set-wise start failed."""
    try:
        with transaction.atomic():
            runs, already = runs_start(chunk, trigger="schedule", actor=SCHEDULER)
    except Exception:
        logger.warning(
            "%d subscription runs could not start together; one at a time",
            len(chunk),
            exc_info=True,
        )
        return chunk
    report.started += [run.subscription_id for run in runs]
    return already


def _start_one(subscription: OrderSubscription, *, report: SchedulerReport) -> None:
    scheduled_at = subscription.next_run_at
    assert scheduled_at is not None  # noqa: S101 (a constraint of active subscriptions)
    run = run_start(subscription, scheduled_at=scheduled_at, trigger="schedule", actor=SCHEDULER)
    if run is not None:
        report.started.append(subscription.pk)
        return
    # This time already ran (next_run_at was set back by hand): move on to the next one.
    _skip_ran_time(subscription, scheduled_at=scheduled_at)
    report.already_ran.append(subscription.pk)


def _skip_ran_time(subscription: OrderSubscription, *, scheduled_at: datetime) -> None:
    subscription.next_run_at = subscription.run_time_after(max(timezone.now(), scheduled_at))
    subscription.save(update_fields=["next_run_at", "updated_at"])
    logger.warning("subscription %s: %s already ran; skipped", subscription.pk, scheduled_at)
    event_record(
        name="order_subscriptions.run_skip",
        resource=subscription,
        actor=SCHEDULER,
        payload={
            "scheduled_at": iso(scheduled_at),
            "reason": "this scheduled time already ran",
            "next_run_at": iso(subscription.next_run_at),
        },
    )


def _renewal_alerts_due(*, now: datetime) -> list[str]:
    """One `order_subscriptions.renewal_alert` per run, renewal_alert_period hours before it.
    A run already due gets none (too late to warn)."""
    horizon = now + timedelta(hours=RENEWAL_ALERT_HOURS[1])
    candidates = (
        OrderSubscription.objects.filter(
            status=Status.ACTIVE,
            renewal_alert_period__isnull=False,
            next_run_at__gt=now,
            next_run_at__lte=horizon,
        )
        .exclude(renewal_alert_for=F("next_run_at"))
        .values_list("pk", "next_run_at", "renewal_alert_period")
    )
    alerted = []
    for pk, next_run_at, period in list(candidates):
        assert next_run_at is not None and period is not None  # noqa: S101 (filtered above)
        if next_run_at - timedelta(hours=period) <= now and _alert_one(pk, now=now):
            alerted.append(pk)
    return alerted


def _alert_one(pk: str, *, now: datetime) -> bool:
    with transaction.atomic():
        subscription = (
            OrderSubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=pk, status=Status.ACTIVE, next_run_at__gt=now)
            .first()
        )
        if subscription is None or subscription.renewal_alert_for == subscription.next_run_at:
            return False
        subscription.renewal_alert_for = subscription.next_run_at
        subscription.save(update_fields=["renewal_alert_for", "updated_at"])
        event_record(
            name="order_subscriptions.renewal_alert",
            resource=subscription,
            actor=SCHEDULER,
            payload={
                "next_run_at": iso(subscription.next_run_at),
                "renewal_alert_period": subscription.renewal_alert_period,
            },
        )
        return True
