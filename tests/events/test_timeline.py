"""The one timeline of the admin: human names, one date format, payloads as key/value lists
with links to the records they name, never raw JSON."""

from datetime import UTC, datetime

from django.urls import reverse

from events.models import Event
from events.timeline import event_title, moment_text, payload_html, timeline_html


def test_moments_have_one_format():
    assert moment_text(datetime(2026, 12, 3, 11, 56, 37, 504624, tzinfo=UTC)) == (
        "2026-12-03 11:56:37"
    )
    assert moment_text(None) == "-"


def test_a_payload_reads_as_a_list_with_moments_and_links():
    html = payload_html(
        {
            "order_copy": "Abc123defG",
            "source_order": "Src123defG",
            "scheduled_at": "2026-12-03T11:56:37.504624Z",
            "changed": ["billing_address", "payment_method"],
            "errors_log": {"status": ["cannot be placed: a billing address is required"]},
            "skipped_slots": 0,
        }
    )
    copy_url = reverse("admin:ordercopies_ordercopy_change", args=["Abc123defG"])
    order_url = reverse("admin:orders_order_change", args=["Src123defG"])
    assert f'<em>order copy</em>: <a href="{copy_url}">Abc123defG</a>' in html
    assert f'<em>source order</em>: <a href="{order_url}">Src123defG</a>' in html
    assert "<em>scheduled at</em>: 2026-12-03 11:56:37" in html
    assert "<em>changed</em>: billing address, payment method" in html
    assert "cannot be placed: a billing address is required" in html
    assert "{" not in html and "T11:56" not in html


def test_events_have_human_names_newest_first():
    events = [
        Event(name="order_copies.create", created_at=datetime(2026, 1, 1, tzinfo=UTC), payload={}),
        Event(name="order_copies.release", created_at=datetime(2026, 1, 2, tzinfo=UTC), payload={}),
    ]
    html = str(timeline_html(events))
    assert html.index("Queued again (its worker was lost)") < html.index("Created")
    assert event_title("order_subscriptions.run_complete") == "Run ended"
    assert event_title("orders.some_new_thing") == "Some new thing"
