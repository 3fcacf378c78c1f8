"""The console in Chromium at 1280 × 800: the bulk copy preview flags what a copy would meet
before "Copy" (with the copy's own rules, as the options change), and the lists fit the screen.
Screenshots of each page go to var/artifacts/screenshots/."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from api.services import api_client_create
from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Order
from subscriptions.services import order_subscription_create
from tests.browser.conftest import screenshot
from tests.browser.test_admin_console import log_in, reload_until, run_action

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREEN = {"width": 1280, "height": 800}
NO_BILLING = "cannot be placed: a billing address is required"


def test_the_bulk_preview_flags_an_order_without_billing_address_before_copying(
    page: Page, worker: Any, make_user: Any, make_order: Any
) -> None:
    make_user("boss", superuser=True)
    ready, no_billing = make_order(), make_order(billing_address=None)
    log_in(page, "boss")
    page.set_viewport_size(SCREEN)
    page.goto("/admin/orders/order/")
    run_action(page, "copy_orders", ready.pk, no_billing.pk)
    expect(page.locator("h1")).to_have_text("Copy orders")
    flagged = page.locator(f"#order-{no_billing.pk} .copy-problem")
    expect(flagged).to_have_count(0)  # not placed, a copy needs no billing address

    page.check("#id_place_target_order")  # the preview checks again, in place
    expect(flagged).to_have_text(NO_BILLING)
    expect(page.locator(f"#order-{ready.pk}")).to_contain_text("no problem found")
    assert not OrderCopy.objects.exists()
    screenshot(page, "copy_preview.png")

    page.click('input[value="Copy 2 orders"]')
    expect(page.locator(".messagelist")).to_contain_text("Created 2 order copies")
    ended = page.locator("#result_list .copy-status-completed, #result_list .copy-status-failed")
    reload_until(page, lambda: ended.count() == 2, what="both copies to end")
    failed = OrderCopy.objects.get(source_order=no_billing)
    assert (failed.status, failed.errors_log) == ("failed", {"status": [NO_BILLING]})
    assert OrderCopy.objects.get(source_order=ready).status == "completed"


def fits_the_screen(page: Page) -> dict[str, int]:
    """The page's width and the widest element inside the list's scrolling box."""
    return page.evaluate(
        """() => {
          const results = document.querySelector('#changelist .results');
          return {
            page: document.documentElement.scrollWidth,
            results: results ? results.scrollWidth - results.clientWidth : 0,
          };
        }"""
    )


def test_the_lists_fit_a_1280_pixel_screen(page: Page, make_user: Any, make_order: Any) -> None:
    make_user("boss", superuser=True)
    for index in range(3):
        source = make_order(
            billing_address=None, customer_email=f"someone.long.{index}@example.com"
        )
        order_copy = services.order_copy_create(
            source_order=source, mode="test", place_target_order=True, reference="ticket-4242"
        )
        services.order_copy_execute(order_copy_id=order_copy.pk)
        order_subscription_create(source_order=source, mode="test", frequency="0 9 * * 1")
    Order.objects.filter(pk=source.pk).update(mode="live")
    api_client_create(name="Shop", kind="sales_channel", mode="test", market_codes=["eu", "us"])
    log_in(page, "boss")
    page.set_viewport_size(SCREEN)
    lists = {
        "copies": "/admin/ordercopies/ordercopy/",
        "orders": "/admin/orders/order/",
        "subscriptions": "/admin/subscriptions/ordersubscription/",
        "api_clients": "/admin/api/apiclient/",
    }
    for name, path in lists.items():
        page.goto(path)
        expect(page.locator("#result_list tbody tr").first).to_be_visible()
        screenshot(page, f"list_{name}.png")
        assert fits_the_screen(page) == {"page": 1280, "results": 0}, name
