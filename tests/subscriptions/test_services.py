"""Subscription services on the real database: create, settings, status moves, activation by
the source order, and the checks that refuse what SPEC.md §2 and §4 forbid."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from core.actors import Actor
from events.models import Event
from orders import services as order_services
from orders.models import Order
from subscriptions import selectors, services
from subscriptions.exceptions import (
    SourceOrderNotFound,
    SubscriptionInvalid,
    SubscriptionNotDeletable,
    SubscriptionTransitionRefused,
)
from subscriptions.frequencies import month_slot
from subscriptions.models import OrderSubscription, SubscriptionRun
from tests.subscriptions.conftest import fresh

Status = OrderSubscription.Status
STAFF = Actor(kind="user", id="7", label="staff")


# Create -----------------------------------------------------------------------------------------


def test_created_from_a_placed_order_it_is_active_and_the_placement_was_its_first_run(
    placed_order, event_names
):
    subscription = services.order_subscription_create(
        source_order=placed_order, mode="test", frequency="weekly", actor=STAFF
    )

    stored = fresh(subscription)
    assert stored.status == Status.ACTIVE
    assert stored.number
    assert (stored.market_id, stored.customer_id) == (
        placed_order.market_id,
        placed_order.customer_id,
    )
    assert stored.customer_email == placed_order.customer_email
    assert stored.customer_payment_source.payment_source_id == placed_order.payment_source_id
    assert stored.starts_at == placed_order.placed_at
    assert stored.occurrencies == 1
    assert stored.last_run_at == placed_order.placed_at
    assert stored.succeeded_on_last_run is True
    assert stored.errors_count == 0
    assert stored.next_run_at == placed_order.placed_at + timedelta(weeks=1)
    assert stored.place_target_order is True
    (run,) = SubscriptionRun.objects.filter(subscription=stored)
    assert (run.trigger, run.succeeded, run.order_copy) == ("source_order", True, None)
    assert event_names(stored) == ["order_subscriptions.create", "order_subscriptions.activate"]
    activate = Event.objects.get(name="order_subscriptions.activate", resource_id=stored.pk)
    assert activate.payload["by"] == "source_order"
    assert (activate.actor_kind, activate.actor_id) == ("user", "7")


def test_created_from_an_order_placed_long_ago_its_next_run_is_in_the_future(placed_order):
    placed_at = timezone.now() - timedelta(days=10, hours=3)
    Order.objects.filter(pk=placed_order.pk).update(placed_at=placed_at)

    subscription = services.order_subscription_create(
        source_order=placed_order, mode="test", frequency="daily"
    )

    assert subscription.starts_at == placed_at
    assert subscription.next_run_at == placed_at + timedelta(days=11)
    assert subscription.next_run_at > timezone.now()


def test_created_from_a_pending_order_it_waits_as_a_draft(make_order, event_names):
    pending = make_order()
    subscription = services.order_subscription_create(
        source_order=pending, mode="test", frequency="monthly"
    )
    assert fresh(subscription).status == Status.DRAFT
    assert fresh(subscription).next_run_at is None
    assert event_names(subscription) == ["order_subscriptions.create"]


def test_placing_the_source_order_activates_its_draft_subscriptions_after_the_commit(
    make_order, django_capture_on_commit_callbacks
):
    pending = make_order()
    waiting = services.order_subscription_create(
        source_order=pending, mode="test", frequency="monthly"
    )
    manual = services.order_subscription_create(
        source_order=pending,
        mode="test",
        frequency="monthly",
        activate_by_source_order=False,
        starts_at=timezone.now() + timedelta(days=3),
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        placed = order_services.order_place(order=pending)
    assert fresh(waiting).status == Status.DRAFT  # not inside the placement
    for callback in callbacks:
        callback()

    active = fresh(waiting)
    assert active.status == Status.ACTIVE
    assert active.occurrencies == 1
    assert active.last_run_at == placed.placed_at
    assert active.next_run_at == month_slot(placed.placed_at, months=1)
    assert fresh(manual).status == Status.DRAFT


def test_a_failed_placement_activates_nothing(
    market, make_order, django_capture_on_commit_callbacks
):
    pending = make_order(payment_source=None)
    subscription = services.order_subscription_create(
        source_order=pending, mode="test", frequency="monthly"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Exception, match="payment source"):
            order_services.order_place(order=pending)
    assert callbacks == []
    assert fresh(subscription).status == Status.DRAFT


def test_the_scheduler_activates_a_draft_whose_activation_was_lost(make_order):
    pending = make_order()
    subscription = services.order_subscription_create(
        source_order=pending, mode="test", frequency="daily"
    )
    order_services.order_place(order=pending)  # its on_commit callback never runs in this test

    report = services.order_subscription_run_due()

    assert report.activated == [subscription.pk]
    assert fresh(subscription).status == Status.ACTIVE
    assert services.order_subscription_run_due().activated == []


def test_create_refuses_bad_settings_each_under_its_attribute(placed_order):
    now = timezone.now()
    with pytest.raises(SubscriptionInvalid) as refused:
        services.order_subscription_create(
            source_order=placed_order,
            mode="test",
            frequency="*/5 * * * *",
            renewal_alert_period=721,
            starts_at=now + timedelta(days=2),
            expires_at=now + timedelta(days=1),
        )
    errors = refused.value.errors
    assert set(errors) == {"frequency", "renewal_alert_period", "expires_at"}
    assert "more often than hourly" in errors["frequency"][0]
    assert errors["renewal_alert_period"] == ["renewal_alert_period must be between 1 and 720"]
    assert errors["expires_at"] == ["expires_at must be after starts_at"]
    assert "frequency:" in refused.value.message
    assert not OrderSubscription.objects.exists()


def test_create_without_activation_by_the_source_order_needs_starts_at(placed_order):
    with pytest.raises(SubscriptionInvalid) as refused:
        services.order_subscription_create(
            source_order=placed_order,
            mode="test",
            frequency="daily",
            activate_by_source_order=False,
        )
    assert list(refused.value.errors) == ["starts_at"]


def test_create_refuses_a_cancelled_source_order_to_activate_it(placed_order):
    order_services.order_cancel(order=placed_order)
    with pytest.raises(SubscriptionInvalid) as refused:
        services.order_subscription_create(
            source_order=placed_order, mode="test", frequency="daily"
        )
    assert list(refused.value.errors) == ["activate_by_source_order"]


def test_a_source_order_of_the_other_mode_does_not_exist(placed_order):
    with pytest.raises(SourceOrderNotFound) as refused:
        services.order_subscription_create(
            source_order=placed_order, mode="live", frequency="daily"
        )
    assert refused.value.errors == {
        "source_order": [f"source order {placed_order.pk} does not exist"]
    }
    assert refused.value.code == "VALIDATION_ERROR"


def test_renewal_alert_period_bounds_are_also_database_constraints(make_subscription):
    subscription = make_subscription(renewal_alert_period=720)
    assert subscription.renewal_alert_period == 720
    with pytest.raises(IntegrityError):
        OrderSubscription.objects.filter(pk=subscription.pk).update(renewal_alert_period=0)


# Update -----------------------------------------------------------------------------------------


def test_a_new_frequency_reschedules_the_next_run_on_its_own_grid(make_subscription, event_names):
    subscription = make_subscription(frequency="daily")
    updated = services.order_subscription_update(
        subscription=subscription, frequency="0 6 * * *", renewal_alert_period=12, actor=STAFF
    )
    stored = fresh(updated)
    assert stored.frequency == "0 6 * * *"
    assert stored.renewal_alert_period == 12
    assert stored.next_run_at > timezone.now()
    assert (stored.next_run_at.hour, stored.next_run_at.minute) == (6, 0)
    update = Event.objects.get(name="order_subscriptions.update", resource_id=stored.pk)
    assert update.payload == {"changed": ["frequency", "renewal_alert_period"]}


def test_next_run_at_may_only_move_into_the_future(make_subscription):
    subscription = make_subscription()
    later = timezone.now() + timedelta(days=5)
    assert services.order_subscription_update(subscription=subscription, next_run_at=later)
    assert fresh(subscription).next_run_at == later
    for value in (timezone.now() - timedelta(minutes=1), None):
        with pytest.raises(SubscriptionInvalid) as refused:
            services.order_subscription_update(subscription=subscription, next_run_at=value)
        assert refused.value.errors == {
            "next_run_at": ["next_run_at may only be moved into the future"]
        }
    assert fresh(subscription).next_run_at == later


def test_expires_at_must_follow_starts_at_and_be_in_the_future(make_subscription):
    subscription = make_subscription()
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        starts_at=timezone.now() - timedelta(days=2)
    )
    subscription = fresh(subscription)
    with pytest.raises(SubscriptionInvalid, match="expires_at must be after starts_at"):
        services.order_subscription_update(
            subscription=subscription, expires_at=subscription.starts_at - timedelta(days=1)
        )
    with pytest.raises(SubscriptionInvalid, match="expires_at must be in the future"):
        services.order_subscription_update(
            subscription=subscription, expires_at=timezone.now() - timedelta(seconds=1)
        )


def test_update_refuses_unknown_fields_and_starts_at_after_activation(make_subscription):
    subscription = make_subscription()
    with pytest.raises(SubscriptionInvalid, match="cannot be changed: occurrencies, status"):
        services.order_subscription_update(
            subscription=subscription, status="active", occurrencies=9
        )
    with pytest.raises(SubscriptionInvalid, match="only before the subscription is activated"):
        services.order_subscription_update(subscription=subscription, starts_at=timezone.now())


def test_a_cancelled_subscription_keeps_its_settings_but_not_its_reference(make_subscription):
    subscription = services.order_subscription_cancel(subscription=make_subscription())
    with pytest.raises(SubscriptionTransitionRefused, match="final"):
        services.order_subscription_update(subscription=subscription, frequency="weekly")
    services.order_subscription_update(
        subscription=subscription, reference="kept", metadata={"a": 1}
    )
    assert (fresh(subscription).reference, fresh(subscription).metadata) == ("kept", {"a": 1})


# Status moves -----------------------------------------------------------------------------------


def test_a_manual_subscription_is_activated_with_its_starts_at(placed_order, event_names):
    starts_at = timezone.now() + timedelta(days=2)
    subscription = services.order_subscription_create(
        source_order=placed_order,
        mode="test",
        frequency="monthly",
        activate_by_source_order=False,
        starts_at=starts_at,
    )
    assert subscription.status == Status.DRAFT

    active = services.order_subscription_activate(subscription=subscription, actor=STAFF)

    assert fresh(active).status == Status.ACTIVE
    assert fresh(active).next_run_at == starts_at
    assert fresh(active).occurrencies == 0
    assert event_names(active)[-1] == "order_subscriptions.activate"


def test_activating_after_starts_at_passed_starts_with_the_next_scheduled_time(placed_order):
    starts_at = timezone.now() + timedelta(hours=1)
    subscription = services.order_subscription_create(
        source_order=placed_order,
        mode="test",
        frequency="daily",
        activate_by_source_order=False,
        starts_at=starts_at,
    )
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        starts_at=timezone.now() - timedelta(days=2, hours=1)
    )
    active = services.order_subscription_activate(subscription=subscription)
    assert timezone.now() < active.next_run_at < timezone.now() + timedelta(days=1)


def test_deactivate_then_reactivate_skips_the_times_missed_while_inactive(make_subscription):
    subscription = make_subscription(frequency="hourly")
    inactive = services.order_subscription_deactivate(subscription=subscription, actor=STAFF)
    assert fresh(inactive).status == Status.INACTIVE
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        next_run_at=timezone.now() - timedelta(hours=5)
    )

    active = services.order_subscription_activate(subscription=subscription)

    assert fresh(active).status == Status.ACTIVE
    assert timezone.now() < fresh(active).next_run_at <= timezone.now() + timedelta(hours=1)
    assert services.order_subscription_run_due().started == []


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("active", services.order_subscription_activate, "only draft or inactive"),
        ("cancelled", services.order_subscription_activate, "only draft or inactive"),
        ("inactive", services.order_subscription_deactivate, "from inactive to inactive"),
        ("running", services.order_subscription_deactivate, "running now"),
        ("cancelled", services.order_subscription_cancel, "from cancelled to cancelled"),
        ("inactive", services.order_subscription_run, "only active subscriptions can run"),
        ("running", services.order_subscription_run, "its run has not ended"),
    ],
)
def test_status_moves_that_the_machine_refuses(make_subscription, status, action, message):
    subscription = make_subscription()
    OrderSubscription.objects.filter(pk=subscription.pk).update(status=status)
    before = Event.objects.count()
    with pytest.raises(SubscriptionTransitionRefused, match=message) as refused:
        action(subscription=subscription)
    assert list(refused.value.errors) == ["status"]
    assert fresh(subscription).status == status
    assert Event.objects.count() == before


def test_an_expired_subscription_cannot_be_activated_or_run(make_subscription):
    subscription = make_subscription()
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        starts_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    with pytest.raises(SubscriptionTransitionRefused, match="expired"):
        services.order_subscription_run(subscription=subscription)
    services.order_subscription_deactivate(subscription=subscription)
    with pytest.raises(SubscriptionInvalid, match="expired at"):
        services.order_subscription_activate(subscription=subscription)


def test_cancel_is_final_from_any_status(make_subscription, make_order, event_names):
    for subscription in (make_subscription(), make_subscription(make_order())):
        cancelled = services.order_subscription_cancel(subscription=subscription, actor=STAFF)
        assert fresh(cancelled).status == Status.CANCELLED
        assert event_names(cancelled)[-1] == "order_subscriptions.cancel"
        with pytest.raises(SubscriptionTransitionRefused):
            services.order_subscription_activate(subscription=cancelled)


def test_only_drafts_can_be_deleted(make_subscription, make_order):
    draft = make_subscription(make_order())
    services.order_subscription_delete(subscription=draft, actor=STAFF)
    assert not OrderSubscription.objects.filter(pk=draft.pk).exists()
    assert Event.objects.filter(name="order_subscriptions.destroy", resource_id=draft.pk).exists()
    active = make_subscription()
    with pytest.raises(SubscriptionNotDeletable, match="cancel it"):
        services.order_subscription_delete(subscription=active)


# Selectors ---------------------------------------------------------------------------------


def test_selectors_filter_by_mode_and_follow_the_relationships(make_subscription, placed_order):
    subscription = make_subscription()
    assert list(selectors.order_subscription_list(mode="test")) == [subscription]
    assert list(selectors.order_subscription_list(mode="live")) == []
    assert selectors.order_subscription_get(subscription_id=subscription.pk, mode="live") is None
    assert list(selectors.order_subscriptions_of_source(order=placed_order)) == [subscription]
    upcoming = selectors.order_subscription_upcoming_runs(subscription=fresh(subscription))
    assert len(upcoming) == 5
    assert upcoming[0] == fresh(subscription).next_run_at
    assert upcoming == sorted(upcoming)
    assert all(b - a == timedelta(days=1) for a, b in zip(upcoming, upcoming[1:], strict=False))
