"""A subscription's runs: start one (scheduled, or "run now"), end it when its copy ends, and
close runs whose copy ended without telling (aborted, deleted).

A run is a SubscriptionRun row and an order copy, inserted with the subscription's move to
running in one transaction. The row's unique (subscription, scheduled_at) is the guarantee that a
scheduled time makes one copy at most; the subscription's row lock (SKIP LOCKED in the
scheduler) is what keeps two schedulers from even trying.

Locks go subscription, then run; the copy engine ends a run from inside its own transaction
(copy, orders, then subscription), and nothing here locks a copy.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.actors import SYSTEM, Actor
from events.services import event_record
from ordercopies.models import OrderCopy
from ordercopies.services import order_copy_create
from subscriptions.exceptions import SubscriptionTransitionRefused
from subscriptions.frequencies import frequency_count_between
from subscriptions.models import OrderSubscription, SubscriptionRun
from subscriptions.services.common import iso, lock, transition

logger = logging.getLogger(__name__)

Status = OrderSubscription.Status
Trigger = SubscriptionRun.Trigger
RUN_END_FIELDS = ["occurrencies", "last_run_at", "succeeded_on_last_run", "errors_count"]
RUN_END_FIELDS += ["next_run_at", "updated_at"]
COPY_ENDED = (OrderCopy.Status.COMPLETED, OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED)


def order_subscription_run(
    *, subscription: OrderSubscription, actor: Actor = SYSTEM
) -> SubscriptionRun:
    """`_run` (run now): start a run of an active subscription at once. A scheduled time that
    is due is covered by it; a future next run stays as it is."""
    with transaction.atomic():
        locked = lock(subscription)
        now = timezone.now()
        if locked.status != Status.ACTIVE:
            running = " and its run has not ended yet" if locked.status == Status.RUNNING else ""
            raise SubscriptionTransitionRefused(
                f"only active subscriptions can run; this one is {locked.status}{running}"
            )
        if locked.is_expired(now):
            raise SubscriptionTransitionRefused(
                f"the subscription expired at {iso(locked.expires_at)}: move expires_at to run it"
            )
        run = run_start(locked, scheduled_at=now, trigger=Trigger.MANUAL, actor=actor)
        if run is None:
            raise SubscriptionTransitionRefused("a run was just started for this time: try again")
        return run


def run_start(
    subscription: OrderSubscription, *, scheduled_at: datetime, trigger: str, actor: Actor
) -> SubscriptionRun | None:
    """Record the run, move the subscription to running and create its order copy (queued
    in this transaction). None, with nothing done, when `scheduled_at` already has a run.
    The caller holds the subscription's row lock."""
    try:
        with transaction.atomic():
            run = _run_insert(subscription, scheduled_at=scheduled_at, trigger=trigger, actor=actor)
    except IntegrityError:
        ran = SubscriptionRun.objects.filter(subscription=subscription, scheduled_at=scheduled_at)
        if ran.exists():
            return None
        raise
    transition(subscription, "start_run")
    subscription.save(update_fields=["status", "updated_at"])
    event_record(
        name="order_subscriptions.run",
        resource=subscription,
        actor=actor,
        payload=_run_payload(subscription, run),
    )
    return run


def _run_insert(
    subscription: OrderSubscription, *, scheduled_at: datetime, trigger: str, actor: Actor
) -> SubscriptionRun:
    now = timezone.now()
    order_copy = order_copy_create(
        source_order=subscription.source_order_id,
        mode=subscription.mode,
        actor=actor,
        order_subscription=subscription,
        place_target_order=subscription.place_target_order,
    )
    return SubscriptionRun.objects.create(
        subscription=subscription,
        scheduled_at=scheduled_at,
        trigger=trigger,
        order_copy=order_copy,
        skipped_slots=_missed_slots(subscription, now=now),
        started_at=now,
    )


def _missed_slots(subscription: OrderSubscription, *, now: datetime) -> int:
    """Scheduled times after the due one (and after the last run, which covered those before
    it) up to now: this run stands in for all of them."""
    due = subscription.next_run_at
    if due is None or due > now or subscription.starts_at is None:
        return 0
    start = max(due, subscription.last_run_at or due)
    return frequency_count_between(
        subscription.frequency, anchor=subscription.starts_at, start=start, end=now
    )


