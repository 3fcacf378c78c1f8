"""Demo data for `manage.py seed_demo`.

A plan is drawn first, as plain data, from a seeded random generator: the same seed always gives
the same plan, whatever the database holds. Then what is missing is built, orders through the
order services. Every object has a natural key (market code, SKU code, customer email, coupon
code, order reference, all per mode) and is skipped when it exists, so a second run changes
nothing. Markets, SKUs, payment methods, promotions and coupons have no services yet: they are
reference data, written here with get_or_create.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.models import Mode
from orders import services as order_services
from orders.models import (
    Address,
    Coupon,
    Customer,
    CustomerPaymentSource,
    Market,
    Order,
    PaymentMethod,
    PaymentSource,
    Promotion,
    Sku,
    SkuPrice,
)

ORIGIN = "seed_demo"
DEMO_ADMIN = "admin"  # the username and the password of the demo superuser
Status = Order.Status


@dataclass(frozen=True, slots=True)
class MarketSpec:
    code: str
    name: str
    currency_code: str
    shipping_amount_cents: int
    tax_rate: Decimal
    countries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SkuSpec:
    code: str
    name: str
    price_cents: int  # in EUR; other currencies are derived
    stock_quantity: int
    do_not_ship: bool = False
    enabled: bool = True

    @property
    def sellable(self) -> bool:
        return self.enabled and self.stock_quantity > 0


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    email: str
    first_name: str
    last_name: str
    card_brand: str
    card_last4: str


@dataclass(frozen=True, slots=True)
class AddressSpec:
    line_1: str
    city: str
    zip_code: str
    country_code: str


@dataclass(frozen=True, slots=True)
class OrderSpec:
    reference: str
    mode: str
    market_code: str
    status: str
    archived: bool
    customer: CustomerSpec
    with_customer: bool
    complete: bool  # addresses, payment method and source set
    address: AddressSpec
    language_code: str
    lines: tuple[tuple[str, int], ...]
    coupon_code: str = ""


@dataclass(frozen=True, slots=True)
class DataSet:
    """What one mode's demo data is made of; its orders are drawn from it."""

    mode: str
    order_prefix: str
    statuses: dict[str, int]  # how many orders end in each status
    archived: int  # how many approved or cancelled orders are also archived
    markets: tuple[MarketSpec, ...]
    skus: tuple[SkuSpec, ...]
    customers: tuple[CustomerSpec, ...]
    with_promotions: bool


@dataclass(frozen=True, slots=True)
class ModePlan:
    data: DataSet
    orders: tuple[OrderSpec, ...]


@dataclass(frozen=True, slots=True)
class PromotionSpec:
    market_code: str
    name: str
    kind: str
    percentage: int = 0
    amount_cents: int = 0
    requires_coupon: bool = False


@dataclass(frozen=True, slots=True)
class CouponSpec:
    code: str
    promotion_name: str
    usage_limit: int | None
    usage_count: int = 0
    expires_in_days: int | None = None


@dataclass(slots=True)
class Catalog:
    """The rows of one mode that orders are built from."""

    markets: dict[str, Market]
    skus: dict[str, Sku]
    payment_methods: dict[str, PaymentMethod]  # market code → the card method
    wallets: dict[str, PaymentSource]  # customer email → wallet payment source


