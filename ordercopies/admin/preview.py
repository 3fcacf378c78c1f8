"""What the bulk copy page says each copy will meet, before "Copy": one function,
`copy_preview_problems`, so that it can be swapped for the engine's copy plan when there is one
(the same code as the copy, as a dry run). Until then it applies the copy's own rules: the
problems `ordercopies.selectors.copy_problems` sees in the source (SKUs, coupon, wallet) and a
disabled payment method, then
the placement rules of `orders/placement.py` on the target the copy would build (with
place_target_order), and the cancellation rule on the source (with cancel_source_order), in the
words the copy itself records. A fixed number of queries whatever the number of orders."""

from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from django_fsm import can_proceed

from ordercopies.copying import quantities_by_sku, sku_unavailable
from ordercopies.selectors import copy_problems
from orders.models import CustomerPaymentSource, LineItem, Order, SkuPrice
from orders.placement import placement_errors


def copy_preview_problems(
    *, orders: Sequence[Order], options: dict[str, Any]
) -> dict[str, list[str]]:
    """Order id → every problem a copy of it with `options` would record; orders without
    problems are left out. `orders` carry their market and payment method (select_related)."""
    problems = copy_problems(
        orders=orders,
        reuse_wallet=bool(options.get("reuse_wallet")),
        ignore_invalid_coupon=bool(options.get("ignore_invalid_coupon")),
    )
    for order in orders:
        method = order.payment_method
        if method is not None and not method.enabled:
            problems.setdefault(order.pk, []).append(f"payment method {method.name} is disabled")
    if options.get("place_target_order"):
        for order_id, refusals in _placement_problems(orders, options=options).items():
            problems.setdefault(order_id, []).extend(refusals)
    if options.get("cancel_source_order"):
        for order in orders:
            if not can_proceed(order.cancel):
                problems.setdefault(order.pk, []).append(
                    f"cannot transition from {order.status} to cancelled"
                )
    return problems


def _placement_problems(
    orders: Sequence[Order], *, options: dict[str, Any]
) -> dict[str, list[str]]:
    """The placement rules on each would-be target: the source's customer, email and addresses,
    its SKU lines that are available and priced in its market, its payment method when enabled,
    its payment source when the wallet is reused and holds it."""
    lines_by_order = _sku_lines(orders)
    prices = _prices(orders, lines_by_order)
    wallet = _wallet(orders) if options.get("reuse_wallet") else set()
    now = timezone.now()
    found: dict[str, list[str]] = {}
    for order in orders:
        lines = _copied_lines(order, lines_by_order.get(order.pk, []), prices)
        target = _target(order, lines=lines, prices=prices, wallet=wallet)
        errors = placement_errors(order=target, lines=lines, coupon=None, at=now)
        messages = [
            message if key == "status" else f"cannot be placed: {message}"
            for key, texts in errors.items()
            for message in texts
        ]
        if messages:
            found[order.pk] = messages
    return found


def _sku_lines(orders: Sequence[Order]) -> dict[str, list[LineItem]]:
    lines = LineItem.objects.filter(order__in=orders, item_type=LineItem.ItemType.SKUS)
    by_order: dict[str, list[LineItem]] = {}
    for line in lines.select_related("sku").order_by("created_at", "pk"):
        by_order.setdefault(line.order_id, []).append(line)
    return by_order


def _prices(
    orders: Sequence[Order], lines_by_order: dict[str, list[LineItem]]
) -> dict[tuple[str, str], int]:
    """(market id, SKU id) → the market's current price, in one query."""
    sku_ids = {line.sku_id for lines in lines_by_order.values() for line in lines}
    rows = SkuPrice.objects.filter(
        market_id__in={order.market_id for order in orders}, sku_id__in=sku_ids
    ).values_list("market_id", "sku_id", "amount_cents")
    return {(market_id, sku_id): amount for market_id, sku_id, amount in rows}


def _wallet(orders: Sequence[Order]) -> set[tuple[str, str]]:
    sources = [order.payment_source_id for order in orders if order.payment_source_id]
    return set(
        CustomerPaymentSource.objects.filter(payment_source_id__in=sources).values_list(
            "customer_id", "payment_source_id"
        )
    )


def _copied_lines(
    order: Order, lines: list[LineItem], prices: dict[tuple[str, str], int]
) -> list[LineItem]:
    """The lines the copy keeps: SKUs it can order now and that have a price in the market."""
    wanted = quantities_by_sku(lines)
    return [
        line
        for line in lines
        if line.sku is not None
        and sku_unavailable(line.sku, wanted=wanted[str(line.sku_id)]) is None
        and (order.market_id, line.sku_id) in prices
    ]


def _target(
    order: Order,
    *,
    lines: list[LineItem],
    prices: dict[tuple[str, str], int],
    wallet: set[tuple[str, str]],
) -> Order:
    """The target order as the copy would build it (in memory, never saved)."""
    subtotal = sum(prices[(order.market_id, str(line.sku_id))] * line.quantity for line in lines)
    in_wallet = (order.customer_id, order.payment_source_id) in wallet
    target = Order(
        mode=order.mode,
        market_id=order.market_id,
        customer_id=order.customer_id,
        customer_email=order.customer_email,
        billing_address_id=order.billing_address_id,
        shipping_address_id=order.shipping_address_id,
        payment_method_id=order.payment_method_id if _method_enabled(order) else None,
        payment_source_id=order.payment_source_id if in_wallet else None,
        total_amount_cents=subtotal,
    )
    if target.customer_id is not None and lines:
        target.make_pending()
    return target


def _method_enabled(order: Order) -> bool:
    method = order.payment_method
    return method is not None and method.enabled
