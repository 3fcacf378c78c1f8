"""The write phase: the outcomes of a batch's check phase stored in bulk, in a fixed number of
statements whatever the number of copies and lines: targets (numbers, addresses, orders,
lines), stock and coupon usage in one guarded statement each, cancelled sources, the copies'
ends and every event. A guard that trips raises: the caller falls back to one copy at a time.
"""

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from core.actors import Actor
from events.models import Event
from events.services import event_build, event_record_many
from ordercopies.engine.checks import CopyOutcome, Errors
from ordercopies.models import OrderCopy
from ordercopies.signals import order_copies_ended
from orders.models import Order
from orders.services import coupon_use_many, orders_cancel_many, orders_insert_many, sku_stock_move
from orders.signals import order_placed

END_FIELDS = [
    "status",
    "completed_at",
    "failed_at",
    "target_order",
    "errors_log",
    "errors_count",
    "updated_at",
]


def outcomes_write(
    outcomes: Sequence[CopyOutcome], *, at: datetime, actor: Actor
) -> list[OrderCopy]:
    """Store what the check phase decided; return the copies as they ended."""
    done = [outcome for outcome in outcomes if outcome.succeeds]
    orders_insert_many(
        orders=[outcome.target for outcome in done],
        addresses=[address for outcome in done for address in outcome.addresses],
        lines=[line for outcome in done for line in outcome.lines],
    )
    stock: Counter[str] = Counter()
    for outcome in done:
        stock.update(outcome.stock)
    sku_stock_move(changes=dict(stock))
    coupon_use_many(uses=Counter(o.coupon.pk for o in done if o.placed and o.coupon is not None))
    cancelled = [outcome.source.pk for outcome in done if outcome.cancels_source]
    if cancelled:
        orders_cancel_many(order_ids=cancelled, at=at)
    ends = [
        (o.order_copy, o.errors, o.target if o.succeeds else None, _order_events(o, actor=actor))
        for o in outcomes
    ]
    ended = copies_end(ends, actor=actor)
    for outcome in done:
        if outcome.placed:
            order_placed.send(sender=Order, order=outcome.target, actor=actor)
    return ended


def _order_events(outcome: CopyOutcome, *, actor: Actor) -> list[Event]:
    if not outcome.succeeds:
        return []
    target, source = outcome.target, outcome.source
    events = []
    if outcome.cancels_source:
        events.append(event_build(name="orders.cancel", resource=source, actor=actor))
    payload = {
        "number": target.number,
        "order_copy": outcome.order_copy.pk,
        "source_order": source.pk,
    }
    events.append(event_build(name="orders.create", resource=target, actor=actor, payload=payload))
    if outcome.placed:
        placed: dict[str, object] = {"number": target.number}
        placed["total_amount_cents"] = target.total_amount_cents
        events.append(
            event_build(name="orders.place", resource=target, actor=actor, payload=payload)
        )
    return events


End = tuple[OrderCopy, Errors, Order | None, list[Event]]


def copies_end(ends: Sequence[End], *, actor: Actor) -> list[OrderCopy]:
    """Complete (with a target) or fail each copy, record the events given for it and its end,
    in two statements; then tell the receivers, once for all of them, in this transaction (a
    subscription's run ends with its copy, or not at all)."""
    now = timezone.now()
    copies = []
    for order_copy, errors, target, _ in ends:
        if target is not None:
            order_copy.complete(at=now, target=target, errors=errors)
        else:
            order_copy.fail(at=now, errors=errors)
        order_copy.updated_at = now
        copies.append(order_copy)
    _store_ends(copies)
    event_record_many(_end_events(ends, actor=actor))
    ended = [(order_copy, target is not None) for order_copy, _, target, _ in ends]
    order_copies_ended.send(sender=OrderCopy, ends=ended)
    return copies


def _store_ends(copies: list[OrderCopy]) -> None:
    """Each copy's end row by row in one executemany (psycopg pipelines it in one round trip):
    Django's bulk_update builds a CASE per field and row, which cost half of a batch's time."""
    if not copies:
        return
    meta = OrderCopy._meta
    fields: list[Any] = [meta.get_field(name) for name in END_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
    # Identifiers come from the model's meta; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s"  # noqa: S608
    rows = [
        [_db_value(field, order_copy) for field in fields] + [order_copy.pk]
        for order_copy in copies
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _db_value(field: Any, order_copy: OrderCopy) -> Any:
    return field.get_db_prep_save(getattr(order_copy, field.attname), connection)


def _end_events(ends: Sequence[End], *, actor: Actor) -> Iterator[Event]:
    for order_copy, errors, target, events in ends:
        yield from events
        yield event_build(
            name="order_copies.complete" if target is not None else "order_copies.fail",
            resource=order_copy,
            actor=actor,
            payload={
                "attempt": order_copy.attempts,
                "errors_log": errors,
                "target_order": target.pk if target else None,
            },
        )
