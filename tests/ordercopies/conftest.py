from collections.abc import Callable
from typing import Any

import pytest
from django.db import models

from events.models import Event
from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Address, Coupon, LineItem, Market, Order, Sku
from tests import factories


@pytest.fixture
def coupon(market: Market) -> Coupon:
    """A valid 10% coupon of the market (its promotion applies only with the coupon)."""
    promotion = factories.PromotionFactory(
        market=market, mode=market.mode, requires_coupon=True, percentage=10
    )
    return factories.CouponFactory(promotion=promotion, mode=market.mode, code="SAVE10")


@pytest.fixture
def run_copy() -> Callable[..., OrderCopy]:
    """Create a copy of `source` with `options`, run it in-process, return it fresh from the db."""

    def run(source: Order, **options: bool) -> OrderCopy:
        order_copy = services.order_copy_create(source_order=source, mode=source.mode, **options)
        services.order_copy_execute(order_copy_id=order_copy.pk)
        return OrderCopy.objects.select_related("target_order").get(pk=order_copy.pk)

    return run


@pytest.fixture
def event_names() -> Callable[[models.Model], list[str]]:
    """The names of a resource's events, oldest first."""

    def names(resource: models.Model) -> list[str]:
        events = Event.objects.filter(resource_id=str(resource.pk)).order_by("created_at", "id")
        return list(events.values_list("name", flat=True))

    return names


@pytest.fixture
def db_snapshot() -> Callable[..., dict[str, Any]]:
    """What a failed copy must leave as it found: row counts, the source order's state, the
    stock of its SKUs and the usage of a coupon."""

    def snapshot(source: Order, coupon: Coupon | None = None) -> dict[str, Any]:
        source = Order.objects.get(pk=source.pk)
        sku_ids = source.line_items.filter(sku__isnull=False).values("sku_id")
        return {
            "orders": Order.objects.count(),
            "line_items": LineItem.objects.count(),
            "addresses": Address.objects.count(),
            "order_events": Event.objects.filter(resource_type="orders").count(),
            "source": (source.status, source.payment_status, source.cancelled_at),
            "stock": dict(Sku.objects.filter(pk__in=sku_ids).values_list("code", "stock_quantity")),
            "coupon_usage": (
                Coupon.objects.get(pk=coupon.pk).usage_count if coupon is not None else None
            ),
        }

    return snapshot
