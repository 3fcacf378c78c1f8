"""The check phase: each copy of a batch decided in Python, in copy order, against the rows
the batch loaded (SPEC.md §3, step 3). Nothing here writes to the database.

A copy that succeeds moves the batch's SKU stock and coupon usage in memory, so the copies after
it see what it took: copies competing for the last units, or a coupon's last use, are served
first come, first served, exactly as if they ran one after the other. A copy that fails gives
back what it moved. The write phase (writes.py) then stores the outcomes as they are, and a plan
(plans.py) presents them.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from core.bulk import instance_build
from ordercopies.engine.loading import Batch
from ordercopies.models import OrderCopy
from orders.exceptions import OrderError, OrderPlacementRefused
from orders.models import Address, Coupon, LineItem, Order
from orders.placement import placement_errors, quantities_by_sku, sku_unavailable
from orders.pricing import discount_lines_build, totals_compute
from orders.services import order_pending_if_ready

Errors = dict[str, list[str]]
COPIED = Address.COPIED_FIELDS
CANCELLABLE = (Order.Status.PLACED, Order.Status.APPROVED)


@dataclass(slots=True)
class LineOutcome:
    """What happened to one line of the source (or to a discount line earned now)."""

    item_type: str
    name: str
    sku_code: str
    quantity: int
    outcome: str  # copied, repriced, left_out, recomputed, dropped
    unit_amount_cents_before: int | None
    unit_amount_cents_after: int | None
    reason: str = ""


@dataclass(slots=True)
class CopyOutcome:
    """One copy as the check phase decided it: the target built in memory (numbered and
    inserted by the write phase), the errors it records and what it moves."""

    order_copy: OrderCopy
    source: Order
    errors: Errors
    target: Order
    addresses: list[Address] = field(default_factory=list)
    lines: list[LineItem] = field(default_factory=list)
    line_outcomes: list[LineOutcome] = field(default_factory=list)
    coupon: Coupon | None = None
    cancels_source: bool = False
    cancel_refusal: list[str] = field(default_factory=list)
    placed: bool = False
    placement_refusal: Errors = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)

    @property
    def succeeds(self) -> bool:
        return not self.errors or self.order_copy.skip_errors


def copies_check(batch: Batch) -> list[CopyOutcome]:
    """Every copy of the batch decided, in the batch's order."""
    cancelled: set[str] = set()
    return [_copy_check(copy, batch=batch, cancelled=cancelled) for copy in batch.copies]


def _copy_check(copy: OrderCopy, *, batch: Batch, cancelled: set[str]) -> CopyOutcome:
    source = batch.sources[copy.source_order_id]
    outcome = CopyOutcome(order_copy=copy, source=source, errors={}, target=Order())
    errors: Errors = defaultdict(list)
    # The source is cancelled first (all of it commits at once), so that the stock it gives
    # back counts for the target: re-issuing an order that took the last units works.
    if copy.cancel_source_order:
        _cancel_check(outcome, batch=batch, cancelled=cancelled)
    target_build(outcome, batch=batch, errors=errors)
    if copy.place_target_order:
        _place_check(outcome, batch=batch, errors=errors)
    outcome.errors = dict(errors)
    if outcome.cancel_refusal:
        outcome.errors = outcome.errors | {"source_order": outcome.cancel_refusal}
    if outcome.placement_refusal:
        refusal = _refusal_messages(OrderPlacementRefused(outcome.placement_refusal), "placed")
        outcome.errors.setdefault("status", []).extend(refusal)
    if outcome.succeeds:
        if outcome.cancels_source:
            cancelled.add(source.pk)
    else:
        _give_back(outcome, batch=batch)
    return outcome


def _cancel_check(outcome: CopyOutcome, *, batch: Batch, cancelled: set[str]) -> None:
    source = outcome.source
    status = Order.Status.CANCELLED if source.pk in cancelled else source.status
    if status not in CANCELLABLE:
        outcome.cancel_refusal = [f"cannot transition from {status} to cancelled"]
        return
    outcome.cancels_source = True
    returned = quantities_by_sku(_sku_lines(batch.lines.get(source.pk, [])))
    _move_stock(outcome, batch=batch, changes=returned)


