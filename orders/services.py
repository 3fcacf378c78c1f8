"""Every write to orders and their line items. Views, admin actions and commands call these."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, ProtectedError, Q, Value, When
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.actors import SYSTEM, Actor
from core.bulk import rows_insert
from events.services import event_record
from orders.exceptions import (
    CouponExhausted,
    InvalidCoupon,
    OrderInvalid,
    OrderNotEditable,
    OrderPlacementRefused,
    OrderTransitionRefused,
)
from orders.models import (
    Address,
    Coupon,
    Customer,
    LineItem,
    Market,
    Order,
    OrderNumber,
    PaymentMethod,
    PaymentSource,
    Sku,
)
from orders.placement import payment_source_refusal, placement_errors
from orders.pricing import discount_lines_build, totals_compute
from orders.selectors import coupon_find, order_lines, order_lock, sku_price_cents
from orders.signals import order_placed

TOTAL_FIELDS = [
    "subtotal_amount_cents",
    "discount_amount_cents",
    "shipping_amount_cents",
    "total_tax_amount_cents",
    "total_amount_cents",
    "skus_count",
]
EDITABLE_FIELDS = {
    "customer_email",
    "language_code",
    "country_code",
    "coupon_code",
    "gift_card_code",
    "shipping_address",
    "billing_address",
    "payment_method",
    "payment_source",
}
ALWAYS_EDITABLE_FIELDS = {"reference", "reference_origin", "metadata"}


def address_create(*, mode: str, actor: Actor = SYSTEM, **fields: Any) -> Address:
    """A new address, to be set on an order (a copy gets its own copies of them)."""
    unknown = set(fields) - set(Address.COPIED_FIELDS) - ALWAYS_EDITABLE_FIELDS
    if unknown:
        raise OrderInvalid(f"unknown address fields: {', '.join(sorted(unknown))}")
    address = Address.objects.create(mode=mode, **fields)
    event_record(name="addresses.create", resource=address, actor=actor)
    return address


def payment_source_create(
    *,
    mode: str,
    payment_source_type: str,
    actor: Actor = SYSTEM,
    token: str = "",
    details: dict[str, Any] | None = None,
    created_by_client: str = "",
    **common: Any,
) -> PaymentSource:
    """A payment source (e.g. a card token from a gateway) to set on an order. The API client
    creating it is recorded: a sales channel may pay only with the sources it created."""
    unknown = set(common) - ALWAYS_EDITABLE_FIELDS
    if unknown:
        raise OrderInvalid(f"unknown payment source fields: {', '.join(sorted(unknown))}")
    source = PaymentSource.objects.create(
        mode=mode,
        payment_source_type=payment_source_type,
        token=token,
        details=details or {},
        created_by_client=created_by_client,
        **common,
    )
    event_record(name="payment_sources.create", resource=source, actor=actor)
    return source


def order_number_next() -> str:
    return str(OrderNumber.objects.create().pk)


def order_numbers_next(*, count: int) -> list[str]:
    """`count` new order numbers in one statement."""
    return [
        str(number.pk)
        for number in OrderNumber.objects.bulk_create(OrderNumber() for _ in range(count))
    ]


def orders_insert_many(
    *, orders: Sequence[Order], addresses: Sequence[Address], lines: Sequence[LineItem]
) -> None:
    """Insert new orders (numbered here) with their addresses and line items, built in memory
    by the caller: four statements whatever their number. The copy engine's order builder;
    the caller records the events."""
    for order, number in zip(orders, order_numbers_next(count=len(orders)), strict=True):
        order.number = number
    rows_insert(addresses)
    rows_insert(orders)
    rows_insert(lines)


def order_pending_if_ready(order: Order, *, has_sku: bool) -> bool:
    """Draft → pending for an order with a customer and a SKU line (in memory); True when it
    moved. The one rule for orders edited by hand and orders built by copies."""
    if order.status == Order.Status.DRAFT and order.customer_id and has_sku:
        order.make_pending()
        return True
    return False


def sku_stock_move(*, changes: dict[str, int]) -> None:
    """Add `changes` (SKU id → signed quantity) to the stock in one statement, whatever the
    number of SKUs. Guarded by the column's CHECK (stock >= 0): a change that would make a stock
    negative raises IntegrityError and changes nothing. The caller holds the SKUs' row locks."""
    changes = {sku_id: change for sku_id, change in changes.items() if change}
    if not changes:
        return
    change = Case(
        *(When(pk=sku_id, then=Value(quantity)) for sku_id, quantity in changes.items()),
        output_field=IntegerField(),
    )
    Sku.objects.filter(pk__in=changes).update(stock_quantity=F("stock_quantity") + change)


