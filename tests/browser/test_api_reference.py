"""The API reference as a newcomer uses it, in Debian's Chromium with nothing reachable but the
live server: reading the order copies create operation and its example (Redoc, /api/docs/),
then calling it with a test token (Swagger UI, /api/docs/try/)."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from api.services import api_client_create
from api.tokens import token_issue
from ordercopies.models import OrderCopy
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    """No worker runs here: the pages and the request work on SQLite too (overrides the
    package's PostgreSQL-only fixture)."""


@pytest.fixture
def offline(page: Page) -> Iterator[list[str]]:
    """Every request beyond loopback is refused, and recorded for the test to assert none."""
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    yield refused


def test_a_newcomer_reads_how_to_copy_an_order_with_its_example(
    page: Page, offline: list[str]
) -> None:
    page.goto("/api/docs/")

    page.get_by_role("menuitem", name="order_copies").click()
    page.get_by_role("menuitem", name="Copy an order").click()
    operation = page.locator(
        '[data-section-id="tag/order_copies/operation/api_order_copies_create"]'
    )
    expect(operation).to_contain_text("queues it")
    expect(operation).to_contain_text("Who may call it")
    expect(operation).to_contain_text("VALIDATION_ERROR")
    samples = operation.locator("span.token:visible", has_text='"place_target_order"').first
    expect(samples).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-reference.png"))  # the viewport: Redoc is long
    assert offline == []


def test_a_newcomer_copies_an_order_from_swagger_ui_with_a_test_token(
    page: Page, offline: list[str], make_order: Any
) -> None:
    source = make_order(place=True)
    client, _ = api_client_create(name="newcomer", kind="integration", mode="test")
    token = str(token_issue(client=client)["access_token"])
    page.goto("/api/docs/try/")

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input").first.fill(token)
    page.locator(".modal-ux button.authorize").click()
    expect(page.locator(".modal-ux")).to_contain_text("Authorized")
    page.locator(".modal-ux button.btn-done").click()

    create = page.locator("#operations-order_copies-api_order_copies_create")
    create.locator(".opblock-summary").click()
    expect(create).to_contain_text("Copy an order and place the new one")
    create.get_by_role("button", name="Try it out").click()
    body = create.locator("textarea.body-param__text")
    expect(body).to_contain_text('"place_target_order": true')
    document = json.loads(body.input_value())
    document["data"]["relationships"]["source_order"]["data"]["id"] = source.pk
    body.fill(json.dumps(document))
    create.get_by_role("button", name="Execute").click()

    answer = create.locator(".live-responses-table tbody .response")
    expect(answer.locator(".response-col_status")).to_contain_text("201", timeout=15_000)
    copy = OrderCopy.objects.get()
    assert (copy.source_order_id, copy.status, copy.place_target_order) == (
        source.pk,
        "pending",
        True,
    )
    expect(answer).to_contain_text(copy.pk)
    assert offline == []
