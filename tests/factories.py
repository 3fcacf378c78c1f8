from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from orders.models import (
    Address,
    Coupon,
    Customer,
    CustomerPaymentSource,
    LineItem,
    Market,
    Order,
    PaymentMethod,
    PaymentSource,
    Promotion,
    Sku,
    SkuPrice,
)
from tags.models import Tag


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market
        django_get_or_create = ("mode", "code")

    mode = "test"
    code = factory.Sequence(lambda n: f"market-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    currency_code = "EUR"
    shipping_amount_cents = 500
    tax_rate = Decimal("0.2000")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    code = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.code}")
    stock_quantity = 100


class SkuPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SkuPrice

    sku = factory.SubFactory(SkuFactory)
    market = factory.SubFactory(MarketFactory)
    amount_cents = 1000


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    first_name = "Ada"
    last_name = "Lovelace"
    line_1 = factory.Sequence(lambda n: f"{n} Main Street")
    city = "Milan"
    zip_code = "20100"
    country_code = "IT"


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    market = factory.SubFactory(MarketFactory)
    name = "Credit card"
    payment_source_type = "stripe_payments"


class PaymentSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentSource

    payment_source_type = "stripe_payments"
    token = factory.Sequence(lambda n: f"tok_{n}")
    details = {"brand": "visa", "last4": "4242"}


class CustomerPaymentSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerPaymentSource

    customer = factory.SubFactory(CustomerFactory)
    payment_source = factory.SubFactory(
        PaymentSourceFactory, customer=factory.SelfAttribute("..customer")
    )


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    market = factory.SubFactory(MarketFactory)
    name = factory.Sequence(lambda n: f"Promotion {n}")
    kind = Promotion.Kind.PERCENTAGE
    percentage = 10
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"COUPON{n}")
    promotion = factory.SubFactory(PromotionFactory, requires_coupon=True)


class OrderFactory(factory.django.DjangoModelFactory):
    """A bare draft order row; use `order_ready` in conftest for one built through the services."""

    class Meta:
        model = Order

    market = factory.SubFactory(MarketFactory)
    number = factory.Sequence(lambda n: f"F{n}")
    currency_code = factory.LazyAttribute(lambda o: o.market.currency_code)


class LineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineItem

    order = factory.SubFactory(OrderFactory)
    sku = factory.SubFactory(SkuFactory)
    sku_code = factory.LazyAttribute(lambda o: o.sku.code)
    name = factory.LazyAttribute(lambda o: o.sku.name)
    quantity = 1
    unit_amount_cents = 1000
    total_amount_cents = factory.LazyAttribute(lambda o: o.unit_amount_cents * o.quantity)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    mode = "test"
    name = factory.Sequence(lambda n: f"tag-{n}")
