import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from api.models import ApiClient
from api.services import api_client_create
from api.tokens import token_issue
from ordercopies import services as copy_services
from ordercopies.models import OrderCopy
from orders import services as order_services
from orders.models import Market, Order, Sku
from tests import factories

MEDIA = "application/vnd.api+json"
ERROR_MEMBERS = {"title", "detail", "code", "status", "source", "meta"}


class ApiCaller:
    """The Django test client speaking JSON:API with a bearer token."""

    def __init__(self, client: Client, token: str | None, api_client: ApiClient | None = None):
        self.client, self.token, self.api_client = client, token, api_client

    def _headers(self) -> dict[str, str]:
        headers = {"HTTP_ACCEPT": MEDIA}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, content_type=MEDIA, **self._headers())

    def post(self, path: str, document: Any) -> Any:
        body = document if isinstance(document, str | bytes) else json.dumps(document)
        return self.client.post(path, body, content_type=MEDIA, **self._headers())

    def patch(self, path: str, document: Any) -> Any:
        body = document if isinstance(document, str | bytes) else json.dumps(document)
        return self.client.patch(path, body, content_type=MEDIA, **self._headers())

    def delete(self, path: str) -> Any:
        return self.client.delete(path, content_type=MEDIA, **self._headers())


def _client_and_token(kind: str, mode: str, markets: tuple[str, ...] = ()) -> tuple[ApiClient, str]:
    client, _ = api_client_create(
        name=f"{kind} {mode}", kind=kind, mode=mode, market_codes=list(markets)
    )
    return client, str(token_issue(client=client, markets=markets)["access_token"])


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    # /oauth/token is throttled per address in the cache: every test starts with a clean slate.
    cache.clear()


@pytest.fixture
def unthrottled(settings: Any) -> None:
    """For tests that walk hundreds of routes: the API's rate limits are tested elsewhere."""
    settings.API_RATELIMIT_ENABLED = False


@pytest.fixture
def make_api(client: Client) -> Callable[..., ApiCaller]:
    def make(
        kind: str = "integration", mode: str = "test", markets: tuple[str, ...] = ()
    ) -> ApiCaller:
        api_client, token = _client_and_token(kind, mode, markets)
        return ApiCaller(client, token, api_client)

    return make


@pytest.fixture
def api(db: None, make_api: Callable[..., ApiCaller]) -> ApiCaller:
    return make_api()


@pytest.fixture
def live_api(db: None, make_api: Callable[..., ApiCaller]) -> ApiCaller:
    return make_api(mode="live")


@pytest.fixture
def anonymous(client: Client) -> ApiCaller:
    return ApiCaller(client, None)


@pytest.fixture
def no_raise(client: Client) -> Client:
    """The shared test client answering 500 like a server would, instead of re-raising: for
    tests that assert a request never ends in a 5xx."""
    client.raise_request_exception = False
    return client


# Documents -------------------------------------------------------------------------------------


def linkage(resource_type: str, pk: str | None) -> dict[str, Any]:
    return {"data": None if pk is None else {"type": resource_type, "id": pk}}


def copy_document(source_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "order_copies",
            "attributes": attributes,
            "relationships": {"source_order": linkage("orders", source_id)},
        }
    }


