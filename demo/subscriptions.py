"""Demo subscriptions for `manage.py seed_demo`, in every status, built through the services
from the demo orders (orders/demo.py builds those first).

Each has a natural key, its reference in its mode, and is skipped when it exists: a second run
changes nothing. Runs that show a history (a completed run, a failed one) are copied here, in
this process; the "running" one is left for a worker, which makes it active again.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.models import Mode
from ordercopies import services as copy_services
from orders.demo import ORIGIN
from orders.models import Order
from subscriptions import services
from subscriptions.models import OrderSubscription

ACTOR = Actor(kind="system", label="seed_demo")
Status = OrderSubscription.Status


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    reference: str
    mode: str
    source: str  # "placed" (placed or approved), "pending" (placeable), "incomplete"
    index: int  # which of those orders, by reference
    frequency: str
    status: str  # the status it is left in
    runs: int = 0  # runs made now and copied here (a failing source makes failed runs)
    renewal_alert_period: int | None = None
    expires_in_days: int | None = None


SUBSCRIPTIONS = (
    SubscriptionSpec("demo-subscription-01", Mode.TEST, "placed", 0, "monthly", Status.ACTIVE),
    SubscriptionSpec(
        "demo-subscription-02",
        Mode.TEST,
        "placed",
        1,
        "0 9 * * 1",
        Status.ACTIVE,
        runs=2,
        renewal_alert_period=48,
    ),
    SubscriptionSpec(
        "demo-subscription-03", Mode.TEST, "incomplete", 0, "daily", Status.ACTIVE, runs=1
    ),
    SubscriptionSpec(
        "demo-subscription-04",
        Mode.TEST,
        "placed",
        2,
        "two-month",
        Status.ACTIVE,
        expires_in_days=365,
    ),
    SubscriptionSpec("demo-subscription-05", Mode.TEST, "pending", 0, "weekly", Status.DRAFT),
    SubscriptionSpec("demo-subscription-06", Mode.TEST, "placed", 3, "yearly", Status.DRAFT),
    SubscriptionSpec(
        "demo-subscription-07", Mode.TEST, "placed", 4, "three-month", Status.INACTIVE
    ),
    SubscriptionSpec("demo-subscription-08", Mode.TEST, "placed", 5, "hourly", Status.RUNNING),
    SubscriptionSpec("demo-subscription-09", Mode.TEST, "placed", 6, "six-month", Status.CANCELLED),
    SubscriptionSpec("demo-live-subscription-01", Mode.LIVE, "placed", 0, "monthly", Status.ACTIVE),
)


def demo_subscription_ensure(*, spec: SubscriptionSpec) -> bool:
    """Build the subscription of `spec` unless one with its reference exists; True when built."""
    if OrderSubscription.objects.filter(mode=spec.mode, reference=spec.reference).exists():
        return False
    with transaction.atomic():
        subscription = _create(spec)
        if spec.status == Status.DRAFT:
            return True
        if subscription.status == Status.DRAFT:
            subscription = services.order_subscription_activate(
                subscription=subscription, actor=ACTOR
            )
        _advance(subscription, spec)
    return True


def _create(spec: SubscriptionSpec) -> OrderSubscription:
    source = _source_order(spec)
    # A placed source activates the subscription at once (its placement is the first run); the
    # others start tomorrow, or stay drafts waiting for their source order to be placed.
    by_source = spec.source != "incomplete" and not (
        spec.status == Status.DRAFT and spec.source == "placed"
    )
    now = timezone.now()
    return services.order_subscription_create(
        source_order=source,
        mode=spec.mode,
        frequency=spec.frequency,
        activate_by_source_order=by_source,
        starts_at=None if by_source else now + timedelta(days=1),
        expires_at=now + timedelta(days=spec.expires_in_days) if spec.expires_in_days else None,
        renewal_alert_period=spec.renewal_alert_period,
        reference=spec.reference,
        reference_origin=ORIGIN,
        actor=ACTOR,
    )


def _source_order(spec: SubscriptionSpec) -> Order:
    orders = Order.objects.filter(mode=spec.mode, reference_origin=ORIGIN).order_by("reference")
    if spec.source == "placed":
        orders = orders.filter(status__in=(Order.Status.PLACED, Order.Status.APPROVED))
    elif spec.source == "pending":
        orders = orders.filter(status=Order.Status.PENDING, payment_source__isnull=False)
    else:  # a pending order that cannot be placed, or a draft: its copies fail to be placed
        incomplete = orders.filter(status=Order.Status.PENDING, payment_source__isnull=True)
        orders = incomplete if incomplete.exists() else orders.filter(status=Order.Status.DRAFT)
    candidates = list(orders[: spec.index + 1])
    if not candidates:
        raise LookupError(f"{spec.reference}: no demo order to repeat ({spec.source})")
    return candidates[min(spec.index, len(candidates) - 1)]


def _advance(subscription: OrderSubscription, spec: SubscriptionSpec) -> None:
    for _ in range(spec.runs):
        run = services.order_subscription_run(subscription=subscription, actor=ACTOR)
        assert run.order_copy_id is not None  # noqa: S101 (a run always makes a copy)
        copy_services.order_copy_execute(order_copy_id=run.order_copy_id)
    if spec.status == Status.RUNNING:
        services.order_subscription_run(subscription=subscription, actor=ACTOR)
    elif spec.status == Status.INACTIVE:
        services.order_subscription_deactivate(subscription=subscription, actor=ACTOR)
    elif spec.status == Status.CANCELLED:
        services.order_subscription_cancel(subscription=subscription, actor=ACTOR)


def demo_subscription_statuses(*, mode: str) -> Counter[str]:
    subscriptions = OrderSubscription.objects.filter(mode=mode)
    return Counter(subscriptions.values_list("status", flat=True))