MARKETS = (
    MarketSpec("eu", "Europe", "EUR", 700, Decimal("0.2200"), ("IT", "DE", "FR", "ES", "NL")),
    MarketSpec("us", "United States", "USD", 900, Decimal("0.0725"), ("US",)),
)
SKUS = (
    SkuSpec("TSHIRT-S", "Organic T-shirt, S", 2500, 400),
    SkuSpec("TSHIRT-M", "Organic T-shirt, M", 2500, 400),
    SkuSpec("TSHIRT-L", "Organic T-shirt, L", 2500, 400),
    SkuSpec("HOODIE-M", "Zip hoodie, M", 5900, 300),
    SkuSpec("HOODIE-L", "Zip hoodie, L", 5900, 300),
    SkuSpec("CAP-BLACK", "Baseball cap, black", 1900, 300),
    SkuSpec("BEANIE-GREY", "Beanie, grey", 2200, 300),
    SkuSpec("SOCKS-3PK", "Socks, 3 pack", 1500, 500),
    SkuSpec("TOTE-BAG", "Canvas tote bag", 1800, 400),
    SkuSpec("MUG-WHITE", "Ceramic mug, white", 1400, 400),
    SkuSpec("BOTTLE-750", "Steel water bottle, 750 ml", 2900, 300),
    SkuSpec("NOTEBOOK-A5", "Dotted notebook, A5", 1200, 500),
    SkuSpec("STICKERS", "Sticker pack", 600, 800),
    SkuSpec("POSTER-A2", "Poster, A2", 2000, 300),
    SkuSpec("EBOOK-GUIDE", "Style guide (e-book)", 900, 1000, do_not_ship=True),
    SkuSpec("GIFTCARD-50", "Gift card, 50", 5000, 1000, do_not_ship=True),
    SkuSpec("JACKET-L", "Rain jacket, L", 8900, 0),
    SkuSpec("SNEAKERS-42", "Canvas sneakers, 42", 7900, 0),
    SkuSpec("SCARF-WOOL", "Wool scarf", 3500, 0),
    SkuSpec("LEGACY-MUG", "Legacy mug (discontinued)", 1000, 50, enabled=False),
)
LIVE_SKU_CODES = ("TSHIRT-M", "HOODIE-M", "MUG-WHITE", "EBOOK-GUIDE")
PEOPLE = (
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Margaret", "Hamilton"),
    ("Linus", "Torvalds"),
    ("Radia", "Perlman"),
    ("Ken", "Thompson"),
)
CITIES = {
    "IT": (("Milan", "20121"), ("Rome", "00184"), ("Turin", "10121")),
    "DE": (("Berlin", "10115"), ("Munich", "80331")),
    "FR": (("Paris", "75001"), ("Lyon", "69001")),
    "ES": (("Madrid", "28001"), ("Barcelona", "08001")),
    "NL": (("Amsterdam", "1011 AB"), ("Utrecht", "3511 AA")),
    "US": (("New York", "10001"), ("Austin", "78701"), ("Seattle", "98101")),
}
LANGUAGES = {"IT": "it", "DE": "de", "FR": "fr", "ES": "es", "NL": "nl", "US": "en"}
STREETS = ("Main Street", "Market Square", "Station Road", "Harbour Lane", "Park Avenue")
# 50 test orders in every status; the final ones (approved, cancelled) are partly archived.
TEST_STATUSES: dict[str, int] = {
    Status.DRAFT: 6,
    Status.PENDING: 10,
    Status.PLACED: 12,
    Status.APPROVED: 12,
    Status.CANCELLED: 10,
}
TEST_ARCHIVED = 6
LIVE_STATUSES: dict[str, int] = {status: 1 for status in Status}
PROMOTIONS = (
    PromotionSpec("eu", "Spring sale 10 %", Promotion.Kind.PERCENTAGE, percentage=10),
    PromotionSpec("eu", "Welcome 15 %", Promotion.Kind.PERCENTAGE, 15, requires_coupon=True),
    PromotionSpec("us", "Welcome $5", Promotion.Kind.FIXED, amount_cents=500, requires_coupon=True),
)
COUPONS = (
    CouponSpec("WELCOME15", "Welcome 15 %", usage_limit=1000),
    CouponSpec("SPRING-OLD", "Welcome 15 %", usage_limit=None, usage_count=3, expires_in_days=-7),
    CouponSpec("LAUNCH50", "Welcome 15 %", usage_limit=50, usage_count=50),
    CouponSpec("USWELCOME", "Welcome $5", usage_limit=None, expires_in_days=90),
)
VALID_COUPONS = {"eu": "WELCOME15", "us": "USWELCOME"}


# ---------------------------------------------------------------------------------------------
# The plan: plain data, drawn from `rng` only


