from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from events.models import Event
from ordercopies import services as copy_services
from ordercopies.models import OrderCopy
from orders.models import Order
from subscriptions import services
from subscriptions.models import OrderSubscription, SubscriptionRun


def fresh(subscription: OrderSubscription) -> OrderSubscription:
    # refresh_from_db would do, but reading the row again shows what another process sees.
    return OrderSubscription.objects.get(pk=subscription.pk)


def make_due(subscription: OrderSubscription, *, ago: timedelta = timedelta(minutes=1)) -> datetime:
    """Move time forward: the subscription's next run is `ago` in the past. (A direct update: the
    services only move next_run_at into the future.)"""
    moment = timezone.now() - ago
    OrderSubscription.objects.filter(pk=subscription.pk).update(next_run_at=moment)
    return moment


def execute_copy(run: SubscriptionRun) -> OrderCopy:
    """Run the run's copy here, as a worker would; the copy's end ends the run."""
    assert run.order_copy_id is not None
    copy_services.order_copy_execute(order_copy_id=run.order_copy_id)
    return OrderCopy.objects.get(pk=run.order_copy_id)


@pytest.fixture
def placed_order(make_order: Callable[..., Order]) -> Order:
    return make_order(place=True)


@pytest.fixture
def make_subscription(placed_order: Order) -> Callable[..., OrderSubscription]:
    """A subscription through the service; by default daily, from a placed order, so active."""

    def make(source: Order | None = None, **fields: Any) -> OrderSubscription:
        source = source or placed_order
        fields.setdefault("frequency", "daily")
        return services.order_subscription_create(source_order=source, mode=source.mode, **fields)

    return make


@pytest.fixture
def event_names() -> Callable[[models.Model], list[str]]:
    def names(resource: models.Model) -> list[str]:
        events = Event.objects.filter(resource_id=str(resource.pk)).order_by("created_at", "id")
        return list(events.values_list("name", flat=True))

    return names
