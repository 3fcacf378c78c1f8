"""What a checkout asks of an order besides editing it (Commerce Layer's order triggers):
refresh its prices and promotions, check it could be placed, move it to pending, clone or copy
addresses, pay with a wallet entry, save its payment source and addresses for the customer.

Each locks the order, refuses with a domain error what it cannot do, and records an event.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.actors import SYSTEM, Actor
from events.services import event_record
from orders.exceptions import (
    OrderInvalid,
    OrderNotEditable,
    OrderPlacementRefused,
    OrderTransitionRefused,
)
from orders.models import Address, CustomerAddress, CustomerPaymentSource, LineItem, Order
from orders.placement import placement_errors
from orders.selectors import coupon_find, order_lines, order_lock, sku_prices_in
from orders.services import order_refresh, order_update


def _lock_editable(order: Order) -> Order:
    order = order_lock(order_id=order.pk)
    if not order.is_editable:
        raise OrderNotEditable(f"a {order.status} order cannot be refreshed or edited")
    return order


@transaction.atomic
def order_refresh_prices(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Reprice every SKU line from the market's price list, then re-run promotions and totals
    (Commerce Layer's `_refresh` and `_refresh_prices`). A SKU without a price any more is
    refused: the line would be free."""
    order = _lock_editable(order)
    lines = [
        line
        for line in order_lines(order=order)
        if line.item_type == LineItem.ItemType.SKUS and line.sku_id is not None
    ]
    prices = sku_prices_in(market=order.market, sku_ids=[str(line.sku_id) for line in lines])
    unpriced = sorted(line.sku_code for line in lines if line.sku_id not in prices)
    if unpriced:
        raise OrderInvalid(
            {"line_items": [f"no price in market {order.market.code} for {', '.join(unpriced)}"]}
        )
    for line in lines:
        line.unit_amount_cents = prices[str(line.sku_id)]
        line.total_amount_cents = line.unit_amount_cents * line.quantity
    LineItem.objects.bulk_update(lines, ["unit_amount_cents", "total_amount_cents", "updated_at"])
    order = order_refresh(order=order)
    event_record(name="orders.refresh", resource=order, actor=actor)
    return order


@transaction.atomic
def order_validate(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Check every placement rule without placing (`_validate`): OrderPlacementRefused lists
    the rules it breaks; a valid order gets an `orders.validate` event."""
    order = order_lock(order_id=order.pk)
    coupon = coupon_find(code=order.coupon_code, mode=order.mode) if order.coupon_code else None
    errors = placement_errors(
        order=order, lines=order_lines(order=order), coupon=coupon, at=timezone.now()
    )
    if errors:
        raise OrderPlacementRefused(dict(errors))
    event_record(name="orders.validate", resource=order, actor=actor)
    return order


@transaction.atomic
def order_make_pending(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """A draft with line items goes to pending (`_pending`)."""
    order = order_lock(order_id=order.pk)
    if not LineItem.objects.filter(order=order, item_type=LineItem.ItemType.SKUS).exists():
        raise OrderTransitionRefused("an order without line items cannot be pending")
    try:
        order.make_pending()
    except TransitionNotAllowed:
        raise OrderTransitionRefused(f"cannot transition from {order.status} to pending") from None
    order.save(update_fields=["status", "updated_at"])
    event_record(name="orders.pending", resource=order, actor=actor)
    return order


def order_address_clone(
    *, order: Order, field: str, address: Address, actor: Actor = SYSTEM
) -> Order:
    """Set a copy of `address` as the order's `field` (shipping_address or billing_address):
    the order never shares an address row with another order or a customer's book."""
    if address.mode != order.mode:
        raise OrderInvalid({field: [f"address {address.pk} does not exist"]})
    with transaction.atomic():
        clone = Address.objects.create(
            **{name: getattr(address, name) for name in Address.COPIED_FIELDS}
        )
        changes: dict[str, Any] = {field: clone}
        return order_update(order=order, actor=actor, **changes)


def order_pay_with_wallet(
    *,
    order: Order,
    wallet_entry_id: str,
    actor: Actor = SYSTEM,
    sales_channel: str | None = None,
) -> Order:
    """Pay with a source in the wallet of the order's customer (`_customer_payment_source_id`)."""
    entry = CustomerPaymentSource.objects.filter(
        pk=wallet_entry_id, mode=order.mode, customer_id=order.customer_id
    ).first()
    if entry is None or order.customer_id is None:
        raise OrderInvalid(
            {
                "payment_source": [
                    f"customer payment source {wallet_entry_id} is not in the "
                    "wallet of the order's customer"
                ]
            }
        )
    return order_update(
        order=order, actor=actor, sales_channel=sales_channel, payment_source=entry.payment_source
    )


@transaction.atomic
def order_save_payment_source_to_wallet(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Save the order's payment source in its customer's wallet, for later orders and copies."""
    order = order_lock(order_id=order.pk)
    source = order.payment_source
    if order.customer is None or source is None:
        raise OrderInvalid({"payment_source": ["the order needs a customer and a payment source"]})
    if CustomerPaymentSource.objects.filter(payment_source=source).exists():
        raise OrderInvalid({"payment_source": ["the payment source is already in a wallet"]})
    if source.customer_id not in (None, order.customer_id):
        raise OrderInvalid({"payment_source": ["the payment source belongs to another customer"]})
    source.customer = order.customer
    source.save(update_fields=["customer", "updated_at"])
    entry = CustomerPaymentSource.objects.create(
        mode=order.mode, customer=order.customer, payment_source=source
    )
    event_record(
        name="orders.save_payment_source", resource=order, actor=actor, payload={"entry": entry.pk}
    )
    return order


@transaction.atomic
def order_save_address_to_book(*, order: Order, field: str, actor: Actor = SYSTEM) -> Order:
    """Save a copy of the order's `field` address in its customer's address book."""
    order = order_lock(order_id=order.pk)
    address: Any = getattr(order, field)
    if order.customer is None or address is None:
        raise OrderInvalid({field: [f"the order needs a customer and a {field.replace('_', ' ')}"]})
    saved = Address.objects.create(
        **{name: getattr(address, name) for name in Address.COPIED_FIELDS}
    )
    entry = CustomerAddress.objects.create(mode=order.mode, customer=order.customer, address=saved)
    event_record(
        name=f"orders.save_{field}", resource=order, actor=actor, payload={"entry": entry.pk}
    )
    return order


@transaction.atomic
def line_item_annotate(*, line_item: LineItem, actor: Actor = SYSTEM, **changes: Any) -> LineItem:
    """Change a line's reference or metadata, on any order: they describe, never price."""
    unknown = set(changes) - {"reference", "reference_origin", "metadata"}
    if unknown:
        raise OrderInvalid(
            f"these line item fields cannot be changed: {', '.join(sorted(unknown))}"
        )
    for field, value in changes.items():
        setattr(line_item, field, value)
    line_item.save(update_fields=[*changes, "updated_at"])
    event_record(
        name="line_items.update",
        resource=line_item,
        actor=actor,
        payload={"changed": sorted(changes)},
    )
    return line_item
