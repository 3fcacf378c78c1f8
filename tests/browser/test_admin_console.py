"""The admin as an operations console for copies, in a real browser with a real worker: staff
copy orders, watch the copies end, read why one failed, fix it and retry it."""

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Order, Sku
from tests.browser.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("#user-tools strong")).to_have_text(re.compile(username, re.IGNORECASE))


def reload_until(
    page: Page, condition: Callable[[], bool], *, what: str, timeout: float = 60
) -> None:
    """Reload the page until `condition` holds: copies end in the background."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f}s for {what}")
        time.sleep(0.3)
        page.reload()


def run_action(page: Page, action: str, *pks: str) -> None:
    for pk in pks:
        page.check(f'input[name="_selected_action"][value="{pk}"]')
    page.select_option('select[name="action"]', action)
    page.click('button[name="index"]')


def first_sku(order: Order) -> Sku:
    line = order.line_items.filter(sku__isnull=False).order_by("created_at", "id").first()
    assert line is not None
    return Sku.objects.get(pk=line.sku_id)


def test_staff_copy_orders_watch_them_end_and_retry_a_failure(
    page: Page, worker: Any, make_user: Any, make_order: Any
) -> None:
    make_user("boss", superuser=True)
    sources = [make_order(lines=2), make_order(lines=3)]
    broken = make_order(lines=2)
    sku = first_sku(broken)
    Sku.objects.filter(pk=sku.pk).update(stock_quantity=0)
    log_in(page, "boss")

    copy_two_orders_and_see_them_complete(page, sources)
    copy_page = copy_an_order_and_read_why_it_failed(page, broken, sku)
    fix_the_stock_retry_and_see_it_complete(page, copy_page, broken, sku)


def copy_two_orders_and_see_them_complete(page: Page, sources: list[Order]) -> None:
    """Through "Copy selected orders" with "place target order": two completed copies, each
    linking to its placed target order."""
    page.goto("/admin/orders/order/")
    run_action(page, "copy_orders", *(order.pk for order in sources))
    expect(page.locator("h1")).to_have_text("Copy orders")
    expect(page.locator("#orders-to-copy tbody tr")).to_have_count(2)
    page.check("#id_place_target_order")
    page.fill("#id_reference", "browser run")
    page.click('input[value="Copy 2 orders"]')
    expect(page.locator(".messagelist")).to_contain_text("Created 2 order copies")

    completed = page.locator("#result_list .copy-status-completed")
    reload_until(page, lambda: completed.count() == 2, what="two completed copies")
    for source in sources:
        order_copy = OrderCopy.objects.select_related("target_order").get(source_order=source)
        target = order_copy.target_order
        assert target is not None and target.status == Order.Status.PLACED
        assert order_copy.reference == "browser run"
        link = page.locator("#result_list tr", has_text=order_copy.pk).locator("td.field-target a")
        expect(link).to_have_text(f"#{target.number}")
        expect(link).to_have_attribute("href", f"/admin/orders/order/{target.pk}/change/")
    page.locator("td.field-target a").first.click()
    expect(page.locator("h1")).to_contain_text("Change order")


def copy_an_order_and_read_why_it_failed(page: Page, order: Order, sku: Sku) -> str:
    """Through "Copy this order", an order whose SKU is out of stock; returns the copy's page."""
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.click("text=Copy this order")
    expect(page.locator(".copy-problem")).to_have_text(f"SKU {sku.code} is out of stock")
    page.check("#id_place_target_order")
    page.click('input[value="Copy 1 order"]')
    expect(page.locator(".messagelist")).to_contain_text("Created 1 order copy")
    failed = page.locator(".field-coloured_status .copy-status-failed")
    reload_until(page, lambda: failed.count() == 1, what="the copy to fail")
    expect(page.locator(".field-errors .copy-errors")).to_have_text(
        f"SKU {sku.code} is out of stock"
    )
    return page.url


