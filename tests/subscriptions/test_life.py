"""The whole life of a subscription, end to end, with a real `db_worker` process running its
copies against the test database on PostgreSQL. Time moves forward by setting next_run_at into
the past."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.actors import Actor
from events.models import Event
from ordercopies.models import OrderCopy
from orders import services as order_services
from orders.models import Order
from subscriptions import selectors, services
from subscriptions.models import OrderSubscription, SubscriptionRun
from tests.subscriptions.conftest import fresh

ROOT = Path(__file__).resolve().parents[2]
STAFF = Actor(kind="user", id="1", label="staff")
Status = OrderSubscription.Status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_worker_until_idle() -> None:
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    worker = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--batch", "--interval", "0.05"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DEBUG": "true"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 0, worker.stdout.decode()[-3000:] + worker.stderr.decode()[-3000:]


def move_time_forward(subscription: OrderSubscription) -> None:
    """Its next run is now a minute ago, as if a day had passed."""
    OrderSubscription.objects.filter(pk=subscription.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )


def scheduler_pass() -> None:
    call_command("run_subscriptions", stdout=StringIO())


def create(source: Order) -> OrderSubscription:
    return services.order_subscription_create(
        source_order=source, mode="test", frequency="daily", renewal_alert_period=1, actor=STAFF
    )


@pytest.mark.parametrize("placed", ["before", "after"], ids=["placed-order", "placed-later"])
def test_the_life_of_a_subscription(postgres, make_order, placed):
    # Created from a placed order, or with a pending one whose placement then activates it
    # (as the placement commits): either way the placement is its first run.
    source = make_order(lines=2, place=placed == "before")
    subscription = create(source)
    if placed == "after":
        assert fresh(subscription).status == Status.DRAFT
        order_services.order_place(order=source)
    active = fresh(subscription)
    assert (active.status, active.occurrencies) == (Status.ACTIVE, 1)
    first_next_run = active.next_run_at
    assert first_next_run == Order.objects.get(pk=source.pk).placed_at + timedelta(days=1)

    # Two runs, each made by the scheduler and copied by the worker.
    for expected_runs in (2, 3):
        move_time_forward(subscription)
        scheduler_pass()
        assert fresh(subscription).status == Status.RUNNING
        run_worker_until_idle()
        stored = fresh(subscription)
        assert stored.status == Status.ACTIVE
        assert stored.occurrencies == expected_runs
        assert stored.succeeded_on_last_run is True
        assert stored.errors_count == 0
        assert stored.next_run_at > timezone.now()

    copies = selectors.order_subscription_order_copies(subscription=subscription)
    assert copies.count() == 2
    assert set(copies.values_list("status", flat=True)) == {OrderCopy.Status.COMPLETED}
    orders = selectors.order_subscription_orders(subscription=subscription)
    assert set(orders.values_list("status", flat=True)) == {Order.Status.PLACED}
    target = orders.first()
    assert selectors.order_subscription_of_order(order=target) == subscription

    # Deactivated: the scheduler leaves it alone, even when a run falls due.
    services.order_subscription_deactivate(subscription=subscription, actor=STAFF)
    move_time_forward(subscription)
    scheduler_pass()
    assert fresh(subscription).status == Status.INACTIVE
    assert copies.count() == 2

    # Reactivated: the time missed while inactive is not run; the next one is in the future.
    services.order_subscription_activate(subscription=subscription, actor=STAFF)
    reactivated = fresh(subscription)
    assert reactivated.status == Status.ACTIVE
    assert reactivated.next_run_at > timezone.now()
    scheduler_pass()
    assert copies.count() == 2

    # Cancelled: final.
    services.order_subscription_cancel(subscription=subscription, actor=STAFF)
    move_time_forward(subscription)
    scheduler_pass()
    cancelled = fresh(subscription)
    assert (cancelled.status, cancelled.occurrencies) == (Status.CANCELLED, 3)
    assert copies.count() == 2
    runs = SubscriptionRun.objects.filter(subscription=subscription).order_by("started_at")
    assert list(runs.values_list("trigger", "succeeded")) == [
        ("source_order", True),
        ("schedule", True),
        ("schedule", True),
    ]
    names = list(
        Event.objects.filter(resource_id=subscription.pk)
        .exclude(name="order_subscriptions.renewal_alert")
        .order_by("created_at", "id")
        .values_list("name", flat=True)
    )
    assert names == [
        "order_subscriptions.create",
        "order_subscriptions.activate",
        "order_subscriptions.run",
        "order_subscriptions.run_complete",
        "order_subscriptions.run",
        "order_subscriptions.run_complete",
        "order_subscriptions.deactivate",
        "order_subscriptions.activate",
        "order_subscriptions.cancel",
    ]