def demo_plan(*, rng: random.Random) -> tuple[ModePlan, ...]:
    """The test-mode data set, then a small live-mode one in a market of the same code."""
    customers = tuple(_customer_spec(rng, first, last) for first, last in PEOPLE)
    test = DataSet(
        mode=Mode.TEST,
        order_prefix="demo-order",
        statuses=TEST_STATUSES,
        archived=TEST_ARCHIVED,
        markets=MARKETS,
        skus=SKUS,
        customers=customers,
        with_promotions=True,
    )
    live = DataSet(
        mode=Mode.LIVE,
        order_prefix="demo-live-order",
        statuses=LIVE_STATUSES,
        archived=0,
        markets=MARKETS[:1],
        skus=tuple(sku for sku in SKUS if sku.code in LIVE_SKU_CODES),
        customers=customers[:2],
        with_promotions=False,
    )
    return tuple(ModePlan(data=data, orders=_orders_plan(rng, data)) for data in (test, live))


def _customer_spec(rng: random.Random, first: str, last: str) -> CustomerSpec:
    return CustomerSpec(
        email=f"{first}.{last}@example.com".lower(),
        first_name=first,
        last_name=last,
        card_brand=rng.choice(("visa", "mastercard", "amex")),
        card_last4=f"{rng.randrange(10_000):04d}",
    )


def _orders_plan(rng: random.Random, data: DataSet) -> tuple[OrderSpec, ...]:
    statuses = [status for status, count in data.statuses.items() for _ in range(count)]
    rng.shuffle(statuses)
    final = [
        n for n, status in enumerate(statuses) if status in (Status.APPROVED, Status.CANCELLED)
    ]
    archived = set(rng.sample(final, data.archived))
    return tuple(
        _order_spec(rng, data, n=n, status=status, archived=n in archived)
        for n, status in enumerate(statuses)
    )


def _order_spec(
    rng: random.Random, data: DataSet, *, n: int, status: str, archived: bool
) -> OrderSpec:
    market = rng.choice(data.markets)
    country = rng.choice(market.countries)
    city, zip_code = rng.choice(CITIES[country])
    street = f"{rng.randint(1, 240)} {rng.choice(STREETS)}"
    uses_coupon = status != Status.DRAFT and data.with_promotions and rng.random() < 0.25
    return OrderSpec(
        reference=f"{data.order_prefix}-{n + 1:02d}",
        mode=data.mode,
        market_code=market.code,
        status=status,
        archived=archived,
        customer=rng.choice(data.customers),
        with_customer=status != Status.DRAFT,
        complete=status not in (Status.DRAFT, Status.PENDING) or rng.random() < 0.6,
        address=AddressSpec(street, city, zip_code, country),
        language_code=LANGUAGES[country],
        lines=_lines_plan(rng, status=status, skus=data.skus),
        coupon_code=VALID_COUPONS[market.code] if uses_coupon else "",
    )


def _lines_plan(
    rng: random.Random, *, status: str, skus: tuple[SkuSpec, ...]
) -> tuple[tuple[str, int], ...]:
    # Orders that get placed hold sellable SKUs only; some pending ones hold an out-of-stock or
    # disabled SKU, to show a refused placement in the admin.
    sellable = [sku.code for sku in skus if sku.sellable]
    codes = rng.sample(sellable, rng.randint(1, min(8, len(sellable))))
    unsellable = [sku.code for sku in skus if not sku.sellable]
    if status == Status.PENDING and unsellable and rng.random() < 0.3:
        codes[-1] = rng.choice(unsellable)
    return tuple((code, rng.randint(1, 3)) for code in codes)


# ---------------------------------------------------------------------------------------------
# Building what is missing


def demo_catalog_ensure(*, data: DataSet) -> Catalog:
    """The markets, SKUs with their prices, payment methods, customers with a wallet, and
    (when the data set has them) promotions and coupons of a mode."""
    markets = {spec.code: _market_ensure(spec, mode=data.mode) for spec in data.markets}
    catalog = Catalog(
        markets=markets,
        skus={spec.code: _sku_ensure(spec, mode=data.mode, markets=markets) for spec in data.skus},
        payment_methods={code: _payment_methods_ensure(market) for code, market in markets.items()},
        wallets={spec.email: _wallet_ensure(spec, mode=data.mode) for spec in data.customers},
    )
    if data.with_promotions:
        _promotions_ensure(mode=data.mode, markets=markets)
    return catalog