def coupon_use_many(*, uses: dict[str, int]) -> None:
    """Count `uses` (coupon id → uses) in one statement that refuses to pass a usage limit:
    raises CouponExhausted, changing nothing, when one would. The caller holds the coupons'
    row locks."""
    if not uses:
        return
    added = Case(
        *(When(pk=coupon_id, then=Value(count)) for coupon_id, count in uses.items()),
        output_field=IntegerField(),
    )
    within = Q(usage_limit__isnull=True) | Q(usage_limit__gte=F("usage_count") + added)
    updated = Coupon.objects.filter(within, pk__in=uses).update(
        usage_count=F("usage_count") + added
    )
    if updated != len(uses):
        raise CouponExhausted("a coupon would pass its usage limit; nothing was counted")


def orders_cancel_many(*, order_ids: Sequence[str], at: datetime) -> None:
    """Cancel placed or approved orders in one statement (authorizations voided). The caller
    checked the transitions under the rows' locks, returns the stock and records the events."""
    voided = Case(
        When(payment_status=Order.PaymentStatus.AUTHORIZED, then=Value(Order.PaymentStatus.VOIDED)),
        default=F("payment_status"),
        output_field=Order._meta.get_field("payment_status"),
    )
    Order.objects.filter(pk__in=order_ids).update(
        status=Order.Status.CANCELLED, cancelled_at=at, payment_status=voided, updated_at=at
    )


def customer_get_or_create(*, email: str, mode: str) -> Customer:
    customer, _ = Customer.objects.get_or_create(mode=mode, email=email.strip().lower())
    return customer


