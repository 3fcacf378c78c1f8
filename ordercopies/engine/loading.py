"""Everything a batch of copies reads, in a fixed number of queries whatever the number of
copies and lines: sources with their market, customer, addresses and payment method; their
lines; the SKUs; the prices in the markets; the wallet entries; the coupons; the promotions.

With `lock`, the rows the copies may change are locked in the design's order: source orders
to cancel, then SKUs, then coupons, each in primary-key order so that two batches (or a batch
and a placement through the API) never wait on each other in a cycle.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from ordercopies.models import OrderCopy
from orders.models import (
    Coupon,
    CustomerPaymentSource,
    LineItem,
    Order,
    Promotion,
    Sku,
    SkuPrice,
)


@dataclass(slots=True)
class Batch:
    """The copies of a batch and what they read. SKUs and coupons are shared objects: the
    check phase moves their stock and usage in memory, copy after copy."""

    copies: list[OrderCopy]
    at: datetime
    sources: dict[str, Order] = field(default_factory=dict)
    lines: dict[str, list[LineItem]] = field(default_factory=dict)
    skus: dict[str, Sku] = field(default_factory=dict)
    prices: dict[tuple[str, str], int] = field(default_factory=dict)
    wallet: set[tuple[str, str]] = field(default_factory=set)
    coupons: dict[tuple[str, str], Coupon] = field(default_factory=dict)
    promotions: dict[str, list[Promotion]] = field(default_factory=dict)


def batch_load(*, copies: Sequence[OrderCopy], lock: bool) -> Batch:
    """The batch's reads; with `lock`, the rows its writes depend on locked to the end of the
    caller's transaction (a plan reads without locks)."""
    batch = Batch(copies=list(copies), at=timezone.now())
    writes_stock = any(c.place_target_order or c.cancel_source_order for c in copies)
    if lock:
        _lock_sources_to_cancel(copies)
    source_ids = {copy.source_order_id for copy in copies}
    batch.sources = {
        order.pk: order
        for order in Order.objects.select_related(
            "market", "customer", "shipping_address", "billing_address", "payment_method"
        ).filter(pk__in=source_ids)
    }
    for line in (
        LineItem.objects.filter(order_id__in=source_ids)
        .select_related("promotion")
        .order_by("created_at", "id")
    ):
        batch.lines.setdefault(line.order_id, []).append(line)
    _load_skus(batch, lock=lock and writes_stock)
    _load_wallet(batch)
    _load_coupons(batch, lock=lock and any(c.place_target_order for c in copies))
    _load_promotions(batch)
    return batch


def _lock_sources_to_cancel(copies: Sequence[OrderCopy]) -> None:
    ids = sorted({copy.source_order_id for copy in copies if copy.cancel_source_order})
    if ids:
        list(Order.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))


def _load_skus(batch: Batch, *, lock: bool) -> None:
    sku_ids = {line.sku_id for lines in batch.lines.values() for line in lines if line.sku_id}
    if not sku_ids:
        return
    skus: QuerySet[Sku] = Sku.objects.filter(pk__in=sku_ids).order_by("pk")
    batch.skus = {sku.pk: sku for sku in (skus.select_for_update() if lock else skus)}
    for lines in batch.lines.values():
        for line in lines:
            if line.sku_id:
                line.sku = batch.skus[line.sku_id]
    markets = {source.market_id for source in batch.sources.values()}
    batch.prices = {
        (market_id, sku_id): cents
        for market_id, sku_id, cents in SkuPrice.objects.filter(
            market_id__in=markets, sku_id__in=sku_ids
        ).values_list("market_id", "sku_id", "amount_cents")
    }


def _load_wallet(batch: Batch) -> None:
    wanted = {
        (source.customer_id, source.payment_source_id)
        for copy in batch.copies
        if copy.reuse_wallet
        and (source := batch.sources.get(copy.source_order_id)) is not None
        and source.customer_id
        and source.payment_source_id
    }
    if not wanted:
        return
    customers, payment_sources = ({pair[0] for pair in wanted}, {pair[1] for pair in wanted})
    batch.wallet = set(
        CustomerPaymentSource.objects.filter(
            customer_id__in=customers, payment_source_id__in=payment_sources
        ).values_list("customer_id", "payment_source_id")
    )


def _load_coupons(batch: Batch, *, lock: bool) -> None:
    codes = {(s.mode, s.coupon_code) for s in batch.sources.values() if s.coupon_code}
    if not codes:
        return
    coupons = (
        Coupon.objects.select_related("promotion")
        .filter(mode__in={mode for mode, _ in codes}, code__in={code for _, code in codes})
        .order_by("pk")
    )
    if lock:
        coupons = coupons.select_for_update(of=("self",))
    batch.coupons = {(coupon.mode, coupon.code): coupon for coupon in coupons}


def _load_promotions(batch: Batch) -> None:
    markets = {
        batch.sources[copy.source_order_id].market_id
        for copy in batch.copies
        if copy.apply_promotions and copy.source_order_id in batch.sources
    }
    if not markets:
        return
    promotions: dict[str, list[Promotion]] = defaultdict(list)
    for promotion in Promotion.objects.filter(market_id__in=markets):
        promotions[promotion.market_id].append(promotion)
    batch.promotions = dict(promotions)