def _market_ensure(spec: MarketSpec, *, mode: str) -> Market:
    market, _ = Market.objects.get_or_create(
        mode=mode,
        code=spec.code,
        defaults={
            "name": spec.name,
            "currency_code": spec.currency_code,
            "shipping_amount_cents": spec.shipping_amount_cents,
            "tax_rate": spec.tax_rate,
            "reference_origin": ORIGIN,
        },
    )
    return market


def _sku_ensure(spec: SkuSpec, *, mode: str, markets: dict[str, Market]) -> Sku:
    sku, _ = Sku.objects.get_or_create(
        mode=mode,
        code=spec.code,
        defaults={
            "name": spec.name,
            "stock_quantity": spec.stock_quantity,
            "do_not_ship": spec.do_not_ship,
            "enabled": spec.enabled,
            "reference_origin": ORIGIN,
        },
    )
    for market in markets.values():
        amount = _price_in(spec.price_cents, currency_code=market.currency_code)
        SkuPrice.objects.get_or_create(sku=sku, market=market, defaults={"amount_cents": amount})
    return sku


def _price_in(eur_cents: int, *, currency_code: str) -> int:
    if currency_code == "EUR":
        return eur_cents
    return eur_cents * 11 // 1000 * 100 + 99  # about 10 % more, ending in .99


def _payment_methods_ensure(market: Market) -> PaymentMethod:
    """A card and a PayPal method in the market; returns the card, which demo orders use."""
    methods = [("Credit card", "stripe_payments"), ("PayPal", "paypal_payments")]
    card, *_ = (
        PaymentMethod.objects.get_or_create(
            mode=market.mode, market=market, name=name, defaults={"payment_source_type": kind}
        )[0]
        for name, kind in methods
    )
    return card


@transaction.atomic
def _wallet_ensure(spec: CustomerSpec, *, mode: str) -> PaymentSource:
    customer = order_services.customer_get_or_create(email=spec.email, mode=mode)
    entry = CustomerPaymentSource.objects.filter(customer=customer).select_related("payment_source")
    if (existing := entry.first()) is not None:
        return existing.payment_source
    source = PaymentSource.objects.create(
        mode=mode,
        payment_source_type="stripe_payments",
        customer=customer,
        token=f"tok_demo_{mode}_{spec.first_name.lower()}",
        details={"brand": spec.card_brand, "last4": spec.card_last4},
        reference_origin=ORIGIN,
    )
    CustomerPaymentSource.objects.create(mode=mode, customer=customer, payment_source=source)
    return source


def _promotions_ensure(*, mode: str, markets: dict[str, Market]) -> None:
    now = timezone.now()
    promotions = {
        spec.name: Promotion.objects.get_or_create(
            mode=mode,
            market=markets[spec.market_code],
            name=spec.name,
            defaults={
                "kind": spec.kind,
                "percentage": spec.percentage,
                "amount_cents": spec.amount_cents,
                "requires_coupon": spec.requires_coupon,
                "starts_at": now - timedelta(days=30),
                "expires_at": now + timedelta(days=365),
            },
        )[0]
        for spec in PROMOTIONS
        if spec.market_code in markets
    }
    for coupon in COUPONS:
        if coupon.promotion_name in promotions:
            _coupon_ensure(coupon, mode=mode, promotion=promotions[coupon.promotion_name])


def _coupon_ensure(spec: CouponSpec, *, mode: str, promotion: Promotion) -> Coupon:
    expires_at = None
    if spec.expires_in_days is not None:
        expires_at = timezone.now() + timedelta(days=spec.expires_in_days)
    coupon, _ = Coupon.objects.get_or_create(
        mode=mode,
        code=spec.code,
        defaults={
            "promotion": promotion,
            "usage_limit": spec.usage_limit,
            "usage_count": spec.usage_count,
            "expires_at": expires_at,
        },
    )
    return coupon