def patch_document(resource_type: str, pk: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": resource_type, "id": pk, "attributes": attributes}}


def untraced(response: Any) -> dict[str, Any]:
    """The response's document with each error's `meta.trace_id` checked (the X-Trace-Id of
    the answer) and taken out, for comparing documents whole."""
    body = json.loads(response.content)
    for error in body.get("errors", []):
        meta = error.get("meta", {})
        assert meta.pop("trace_id") == response["X-Trace-Id"], error
        if not meta:
            error.pop("meta")
    return body


def assert_error(
    response: Any, status: int, code: str, *, pointer: str | None = None
) -> dict[str, Any]:
    """The response is a JSON:API error document whose first error has this status and code
    (and pointer, when given); every error object has exactly Commerce Layer's members."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == MEDIA
    body = response.json()
    assert list(body) == ["errors"]
    assert body["errors"], "an error document lists at least one error"
    assert all(e["meta"]["trace_id"] == response["X-Trace-Id"] for e in body["errors"])
    for error in body["errors"]:
        assert {"title", "detail", "code", "status"} <= set(error) <= ERROR_MEMBERS
        assert all(isinstance(error[k], str) and error[k] for k in ("title", "detail", "code"))
        assert error["status"] == str(status)
        if "source" in error:
            assert set(error["source"]) == {"pointer"}
            assert error["source"]["pointer"].startswith("/data")
    error = body["errors"][0]
    assert error["code"] == code
    if pointer is not None:
        assert error.get("source") == {"pointer": pointer}, body
    return error


# Data ------------------------------------------------------------------------------------------


@pytest.fixture
def live_market(db: None) -> Market:
    return factories.MarketFactory(mode="live", code="eu", name="Europe", currency_code="EUR")


@pytest.fixture
def other_market(db: None) -> Market:
    return factories.MarketFactory(mode="test", code="us", name="USA", currency_code="USD")


@pytest.fixture
def make_order_in() -> Callable[..., Order]:
    """`make_order` for any market (and so any mode): customer, addresses, wallet payment and
    `lines` priced SKU lines, built through the services."""

    def make(market: Market, *, lines: int = 1, place: bool = False, **changes: Any) -> Order:
        mode = market.mode
        customer = factories.CustomerFactory(mode=mode)
        wallet = factories.CustomerPaymentSourceFactory(customer=customer, mode=mode)
        wallet.payment_source.mode = mode
        wallet.payment_source.save()
        order = order_services.order_create(market=market, customer_email=customer.email)
        for _ in range(lines):
            sku = factories.SkuFactory(mode=mode)
            factories.SkuPriceFactory(sku=sku, market=market, amount_cents=1000)
            order_services.order_line_item_add(order=order, sku=sku, quantity=1)
        fields: dict[str, Any] = {
            "shipping_address": factories.AddressFactory(mode=mode),
            "billing_address": factories.AddressFactory(mode=mode),
            "payment_method": factories.PaymentMethodFactory(market=market, mode=mode),
            "payment_source": wallet.payment_source,
        }
        fields.update(changes)
        order = order_services.order_update(order=order, **fields)
        if place:
            order = order_services.order_place(order=order)
        return order

    return make


@pytest.fixture
def make_copy() -> Callable[..., OrderCopy]:
    """A pending copy of `source`, in its mode, made through the service."""

    def make(source: Order, **options: Any) -> OrderCopy:
        return copy_services.order_copy_create(source_order=source, mode=source.mode, **options)

    return make


def fresh_copy(order_copy: OrderCopy) -> OrderCopy:
    # refresh_from_db cannot set the protected status field: read the row again.
    return OrderCopy.objects.get(pk=order_copy.pk)


@pytest.fixture
def completed_copy(make_order: Callable[..., Order], make_copy: Callable[..., OrderCopy]):
    order_copy = make_copy(make_order())
    copy_services.order_copy_execute(order_copy_id=order_copy.pk)
    order_copy = fresh_copy(order_copy)
    assert order_copy.status == OrderCopy.Status.COMPLETED
    return order_copy


@pytest.fixture
def failed_copy(make_order: Callable[..., Order], make_copy: Callable[..., OrderCopy]):
    """A copy that failed: its source's SKUs were disabled before it ran."""
    source = make_order()
    order_copy = make_copy(source)
    Sku.objects.filter(line_items__order=source).update(enabled=False)
    copy_services.order_copy_execute(order_copy_id=order_copy.pk)
    order_copy = fresh_copy(order_copy)
    assert order_copy.status == OrderCopy.Status.FAILED
    return order_copy


@pytest.fixture
def in_progress_copy(make_order: Callable[..., Order], make_copy: Callable[..., OrderCopy]):
    order_copy = make_copy(make_order())
    claimed = copy_services.order_copy_claim(order_copy_id=order_copy.pk)
    assert claimed is not None and claimed.status == OrderCopy.Status.IN_PROGRESS
    return claimed


@pytest.fixture
def world(make_order: Callable[..., Order], make_copy: Callable[..., OrderCopy]) -> dict[str, Any]:
    """One record of every resource, linked together in market eu (test mode): a pending order
    with two lines, its customer, wallet, addresses, payment method and source, a copy of it, a
    subscription of it, a promotion with a coupon, and the order's events. Type → record."""
    from events.models import Event
    from subscriptions.services import order_subscription_create
    from tags.services import resource_tags_change

    order = make_order(lines=2)
    promotion = factories.PromotionFactory(market=order.market, mode="test", requires_coupon=True)
    subscription = order_subscription_create(source_order=order, mode="test", frequency="daily")
    tag = factories.TagFactory()
    resource_tags_change(resource=order, add=[tag])
    webhook, event_callback = _a_called_webhook(order)
    order_copy = make_copy(order)
    return {
        "orders": order,
        "line_items": order.line_items.first(),
        "markets": order.market,
        "customers": order.customer,
        "skus": order.line_items.first().sku,
        "addresses": order.shipping_address,
        "payment_methods": order.payment_method,
        "payment_sources": order.payment_source,
        "stripe_payments": order.payment_source,  # the factories' sources are stripe_payments
        "customer_payment_sources": order.payment_source.wallet_entry,
        "coupons": factories.CouponFactory(promotion=promotion, mode="test"),
        "promotions": promotion,
        "order_copies": order_copy,
        "order_factories": order_copy,  # the same copy, as Commerce Layer's order factory
        "order_subscriptions": subscription,
        "events": Event.objects.filter(resource_type="orders", resource_id=order.pk).first(),
        "tags": tag,
        "webhooks": webhook,
        "event_callbacks": event_callback,
    }


def _a_called_webhook(order: Order) -> tuple[Any, Any]:
    """A webhook of `orders.create`, called once for the order's creation fired again (its
    receiver, on .invalid, does not resolve: the call failed)."""
    from events.models import Event
    from webhooks import services as webhook_services

    webhook = webhook_services.webhook_create(
        mode="test", topic="orders.create", callback_url="https://hooks.example.invalid/orders"
    )
    event = Event.objects.get(name="orders.create", resource_id=order.pk)
    webhook_services.event_trigger(event=event)
    delivery = webhook_services.webhook_delivery_attempt_next()
    assert delivery is not None  # noqa: S101
    return webhook, delivery.callbacks.get()
