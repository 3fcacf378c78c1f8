import random
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from events.models import Event
from ordercopies.models import OrderCopy
from orders.demo import ORIGIN, demo_plan
from orders.models import (
    Address,
    Coupon,
    Customer,
    CustomerPaymentSource,
    LineItem,
    Market,
    Order,
    OrderNumber,
    PaymentMethod,
    PaymentSource,
    Promotion,
    Sku,
    SkuPrice,
)
from subscriptions.models import OrderSubscription, OrderSubscriptionNumber, SubscriptionRun

MODELS = [Market, Customer, Sku, SkuPrice, Address, PaymentMethod, PaymentSource]
MODELS += [CustomerPaymentSource, Promotion, Coupon, Order, OrderNumber, LineItem, Event, User]
MODELS += [OrderSubscription, OrderSubscriptionNumber, SubscriptionRun, OrderCopy, DBTaskResult]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def state() -> dict[str, object]:
    """What a second run could change without adding rows."""
    return {
        "orders": set(
            Order.objects.values_list("reference", "status", "archived_at", "updated_at")
        ),
        "stock": set(Sku.objects.values_list("mode", "code", "stock_quantity")),
        "coupons": set(Coupon.objects.values_list("code", "usage_count")),
        "subscriptions": set(
            OrderSubscription.objects.values_list(
                "reference", "status", "next_run_at", "occurrencies", "errors_count", "updated_at"
            )
        ),
        "copies": set(OrderCopy.objects.values_list("pk", "status", "updated_at")),
    }


@pytest.fixture
def seeded(db: None, settings) -> str:
    settings.DEBUG = True
    return seed()


def test_the_plan_is_the_same_for_the_same_seed() -> None:
    assert demo_plan(rng=random.Random(7)) == demo_plan(rng=random.Random(7))
    assert demo_plan(rng=random.Random(7)) != demo_plan(rng=random.Random(8))


def test_running_it_twice_changes_nothing(seeded):
    counts, before = row_counts(), state()
    output = seed()
    assert row_counts() == counts
    assert state() == before
    assert "Orders: 0 built, 55 already there." in output
    assert "Orders: 55 built, 0 already there." in seeded
    assert "Subscriptions: 0 built, 10 already there." in output
    assert "Subscriptions: 10 built, 0 already there." in seeded


def test_test_mode_orders_cover_every_status_with_one_to_eight_lines(seeded):
    # The demo's own orders; the subscription runs' copies made a few more.
    orders = Order.objects.filter(mode="test", reference_origin=ORIGIN)
    assert orders.count() == 50
    assert set(orders.values_list("status", flat=True)) == set(Order.Status)
    assert orders.filter(archived_at__isnull=False).exists()
    for order in orders.prefetch_related("line_items"):
        sku_lines = [line for line in order.line_items.all() if line.item_type == "skus"]
        assert 1 <= len(sku_lines) <= 8, order.reference
    assert orders.filter(status="placed", coupon_code__gt="").exists()
    assert orders.filter(status="placed", payment_status="authorized").exists()
    assert orders.filter(status="cancelled", payment_status="voided").exists()


def test_live_mode_data_stays_in_live_mode(seeded):
    live = Order.objects.filter(mode="live")
    assert live.count() == 5
    assert set(live.values_list("status", flat=True)) == set(Order.Status)
    assert set(live.values_list("market__mode", "market__code")) == {("live", "eu")}
    sku_lines = LineItem.objects.filter(item_type="skus")
    assert not sku_lines.filter(order__mode="live").exclude(sku__mode="live").exists()
    assert not sku_lines.filter(order__mode="test").exclude(sku__mode="test").exists()
    assert Market.objects.filter(code="eu").count() == 2


def test_catalogue_coupons_promotions_and_wallets(seeded):
    now = timezone.now()
    skus = Sku.objects.filter(mode="test")
    assert skus.count() == 20
    assert skus.filter(stock_quantity=0).exists()
    assert skus.filter(enabled=False).count() == 1
    assert SkuPrice.objects.filter(sku__mode="test").count() == 40
    assert Market.objects.get(mode="test", code="us").currency_code == "USD"
    reasons = {coupon.code: coupon.invalid_reason(now) for coupon in Coupon.objects.all()}
    assert reasons["WELCOME15"] is None
    assert "expired" in (reasons["SPRING-OLD"] or "")
    used_up = Coupon.objects.get(code="LAUNCH50")
    assert used_up.usage_limit == used_up.usage_count
    automatic = Promotion.objects.get(mode="test", market__code="eu", requires_coupon=False)
    assert automatic.kind == "percentage" and automatic.is_active(now)
    customers = Customer.objects.filter(mode="test")
    assert customers.count() == 10
    assert not customers.filter(wallet__isnull=True).exists()
    assert PaymentMethod.objects.filter(mode="test", market__code="us").exists()


def test_superuser_only_when_debug_is_on(db, settings):
    settings.DEBUG = False
    output = seed()
    assert not User.objects.filter(username="admin").exists()
    assert "Superuser" not in output
    settings.DEBUG = True
    seed()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("admin")


def test_subscriptions_cover_every_status_with_a_history(seeded):
    subscriptions = OrderSubscription.objects.filter(mode="test")
    assert set(subscriptions.values_list("status", flat=True)) == set(OrderSubscription.Status)
    assert "subscriptions by status: draft 2, active 4, inactive 1, running 1, cancelled 1" in (
        seeded
    )
    with_runs = subscriptions.get(reference="demo-subscription-02")
    assert (with_runs.occurrencies, with_runs.errors_count) == (3, 0)
    assert with_runs.succeeded_on_last_run is True
    assert with_runs.order_copies.filter(status="completed").count() == 2
    failing = subscriptions.get(reference="demo-subscription-03")
    assert (failing.status, failing.errors_count, failing.succeeded_on_last_run) == (
        "active",
        1,
        False,
    )
    running = subscriptions.get(reference="demo-subscription-08")
    assert running.order_copies.get().status == "pending"  # for the worker of `make run`
    waiting = subscriptions.get(reference="demo-subscription-05")
    assert (waiting.status, waiting.source_order.status) == ("draft", "pending")
    assert subscriptions.filter(frequency="0 9 * * 1").exists()
    live = OrderSubscription.objects.get(mode="live")
    assert live.source_order.mode == "live" and live.status == "active"
