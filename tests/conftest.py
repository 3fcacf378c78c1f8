from collections.abc import Callable

import pytest
from django.db import connection

from orders import services as order_services
from orders.models import Market, Order, Sku
from tests import factories


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Staff users' passwords: Django's default hash costs about a second each, by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def postgres() -> None:
    """Mark a test as needing PostgreSQL features: skipped, saying why, on SQLite."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")


@pytest.fixture
def market(db: None) -> Market:
    return factories.MarketFactory(code="eu", name="Europe", currency_code="EUR")


@pytest.fixture
def make_sku(market: Market) -> Callable[..., Sku]:
    def make(*, price_cents: int = 1000, **kwargs: object) -> Sku:
        sku = factories.SkuFactory(mode=market.mode, **kwargs)
        factories.SkuPriceFactory(sku=sku, market=market, amount_cents=price_cents)
        return sku

    return make


@pytest.fixture
def make_order(market: Market, make_sku: Callable[..., Sku]) -> Callable[..., Order]:
    """An order built through the services: customer, addresses, wallet payment, `lines` SKU lines.

    Pass `place=True` for a placed order.
    """

    def make(*, lines: int = 2, quantity: int = 1, place: bool = False, **changes: object) -> Order:
        customer = factories.CustomerFactory(mode=market.mode)
        wallet = factories.CustomerPaymentSourceFactory(customer=customer, mode=market.mode)
        wallet.payment_source.mode = market.mode
        wallet.payment_source.save()
        order = order_services.order_create(market=market, customer_email=customer.email)
        for _ in range(lines):
            order_services.order_line_item_add(order=order, sku=make_sku(), quantity=quantity)
        fields: dict[str, object] = {
            "shipping_address": factories.AddressFactory(mode=market.mode),
            "billing_address": factories.AddressFactory(mode=market.mode),
            "payment_method": factories.PaymentMethodFactory(market=market, mode=market.mode),
            "payment_source": wallet.payment_source,
        }
        fields.update(changes)
        order = order_services.order_update(order=order, **fields)
        if place:
            order = order_services.order_place(order=order)
        return order

    return make