@transaction.atomic
def order_create(
    *,
    market: Market,
    customer_email: str = "",
    language_code: str = "en",
    country_code: str = "",
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> Order:
    """A new draft order in `market` (and its mode and currency). A customer email finds or
    creates the customer, as Commerce Layer's `customer_email` does."""
    customer = (
        customer_get_or_create(email=customer_email, mode=market.mode) if customer_email else None
    )
    order = Order.objects.create(
        number=order_number_next(),
        mode=market.mode,
        market=market,
        currency_code=market.currency_code,
        customer=customer,
        customer_email=customer.email if customer else "",
        language_code=language_code,
        country_code=country_code,
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata or {},
    )
    event_record(
        name="orders.create", resource=order, actor=actor, payload={"number": order.number}
    )
    return order


@transaction.atomic
def order_update(
    *, order: Order, actor: Actor = SYSTEM, sales_channel: str | None = None, **changes: Any
) -> Order:
    """Change an order's customer email, addresses, payment, coupon, codes, reference or
    metadata. All but the last three only while the order is draft or pending. A
    `sales_channel` (its API client id) sets only a payment source it created for this order."""
    unknown = set(changes) - EDITABLE_FIELDS - ALWAYS_EDITABLE_FIELDS
    if unknown:
        raise OrderInvalid(f"these order fields cannot be changed: {', '.join(sorted(unknown))}")
    order = order_lock(order_id=order.pk)
    if set(changes) & EDITABLE_FIELDS and not order.is_editable:
        raise OrderNotEditable(f"a {order.status} order cannot be edited")
    _check_same_mode(order, changes)
    _check_payment_source(order, changes.get("payment_source"), sales_channel)
    if changes.get("coupon_code"):
        _check_coupon(order, changes["coupon_code"])
    if "customer_email" in changes:
        email = changes["customer_email"]
        order.customer = customer_get_or_create(email=email, mode=order.mode) if email else None
        changes["customer_email"] = order.customer.email if order.customer else ""
    for field, value in changes.items():
        setattr(order, field, value)
    order.save(update_fields=[*changes, "customer", "updated_at"])
    if set(changes) & EDITABLE_FIELDS:
        # Discounts and totals follow the order only while it is editable: a placed order
        # keeps what it was placed with.
        order = order_refresh(order=order)
    event_record(
        name="orders.update", resource=order, actor=actor, payload={"changed": sorted(changes)}
    )
    return order


def _check_same_mode(order: Order, changes: dict[str, Any]) -> None:
    related = (Address, PaymentMethod, PaymentSource)
    for field, value in changes.items():
        if isinstance(value, related) and value.mode != order.mode:
            raise OrderInvalid({field: [f"{field} {value.pk} does not exist"]})
    method = changes.get("payment_method")
    if isinstance(method, PaymentMethod) and method.market_id != order.market_id:
        raise OrderInvalid({"payment_method": ["the payment method is for another market"]})


def _check_payment_source(
    order: Order, source: PaymentSource | None, sales_channel: str | None
) -> None:
    if source is None:
        return
    reason = payment_source_refusal(order=order, source=source, sales_channel=sales_channel)
    if reason:
        raise OrderInvalid({"payment_source": [reason]})


def _check_coupon(order: Order, code: str) -> None:
    coupon = coupon_find(code=code, mode=order.mode)
    if coupon is None:
        raise InvalidCoupon(f"coupon {code} does not exist")
    if coupon.promotion.market_id != order.market_id:
        raise InvalidCoupon(f"coupon {code} is not valid in market {order.market.code}")
    reason = coupon.invalid_reason(timezone.now())
    if reason:
        raise InvalidCoupon(reason)


@transaction.atomic
def order_line_item_add(
    *, order: Order, sku: Sku, quantity: int = 1, actor: Actor = SYSTEM
) -> LineItem:
    """Add `quantity` of a SKU at the market's price (merging with an existing line of it),
    then refresh discounts, totals and the draft → pending move."""
    if quantity < 1:
        raise OrderInvalid({"quantity": ["quantity must be at least 1"]})
    order = _lock_editable(order)
    if sku.mode != order.mode:
        raise OrderInvalid({"sku": [f"SKU {sku.pk} does not exist"]})
    unit = sku_price_cents(sku=sku, market=order.market)
    if unit is None:
        raise OrderInvalid({"sku": [f"SKU {sku.code} has no price in market {order.market.code}"]})
    line, created = LineItem.objects.get_or_create(
        order=order,
        sku=sku,
        item_type=LineItem.ItemType.SKUS,
        defaults={
            "mode": order.mode,
            "sku_code": sku.code,
            "name": sku.name,
            "quantity": quantity,
            "unit_amount_cents": unit,
            "total_amount_cents": unit * quantity,
        },
    )
    if not created:
        line.quantity += quantity
        line.unit_amount_cents = unit
        line.total_amount_cents = unit * line.quantity
        line.save(
            update_fields=["quantity", "unit_amount_cents", "total_amount_cents", "updated_at"]
        )
    order_refresh(order=order)
    event_record(
        name="line_items.create",
        resource=line,
        actor=actor,
        payload={"order": order.pk, "sku_code": sku.code, "quantity": quantity},
    )
    return line


@transaction.atomic
def order_line_item_update(
    *, line_item: LineItem, quantity: int, actor: Actor = SYSTEM
) -> LineItem:
    if quantity < 1:
        raise OrderInvalid({"quantity": ["quantity must be at least 1"]})
    if line_item.item_type != LineItem.ItemType.SKUS:
        raise OrderInvalid({"item_type": ["only SKU line items have a quantity to change"]})
    order = _lock_editable(line_item.order)
    line_item.quantity = quantity
    line_item.total_amount_cents = line_item.unit_amount_cents * quantity
    line_item.save(update_fields=["quantity", "total_amount_cents", "updated_at"])
    order_refresh(order=order)
    event_record(
        name="line_items.update", resource=line_item, actor=actor, payload={"quantity": quantity}
    )
    return line_item


@transaction.atomic
def order_line_item_delete(*, line_item: LineItem, actor: Actor = SYSTEM) -> Order:
    order = _lock_editable(line_item.order)
    event_record(
        name="line_items.destroy",
        resource=line_item,
        actor=actor,
        payload={"order": order.pk, "sku_code": line_item.sku_code},
    )
    line_item.delete()
    return order_refresh(order=order)


def _lock_editable(order: Order) -> Order:
    order = order_lock(order_id=order.pk)
    if not order.is_editable:
        raise OrderNotEditable(f"the line items of a {order.status} order cannot change")
    return order


def order_refresh(*, order: Order, apply_promotions: bool = True) -> Order:
    """Rebuild discount lines (unless `apply_promotions` is off: lines stay frozen as they are),
    recompute totals and move a draft with a customer and a line item to pending.
    The caller holds the order's row lock."""
    lines = order_lines(order=order)
    if apply_promotions:
        lines = _discount_lines_rebuild(order, lines)
    totals_compute(lines=lines, market=order.market).apply_to(order)
    update_fields = [*TOTAL_FIELDS, "updated_at"]
    has_sku = any(line.item_type == LineItem.ItemType.SKUS for line in lines)
    if order_pending_if_ready(order, has_sku=has_sku):
        update_fields.append("status")
    order.save(update_fields=update_fields)
    return order


def _discount_lines_rebuild(order: Order, lines: list[LineItem]) -> list[LineItem]:
    kept = [line for line in lines if line.item_type not in LineItem.DISCOUNT_TYPES]
    LineItem.objects.filter(order=order, item_type__in=LineItem.DISCOUNT_TYPES).delete()
    subtotal = sum(line.total_amount_cents for line in kept if line.item_type == "skus")
    coupon = coupon_find(code=order.coupon_code, mode=order.mode) if order.coupon_code else None
    discounts = discount_lines_build(
        order=order,
        subtotal_cents=subtotal,
        promotions=list(order.market.promotions.all()),
        coupon=coupon,
        at=timezone.now(),
    )
    return kept + LineItem.objects.bulk_create(discounts)


@transaction.atomic
def order_place(*, order: Order, actor: Actor = SYSTEM, sales_channel: str | None = None) -> Order:
    """Place a pending order that meets every placement rule: takes its stock, uses its coupon,
    authorizes the payment (or marks it free). Raises OrderPlacementRefused with every rule that
    failed, leaving the order as it was. A `sales_channel` (its API client id) places only an
    order paid with a source it created for it (whoever set the source)."""
    order = order_lock(order_id=order.pk)
    skus = _lock_skus(order)
    lines = order_lines(order=order)
    for line in lines:
        if line.sku_id is not None:
            line.sku = skus[line.sku_id]
    coupon = (
        coupon_find(code=order.coupon_code, mode=order.mode, lock=True)
        if order.coupon_code
        else None
    )
    now = timezone.now()
    errors = placement_errors(order=order, lines=lines, coupon=coupon, at=now)
    if sales_channel is not None and order.payment_source_id is not None:
        source = PaymentSource.objects.get(pk=order.payment_source_id)
        reason = payment_source_refusal(order=order, source=source, sales_channel=sales_channel)
        if reason:
            errors = {**errors, "payment_source": [*errors.get("payment_source", []), reason]}
    if errors:
        raise OrderPlacementRefused(errors)
    _take_stock(lines)
    if coupon is not None:
        Coupon.objects.filter(pk=coupon.pk).update(usage_count=F("usage_count") + 1)
    order.place(at=now)
    if order.total_amount_cents == 0:
        order.mark_free()
    else:
        order.authorize_payment()
    if all(line.sku is None or line.sku.do_not_ship for line in lines):
        order.mark_fulfillment_not_required()
    order.save(
        update_fields=["status", "placed_at", "payment_status", "fulfillment_status", "updated_at"]
    )
    event_record(
        name="orders.place",
        resource=order,
        actor=actor,
        payload={"number": order.number, "total_amount_cents": order.total_amount_cents},
    )
    order_placed.send(sender=Order, order=order, actor=actor)
    return order


def _lock_skus(order: Order) -> dict[str, Sku]:
    # SKUs are locked in primary key order, so two placements never wait on each other in a cycle.
    sku_ids = LineItem.objects.filter(order=order, sku__isnull=False).values("sku_id")
    return {
        sku.pk: sku for sku in Sku.objects.select_for_update().filter(pk__in=sku_ids).order_by("pk")
    }


def _take_stock(lines: Iterable[LineItem], *, sign: int = -1) -> None:
    """Move stock for all lines in one UPDATE (the query count does not grow with the lines)."""
    wanted: dict[str, int] = {}
    for line in lines:
        if line.item_type == LineItem.ItemType.SKUS and line.sku_id is not None:
            wanted[line.sku_id] = wanted.get(line.sku_id, 0) + line.quantity
    sku_stock_move(changes={sku_id: sign * quantity for sku_id, quantity in wanted.items()})


@transaction.atomic
def order_approve(*, order: Order, actor: Actor = SYSTEM) -> Order:
    order = order_lock(order_id=order.pk)
    _transition(order, "approve", "approved", at=timezone.now())
    order.save(update_fields=["status", "approved_at", "updated_at"])
    event_record(name="orders.approve", resource=order, actor=actor)
    return order


@transaction.atomic
def order_cancel(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Cancel a placed or approved order: its stock returns and its authorization is voided."""
    order = order_lock(order_id=order.pk)
    _transition(order, "cancel", "cancelled", at=timezone.now())
    if order.payment_status == Order.PaymentStatus.AUTHORIZED:
        order.void_payment()
    _lock_skus(order)
    _take_stock(order_lines(order=order), sign=+1)
    order.save(update_fields=["status", "cancelled_at", "payment_status", "updated_at"])
    event_record(name="orders.cancel", resource=order, actor=actor)
    return order


def _transition(order: Order, name: str, target: str, **kwargs: Any) -> None:
    try:
        getattr(order, name)(**kwargs)
    except TransitionNotAllowed:
        raise OrderTransitionRefused(f"cannot transition from {order.status} to {target}") from None


@transaction.atomic
def order_archive(*, order: Order, actor: Actor = SYSTEM) -> Order:
    order = order_lock(order_id=order.pk)
    if order.archived_at is not None:
        raise OrderTransitionRefused({"archived_at": ["the order is already archived"]})
    order.archived_at = timezone.now()
    order.save(update_fields=["archived_at", "updated_at"])
    event_record(name="orders.archive", resource=order, actor=actor)
    return order


@transaction.atomic
def order_unarchive(*, order: Order, actor: Actor = SYSTEM) -> Order:
    order = order_lock(order_id=order.pk)
    if order.archived_at is None:
        raise OrderTransitionRefused({"archived_at": ["the order is not archived"]})
    order.archived_at = None
    order.save(update_fields=["archived_at", "updated_at"])
    event_record(name="orders.unarchive", resource=order, actor=actor)
    return order


@transaction.atomic
def order_delete(*, order: Order, actor: Actor = SYSTEM) -> None:
    """Delete a draft or pending order with its line items; placed orders can only be archived."""
    order = order_lock(order_id=order.pk)
    if not order.is_editable:
        raise OrderNotEditable(f"a {order.status} order cannot be deleted; archive it instead")
    event_record(
        name="orders.destroy", resource=order, actor=actor, payload={"number": order.number}
    )
    try:
        with transaction.atomic():
            order.delete()
    except ProtectedError:
        raise OrderNotEditable(
            "the order has copies or subscriptions made from it: archive it instead"
        ) from None