def fix_the_stock_retry_and_see_it_complete(
    page: Page, copy_page: str, order: Order, sku: Sku
) -> None:
    """The stock fixed in the SKU's page, the copy retried from its page: it completes, and
    its timeline keeps the first attempt's error."""
    page.goto(f"/admin/orders/sku/{sku.pk}/change/")
    page.fill("#id_stock_quantity", "40")
    page.click('input[name="_save"]')
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    page.goto(copy_page)
    page.click('button[value="retry_copies"]')
    expect(page.locator(".messagelist")).to_have_text("Retried 1 copy.")
    done = page.locator(".field-coloured_status .copy-status-completed")
    reload_until(page, lambda: done.count() == 1, what="the retried copy to complete")
    order_copy = OrderCopy.objects.select_related("target_order").get(source_order=order)
    assert order_copy.attempts == 2 and order_copy.target_order is not None
    expect(page.locator(".fieldBox.field-target a")).to_have_text(
        f"#{order_copy.target_order.number}"
    )
    expect(page.locator(".field-errors")).to_contain_text("no errors")
    timeline = page.locator(".copy-timeline")
    expect(timeline.locator("tr.event-order_copies-fail")).to_contain_text(
        f"SKU {sku.code} is out of stock"
    )
    attempt = timeline.locator("tr.event-order_copies-complete td").nth(3)
    expect(attempt).to_have_text("2")


def test_bulk_abort_confirms_then_reports_each_refusal(
    page: Page, make_user: Any, make_order: Any
) -> None:
    make_user("boss", superuser=True)
    pending = services.order_copy_create(source_order=make_order(), mode="test")
    done = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_execute(order_copy_id=done.pk)
    log_in(page, "boss")

    page.goto("/admin/ordercopies/ordercopy/")
    expect(page.locator(".copy-status-counts")).to_contain_text("pending 1")
    run_action(page, "abort_copies", pending.pk, done.pk)
    expect(page.locator(".trigger-summary")).to_contain_text(
        "1 of the 2 selected copies will be aborted"
    )
    expect(page.locator("#trigger-preview tr.refused")).to_contain_text(
        "only pending copies can be aborted; this one is completed"
    )
    page.click('input[value="Yes, abort 1 copy"]')
    messages = page.locator(".messagelist li")
    expect(messages.nth(0)).to_have_text("Aborted 1 copy; 1 refused.")
    expect(messages.nth(1)).to_contain_text(f"Copy {done.pk}")
    assert OrderCopy.objects.get(pk=pending.pk).status == OrderCopy.Status.ABORTED
    assert OrderCopy.objects.get(pk=done.pk).status == OrderCopy.Status.COMPLETED


def test_staff_without_the_permissions_sees_no_copy_actions_or_buttons(
    page: Page, make_user: Any, make_order: Any
) -> None:
    order = make_order()
    failed = services.order_copy_create(source_order=order, mode="test")
    Sku.objects.filter(pk=first_sku(order).pk).update(stock_quantity=0)
    services.order_copy_execute(order_copy_id=failed.pk)
    make_user(
        "clerk",
        "orders.view_order",
        "orders.change_order",
        "orders.place_order",
        "ordercopies.view_ordercopy",
    )
    log_in(page, "clerk")

    page.goto("/admin/orders/order/")
    options = page.locator('select[name="action"] option')
    expect(options).to_contain_text(["Place selected orders"])
    expect(page.locator('select[name="action"]')).not_to_contain_text("Copy")
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(page.locator("h1")).to_contain_text("Change order")
    expect(page.get_by_text("Copy this order")).to_have_count(0)
    assert page.goto(f"/admin/orders/order/{order.pk}/copy/").status == 403

    page.goto("/admin/ordercopies/ordercopy/")
    expect(page.locator("#result_list")).to_contain_text(failed.pk)
    expect(page.locator('select[name="action"]')).to_have_count(0)
    page.goto(f"/admin/ordercopies/ordercopy/{failed.pk}/change/")
    expect(page.locator(".field-errors")).to_contain_text("out of stock")
    expect(page.locator(".copy-actions button")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Retry|Launch|Abort"))).to_have_count(0)
