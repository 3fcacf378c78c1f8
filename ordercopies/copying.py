"""Builds a copy's target order from its source order (SPEC.md §3, step 3).

A fixed number of queries whatever the number of lines: prices come in one query, addresses
and lines are inserted with bulk_create. Problems are collected as attribute → messages; the
caller decides whether they fail the copy.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from core.actors import Actor
from events.services import event_record
from ordercopies.models import OrderCopy
from orders.models import Address, Coupon, CustomerPaymentSource, LineItem, Order, Sku
from orders.pricing import discount_lines_build, totals_compute
from orders.selectors import coupon_find, sku_prices_in
from orders.services import order_number_next

Errors = dict[str, list[str]]


def source_order_load(*, order_id: str) -> Order:
    """The source order with everything a copy reads, in two queries."""
    lines = LineItem.objects.select_related("sku", "promotion").order_by("created_at", "id")
    return (
        Order.objects.select_related(
            "market", "customer", "shipping_address", "billing_address", "payment_method"
        )
        .prefetch_related(Prefetch("line_items", queryset=lines))
        .get(pk=order_id)
    )


def target_order_create(
    *, order_copy: OrderCopy, source: Order, actor: Actor
) -> tuple[Order, Errors]:
    """Insert the target order, its address copies and its lines; return it with the problems."""
    errors: Errors = defaultdict(list)
    now = timezone.now()
    target = Order(
        number=order_number_next(),
        mode=source.mode,
        market=source.market,
        customer=source.customer,
        customer_email=source.customer_email,
        language_code=source.language_code,
        currency_code=source.market.currency_code,
        country_code=source.country_code,
        gift_card_code=source.gift_card_code,
    )
    _addresses_copy(source=source, target=target)
    _payment_copy(order_copy=order_copy, source=source, target=target, errors=errors)
    coupon = _coupon_copy(
        order_copy=order_copy, source=source, target=target, errors=errors, at=now
    )
    lines = _sku_lines_copy(source=source, target=target, errors=errors)
    lines += _discount_lines_copy(
        order_copy=order_copy, source=source, target=target, coupon=coupon, lines=lines, at=now
    )
    totals_compute(lines=lines, market=source.market).apply_to(target)
    if target.customer_id is not None and target.skus_count > 0:
        target.make_pending()
    target.save(force_insert=True)
    LineItem.objects.bulk_create(lines)
    event_record(
        name="orders.create",
        resource=target,
        actor=actor,
        payload={"number": target.number, "order_copy": order_copy.pk, "source_order": source.pk},
    )
    return target, dict(errors)


def _addresses_copy(*, source: Order, target: Order) -> None:
    """New copies of the source's addresses; one shared copy when both were the same address."""
    originals = {a.pk: a for a in (source.shipping_address, source.billing_address) if a}
    copies = {
        pk: Address(**{field: getattr(address, field) for field in Address.COPIED_FIELDS})
        for pk, address in originals.items()
    }
    Address.objects.bulk_create(copies.values())
    target.shipping_address = copies.get(source.shipping_address_id)  # type: ignore[arg-type]
    target.billing_address = copies.get(source.billing_address_id)  # type: ignore[arg-type]


def _payment_copy(*, order_copy: OrderCopy, source: Order, target: Order, errors: Errors) -> None:
    method = source.payment_method
    if method is not None and not method.enabled:
        errors["payment_method"].append(f"payment method {method.name} is disabled")
    elif method is not None:
        target.payment_method = method
    if order_copy.reuse_wallet and source.payment_source_id and source.customer_id:
        in_wallet = CustomerPaymentSource.objects.filter(
            customer_id=source.customer_id, payment_source_id=source.payment_source_id
        ).exists()
        if in_wallet:
            target.payment_source_id = source.payment_source_id


def _coupon_copy(
    *, order_copy: OrderCopy, source: Order, target: Order, errors: Errors, at: datetime
) -> Coupon | None:
    """The source's coupon when it is still valid. An invalid one is an error, or silently
    dropped with ignore_invalid_coupon."""
    if not source.coupon_code:
        return None
    coupon = coupon_find(code=source.coupon_code, mode=source.mode)
    reason = (
        f"coupon {source.coupon_code} does not exist"
        if coupon is None
        else coupon.invalid_reason(at)
    )
    if reason is None:
        target.coupon_code = source.coupon_code
        return coupon
    if not order_copy.ignore_invalid_coupon:
        errors["coupon_code"].append(reason)
    return None


def quantities_by_sku(sku_lines: Iterable[LineItem]) -> dict[str, int]:
    """The quantity of each SKU over all the lines that order it."""
    wanted: dict[str, int] = defaultdict(int)
    for line in sku_lines:
        wanted[str(line.sku_id)] += line.quantity
    return dict(wanted)


def sku_unavailable(sku: Sku, *, wanted: int) -> str | None:
    """Why a copy cannot order `wanted` of the SKU now, or None (dry runs show the same)."""
    if not sku.enabled:
        return f"SKU {sku.code} is disabled"
    if sku.stock_quantity < wanted:
        return f"SKU {sku.code} is out of stock"
    return None


def _sku_lines_copy(*, source: Order, target: Order, errors: Errors) -> list[LineItem]:
    """Every SKU line with its quantity at the market's current price. Disabled, out-of-stock
    and unpriced SKUs are errors and are left out."""
    sku_lines = [line for line in source.line_items.all() if line.item_type == "skus"]
    wanted = quantities_by_sku(sku_lines)
    prices = sku_prices_in(market=source.market, sku_ids=list(wanted))
    copies = []
    for line in sku_lines:
        sku = line.sku
        assert sku is not None  # noqa: S101 (a database constraint)
        price = prices.get(sku.pk)
        problem = sku_unavailable(sku, wanted=wanted[sku.pk])
        if problem is not None:
            errors["line_items"].append(problem)
        elif price is None:
            errors["line_items"].append(
                f"SKU {sku.code} has no price in market {source.market.code}"
            )
        else:
            copies.append(_line_copy(line, target, unit=price))
    return copies


def _discount_lines_copy(
    *,
    order_copy: OrderCopy,
    source: Order,
    target: Order,
    coupon: Coupon | None,
    lines: list[LineItem],
    at: datetime,
) -> list[LineItem]:
    """Discount lines frozen as they are, or recomputed now with apply_promotions. A coupon's
    line goes with its coupon."""
    if order_copy.apply_promotions:
        return discount_lines_build(
            order=target,
            subtotal_cents=sum(line.total_amount_cents for line in lines),
            promotions=list(source.market.promotions.all()),
            coupon=coupon,
            at=at,
        )
    return [
        _line_copy(line, target, unit=line.unit_amount_cents)
        for line in source.line_items.all()
        if line.item_type in LineItem.DISCOUNT_TYPES
        and (line.item_type != LineItem.ItemType.COUPONS or coupon is not None)
    ]


def _line_copy(line: LineItem, target: Order, *, unit: int) -> LineItem:
    return LineItem(
        order=target,
        mode=target.mode,
        item_type=line.item_type,
        sku=line.sku,
        promotion=line.promotion,
        sku_code=line.sku_code,
        name=line.name,
        quantity=line.quantity,
        unit_amount_cents=unit,
        total_amount_cents=unit * line.quantity,
    )
