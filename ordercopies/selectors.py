"""Reads of order copies: lists with their relations, outcomes, and the problems a copy would
meet (for dry runs), each in a bounded number of queries."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from django_fsm import can_proceed

from ordercopies.models import OrderCopy
from orders.models import Coupon, CustomerPaymentSource, LineItem, Order
from orders.placement import quantities_by_sku, sku_unavailable


def order_copy_list(*, mode: str | None = None) -> QuerySet[OrderCopy]:
    copies = OrderCopy.objects.select_related("source_order", "target_order")
    return copies.filter(mode=mode) if mode else copies


def order_copy_status_counts(*, ids: Sequence[str] | None = None) -> dict[str, int]:
    copies = OrderCopy.objects.all() if ids is None else OrderCopy.objects.filter(pk__in=ids)
    rows = copies.order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def order_copy_top_errors(*, ids: Sequence[str], limit: int = 5) -> list[tuple[str, int]]:
    """The most frequent "key: message" errors among the copies."""
    counter: Counter[str] = Counter()
    for errors_log in OrderCopy.objects.filter(pk__in=ids).values_list("errors_log", flat=True):
        for key, messages in (errors_log or {}).items():
            counter.update(f"{key}: {message}" for message in messages)
    return counter.most_common(limit)


def order_copy_outcomes(*, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Each copy's status, source order (id and number), target order and errors, in the
    order of `ids`, in one query."""
    rows = OrderCopy.objects.filter(pk__in=ids).values_list(
        "id", "status", "source_order_id", "source_order__number", "target_order_id", "errors_log"
    )
    by_id = {
        row[0]: {
            "id": row[0],
            "status": row[1],
            "source_order": row[2],
            "source_order_number": row[3],
            "target_order": row[4],
            "errors": row[5] or {},
        }
        for row in rows
    }
    return [by_id[pk] for pk in ids if pk in by_id]


def order_copy_select(
    *,
    mode: str,
    ids: Sequence[str] = (),
    status: str | None = None,
    created_since: datetime | None = None,
) -> QuerySet[OrderCopy]:
    """Copies of a mode, oldest first, with their source orders: by id, status and age."""
    copies = OrderCopy.objects.filter(mode=mode).select_related("source_order")
    if ids:
        copies = copies.filter(pk__in=ids)
    if status:
        copies = copies.filter(status=status)
    if created_since:
        copies = copies.filter(created_at__gte=created_since)
    return copies.order_by("created_at", "id")


def source_orders_select(
    *,
    mode: str,
    ids: Sequence[str] = (),
    status: str | None = None,
    market_code: str | None = None,
    customer_email: str | None = None,
    placed_after: datetime | None = None,
    placed_before: datetime | None = None,
) -> QuerySet[Order]:
    orders = Order.objects.filter(mode=mode).select_related("market")
    if ids:
        orders = orders.filter(pk__in=ids)
    if status:
        orders = orders.filter(status=status)
    if market_code:
        orders = orders.filter(market__code=market_code)
    if customer_email:
        orders = orders.filter(customer_email__iexact=customer_email)
    if placed_after:
        orders = orders.filter(placed_at__gte=placed_after)
    if placed_before:
        orders = orders.filter(placed_at__lt=placed_before)
    return orders.order_by("created_at", "id")


def copy_problems(
    *, orders: Sequence[Order], reuse_wallet: bool, ignore_invalid_coupon: bool
) -> dict[str, list[str]]:
    """What a copy of each order can already be seen to meet: unavailable SKUs, invalid
    coupons, payment sources outside the wallet. Order id → messages, in four queries."""
    lines = LineItem.objects.filter(order__in=orders, item_type="skus").select_related("sku")
    by_order: dict[str, list[LineItem]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    codes = {order.coupon_code for order in orders if order.coupon_code}
    coupons = {
        (c.mode, c.code): c
        for c in Coupon.objects.filter(code__in=codes).select_related("promotion")
    }
    wallet = set(
        CustomerPaymentSource.objects.filter(
            payment_source_id__in=[o.payment_source_id for o in orders if o.payment_source_id]
        ).values_list("customer_id", "payment_source_id")
    )
    now = timezone.now()
    problems: dict[str, list[str]] = {}
    for order in orders:
        found = _line_problems(by_order.get(order.pk, []))
        if order.coupon_code and not ignore_invalid_coupon:
            coupon = coupons.get((order.mode, order.coupon_code))
            reason = (
                coupon.invalid_reason(now)
                if coupon
                else f"coupon {order.coupon_code} does not exist"
            )
            if reason:
                found.append(reason)
        if (
            reuse_wallet
            and order.payment_source_id
            and ((order.customer_id, order.payment_source_id) not in wallet)
        ):
            found.append(
                "the payment source is not in the customer's wallet: it will not be copied"
            )
        if found:
            problems[order.pk] = found
    return problems


def _line_problems(lines: list[LineItem]) -> list[str]:
    """One problem per unavailable SKU, by the rule the copy itself applies."""
    wanted = quantities_by_sku(lines)
    skus = {line.sku.pk: line.sku for line in lines if line.sku is not None}
    problems = (sku_unavailable(sku, wanted=wanted[pk]) for pk, sku in skus.items())
    return [problem for problem in problems if problem is not None]


# What each trigger accepts, for the previews of the admin's confirmation pages. The services
# decide (with the row locked); these mirror their rules and their words.
TRIGGER_SOURCES: dict[str, tuple[str, ...]] = {
    "launch": (OrderCopy.Status.PENDING,),
    "retry": (OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED),
    "abort": (OrderCopy.Status.PENDING,),
}
TRIGGER_RULES = {
    "launch": "only pending copies can be launched",
    "retry": "only failed or aborted copies can be retried",
    "abort": "only pending copies can be aborted",
}


def order_copy_trigger_refusal(*, order_copy: OrderCopy, trigger: str) -> str | None:
    """Why `trigger` ("launch", "retry" or "abort") would refuse the copy as it is now, or None."""
    if trigger == "retry":
        # order_copy_retry refuses exactly what the model's transition refuses.
        allowed = can_proceed(order_copy.retry)
    else:
        allowed = order_copy.status in TRIGGER_SOURCES[trigger]
    if allowed:
        return None
    return f"{TRIGGER_RULES[trigger]}; this one is {order_copy.status}"


def order_copy_list_of_source(*, source_order_id: str, limit: int) -> list[OrderCopy]:
    """The newest copies made from an order, with their target orders, in one query."""
    copies = OrderCopy.objects.filter(source_order_id=source_order_id).select_related(
        "target_order"
    )
    return list(copies.order_by("-created_at", "-id")[:limit])
