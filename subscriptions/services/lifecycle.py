"""Every write to a subscription's settings and status: create, update, delete, activate,
deactivate, cancel, and the activation by the placement of its source order.

Each service locks the subscription row, checks, calls the pure transition, saves with
`update_fields` and records the event, in one transaction. Locks go source order, then
subscription (as a placement does), so creating a subscription and placing its source order at
the same moment never miss each other: whichever commits second sees the other.
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.actors import SYSTEM, Actor
from events.services import event_record
from orders.models import CustomerPaymentSource, Order
from subscriptions.exceptions import (
    SourceOrderNotFound,
    SubscriptionInvalid,
    SubscriptionNotDeletable,
    SubscriptionTransitionRefused,
)
from subscriptions.models import OrderSubscription, OrderSubscriptionNumber, SubscriptionRun
from subscriptions.services.common import iso, lock, settings_clean, transition

Status = OrderSubscription.Status
PLACED = (Order.Status.PLACED, Order.Status.APPROVED)
SETTINGS = {"frequency", "renewal_alert_period", "starts_at", "expires_at"}
UPDATABLE = SETTINGS | {"activate_by_source_order", "place_target_order", "next_run_at"}
UPDATABLE |= {"customer_payment_source"}
ALWAYS_UPDATABLE = {"reference", "reference_origin", "metadata"}
PLACEMENT_FIELDS = ["status", "starts_at", "next_run_at", "occurrencies", "last_run_at"]
PLACEMENT_FIELDS += ["succeeded_on_last_run", "updated_at"]


@transaction.atomic
def order_subscription_create(
    *,
    source_order: Order | str,
    mode: str,
    frequency: str,
    actor: Actor = SYSTEM,
    activate_by_source_order: bool = True,
    place_target_order: bool = True,
    renewal_alert_period: int | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    customer_payment_source: CustomerPaymentSource | None = None,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
) -> OrderSubscription:
    """A draft subscription repeating `source_order` (an order or its id, in `mode`). With
    `activate_by_source_order` and a source order already placed, it is active at once: that
    placement was its first run. Market, customer and email come from the source order."""
    order = _source_order_lock(source_order, mode=mode)
    given: dict[str, Any] = {"frequency": frequency, "renewal_alert_period": renewal_alert_period}
    given |= {"starts_at": starts_at, "expires_at": expires_at}
    values = _create_values_clean(
        order, given, by_source=activate_by_source_order, wallet_entry=customer_payment_source
    )
    subscription = OrderSubscription.objects.create(
        number=str(OrderSubscriptionNumber.objects.create().pk),
        mode=order.mode,
        market_id=order.market_id,
        source_order=order,
        customer_id=order.customer_id,
        customer_email=order.customer_email,
        customer_payment_source=customer_payment_source or _wallet_entry(order),
        activate_by_source_order=activate_by_source_order,
        place_target_order=place_target_order,
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata or {},
        **values,
    )
    event_record(
        name="order_subscriptions.create",
        resource=subscription,
        actor=actor,
        payload={"source_order": order.pk, "frequency": subscription.frequency},
    )
    if activate_by_source_order and order.status in PLACED and order.placed_at is not None:
        _activate_by_placement(subscription, placed_at=order.placed_at, actor=actor)
    return subscription


def _create_values_clean(
    order: Order,
    given: dict[str, Any],
    *,
    by_source: bool,
    wallet_entry: CustomerPaymentSource | None,
) -> dict[str, Any]:
    values, errors = settings_clean(given, changed=set(given))
    errors |= _activation_errors(order, by_source=by_source, starts_at=given["starts_at"])
    if wallet_entry is not None:
        errors |= _wallet_errors(order, wallet_entry)
    if errors:
        raise SubscriptionInvalid(errors)
    return values


def _source_order_lock(source_order: Order | str, *, mode: str) -> Order:
    order_id = source_order.pk if isinstance(source_order, Order) else source_order
    order = Order.objects.select_for_update(of=("self",)).filter(pk=order_id, mode=mode).first()
    if order is None:
        raise SourceOrderNotFound(f"source order {order_id} does not exist")
    return order


def _activation_errors(
    order: Order, *, by_source: bool, starts_at: datetime | None
) -> dict[str, list[str]]:
    if by_source and order.status == Order.Status.CANCELLED:
        return {
            "activate_by_source_order": [
                "the source order is cancelled and will never be placed: set "
                "activate_by_source_order to false and give starts_at"
            ]
        }
    if not by_source and starts_at is None:
        return {"starts_at": ["starts_at is required unless activate_by_source_order is true"]}
    return {}


def _wallet_entry(order: Order) -> CustomerPaymentSource | None:
    if order.customer_id is None or order.payment_source_id is None:
        return None
    return CustomerPaymentSource.objects.filter(
        customer_id=order.customer_id, payment_source_id=order.payment_source_id
    ).first()


def _wallet_errors(order: Order, entry: CustomerPaymentSource) -> dict[str, list[str]]:
    if entry.mode != order.mode or entry.customer_id != order.customer_id:
        return {
            "customer_payment_source": [
                f"customer payment source {entry.pk} is not in the wallet of the source "
                "order's customer"
            ]
        }
    return {}


@transaction.atomic
def order_subscription_update(
    *, subscription: OrderSubscription, actor: Actor = SYSTEM, **changes: Any
) -> OrderSubscription:
    """Change settings (frequency, renewal_alert_period, expires_at, the options; starts_at
    before activation; next_run_at only into the future) and reference, reference_origin,
    metadata. A new frequency reschedules the next run on its own grid."""
    unknown = set(changes) - UPDATABLE - ALWAYS_UPDATABLE
    if unknown:
        raise SubscriptionInvalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    locked = lock(subscription)
    _check_updatable(locked, changes)
    given = {field: changes.get(field, getattr(locked, field)) for field in SETTINGS}
    values, errors = settings_clean(given, changed=set(changes))
    errors |= _next_run_errors(locked, changes)
    if changes.get("customer_payment_source") is not None:
        errors |= _wallet_errors(locked.source_order, changes["customer_payment_source"])
    if errors:
        raise SubscriptionInvalid(errors)
    changes |= {field: values[field] for field in SETTINGS & set(changes)}
    for field, value in changes.items():
        setattr(locked, field, value)
    fields = [*changes, "updated_at"]
    if "frequency" in changes and "next_run_at" not in changes and locked.next_run_at:
        locked.next_run_at = locked.run_time_after(timezone.now())
        fields.append("next_run_at")
    locked.save(update_fields=fields)
    event_record(
        name="order_subscriptions.update",
        resource=locked,
        actor=actor,
        payload={"changed": sorted(changes)},
    )
    return locked


def _check_updatable(subscription: OrderSubscription, changes: dict[str, Any]) -> None:
    if subscription.status == Status.CANCELLED and set(changes) - ALWAYS_UPDATABLE:
        raise SubscriptionTransitionRefused(
            "a cancelled subscription is final: only reference, reference_origin and "
            "metadata can change"
        )
    if "starts_at" in changes and subscription.status != Status.DRAFT:
        raise SubscriptionInvalid(
            {"starts_at": ["starts_at can change only before the subscription is activated"]}
        )


def _next_run_errors(
    subscription: OrderSubscription, changes: dict[str, Any]
) -> dict[str, list[str]]:
    if "next_run_at" not in changes:
        return {}
    value = changes["next_run_at"]
    if subscription.status == Status.DRAFT:
        return {"next_run_at": ["the next run is set when the subscription is activated"]}
    if value is None or value <= timezone.now():
        return {"next_run_at": ["next_run_at may only be moved into the future"]}
    expires_at = changes.get("expires_at", subscription.expires_at)
    if expires_at is not None and value >= expires_at:
        return {"next_run_at": ["next_run_at must be before expires_at"]}
    return {}


@transaction.atomic
def order_subscription_delete(*, subscription: OrderSubscription, actor: Actor = SYSTEM) -> None:
    """Delete a draft; a subscription that was ever activated is cancelled instead."""
    locked = lock(subscription)
    if locked.status != Status.DRAFT:
        raise SubscriptionNotDeletable(
            f"only draft subscriptions can be deleted; this one is {locked.status}: cancel it"
        )
    event_record(
        name="order_subscriptions.destroy",
        resource=locked,
        actor=actor,
        payload={"number": locked.number},
    )
    locked.delete()


@transaction.atomic
def order_subscription_activate(
    *, subscription: OrderSubscription, actor: Actor = SYSTEM
) -> OrderSubscription:
    """`_activate`: a draft (with starts_at) or inactive subscription becomes active. Its next
    run is the first scheduled time from now on: times it missed while inactive, or before it
    was activated, are not run."""
    locked = lock(subscription)
    now = timezone.now()
    _check_activable(locked, now=now)
    keep = locked.next_run_at is not None and locked.next_run_at > now
    next_run_at = locked.next_run_at if keep else locked.run_time_after(now)
    transition(locked, "activate", next_run_at=next_run_at)
    locked.save(update_fields=["status", "next_run_at", "updated_at"])
    event_record(
        name="order_subscriptions.activate",
        resource=locked,
        actor=actor,
        payload={"by": actor.kind, "next_run_at": iso(locked.next_run_at)},
    )
    return locked


def _check_activable(subscription: OrderSubscription, *, now: datetime) -> None:
    if subscription.status not in (Status.DRAFT, Status.INACTIVE):
        raise SubscriptionTransitionRefused(
            "only draft or inactive subscriptions can be activated; "
            f"this one is {subscription.status}"
        )
    if subscription.starts_at is None:
        raise SubscriptionInvalid(
            {"starts_at": ["set starts_at to activate the subscription, or place its source order"]}
        )
    if subscription.is_expired(now):
        expired = f"the subscription expired at {iso(subscription.expires_at)}"
        raise SubscriptionInvalid(
            {"expires_at": [f"{expired}: move expires_at into the future to activate it"]}
        )


@transaction.atomic
def order_subscription_deactivate(
    *, subscription: OrderSubscription, actor: Actor = SYSTEM
) -> OrderSubscription:
    """`_deactivate`: an active subscription stops running until it is activated again."""
    locked = lock(subscription)
    if locked.status == Status.RUNNING:
        raise SubscriptionTransitionRefused(
            "the subscription is running now: deactivate it when the run has ended, or cancel it"
        )
    transition(locked, "deactivate")
    locked.save(update_fields=["status", "updated_at"])
    event_record(name="order_subscriptions.deactivate", resource=locked, actor=actor)
    return locked


@transaction.atomic
def order_subscription_cancel(
    *, subscription: OrderSubscription, actor: Actor = SYSTEM
) -> OrderSubscription:
    """`_cancel`, final. A run in progress still ends and is counted; nothing runs after it."""
    locked = lock(subscription)
    transition(locked, "cancel")
    locked.save(update_fields=["status", "updated_at"])
    event_record(name="order_subscriptions.cancel", resource=locked, actor=actor)
    return locked


@transaction.atomic
def order_subscription_activate_by_source_order(
    *, order_id: str, actor: Actor = SYSTEM
) -> list[OrderSubscription]:
    """Activate the draft subscriptions waiting for their source order to be placed: the
    placement is their first run. Run after the placement commits (and by the scheduler, for
    any activation lost between the two); does nothing a second time."""
    drafts = (
        OrderSubscription.objects.select_for_update(of=("self",))
        .select_related("source_order")
        .filter(
            source_order_id=order_id,
            source_order__status__in=PLACED,
            status=Status.DRAFT,
            activate_by_source_order=True,
        )
        .order_by("pk")
    )
    activated = []
    for subscription in drafts:
        placed_at = subscription.source_order.placed_at
        assert placed_at is not None  # noqa: S101 (a constraint of placed orders)
        _activate_by_placement(subscription, placed_at=placed_at, actor=actor)
        activated.append(subscription)
    return activated


def _activate_by_placement(
    subscription: OrderSubscription, *, placed_at: datetime, actor: Actor
) -> None:
    """The caller holds the subscription's row lock."""
    # The placement anchors the grid unless a starts_at was given.
    subscription.starts_at = subscription.starts_at or placed_at
    next_run_at = subscription.run_time_after(max(timezone.now(), placed_at))
    transition(subscription, "activate_by_placement", placed_at=placed_at, next_run_at=next_run_at)
    subscription.save(update_fields=PLACEMENT_FIELDS)
    SubscriptionRun.objects.create(
        subscription=subscription,
        scheduled_at=placed_at,
        trigger=SubscriptionRun.Trigger.SOURCE_ORDER,
        started_at=placed_at,
        ended_at=placed_at,
        succeeded=True,
    )
    event_record(
        name="order_subscriptions.activate",
        resource=subscription,
        actor=actor,
        payload={
            "by": "source_order",
            "source_order": subscription.source_order_id,
            "next_run_at": iso(next_run_at),
        },
    )
