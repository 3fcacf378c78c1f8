"""Reads of order subscriptions with the related rows they need, in a bounded number of queries.
Mode isolation is here: pass the caller's `mode` (DESIGN.md rule 7)."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ordercopies.models import OrderCopy
from orders.models import Order
from subscriptions.frequencies import frequency_upcoming
from subscriptions.models import OrderSubscription, SubscriptionRun

RELATED = ("market", "source_order", "customer", "customer_payment_source")


def order_subscription_list(*, mode: str | None = None) -> QuerySet[OrderSubscription]:
    subscriptions = OrderSubscription.objects.select_related(*RELATED)
    return subscriptions.filter(mode=mode) if mode else subscriptions


def order_subscription_get(*, subscription_id: str, mode: str) -> OrderSubscription | None:
    return order_subscription_list(mode=mode).filter(pk=subscription_id).first()


def order_subscription_order_copies(*, subscription: OrderSubscription) -> QuerySet[OrderCopy]:
    """The copies its runs made, newest first (`order_subscriptions.order_copies`)."""
    return OrderCopy.objects.filter(order_subscription=subscription).select_related(
        "source_order", "target_order"
    )


def order_subscription_orders(*, subscription: OrderSubscription) -> QuerySet[Order]:
    """The orders its copies made (`order_subscriptions.orders`)."""
    return Order.objects.filter(created_by_copy__order_subscription=subscription).select_related(
        "market"
    )


def order_subscriptions_of_source(*, order: Order) -> QuerySet[OrderSubscription]:
    """The subscriptions repeating `order` (`orders.order_subscriptions`)."""
    return order_subscription_list(mode=order.mode).filter(source_order=order)


def order_subscription_of_order(*, order: Order) -> OrderSubscription | None:
    """The subscription whose run made `order`, if any (`orders.order_subscription`)."""
    return order_subscription_list(mode=order.mode).filter(order_copies__target_order=order).first()


def order_subscription_runs(
    *, subscription: OrderSubscription, limit: int = 25
) -> list[SubscriptionRun]:
    """Its latest runs with their copies and target orders, newest first, in one query."""
    runs = SubscriptionRun.objects.filter(subscription=subscription).select_related(
        "order_copy", "order_copy__target_order"
    )
    return list(runs.order_by("-started_at", "-pk")[:limit])


def order_subscription_upcoming_runs(
    *, subscription: OrderSubscription, count: int = 5
) -> list[datetime]:
    """The next `count` run times of an active or running subscription (no query): its next
    run (which may be due already), then its frequency's times from the anchor."""
    Status = OrderSubscription.Status
    anchor = subscription.starts_at
    if subscription.status not in (Status.ACTIVE, Status.RUNNING) or anchor is None:
        return []
    now = timezone.now()
    upcoming = []
    next_run_at = subscription.next_run_at
    if next_run_at is not None and (subscription.status == Status.ACTIVE or next_run_at > now):
        upcoming.append(next_run_at)
    after = max(now, next_run_at) if upcoming and next_run_at else now
    upcoming += frequency_upcoming(
        subscription.frequency, anchor=anchor, after=after, count=count - len(upcoming)
    )
    return upcoming
