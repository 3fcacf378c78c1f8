"""What the bulk copy page says each copy will meet, before "Copy": the copy plan of each
order (`ordercopies.services.order_copy_plan_many`), computed by the engine's own checks as if
the copies ran now one after the other, so a preview and the copy made from unchanged data
agree. A fixed number of queries whatever the number of orders."""

from collections.abc import Sequence
from typing import Any

from ordercopies.options import CopyOptions
from ordercopies.services import order_copy_plan_many
from orders.models import Order


def copy_preview_problems(
    *, orders: Sequence[Order], options: dict[str, Any]
) -> dict[str, list[str]]:
    """Order id → every error a copy of it with `options` would record (in the words of its
    errors_log); orders whose copy would meet none are left out. The orders share one mode."""
    if not orders:
        return {}
    plans = order_copy_plan_many(
        source_orders=orders, mode=orders[0].mode, options=CopyOptions(**options)
    )
    problems = {}
    for order, plan in zip(orders, plans, strict=True):
        messages = [message for texts in plan["errors_log"].values() for message in texts]
        if messages:
            problems[order.pk] = messages
    return problems
