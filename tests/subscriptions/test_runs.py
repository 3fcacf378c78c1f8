"""Runs on the real database, copies executed in-process: what a run starts, what its copy's end
does to the subscription, missed times, expiry, renewal alerts, runs whose copy went away."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import Event
from ordercopies import services as copy_services
from ordercopies.models import OrderCopy
from orders.models import Order, Sku
from subscriptions import services
from subscriptions.models import OrderSubscription, SubscriptionRun
from tests.subscriptions.conftest import execute_copy, fresh, make_due

Status = OrderSubscription.Status


def test_a_due_subscription_runs_once_and_its_copy_carries_the_subscription(make_subscription):
    subscription = make_subscription(place_target_order=False)
    scheduled_at = make_due(subscription)

    report = services.order_subscription_run_due()

    assert report.started == [subscription.pk]
    running = fresh(subscription)
    assert running.status == Status.RUNNING
    run = SubscriptionRun.objects.get(subscription=subscription, trigger="schedule")
    assert (run.scheduled_at, run.ended_at, run.skipped_slots) == (scheduled_at, None, 0)
    copy = run.order_copy
    assert copy.status == OrderCopy.Status.PENDING
    assert copy.order_subscription_id == subscription.pk
    assert copy.source_order_id == subscription.source_order_id
    assert (copy.place_target_order, copy.mode) == (False, subscription.mode)
    create = Event.objects.get(name="order_copies.create", resource_id=copy.pk)
    assert create.payload["order_subscription"] == subscription.pk
    event = Event.objects.get(name="order_subscriptions.run", resource_id=subscription.pk)
    assert event.payload["order_copy"] == copy.pk
    assert event.actor_label == "subscription scheduler"
    assert services.order_subscription_run_due().started == []  # running: not due again


def test_a_completed_run_counts_and_schedules_the_next_from_the_anchor(make_subscription):
    subscription = make_subscription(frequency="daily")
    make_due(subscription, ago=timedelta(hours=2))
    services.order_subscription_run_due()
    run = SubscriptionRun.objects.get(subscription=subscription, trigger="schedule")

    copy = execute_copy(run)

    assert copy.status == OrderCopy.Status.COMPLETED
    assert copy.target_order.status == Order.Status.PLACED  # the subscription's default
    stored = fresh(subscription)
    assert stored.status == Status.ACTIVE
    assert stored.occurrencies == 2
    assert stored.succeeded_on_last_run is True
    assert stored.errors_count == 0
    assert stored.last_run_at == run.started_at
    assert stored.next_run_at > timezone.now()
    assert (stored.next_run_at - stored.starts_at) % timedelta(days=1) == timedelta(0)
    run.refresh_from_db()
    assert run.succeeded is True and run.ended_at is not None
    complete = Event.objects.get(name="order_subscriptions.run_complete", resource_id=stored.pk)
    assert complete.payload["order_copy"] == copy.pk


def test_a_failed_run_counts_an_error_and_the_next_run_is_still_scheduled(
    make_subscription, placed_order
):
    subscription = make_subscription(frequency="weekly")
    sku_ids = placed_order.line_items.filter(sku__isnull=False).values("sku_id")
    Sku.objects.filter(pk__in=sku_ids).update(stock_quantity=0)
    make_due(subscription)
    services.order_subscription_run_due()
    run = SubscriptionRun.objects.get(subscription=subscription, trigger="schedule")

    copy = execute_copy(run)

    assert copy.status == OrderCopy.Status.FAILED
    stored = fresh(subscription)
    assert stored.status == Status.ACTIVE
    assert stored.errors_count == 1
    assert stored.succeeded_on_last_run is False
    assert stored.occurrencies == 2
    assert stored.next_run_at > timezone.now()
    run.refresh_from_db()
    assert run.succeeded is False
    assert "out of stock" in run.errors_log["line_items"][0]
    fail = Event.objects.get(name="order_subscriptions.run_fail", resource_id=stored.pk)
    assert fail.payload["errors_log"] == copy.errors_log
    assert fail.payload["next_run_at"].endswith("Z")


def test_a_retried_copy_does_not_count_its_run_twice(make_subscription, placed_order):
    subscription = make_subscription()
    sku_ids = placed_order.line_items.filter(sku__isnull=False).values("sku_id")
    Sku.objects.filter(pk__in=sku_ids).update(stock_quantity=0)
    make_due(subscription)
    services.order_subscription_run_due()
    copy = execute_copy(SubscriptionRun.objects.get(subscription=subscription, trigger="schedule"))
    Sku.objects.filter(pk__in=sku_ids).update(stock_quantity=50)

    copy_services.order_copy_retry(order_copy=copy)
    copy_services.order_copy_execute(order_copy_id=copy.pk)

    assert OrderCopy.objects.get(pk=copy.pk).status == OrderCopy.Status.COMPLETED
    stored = fresh(subscription)
    assert (stored.occurrencies, stored.errors_count, stored.succeeded_on_last_run) == (2, 1, False)


def test_missed_runs_run_once_and_the_gap_is_recorded(make_subscription):
    subscription = make_subscription(frequency="hourly")
    anchor = timezone.now() - timedelta(days=10)
    due = anchor + timedelta(days=7)
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        starts_at=anchor, last_run_at=due - timedelta(hours=1), next_run_at=due
    )
    # The scheduler was down for three days: 72 more times have passed since the due one.

    services.order_subscription_run_due()

    (run,) = SubscriptionRun.objects.filter(subscription=subscription, trigger="schedule")
    assert run.scheduled_at == due
    assert run.skipped_slots == 72
    assert OrderCopy.objects.filter(order_subscription=subscription).count() == 1
    event = Event.objects.get(name="order_subscriptions.run", resource_id=subscription.pk)
    assert event.payload["skipped_slots"] == 72
    assert len(event.payload["skipped_between"]) == 2
    execute_copy(run)
    stored = fresh(subscription)
    assert timezone.now() < stored.next_run_at <= timezone.now() + timedelta(hours=1)
    assert stored.occurrencies == 2


def test_run_now_runs_an_active_subscription_and_keeps_its_future_next_run(make_subscription):
    subscription = make_subscription(frequency="weekly")
    next_run_at = fresh(subscription).next_run_at

    run = services.order_subscription_run(subscription=subscription)

    assert run.trigger == "manual"
    assert fresh(subscription).status == Status.RUNNING
    execute_copy(run)
    stored = fresh(subscription)
    assert stored.status == Status.ACTIVE
    assert stored.next_run_at == next_run_at
    assert stored.occurrencies == 2


def test_a_run_ending_after_expiry_leaves_the_subscription_inactive(make_subscription):
    subscription = make_subscription()
    run = services.order_subscription_run(subscription=subscription)
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        starts_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    execute_copy(run)

    stored = fresh(subscription)
    assert stored.status == Status.INACTIVE
    assert stored.occurrencies == 2
    assert Event.objects.filter(name="order_subscriptions.expire", resource_id=stored.pk).exists()


def test_a_run_of_a_subscription_cancelled_meanwhile_is_counted_and_it_stays_cancelled(
    make_subscription,
):
    subscription = make_subscription()
    run = services.order_subscription_run(subscription=subscription)
    services.order_subscription_cancel(subscription=subscription)

    execute_copy(run)

    stored = fresh(subscription)
    assert (stored.status, stored.occurrencies) == (Status.CANCELLED, 2)


def test_the_scheduler_expires_active_subscriptions_past_expires_at(make_subscription):
    expired = make_subscription()
    OrderSubscription.objects.filter(pk=expired.pk).update(
        starts_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
        next_run_at=timezone.now(),
    )
    kept = make_subscription(expires_at=timezone.now() + timedelta(days=30))

    report = services.order_subscription_run_due()

    assert report.expired == [expired.pk]
    assert report.started == []  # an expired subscription does not run
    assert fresh(expired).status == Status.INACTIVE
    assert fresh(kept).status == Status.ACTIVE
    expire = Event.objects.get(name="order_subscriptions.expire", resource_id=expired.pk)
    assert expire.actor_label == "subscription scheduler"


def test_renewal_alerts_are_recorded_once_per_run(make_subscription):
    subscription = make_subscription(frequency="daily", renewal_alert_period=3)
    alerts = Event.objects.filter(
        name="order_subscriptions.renewal_alert", resource_id=subscription.pk
    )
    far = timezone.now() + timedelta(hours=5)
    OrderSubscription.objects.filter(pk=subscription.pk).update(next_run_at=far)
    assert services.order_subscription_run_due().alerted == []

    soon = timezone.now() + timedelta(hours=2)
    OrderSubscription.objects.filter(pk=subscription.pk).update(next_run_at=soon)
    assert services.order_subscription_run_due().alerted == [subscription.pk]
    assert services.order_subscription_run_due().alerted == []
    (alert,) = alerts
    assert alert.payload["renewal_alert_period"] == 3
    assert alert.payload["next_run_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M"))

    # The next run gets its own alert.
    later = soon + timedelta(minutes=30)
    services.order_subscription_update(subscription=subscription, next_run_at=later)
    assert services.order_subscription_run_due().alerted == [subscription.pk]
    assert alerts.all().count() == 2


def test_a_run_already_due_gets_no_renewal_alert(make_subscription):
    subscription = make_subscription(renewal_alert_period=3)
    make_due(subscription)
    OrderSubscription.objects.filter(pk=subscription.pk).update(status=Status.INACTIVE)
    assert services.order_subscription_run_due().alerted == []


def test_an_aborted_or_deleted_copy_does_not_leave_its_subscription_running(make_subscription):
    aborted, deleted = make_subscription(), make_subscription()
    run_aborted = services.order_subscription_run(subscription=aborted)
    run_deleted = services.order_subscription_run(subscription=deleted)
    copy_services.order_copy_abort(order_copy=run_aborted.order_copy)
    copy_services.order_copy_delete(order_copy=run_deleted.order_copy)

    report = services.order_subscription_run_due()

    assert sorted(report.closed) == sorted([run_aborted.pk, run_deleted.pk])
    for subscription in (aborted, deleted):
        stored = fresh(subscription)
        assert (stored.status, stored.errors_count, stored.succeeded_on_last_run) == (
            Status.ACTIVE,
            1,
            False,
        )
    run_deleted.refresh_from_db()
    assert run_deleted.errors_log == {"order_copy": ["the order copy was deleted before it ended"]}
    assert services.order_subscription_run_due().closed == []


def test_a_failing_receiver_never_fails_the_copy_and_the_scheduler_closes_the_run(
    make_subscription,
):
    subscription = make_subscription()
    run = services.order_subscription_run(subscription=subscription)
    with mock.patch(
        "subscriptions.services.order_subscription_runs_end", side_effect=RuntimeError("boom")
    ):
        copy = execute_copy(run)
    assert copy.status == OrderCopy.Status.COMPLETED
    assert fresh(subscription).status == Status.RUNNING

    assert services.order_subscription_run_due().closed == [run.pk]
    stored = fresh(subscription)
    assert (stored.status, stored.succeeded_on_last_run, stored.occurrencies) == (
        Status.ACTIVE,
        True,
        2,
    )


def test_a_scheduled_time_has_one_run_at_most(make_subscription):
    subscription = make_subscription()
    scheduled_at = make_due(subscription)
    services.order_subscription_run_due()
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionRun.objects.create(
            subscription=subscription,
            scheduled_at=scheduled_at,
            trigger="schedule",
            started_at=timezone.now(),
        )


def test_a_time_set_back_to_one_that_ran_is_skipped_without_a_copy(make_subscription):
    subscription = make_subscription()
    scheduled_at = make_due(subscription)
    services.order_subscription_run_due()
    execute_copy(SubscriptionRun.objects.get(subscription=subscription, trigger="schedule"))
    copies = OrderCopy.objects.filter(order_subscription=subscription)
    assert copies.count() == 1
    OrderSubscription.objects.filter(pk=subscription.pk).update(next_run_at=scheduled_at)

    report = services.order_subscription_run_due()

    assert (report.started, report.already_ran) == ([], [subscription.pk])
    assert copies.count() == 1
    assert fresh(subscription).next_run_at > timezone.now()
    assert fresh(subscription).status == Status.ACTIVE


def test_one_broken_subscription_does_not_stop_the_others(make_subscription, make_order):
    broken, healthy = make_subscription(), make_subscription(make_order(place=True))
    make_due(broken, ago=timedelta(hours=2))
    make_due(healthy)
    real = services.runs.run_start  # type: ignore[attr-defined]

    def start(subscription, **kwargs):
        if subscription.pk == broken.pk:
            raise RuntimeError("boom")
        return real(subscription, **kwargs)

    # The chunk's set-wise start fails, then its runs start one at a time.
    with (
        mock.patch("subscriptions.services.schedule.runs_start", side_effect=RuntimeError("x")),
        mock.patch("subscriptions.services.schedule.run_start", side_effect=start),
    ):
        report = services.order_subscription_run_due()

    assert (report.errors, report.started) == ([broken.pk], [healthy.pk])
    assert fresh(broken).status == Status.ACTIVE
    assert not SubscriptionRun.objects.filter(subscription=broken, trigger="schedule").exists()


def test_an_ordinary_copy_pays_no_query_for_subscriptions(make_order):
    source = make_order(lines=1)
    plain = copy_services.order_copy_create(source_order=source, mode="test")
    with (
        mock.patch("subscriptions.services.order_subscription_runs_end") as run_end,
        CaptureQueriesContext(connection) as queries,
    ):
        copy_services.order_copy_execute(order_copy_id=plain.pk)
    run_end.assert_not_called()
    assert not any("subscriptions_" in query["sql"] for query in queries.captured_queries)


def test_a_database_error_while_the_run_ends_retries_the_copy_and_counts_the_run_once(
    make_subscription,
):
    """The receiver lets a database error through (a lost connection, a deadlock): the copy's
    transaction is retried, never committed without its run's end nor reported as completed."""
    subscription = make_subscription()
    occurrencies = subscription.occurrencies
    run = services.order_subscription_run(subscription=subscription)
    real_end = services.order_subscription_runs_end
    calls: list[bool] = []

    def lost_connection_once(**kwargs: object) -> object:
        calls.append(True)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_end(**kwargs)  # type: ignore[arg-type]

    with mock.patch(
        "subscriptions.services.order_subscription_runs_end", side_effect=lost_connection_once
    ):
        copy = execute_copy(run)

    assert len(calls) == 2
    assert (copy.status, copy.attempts) == (OrderCopy.Status.COMPLETED, 1)
    assert Event.objects.filter(resource_id=copy.pk, name="order_copies.complete").count() == 1
    stored = fresh(subscription)
    assert (stored.status, stored.occurrencies, stored.succeeded_on_last_run) == (
        Status.ACTIVE,
        occurrencies + 1,
        True,
    )
    run.refresh_from_db()
    assert run.ended_at is not None and run.succeeded is True
    assert services.order_subscription_run_due().closed == []