def target_build(outcome: CopyOutcome, *, batch: Batch, errors: Errors) -> None:
    """The target order in memory: fields, address copies, payment, coupon, lines, totals."""
    source, copy = outcome.source, outcome.order_copy
    target = outcome.target = Order(
        mode=source.mode,
        market=source.market,
        customer=source.customer,
        customer_email=source.customer_email,
        language_code=source.language_code,
        currency_code=source.market.currency_code,
        country_code=source.country_code,
        gift_card_code=source.gift_card_code,
    )
    outcome.addresses = _addresses_copy(source=source, target=target)
    _payment_copy(copy, source=source, target=target, batch=batch, errors=errors)
    outcome.coupon = _coupon_copy(copy, source=source, target=target, batch=batch, errors=errors)
    lines = _sku_lines_copy(outcome, batch=batch, errors=errors)
    lines += _discount_lines_copy(outcome, batch=batch, lines=lines)
    outcome.lines = lines
    totals_compute(lines=lines, market=source.market).apply_to(target)
    order_pending_if_ready(target, has_sku=target.skus_count > 0)


def _addresses_copy(*, source: Order, target: Order) -> list[Address]:
    """New copies of the source's addresses; one shared copy when both were the same address."""
    originals = {a.pk: a for a in (source.shipping_address, source.billing_address) if a}
    copies = {
        pk: instance_build(Address, **{name: getattr(address, name) for name in COPIED})
        for pk, address in originals.items()
    }
    target.shipping_address = copies.get(source.shipping_address_id)  # type: ignore[arg-type]
    target.billing_address = copies.get(source.billing_address_id)  # type: ignore[arg-type]
    return list(copies.values())


def _payment_copy(
    copy: OrderCopy, *, source: Order, target: Order, batch: Batch, errors: Errors
) -> None:
    method = source.payment_method
    if method is not None and not method.enabled:
        errors["payment_method"].append(f"payment method {method.name} is disabled")
    elif method is not None:
        target.payment_method = method
    in_wallet = (source.customer_id, source.payment_source_id) in batch.wallet
    if copy.reuse_wallet and source.payment_source_id and source.customer_id and in_wallet:
        target.payment_source_id = source.payment_source_id


def _coupon_copy(
    copy: OrderCopy, *, source: Order, target: Order, batch: Batch, errors: Errors
) -> Coupon | None:
    """The source's coupon when it is still valid. An invalid one is an error, or silently
    dropped with ignore_invalid_coupon."""
    if not source.coupon_code:
        return None
    coupon = batch.coupons.get((source.mode, source.coupon_code))
    reason = (
        f"coupon {source.coupon_code} does not exist"
        if coupon is None
        else coupon.invalid_reason(batch.at)
    )
    if reason is None:
        target.coupon_code = source.coupon_code
        return coupon
    if not copy.ignore_invalid_coupon:
        errors["coupon_code"].append(reason)
    return None


def _sku_lines(lines: list[LineItem]) -> list[LineItem]:
    return [line for line in lines if line.item_type == LineItem.ItemType.SKUS]


def _sku_lines_copy(outcome: CopyOutcome, *, batch: Batch, errors: Errors) -> list[LineItem]:
    """Every SKU line with its quantity at the market's current price. Disabled, out-of-stock
    and unpriced SKUs are errors and are left out."""
    source, target = outcome.source, outcome.target
    sku_lines = _sku_lines(batch.lines.get(source.pk, []))
    wanted = quantities_by_sku(sku_lines)
    copies = []
    for line in sku_lines:
        sku = line.sku
        assert sku is not None  # noqa: S101 (a database constraint)
        price = batch.prices.get((source.market_id, sku.pk))
        problem = sku_unavailable(sku, wanted=wanted[sku.pk])
        if problem is None and price is None:
            problem = f"SKU {sku.code} has no price in market {source.market.code}"
        if problem is not None:
            errors["line_items"].append(problem)
            outcome.line_outcomes.append(_line_outcome(line, "left_out", None, reason=problem))
            continue
        assert price is not None  # noqa: S101 (checked just above)
        kind = "copied" if price == line.unit_amount_cents else "repriced"
        outcome.line_outcomes.append(_line_outcome(line, kind, price))
        copies.append(_line_copy(line, target, unit=price))
    return copies


