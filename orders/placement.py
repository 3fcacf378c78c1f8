"""The rules an order must meet to be placed (SPEC.md §2), each reported under its attribute."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from orders.models import Coupon, CustomerPaymentSource, LineItem, Order, PaymentSource, Sku


def placement_errors(
    *, order: Order, lines: Iterable[LineItem], coupon: Coupon | None, at: datetime
) -> dict[str, list[str]]:
    """Every placement rule the order breaks, as attribute → messages; empty when it may be placed.

    `lines` must carry their SKUs (select_related) as they are now, locked by the caller when the
    answer decides a placement.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    sku_lines = [line for line in lines if line.item_type == LineItem.ItemType.SKUS]
    if order.status != Order.Status.PENDING:
        errors["status"].append(f"cannot transition from {order.status} to placed")
    if not sku_lines:
        errors["line_items"].append("the order has no line items")
    if not order.customer_email:
        errors["customer_email"].append("a customer email is required")
    if order.billing_address_id is None:
        errors["billing_address"].append("a billing address is required")
    needs_shipping = any(line.sku is not None and not line.sku.do_not_ship for line in sku_lines)
    if needs_shipping and order.shipping_address_id is None:
        errors["shipping_address"].append("a shipping address is required to ship the order")
    if order.total_amount_cents > 0:
        if order.payment_method_id is None:
            errors["payment_method"].append("a payment method is required")
        if order.payment_source_id is None:
            errors["payment_source"].append("a payment source is required")
    for problem in stock_problems(sku_lines):
        errors["line_items"].append(problem)
    if order.coupon_code:
        reason = (
            f"coupon {order.coupon_code} does not exist"
            if coupon is None
            else coupon.invalid_reason(at)
        )
        if reason:
            errors["coupon_code"].append(reason)
    return dict(errors)


def quantities_by_sku(sku_lines: Iterable[LineItem]) -> dict[str, int]:
    """The quantity of each SKU over all the lines that order it."""
    wanted: dict[str, int] = defaultdict(int)
    for line in sku_lines:
        if line.sku_id is not None:
            wanted[str(line.sku_id)] += line.quantity
    return dict(wanted)


def sku_unavailable(sku: Sku, *, wanted: int) -> str | None:
    """Why a copy cannot order `wanted` of the SKU now, or None (copies, plans and dry runs)."""
    if not sku.enabled:
        return f"SKU {sku.code} is disabled"
    if sku.stock_quantity < wanted:
        return f"SKU {sku.code} is out of stock"
    return None


def stock_problems(sku_lines: Iterable[LineItem]) -> list[str]:
    """Disabled SKUs and SKUs whose stock does not cover the quantity ordered on all lines."""
    wanted: dict[str, int] = defaultdict(int)
    skus = {}
    for line in sku_lines:
        if line.sku is None:
            continue
        wanted[line.sku.pk] += line.quantity
        skus[line.sku.pk] = line.sku
    problems = []
    for sku_id, quantity in wanted.items():
        sku = skus[sku_id]
        if not sku.enabled:
            problems.append(f"SKU {sku.code} is disabled")
        elif sku.stock_quantity < quantity:
            available = sku.stock_quantity
            problems.append(
                f"SKU {sku.code} is out of stock ({available} available, {quantity} wanted)"
            )
    return problems


def payment_source_refusal(
    *, order: Order, source: PaymentSource, sales_channel: str | None
) -> str | None:
    """Why `source` may not pay `order`, or None. Any caller: not another customer's source.
    A sales channel (its API client id) additionally only with a source it created for this
    order: not a wallet's, not one on another order. Binding a guest order to a customer by
    email gives a sales channel nothing of that customer's wallet."""
    if source.customer_id not in (None, order.customer_id):
        return "the payment source belongs to another customer"
    if sales_channel is None:
        return None
    if source.created_by_client != sales_channel:
        return "a sales channel may pay only with a payment source it created"
    if CustomerPaymentSource.objects.filter(payment_source=source).exists():
        return "a sales channel may not pay with a source saved in a wallet"
    if Order.objects.filter(payment_source=source).exclude(pk=order.pk).exists():
        return "the payment source is used by another order: create one for this order"
    return None
