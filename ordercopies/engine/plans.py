"""Copy plans: what copies would do, computed by the engine's check phase (checks.py, the same
code as the copy) on unlocked reads, with no write phase. A plan is JSON-serialisable."""

from collections.abc import Sequence
from typing import Any

from ordercopies.engine.checks import CopyOutcome, LineOutcome, copies_check
from ordercopies.engine.loading import batch_load
from ordercopies.models import OrderCopy
from orders.pricing import Totals


def copies_plan(copies: Sequence[OrderCopy]) -> list[dict[str, Any]]:
    """The plan of each copy (saved or not: only its source and options are read), as a batch
    of them would run now, in order."""
    batch = batch_load(copies=copies, lock=False)
    return [_plan(outcome) for outcome in copies_check(batch)]


def _plan(outcome: CopyOutcome) -> dict[str, Any]:
    copy, target, succeeds = outcome.order_copy, outcome.target, outcome.succeeds
    return {
        "source_order": copy.source_order_id,
        "options": copy.options(),
        "status": "completed" if succeeds else "failed",
        "errors_log": outcome.errors,
        "errors_count": sum(len(messages) for messages in outcome.errors.values()),
        "target_order": _target(outcome) if succeeds else None,
        "line_items": [_line(line) for line in outcome.line_outcomes],
        "coupon": _coupon(outcome),
        "placement": {
            "requested": copy.place_target_order,
            "passes": outcome.placed,
            "errors": outcome.placement_refusal,
        },
        "source_cancellation": {
            "requested": copy.cancel_source_order,
            "passes": outcome.cancels_source,
            "errors": outcome.cancel_refusal,
        },
        "payment": {
            "payment_method": target.payment_method_id,
            "payment_source": target.payment_source_id,
        },
    }


def _target(outcome: CopyOutcome) -> dict[str, Any]:
    target = outcome.target
    return {
        "status": target.status,
        "payment_status": target.payment_status,
        "fulfillment_status": target.fulfillment_status,
        "currency_code": target.currency_code,
        "coupon_code": target.coupon_code,
        **{name: getattr(target, name) for name in Totals.FIELDS},
    }


def _line(line: LineOutcome) -> dict[str, Any]:
    return {
        "item_type": line.item_type,
        "sku_code": line.sku_code,
        "name": line.name,
        "quantity": line.quantity,
        "outcome": line.outcome,
        "unit_amount_cents_before": line.unit_amount_cents_before,
        "unit_amount_cents_after": line.unit_amount_cents_after,
        "reason": line.reason,
    }


def _coupon(outcome: CopyOutcome) -> dict[str, Any] | None:
    code = outcome.source.coupon_code
    if not code:
        return None
    kept = outcome.coupon is not None
    return {
        "code": code,
        "outcome": "kept" if kept else "dropped",
        "reason": "" if kept else "; ".join(outcome.errors.get("coupon_code", [])) or "invalid",
    }