def _discount_lines_copy(
    outcome: CopyOutcome, *, batch: Batch, lines: list[LineItem]
) -> list[LineItem]:
    """Discount lines frozen as they are, or recomputed now with apply_promotions. A coupon's
    line goes with its coupon."""
    source, target, coupon = outcome.source, outcome.target, outcome.coupon
    discounts = [
        line for line in batch.lines.get(source.pk, []) if line.item_type in LineItem.DISCOUNT_TYPES
    ]
    if outcome.order_copy.apply_promotions:
        for line in discounts:
            outcome.line_outcomes.append(_line_outcome(line, "recomputed", None))
        earned = discount_lines_build(
            order=target,
            subtotal_cents=sum(line.total_amount_cents for line in lines),
            promotions=batch.promotions.get(source.market_id, []),
            coupon=coupon,
            at=batch.at,
        )
        for line in earned:
            outcome.line_outcomes.append(
                _line_outcome(line, "recomputed", line.unit_amount_cents, before=None)
            )
        return earned
    kept = []
    for line in discounts:
        if line.item_type == LineItem.ItemType.COUPONS and coupon is None:
            reason = "its coupon is not carried to the target"
            outcome.line_outcomes.append(_line_outcome(line, "dropped", None, reason=reason))
            continue
        outcome.line_outcomes.append(_line_outcome(line, "copied", line.unit_amount_cents))
        kept.append(_line_copy(line, target, unit=line.unit_amount_cents))
    return kept


def _line_copy(line: LineItem, target: Order, *, unit: int) -> LineItem:
    return instance_build(
        LineItem,
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


def _line_outcome(
    line: LineItem,
    outcome: str,
    after: int | None,
    *,
    reason: str = "",
    before: int | None | bool = True,
) -> LineOutcome:
    return LineOutcome(
        item_type=line.item_type,
        name=line.name,
        sku_code=line.sku_code,
        quantity=line.quantity,
        outcome=outcome,
        unit_amount_cents_before=line.unit_amount_cents if before is True else None,
        unit_amount_cents_after=after,
        reason=reason,
    )


def _place_check(outcome: CopyOutcome, *, batch: Batch, errors: Errors) -> None:
    """The placement rules of orders/placement.py on the target as built, against the stock
    and coupon usage left by the copies before it; when they pass, the stock and the coupon
    use are taken (in memory) and the target placed."""
    target, coupon = outcome.target, outcome.coupon
    refusal = placement_errors(order=target, lines=outcome.lines, coupon=coupon, at=batch.at)
    if refusal:
        outcome.placement_refusal = refusal
        return
    taken = quantities_by_sku(_sku_lines(outcome.lines))
    _move_stock(outcome, batch=batch, changes={sku: -count for sku, count in taken.items()})
    if coupon is not None:
        coupon.usage_count += 1
    target.place(at=batch.at)
    if target.total_amount_cents == 0:
        target.mark_free()
    else:
        target.authorize_payment()
    if all(line.sku is None or line.sku.do_not_ship for line in outcome.lines):
        target.mark_fulfillment_not_required()
    outcome.placed = True


def _move_stock(outcome: CopyOutcome, *, batch: Batch, changes: dict[str, int]) -> None:
    for sku_id, change in changes.items():
        batch.skus[sku_id].stock_quantity += change
        outcome.stock[sku_id] = outcome.stock.get(sku_id, 0) + change


def _give_back(outcome: CopyOutcome, *, batch: Batch) -> None:
    """A failed copy leaves nothing: what it moved in memory is moved back."""
    for sku_id, change in outcome.stock.items():
        batch.skus[sku_id].stock_quantity -= change
    outcome.stock = {}
    if outcome.placed and outcome.coupon is not None:
        outcome.coupon.usage_count -= 1


def _refusal_messages(refusal: OrderError, target_status: str) -> list[str]:
    messages = []
    for key, reasons in refusal.errors.items():
        for reason in reasons:
            messages.append(reason if key == "status" else f"cannot be {target_status}: {reason}")
    return messages