def _run_payload(subscription: OrderSubscription, run: SubscriptionRun) -> dict[str, object]:
    payload: dict[str, object] = {
        "trigger": run.trigger,
        "scheduled_at": iso(run.scheduled_at),
        "order_copy": run.order_copy_id,
        "skipped_slots": run.skipped_slots,
    }
    if run.skipped_slots:
        payload["skipped_between"] = [iso(subscription.next_run_at), iso(run.started_at)]
    return payload


def order_subscription_run_end(*, order_copy: OrderCopy, succeeded: bool) -> SubscriptionRun | None:
    """End the open run of `order_copy` (called, through a signal, in the transaction that
    ends the copy): count it and schedule the next one. None when the copy has no open run
    (not a subscription's, or a retried copy whose run already ended)."""
    if order_copy.order_subscription_id is None:
        return None  # an ordinary copy: not even a query
    subscription = lock(order_copy.order_subscription_id)
    run = (
        SubscriptionRun.objects.select_for_update()
        .filter(order_copy=order_copy, ended_at__isnull=True)
        .first()
    )
    if run is None:
        return None
    return run_end(subscription, run=run, succeeded=succeeded, errors=order_copy.errors_log)


def run_end(
    subscription: OrderSubscription,
    *,
    run: SubscriptionRun,
    succeeded: bool,
    errors: dict[str, list[str]],
) -> SubscriptionRun:
    """The caller holds both row locks. The next run is the first scheduled time after this run
    started (or a later one someone set): times that passed while it ran are due at once."""
    now = timezone.now()
    run.end(at=now, succeeded=succeeded, errors=errors)
    run.save(update_fields=["ended_at", "succeeded", "errors_log"])
    subscription.record_run(started_at=run.started_at, succeeded=succeeded)
    if subscription.next_run_at is None or subscription.next_run_at <= run.started_at:
        subscription.next_run_at = subscription.run_time_after(run.started_at)
    fields = [*RUN_END_FIELDS]
    expired = subscription.is_expired(now)
    if subscription.status == Status.RUNNING:
        subscription.end_run(expired=expired)
        fields.append("status")
    subscription.save(update_fields=fields)
    _record_end(subscription, run=run, expired=expired and subscription.status == Status.INACTIVE)
    return run


def _record_end(subscription: OrderSubscription, *, run: SubscriptionRun, expired: bool) -> None:
    event_record(
        name=f"order_subscriptions.{'run_complete' if run.succeeded else 'run_fail'}",
        resource=subscription,
        payload={
            "order_copy": run.order_copy_id,
            "scheduled_at": iso(run.scheduled_at),
            "errors_log": run.errors_log,
            "next_run_at": iso(subscription.next_run_at),
        },
    )
    if expired:
        event_record(
            name="order_subscriptions.expire",
            resource=subscription,
            payload={"expires_at": iso(subscription.expires_at)},
        )


def order_subscription_close_lost_runs() -> list[int]:
    """End the open runs whose copy ended without ending them (aborted by staff or after lost
    workers, deleted, or a failed signal receiver): the copy's outcome is the run's. Returns the
    run ids closed."""
    lost = (
        SubscriptionRun.objects.filter(ended_at__isnull=True)
        .exclude(trigger=Trigger.SOURCE_ORDER)
        .filter(Q(order_copy__isnull=True) | Q(order_copy__status__in=COPY_ENDED))
        .values_list("pk", "subscription_id")
    )
    closed = []
    for run_id, subscription_id in list(lost):
        with transaction.atomic():
            if _close_lost_run(run_id=run_id, subscription_id=subscription_id):
                closed.append(run_id)
    return closed


def _close_lost_run(*, run_id: int, subscription_id: str) -> bool:
    subscription = (
        OrderSubscription.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=subscription_id)
        .first()
    )
    run = (
        SubscriptionRun.objects.select_for_update(of=("self",))
        .select_related("order_copy")
        .filter(pk=run_id, ended_at__isnull=True)
        .first()
    )
    if subscription is None or run is None:
        return False  # being ended right now, or already ended
    copy = run.order_copy
    if copy is None:
        errors = {"order_copy": ["the order copy was deleted before it ended"]}
    elif copy.status not in COPY_ENDED:
        return False
    else:
        errors = copy.errors_log or (
            {"status": [f"the order copy was {copy.status}"]} if copy.status != "completed" else {}
        )
    succeeded = copy is not None and copy.status == OrderCopy.Status.COMPLETED
    logger.warning("subscription %s: closing run %s lost by its copy", subscription_id, run_id)
    run_end(subscription, run=run, succeeded=succeeded, errors=errors)
    return True
