"""The console's dashboard on the admin index: its figures are the database's, each links to
the list it counts, and its queries do not grow with the data."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Order, Sku

INDEX = "/admin/"


@pytest.fixture
def make_copy(make_order: Callable[..., Order]) -> Callable[..., OrderCopy]:
    def make(status: str) -> OrderCopy:
        """A failed copy failed placing its target: its source has no billing address."""
        failing = status == "failed"
        source = make_order(billing_address=None) if failing else make_order()
        order_copy = services.order_copy_create(
            source_order=source, mode="test", place_target_order=failing
        )
        if status == "out_of_stock":
            Sku.objects.filter(pk=source.line_items.first().sku_id).update(stock_quantity=0)
        if status in ("completed", "failed", "out_of_stock"):
            services.order_copy_execute(order_copy_id=order_copy.pk)
            status = "failed" if failing or status == "out_of_stock" else status
        elif status == "aborted":
            services.order_copy_abort(order_copy=order_copy)
        elif status == "in_progress":
            services.order_copy_claim(order_copy_id=order_copy.pk)
        order_copy.refresh_from_db()
        assert order_copy.status == status
        return order_copy

    return make


def figure(text: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', text)
    assert found, f"no #{element_id} on the page"
    return found.group(1)


def status_row(text: str, status: str) -> list[int]:
    row = re.search(rf'<tr class="status-{status}">(.*?)</tr>', text, re.S)
    assert row, status
    return [int(n) for n in re.findall(r'class="count">(\d+)<', row.group(1))]


def test_dashboard_figures_match_the_database(admin_client: Client, make_copy: Any) -> None:
    for status in ("pending", "pending", "in_progress", "completed", "failed", "failed"):
        make_copy(status)
    out_of_stock = make_copy("out_of_stock")
    old = make_copy("completed")
    OrderCopy.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    text = admin_client.get(INDEX).text

    assert figure(text, "backlog-pending") == "2"
    assert figure(text, "backlog-in-progress") == "1"
    assert figure(text, "throughput-completed") == "2"  # completed in the last hour
    assert figure(text, "throughput-failed") == "3"
    assert figure(text, "workers-alive") == "0"
    assert "No worker is running" in text
    assert status_row(text, "pending") == [2, 2, 2]
    assert status_row(text, "completed") == [1, 1, 2]  # hour, day, week
    assert status_row(text, "failed") == [3, 3, 3]
    assert status_row(text, "aborted") == [0, 0, 0]
    # The failure reasons, most frequent first, each linking to the failed copies it names.
    reasons = re.findall(
        r'<td>([^<]*)</td><td><a href="([^"]*)">([^<]*)</a></td><td class="count">(\d+)<', text
    )
    stock = next(iter(out_of_stock.errors_log.values()))[0]
    assert [(kind, message, count) for kind, _, message, count in reasons] == [
        ("placement refused", "cannot be placed: a billing address is required", "2"),
        ("line items (stock, SKUs)", stock, "1"),
    ]
    first_url = reasons[0][1].replace("&amp;", "&")
    listed = admin_client.get(first_url).context["cl"].result_list
    assert {c.pk for c in listed} == set(
        OrderCopy.objects.filter(errors_log__has_key="status").values_list("pk", flat=True)
    )
    assert len(listed) == 2
    assert 'data-live-active="true"' in text  # copies are moving: the page polls


def test_dashboard_stops_polling_once_nothing_moves(admin_client: Client, make_copy: Any) -> None:
    make_copy("completed")
    text = admin_client.get(INDEX).text
    assert 'id="live-region" class="console-dashboard" data-live-active="false"' in text


def test_dashboard_is_not_shown_to_staff_who_may_not_view_copies(
    client: Client, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    text = client.get(INDEX).text
    assert "console-dashboard" not in text


@pytest.mark.parametrize("copies", [2, 12])
def test_dashboard_queries_do_not_grow_with_the_data(
    admin_client: Client, make_copy: Any, django_assert_num_queries: Any, copies: int
) -> None:
    statuses = ["pending", "completed", "failed"]
    for n in range(copies):
        make_copy(statuses[n % len(statuses)])
    admin_client.get(INDEX)  # warms the content types cache
    # session, user, live processes, copies by status, backlog and throughput, failures,
    # subscriptions due (the list and the two counts), the admin's own recent actions
    with django_assert_num_queries(9):
        response = admin_client.get(INDEX)
    assert response.status_code == 200
