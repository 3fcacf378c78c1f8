"""How subscriptions hear about orders and copies, which must not import them (DESIGN.md:
an app imports orders and ordercopies, never the other way round). Connected in apps.ready."""

import logging
from functools import partial
from typing import Any

from django.db import Error, transaction
from django.dispatch import receiver

from core.actors import SYSTEM, Actor
from ordercopies.models import OrderCopy
from ordercopies.signals import order_copies_ended
from orders.models import Order
from orders.signals import order_placed
from subscriptions import services

logger = logging.getLogger(__name__)


@receiver(order_placed, dispatch_uid="subscriptions.activate_by_source_order")
def activate_by_source_order(
    sender: type[Order], *, order: Order, actor: Actor = SYSTEM, **kwargs: Any
) -> None:
    # After the commit, never inside the placement: a subscription can neither refuse nor roll
    # back a placement, and a copy placing its target order pays no query for it. An activation
    # lost between the two is done by the scheduler's next pass.
    transaction.on_commit(
        partial(
            services.order_subscription_activate_by_source_order, order_id=order.pk, actor=actor
        ),
        robust=True,
    )


@receiver(order_copies_ended, dispatch_uid="subscriptions.end_runs")
def end_runs(sender: type[OrderCopy], *, ends: list[tuple[OrderCopy, bool]], **kwargs: Any) -> None:
    ends = [(order_copy, ok) for order_copy, ok in ends if order_copy.order_subscription_id]
    if not ends:
        return
    # In the copies' transaction, so the runs end with their copies; in a savepoint, so a bug
    # here never fails the copies: the scheduler closes a run its copy ended without ending. A
    # database error is not swallowed: the transaction is broken (a lost connection, a
    # deadlock) and the copy engine must see it to retry, not commit nothing and report an end.
    try:
        with transaction.atomic():
            services.order_subscription_runs_end(ends=ends)
    except Error:
        raise
    except Exception:
        logger.exception(
            "order copies %s: their subscription runs could not end; the scheduler will close them",
            ", ".join(order_copy.pk for order_copy, _ in ends),
        )
