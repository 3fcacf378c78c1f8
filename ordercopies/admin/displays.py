"""How a copy looks in the admin: its coloured status, links to its orders, its errors as a
list and its timeline with each attempt's errors. Pure HTML builders, no queries."""

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from events.models import Event
from events.timeline import payload_html
from events.timeline import timeline_html as event_timeline_html
from ordercopies.models import OrderCopy
from orders.models import Order

STATUS_COLOURS = {
    OrderCopy.Status.PENDING: "#5f6b76",
    OrderCopy.Status.IN_PROGRESS: "#1f6fd1",
    OrderCopy.Status.COMPLETED: "#1e7a46",
    OrderCopy.Status.FAILED: "#c62a2a",
    OrderCopy.Status.ABORTED: "#a35200",
}
OPTION_LABELS = {
    "place_target_order": "place target",
    "reuse_wallet": "reuse wallet",
    "cancel_source_order": "cancel source",
    "apply_promotions": "apply promotions",
    "skip_errors": "skip errors",
    "ignore_invalid_coupon": "ignore invalid coupon",
}
# errors_log keys, as staff read them (the filter "error kind" and the dashboard use them).
ERROR_KINDS = {
    "status": "placement refused",
    "line_items": "line items (stock, SKUs)",
    "coupon_code": "coupon",
    "payment_method": "payment method",
    "source_order": "source order (cancellation)",
    "base": "worker lost or unexpected error",
}
BADGE_STYLE = "display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;white-space:nowrap"


def status_badge(status: str) -> SafeString:
    colour = STATUS_COLOURS.get(status, "#5f6b76")  # type: ignore[call-overload]
    return format_html(
        '<span class="copy-status copy-status-{}" style="{};background:{}">{}</span>',
        status,
        BADGE_STYLE,
        colour,
        status.replace("_", " "),
    )


def order_link(order: Order | None) -> SafeString | str:
    if order is None:
        return "-"
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">#{}</a>', url, order.number)


def copy_link(order_copy: OrderCopy) -> SafeString:
    url = reverse("admin:ordercopies_ordercopy_change", args=[order_copy.pk])
    return format_html('<a href="{}">{}</a>', url, order_copy.pk)


def options_text(order_copy: OrderCopy) -> str:
    chosen = [label for name, label in OPTION_LABELS.items() if getattr(order_copy, name)]
    return ", ".join(chosen) or "-"


def age_text(order_copy: OrderCopy) -> str:
    return f"{timesince(order_copy.created_at, depth=1)} ago"


def errors_html(errors_log: dict[str, list[str]] | None) -> SafeString | str:
    """An errors_log as a list of its messages, one per line; the kind of each (as the "error
    kind" filter names it) in its title, never the technical key in the text."""
    rows = [
        (ERROR_KINDS.get(key, key.replace("_", " ")), message)
        for key, messages in (errors_log or {}).items()
        for message in messages
    ]
    if not rows:
        return "no errors"
    items = format_html_join("", '<li title="{}">{}</li>', rows)
    return format_html('<ul class="copy-errors">{}</ul>', items)


def first_error_text(errors_log: dict[str, list[str]] | None) -> str:
    """The first error message, as one line: why a copy failed, at a glance."""
    for messages in (errors_log or {}).values():
        if messages:
            return str(messages[0])
    return "-"


def timeline_html(events: Iterable[Event]) -> SafeString | str:
    """The copy's events, newest first, with the attempt each belongs to and its errors."""
    return event_timeline_html(
        events,
        details=lambda event: _details(event.payload),
        columns=[("Attempt", lambda event: _attempt(event.payload))],
        css_class="copy-timeline",
    )


def _attempt(payload: dict[str, Any]) -> str:
    attempt = payload.get("attempt", payload.get("attempts"))
    return "" if attempt is None else str(attempt)


def _details(payload: dict[str, Any]) -> SafeString:
    rest = {key: value for key, value in payload.items() if key not in ("attempt", "attempts")}
    parts: list[SafeString | str] = []
    if "errors_log" in rest:
        parts.append(errors_html(rest.pop("errors_log")))
    previous = rest.pop("previous_errors", None)
    if previous:
        parts.append(format_html("previous errors: {}", errors_html(previous)))
    options = rest.pop("options", None)
    if isinstance(options, dict):
        chosen = [label for name, label in OPTION_LABELS.items() if options.get(name)]
        parts.append(format_html("options: {}", ", ".join(chosen) or "none"))
    if rest:
        parts.append(payload_html(rest))
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))


def copies_table_html(copies: Iterable[OrderCopy]) -> SafeString | str:
    """A short table of copies (newest first) for an order's page."""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                copy_link(order_copy),
                status_badge(order_copy.status),
                order_link(order_copy.target_order),
                order_copy.errors_count,
                age_text(order_copy),
            )
            for order_copy in copies
        ),
    )
    if not rows:
        return "none yet"
    header = "<tr><th>Copy</th><th>Status</th><th>Target order</th><th>Errors</th><th>Age</th></tr>"
    return format_html(
        '<table class="order-copies"><thead>{}</thead><tbody>{}</tbody></table>',
        mark_safe(header),  # noqa: S308 (a constant)
        rows,
    )
