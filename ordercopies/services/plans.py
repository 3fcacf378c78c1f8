"""Copy plans: what a copy would do now, without writing anything (issue 17)."""

from collections.abc import Sequence
from typing import Any

from ordercopies.engine.plans import copies_plan
from ordercopies.exceptions import SourceOrderNotFound
from ordercopies.models import OrderCopy
from ordercopies.options import CopyOptions
from orders.models import Order


def order_copy_plan(
    *, source_order: Order | str, mode: str, options: CopyOptions | None = None
) -> dict[str, Any]:
    """The plan of one copy of `source_order` with `options` (see `order_copy_plan_many`)."""
    return order_copy_plan_many(source_orders=[source_order], mode=mode, options=options)[0]


def order_copy_plan_many(
    *, source_orders: Sequence[Order | str], mode: str, options: CopyOptions | None = None
) -> list[dict[str, Any]]:
    """What copies of the source orders (in `mode`) would do if they ran now one after the
    other, computed by the copy engine's own checks: lines copied, repriced or left out,
    coupon kept or dropped, payment, totals, placement and cancellation, every error. Writes
    nothing, takes no lock, and a fixed number of queries. JSON-serialisable."""
    ids = [order.pk if isinstance(order, Order) else order for order in source_orders]
    found = set(Order.objects.filter(pk__in=ids, mode=mode).values_list("pk", flat=True))
    missing = [order_id for order_id in ids if order_id not in found]
    if missing:
        raise SourceOrderNotFound(f"source order {missing[0]} does not exist")
    chosen = (options or CopyOptions()).as_dict()
    return copies_plan(
        [OrderCopy(source_order_id=order_id, mode=mode, **chosen) for order_id in ids]
    )