def demo_order_ensure(*, spec: OrderSpec, catalog: Catalog) -> bool:
    """Build the order of `spec` through the order services, unless one with its reference
    exists. True when it was built."""
    if Order.objects.filter(mode=spec.mode, reference=spec.reference).exists():
        return False
    # All of it or nothing: a run stopped half-way leaves no half-built order to skip next time.
    with transaction.atomic():
        order = _order_fill(spec, catalog)
        _order_advance(order, spec)
    return True


def _order_fill(spec: OrderSpec, catalog: Catalog) -> Order:
    order = order_services.order_create(
        market=catalog.markets[spec.market_code],
        customer_email=spec.customer.email if spec.with_customer else "",
        language_code=spec.language_code,
        country_code=spec.address.country_code,
        reference=spec.reference,
        reference_origin=ORIGIN,
    )
    for code, quantity in spec.lines:
        order_services.order_line_item_add(order=order, sku=catalog.skus[code], quantity=quantity)
    changes: dict[str, Any] = {}
    if spec.complete:
        address = _address_create(spec)
        changes["shipping_address"] = changes["billing_address"] = address
        changes["payment_method"] = catalog.payment_methods[spec.market_code]
        # A guest pays with a one-off card: a saved card belongs to its customer only.
        changes["payment_source"] = (
            catalog.wallets[spec.customer.email]
            if spec.with_customer
            else order_services.payment_source_create(
                mode=order.mode,
                payment_source_type="stripe_payments",
                token=f"tok_guest_{spec.reference}",
                details={"brand": "visa", "last4": "1881"},
            )
        )
    if spec.coupon_code:
        changes["coupon_code"] = spec.coupon_code
    return order_services.order_update(order=order, **changes) if changes else order


def _address_create(spec: OrderSpec) -> Address:
    return Address.objects.create(
        mode=spec.mode,
        first_name=spec.customer.first_name,
        last_name=spec.customer.last_name,
        line_1=spec.address.line_1,
        city=spec.address.city,
        zip_code=spec.address.zip_code,
        country_code=spec.address.country_code,
        email=spec.customer.email,
        reference_origin=ORIGIN,
    )


def _order_advance(order: Order, spec: OrderSpec) -> Order:
    if spec.status in (Status.PLACED, Status.APPROVED, Status.CANCELLED):
        order = order_services.order_place(order=order)
    if spec.status == Status.APPROVED:
        order = order_services.order_approve(order=order)
    if spec.status == Status.CANCELLED:
        order = order_services.order_cancel(order=order)
    if spec.archived:
        order = order_services.order_archive(order=order)
    return order


def demo_superuser_ensure() -> bool:
    """An `admin`/`admin` superuser for a local demo; True when it was created. The caller
    makes sure DEBUG is on: such a login must never exist in production."""
    users = get_user_model()
    if users.objects.filter(username=DEMO_ADMIN).exists():
        return False
    users.objects.create_superuser(
        username=DEMO_ADMIN, email=f"{DEMO_ADMIN}@example.com", password=DEMO_ADMIN
    )
    return True


# ---------------------------------------------------------------------------------------------
# The summary


def demo_counts(*, mode: str) -> dict[str, int]:
    rows: dict[str, QuerySet[Any]] = {
        "markets": Market.objects.all(),
        "SKUs": Sku.objects.all(),
        "customers": Customer.objects.all(),
        "wallet entries": CustomerPaymentSource.objects.all(),
        "payment methods": PaymentMethod.objects.all(),
        "promotions": Promotion.objects.all(),
        "coupons": Coupon.objects.all(),
        "orders": Order.objects.all(),
    }
    return {label: queryset.filter(mode=mode).count() for label, queryset in rows.items()}


def demo_order_statuses(*, mode: str) -> Counter[str]:
    orders = Order.objects.filter(mode=mode)
    statuses: Counter[str] = Counter(orders.values_list("status", flat=True))
    statuses["archived"] = orders.filter(archived_at__isnull=False).count()
    return statuses
