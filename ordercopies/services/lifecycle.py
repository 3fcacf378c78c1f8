"""A copy's life outside its run: create (queued in the same transaction), retry, abort,
launch, update and delete."""

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from django.db import models, transaction
from django_fsm import TransitionNotAllowed

from core.actors import SYSTEM, Actor
from events.services import event_build, event_record, event_record_many
from ordercopies.exceptions import (
    CopyNotAbortable,
    CopyNotDeletable,
    CopyNotLaunchable,
    CopyNotRetryable,
    SourceOrderNotFound,
)
from ordercopies.models import OrderCopy
from ordercopies.options import CopyOptions
from ordercopies.services.common import enqueue, lock
from orders.models import Order


def order_copy_create(
    *,
    source_order: Order | str,
    mode: str,
    actor: Actor = SYSTEM,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
    order_subscription: models.Model | None = None,
    options: CopyOptions | None = None,
    **flags: bool,
) -> OrderCopy:
    """Store a pending copy of `source_order` (an order or its id, which must exist in `mode`),
    record `order_copies.create` and queue its job, all in one transaction. A subscription run
    passes its `order_subscription`."""
    return order_copy_create_many(
        source_orders=[source_order],
        mode=mode,
        actor=actor,
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata,
        order_subscription=order_subscription,
        options=options,
        order_subscriptions=None,
        **flags,
    )[0]


@transaction.atomic
def order_copy_create_many(
    *,
    source_orders: Sequence[Order | str],
    mode: str,
    actor: Actor = SYSTEM,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
    order_subscription: models.Model | None = None,
    options: CopyOptions | None = None,
    order_subscriptions: Sequence[models.Model | None] | None = None,
    **flags: bool,
) -> list[OrderCopy]:
    """One pending copy per source order with the same options (`options`, or its defaults,
    changed by any option given by name in `flags`), in bulk; all or none. Copies made by
    subscription runs pass their `order_subscription`, or one per source order in
    `order_subscriptions` (the scheduler starting runs set-wise)."""
    unknown = set(flags) - set(CopyOptions.names())
    if unknown:
        raise TypeError(f"unknown order copy options: {', '.join(sorted(unknown))}")
    chosen = replace(options or CopyOptions(), **flags)
    ids = [order.pk if isinstance(order, Order) else order for order in source_orders]
    found = set(Order.objects.filter(pk__in=ids, mode=mode).values_list("pk", flat=True))
    missing = [order_id for order_id in ids if order_id not in found]
    if missing:
        raise SourceOrderNotFound(f"source order {missing[0]} does not exist")
    made_by: list[models.Model | None] = list(
        order_subscriptions or [order_subscription] * len(ids)
    )
    if len(made_by) != len(ids):
        raise TypeError("order_subscriptions needs one subscription per source order")
    copies = OrderCopy.objects.bulk_create(
        OrderCopy(
            source_order_id=order_id,
            mode=mode,
            reference=reference,
            reference_origin=reference_origin,
            metadata=metadata or {},
            order_subscription_id=subscription.pk if subscription else None,
            **chosen.as_dict(),
        )
        for order_id, subscription in zip(ids, made_by, strict=True)
    )
    event_record_many(
        event_build(
            name="order_copies.create",
            resource=copy,
            actor=actor,
            payload={
                "source_order": copy.source_order_id,
                "options": copy.options(),
                **({"order_subscription": by.pk} if by else {}),
            },
        )
        for copy, by in zip(copies, made_by, strict=True)
    )
    enqueue([copy.pk for copy in copies])
    return copies


@transaction.atomic
def order_copy_retry(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Send a failed or aborted copy back to pending and queue it. The previous attempt's
    errors stay in its `order_copies.fail` event and in this retry's payload."""
    locked = lock(order_copy)
    previous = locked.errors_log
    try:
        locked.retry()
    except TransitionNotAllowed:
        raise CopyNotRetryable(
            f"only failed or aborted copies can be retried; this one is {locked.status}"
        ) from None
    locked.save(
        update_fields=[
            "status",
            "failed_at",
            "lost_runs",
            "errors_log",
            "errors_count",
            "updated_at",
        ]
    )
    event_record(
        name="order_copies.retry",
        resource=locked,
        actor=actor,
        payload={"previous_errors": previous},
    )
    enqueue([locked.pk])
    return locked


@transaction.atomic
def order_copy_abort(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Stop a pending copy before a worker takes it. A running copy cannot be aborted."""
    locked = lock(order_copy, busy=CopyNotAbortable)
    if locked.status != OrderCopy.Status.PENDING:
        raise CopyNotAbortable(f"only pending copies can be aborted; this one is {locked.status}")
    locked.abort()
    locked.save(update_fields=["status", "updated_at"])
    event_record(name="order_copies.abort", resource=locked, actor=actor)
    return locked


@transaction.atomic
def order_copy_launch(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Queue a pending copy's job again (its job was lost, or purged from the queue) and record
    `order_copies.launch`. Safe when the first job is still queued: whichever job claims the
    copy first runs it; the other finds it no longer pending and does nothing."""
    locked = lock(order_copy, busy=CopyNotLaunchable)
    if locked.status != OrderCopy.Status.PENDING:
        raise CopyNotLaunchable(f"only pending copies can be launched; this one is {locked.status}")
    event_record(name="order_copies.launch", resource=locked, actor=actor)
    enqueue([locked.pk])
    return locked


@transaction.atomic
def order_copy_delete(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> None:
    locked = lock(order_copy, busy=CopyNotDeletable)
    if locked.status == OrderCopy.Status.IN_PROGRESS:
        raise CopyNotDeletable("a copy in progress cannot be deleted; wait for it to end")
    event_record(name="order_copies.destroy", resource=locked, actor=actor)
    locked.delete()


@transaction.atomic
def order_copy_update(*, order_copy: OrderCopy, actor: Actor = SYSTEM, **changes: Any) -> OrderCopy:
    """Change a copy's reference, reference_origin or metadata (nothing else may change)."""
    unknown = set(changes) - {"reference", "reference_origin", "metadata"}
    if unknown:
        raise TypeError(f"order copy fields that cannot change: {', '.join(sorted(unknown))}")
    locked = lock(order_copy)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*changes, "updated_at"])
    event_record(
        name="order_copies.update",
        resource=locked,
        actor=actor,
        payload={"changed": sorted(changes)},
    )
    return locked
