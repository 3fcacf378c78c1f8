"""Reads of orders with the related rows they need, fetched in a bounded number of queries."""

from django.db.models import F, QuerySet

from orders.models import Coupon, LineItem, Market, Order, Sku, SkuPrice


def order_lock(*, order_id: str) -> Order:
    """The order row, locked until the end of the caller's transaction, with its market."""
    return Order.objects.select_for_update(of=("self",)).select_related("market").get(pk=order_id)


def order_lines(*, order: Order) -> list[LineItem]:
    return list(
        LineItem.objects.filter(order=order).select_related("sku").order_by("created_at", "id")
    )


def order_list(*, mode: str | None = None) -> QuerySet[Order]:
    """Orders with what their lists show, and `order_subscription_id`: the subscription whose
    run made the order (through the copy that made it), without a query per order."""
    orders = Order.objects.select_related(
        "market", "customer", "shipping_address", "billing_address", "payment_method"
    ).annotate(order_subscription_id=F("created_by_copy__order_subscription_id"))
    return orders.filter(mode=mode) if mode else orders


def coupon_find(*, code: str, mode: str, lock: bool = False) -> Coupon | None:
    coupons = Coupon.objects.select_related("promotion")
    if lock:
        coupons = coupons.select_for_update(of=("self",))
    return coupons.filter(mode=mode, code=code).first()


def sku_price_cents(*, sku: Sku, market: Market) -> int | None:
    return (
        SkuPrice.objects.filter(sku=sku, market=market)
        .values_list("amount_cents", flat=True)
        .first()
    )


def sku_prices_in(*, market: Market, sku_ids: list[str]) -> dict[str, int]:
    """The market's current price of each SKU, in one query."""
    return dict(
        SkuPrice.objects.filter(market=market, sku_id__in=sku_ids).values_list(
            "sku_id", "amount_cents"
        )
    )
