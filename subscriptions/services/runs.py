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
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.actors import SYSTEM, Actor
from events.models import Event
from events.services import event_build, event_record, event_record_many
from ordercopies.models import OrderCopy
from ordercopies.services import order_copy_create, order_copy_create_many
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


def runs_start(
    subscriptions: Sequence[OrderSubscription], *, trigger: str, actor: Actor
) -> tuple[list[SubscriptionRun], list[OrderSubscription]]:
    """`run_start` for many subscriptions, each at its next_run_at, set-wise: their copies,
    runs, moves to running and events in a fixed number of statements whatever their number.
    Returns the runs started and the subscriptions whose time already has a run (nothing done
    for them). The caller holds the subscriptions' row locks; the unique (subscription,
    scheduled_at) still guards: a run inserted meanwhile raises IntegrityError, changing
    nothing, and the caller starts them one at a time."""
    times: dict[str, datetime] = {}
    for subscription in subscriptions:
        assert subscription.next_run_at is not None  # noqa: S101 (a constraint of active ones)
        times[subscription.pk] = subscription.next_run_at
    ran = set(
        SubscriptionRun.objects.filter(
            subscription__in=list(times), scheduled_at__in=set(times.values())
        ).values_list("subscription_id", "scheduled_at")
    )
    starting = [s for s in subscriptions if (s.pk, s.next_run_at) not in ran]
    already = [s for s in subscriptions if (s.pk, s.next_run_at) in ran]
    if not starting:
        return [], already
    now = timezone.now()
    if any(subscription.status != Status.ACTIVE for subscription in starting):
        raise SubscriptionTransitionRefused("only active subscriptions can run")
    copies: dict[str, OrderCopy] = {}
    groups: dict[tuple[str, bool], list[OrderSubscription]] = {}
    for subscription in starting:
        key = (subscription.mode, subscription.place_target_order)
        groups.setdefault(key, []).append(subscription)
    with transaction.atomic():
        for (mode, place), group in groups.items():
            made = order_copy_create_many(
                source_orders=[subscription.source_order_id for subscription in group],
                mode=mode,
                actor=actor,
                order_subscriptions=group,
                place_target_order=place,
            )
            copies |= {s.pk: copy for s, copy in zip(group, made, strict=True)}
        runs = SubscriptionRun.objects.bulk_create(
            SubscriptionRun(
                subscription=subscription,
                scheduled_at=times[subscription.pk],
                trigger=trigger,
                order_copy=copies[subscription.pk],
                skipped_slots=_missed_slots(subscription, now=now),
                started_at=now,
            )
            for subscription in starting
        )
        OrderSubscription.objects.filter(pk__in=[s.pk for s in starting]).update(
            status=Status.RUNNING, updated_at=now
        )
        event_record_many(
            event_build(
                name="order_subscriptions.run",
                resource=subscription,
                actor=actor,
                payload=_run_payload(subscription, run),
            )
            for subscription, run in zip(starting, runs, strict=True)
        )
    # In memory once stored (the moves are the UPDATE above; a failed one left them active).
    for subscription in starting:
        transition(subscription, "start_run")
        subscription.updated_at = now
    return runs, already


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


def order_subscription_runs_end(*, ends: Sequence[tuple[OrderCopy, bool]]) -> list[SubscriptionRun]:
    """End the open runs of the copies in `ends` (each with True when it completed; called,
    through a signal, in the transaction that ends the copies): count them and schedule the
    next ones, in a fixed number of queries whatever their number. A copy with no open run (not
    a subscription's, or a retried copy whose run already ended) is passed over."""
    ends = [(copy, ok) for copy, ok in ends if copy.order_subscription_id is not None]
    if not ends:
        return []  # ordinary copies: not even a query
    locked = {
        subscription.pk: subscription
        for subscription in OrderSubscription.objects.select_for_update(of=("self",))
        .filter(pk__in={copy.order_subscription_id for copy, _ in ends})
        .order_by("pk")
    }
    runs = {
        run.order_copy_id: run
        for run in SubscriptionRun.objects.select_for_update()
        .filter(order_copy__in=[copy.pk for copy, _ in ends], ended_at__isnull=True)
        .order_by("pk")
    }
    ended = [
        (locked[copy.order_subscription_id], run, ok, copy.errors_log)
        for copy, ok in ends
        if (run := runs.get(copy.pk)) is not None and copy.order_subscription_id in locked
    ]
    return runs_end(ended)


def run_end(
    subscription: OrderSubscription,
    *,
    run: SubscriptionRun,
    succeeded: bool,
    errors: dict[str, list[str]],
) -> SubscriptionRun:
    """`runs_end` for one run."""
    return runs_end([(subscription, run, succeeded, errors)])[0]


RunEnd = tuple[OrderSubscription, SubscriptionRun, bool, dict[str, list[str]]]


def runs_end(ended: Sequence[RunEnd]) -> list[SubscriptionRun]:
    """End each run (with its subscription, whether it succeeded, its errors) in four
    statements whatever their number. The caller holds the row locks of the runs and their
    subscriptions. The next run is the first scheduled time after a run started (or a later one
    someone set): times that passed while it ran are due at once."""
    if not ended:
        return []
    now = timezone.now()
    events = []
    subscriptions = {}
    for subscription, run, succeeded, errors in ended:
        run.end(at=now, succeeded=succeeded, errors=errors)
        subscription.record_run(started_at=run.started_at, succeeded=succeeded)
        if subscription.next_run_at is None or subscription.next_run_at <= run.started_at:
            subscription.next_run_at = subscription.run_time_after(run.started_at)
        expired = subscription.is_expired(now)
        if subscription.status == Status.RUNNING:
            subscription.end_run(expired=expired)
        subscription.updated_at = now
        subscriptions[subscription.pk] = subscription
        events += _end_events(
            subscription, run=run, expired=expired and subscription.status == Status.INACTIVE
        )
    runs = [run for _, run, _, _ in ended]
    SubscriptionRun.objects.bulk_update(runs, ["ended_at", "succeeded", "errors_log"])
    OrderSubscription.objects.bulk_update(list(subscriptions.values()), [*RUN_END_FIELDS, "status"])
    event_record_many(events)
    return runs


def _end_events(
    subscription: OrderSubscription, *, run: SubscriptionRun, expired: bool
) -> list[Event]:
    events = [
        event_build(
            name=f"order_subscriptions.{'run_complete' if run.succeeded else 'run_fail'}",
            resource=subscription,
            payload={
                "order_copy": run.order_copy_id,
                "scheduled_at": iso(run.scheduled_at),
                "errors_log": run.errors_log,
                "next_run_at": iso(subscription.next_run_at),
            },
        )
    ]
    if expired:
        events.append(
            event_build(
                name="order_subscriptions.expire",
                resource=subscription,
                payload={"expires_at": iso(subscription.expires_at)},
            )
        )
    return events


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
