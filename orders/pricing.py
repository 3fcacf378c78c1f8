"""Order totals and promotion discounts, computed in one place from an order's lines.

Pure functions over already-loaded objects: callers decide what to fetch and what to save.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from orders.models import Coupon, LineItem, Market, Order, Promotion
from orders.money import percentage_of


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal_amount_cents: int
    discount_amount_cents: int
    shipping_amount_cents: int
    total_tax_amount_cents: int
    total_amount_cents: int
    skus_count: int

    FIELDS = (
        "subtotal_amount_cents",
        "discount_amount_cents",
        "shipping_amount_cents",
        "total_tax_amount_cents",
        "total_amount_cents",
        "skus_count",
    )

    def apply_to(self, order: Order) -> None:
        for field in self.FIELDS:
            setattr(order, field, getattr(self, field))


def totals_compute(
    *, lines: Iterable[LineItem], market: Market, shippable: bool | None = None
) -> Totals:
    """Subtotal of SKU lines, discounts (negative, never below -subtotal), flat shipping when
    something ships, tax at the market's rate on the discounted amount plus shipping."""
    lines = list(lines)
    sku_lines = [line for line in lines if line.item_type == LineItem.ItemType.SKUS]
    subtotal = sum(line.total_amount_cents for line in sku_lines)
    discount = sum(
        line.total_amount_cents for line in lines if line.item_type in LineItem.DISCOUNT_TYPES
    )
    discount = max(min(discount, 0), -subtotal)
    if shippable is None:
        shippable = any(line.sku is not None and not line.sku.do_not_ship for line in sku_lines)
    shipping = market.shipping_amount_cents if shippable and sku_lines else 0
    tax = percentage_of(subtotal + discount + shipping, market.tax_rate)
    return Totals(
        subtotal_amount_cents=subtotal,
        discount_amount_cents=discount,
        shipping_amount_cents=shipping,
        total_tax_amount_cents=tax,
        total_amount_cents=subtotal + discount + shipping + tax,
        skus_count=sum(line.quantity for line in sku_lines),
    )


def promotion_discount_cents(*, promotion: Promotion, subtotal_cents: int) -> int:
    if promotion.kind == Promotion.Kind.PERCENTAGE:
        amount = percentage_of(subtotal_cents, Decimal(promotion.percentage) / 100)
    else:
        amount = promotion.amount_cents
    return min(amount, subtotal_cents)


def discount_lines_build(
    *,
    order: Order,
    subtotal_cents: int,
    promotions: Sequence[Promotion],
    coupon: Coupon | None,
    at: datetime,
) -> list[LineItem]:
    """The discount lines an order earns now: one per active automatic promotion of its market,
    and one for its coupon's promotion when the coupon is valid."""
    earned: list[tuple[Promotion, str]] = [
        (promotion, LineItem.ItemType.PROMOTIONS)
        for promotion in promotions
        if not promotion.requires_coupon and promotion.is_active(at)
    ]
    automatic = {promotion.pk for promotion, _ in earned}
    if (
        coupon is not None
        and coupon.invalid_reason(at) is None
        and coupon.promotion_id not in automatic
    ):
        earned.append((coupon.promotion, LineItem.ItemType.COUPONS))
    lines = []
    for promotion, item_type in earned:
        amount = promotion_discount_cents(promotion=promotion, subtotal_cents=subtotal_cents)
        if amount <= 0:
            continue
        lines.append(
            LineItem(
                order=order,
                mode=order.mode,
                item_type=item_type,
                promotion=promotion,
                name=promotion.name,
                quantity=1,
                unit_amount_cents=-amount,
                total_amount_cents=-amount,
            )
        )
    return lines
