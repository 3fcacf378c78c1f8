"""One timeline for every admin page: a table of a resource's events with one date format,
human event names (the technical name stays in the row's class and title) and each payload as a
readable key/value list, never raw JSON. Pages with more to say about some payloads (a copy's
attempts and errors) pass their own `details` and `columns`."""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from events.models import Event

VERBS = {
    "create": "created",
    "update": "updated",
    "destroy": "deleted",
    "start": "started",
    "complete": "completed",
    "fail": "failed",
    "retry": "retried",
    "abort": "aborted",
    "launch": "launched again",
    "release": "queued again (its worker was lost)",
    "place": "placed",
    "approve": "approved",
    "cancel": "cancelled",
    "archive": "archived",
    "unarchive": "unarchived",
    "activate": "activated",
    "deactivate": "deactivated",
    "run": "run started",
    "run_complete": "run ended",
    "renewal_alert": "renewal alert",
    "expire": "expired",
}
Column = tuple[str, Callable[[Event], Any]]


def moment_text(moment: datetime | None) -> str:
    """A date and time as every console page writes it (config/formats: Y-m-d H:i:s)."""
    if moment is None:
        return "-"
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def event_when(event: Event) -> str:
    return moment_text(event.created_at)


def event_title(name: str) -> str:
    """`order_copies.fail` → "Failed"; an unknown action is shown with spaces."""
    action = name.split(".", 1)[-1]
    return VERBS.get(action, action.replace("_", " ")).capitalize()


# Payload members that name a record: shown as a link to its admin page.
RECORD_PAGES = {
    "order_copy": "admin:ordercopies_ordercopy_change",
    "source_order": "admin:orders_order_change",
    "target_order": "admin:orders_order_change",
    "order": "admin:orders_order_change",
    "order_subscription": "admin:subscriptions_ordersubscription_change",
}


def payload_html(payload: dict[str, Any]) -> SafeString | str:
    """A payload as "key: value" lines; nested mappings indent, lists join with commas, moments
    in the console's one format, records as links to their pages."""
    if not payload:
        return ""
    rows = format_html_join(
        "",
        "<li><em>{}</em>: {}</li>",
        ((key.replace("_", " "), _value(key, v)) for key, v in payload.items()),
    )
    return format_html('<ul class="event-payload">{}</ul>', rows)


def _value(key: str, value: Any) -> SafeString | str:
    if isinstance(value, dict):
        return payload_html(value) or "none"
    if isinstance(value, list | tuple):
        items = (str(item).replace("_", " ") if key == "changed" else str(item) for item in value)
        return ", ".join(items) or "none"
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return _text(key, value)
    return str(value)


def _text(key: str, value: str) -> SafeString | str:
    if key in RECORD_PAGES:
        try:
            url = reverse(RECORD_PAGES[key], args=[value])
        except NoReverseMatch:
            return value
        return format_html('<a href="{}">{}</a>', url, value)
    moment = parse_datetime(value) if "T" in value else None
    return moment_text(moment) if moment is not None else value


def timeline_html(
    events: Iterable[Event],
    *,
    details: Callable[[Event], Any] = lambda event: payload_html(event.payload),
    columns: Sequence[Column] = (),
    css_class: str = "event-timeline",
    newest_first: bool = True,
) -> SafeString | str:
    """The events as a table (newest first unless told): When, Event, By, any `columns`,
    Details."""
    ordered = list(events)
    if newest_first:
        ordered.reverse()
    if not ordered:
        return "-"
    heads = ["When", "Event", "By", *(title for title, _ in columns), "Details"]
    header = format_html_join("", "<th>{}</th>", ((head,) for head in heads))
    rows = format_html_join("", "{}", ((_row(event, details, columns),) for event in ordered))
    return format_html(
        '<table class="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        css_class,
        header,
        rows,
    )


def _row(event: Event, details: Callable[[Event], Any], columns: Sequence[Column]) -> SafeString:
    extra = format_html_join("", "<td>{}</td>", ((cell(event),) for _, cell in columns))
    return format_html(
        '<tr class="event-{}" title="{}"><td><time>{}</time></td><td><strong>{}</strong></td>'
        "<td>{}</td>{}<td>{}</td></tr>",
        event.name.replace(".", "-"),
        event.name,
        event_when(event),
        event_title(event.name),
        event.actor_label or event.actor_kind,
        extra or mark_safe(""),  # noqa: S308 (empty)
        details(event),
    )
