"""The console staff watch instead of a hosted dashboard, in Chromium with a real worker: the
dashboard's figures are the database's, a copy's page follows the copy without a reload, the
console says when no worker runs, the list says why copies failed and filters by error kind,
and Abort asks first. Screenshots go to var/artifacts/screenshots/ (CI keeps them)."""

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Order, Sku
from tests.browser.conftest import ROOT, screenshot, worker_database_url
from tests.browser.test_admin_console import first_sku, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Starts a real `manage.py copy_worker` when called (not before: a test first looks at the
    console with no worker), stopped at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    log_path = tmp_path / "worker.log"

    def start() -> None:
        env = {**os.environ, "DATABASE_URL": worker_database_url(), "DEBUG": "true"}
        args = [sys.executable, "manage.py", "copy_worker", "--interval", "0.1"]
        with log_path.open("ab") as log:
            processes.append(
                subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    if log_path.exists():
        print(log_path.read_text(errors="replace")[-3000:])


def dashboard_figure(page: Page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text().strip()


def test_no_worker_warning_then_a_copy_page_follows_the_copy_live_and_the_dashboard_agrees(
    page: Page, start_worker: Any, make_user: Any, make_order: Any
) -> None:
    make_user("boss", superuser=True)
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    log_in(page, "boss")

    # No worker: the dashboard warns, and Launch says the copy only waits.
    page.goto("/admin/")
    expect(page.locator(".console-dashboard .no-worker-warning")).to_contain_text(
        "No worker is running"
    )
    expect(page.locator("#workers-alive")).to_have_text("0")
    page.goto(f"/admin/ordercopies/ordercopy/{order_copy.pk}/change/")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator(".messagelist:not(.no-worker-warning)")).to_contain_text(
        "Launched 1 copy (queued, but no worker is running: it waits until one starts)."
    )
    expect(page.locator(".field-coloured_status .copy-status")).to_have_text("pending")
    expect(page.locator("body")).to_have_attribute("data-live-polling", "on")

    # A worker starts: the open page turns completed by itself, with no reload.
    page.evaluate("window.notReloaded = true")
    start_worker()
    expect(page.locator(".field-coloured_status .copy-status")).to_have_text(
        "completed", timeout=30_000
    )
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("body")).to_have_attribute("data-live-polling", "off")
    expect(page.locator(".no-worker-warning")).to_have_count(0)
    assert OrderCopy.objects.get(pk=order_copy.pk).status == "completed"

    # The dashboard's figures are the database's.
    services.order_copy_create(source_order=make_order(), mode="test")  # the worker runs it
    page.goto("/admin/")
    expect(page.locator("#workers-alive")).to_have_text("1")
    expect(page.locator(".console-dashboard .no-worker-warning")).to_have_count(0)
    expect(page.locator("#dashboard-copies tr.status-completed .count").first).to_have_text(
        "2",
        timeout=30_000,  # the dashboard polls until the second copy ends
    )
    expect(page.locator("body")).to_have_attribute("data-live-polling", "off")
    counts = {s: OrderCopy.objects.filter(status=s).count() for s in OrderCopy.Status.values}
    assert counts == {"pending": 0, "in_progress": 0, "completed": 2, "failed": 0, "aborted": 0}
    for status, count in counts.items():
        row = page.locator(f"#dashboard-copies tr.status-{status} .count")
        assert [int(n) for n in row.all_inner_texts()] == [count] * 3
    assert dashboard_figure(page, "backlog-pending") == "0"
    assert dashboard_figure(page, "throughput-completed") == "2"
    screenshot(page, "dashboard.png")


def test_the_list_says_why_copies_failed_filters_by_kind_and_abort_asks_first(
    page: Page, make_user: Any, make_order: Any
) -> None:
    make_user("boss", superuser=True)
    stock_source = make_order()
    sku = first_sku(stock_source)
    Sku.objects.filter(pk=sku.pk).update(stock_quantity=0)
    no_address: Order = make_order(billing_address=None)
    out_of_stock = services.order_copy_create(source_order=stock_source, mode="test")
    refused = services.order_copy_create(
        source_order=no_address, mode="test", place_target_order=True
    )
    for failing in (out_of_stock, refused):
        services.order_copy_execute(order_copy_id=failing.pk)  # no worker needed to fail
    pending = services.order_copy_create(source_order=make_order(), mode="test")
    log_in(page, "boss")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/admin/ordercopies/ordercopy/")
    first_errors = page.locator("td.field-first_error")
    expect(first_errors).to_have_count(3)
    screenshot(page, "copies_list.png")

    def first_error(order_copy: OrderCopy) -> Any:
        return page.locator(f'tr:has(a:text-is("{order_copy.pk}")) td.field-first_error')

    expect(first_error(refused)).to_have_text("cannot be placed: a billing address is required")
    expect(first_error(out_of_stock)).to_have_text(
        re.compile(rf"SKU {re.escape(sku.code)} is out of stock")
    )
    page.get_by_role("link", name="placement refused").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list tbody")).to_contain_text(refused.pk)

    page.goto(f"/admin/ordercopies/ordercopy/{refused.pk}/change/")
    expect(page.locator(".field-errors")).to_contain_text("a billing address is required")
    screenshot(page, "failed_copy.png")

    # Abort asks first: dismissed, nothing happens; accepted, the copy is aborted.
    page.goto(f"/admin/ordercopies/ordercopy/{pending.pk}/change/")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Abort").click()
    expect(page.get_by_role("button", name="Abort")).to_be_visible()
    assert questions == [
        f"Abort copy {pending.pk}? It stops and will not run (Retry can queue it again)."
    ]
    assert OrderCopy.objects.get(pk=pending.pk).status == "pending"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Abort").click()
    expect(page.locator(".messagelist:not(.no-worker-warning)")).to_contain_text("Aborted 1 copy.")
    assert OrderCopy.objects.get(pk=pending.pk).status == "aborted"
