"""Order copies on the real database: what a copy builds, each option, each error, the end
states, retry, abort, delete, recovery of lost copies and the queries a copy takes (SPEC.md §3)."""

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from events.models import Event
from ordercopies import services
from ordercopies.exceptions import (
    CopyNotAbortable,
    CopyNotDeletable,
    CopyNotFound,
    CopyNotRetryable,
    SourceOrderNotFound,
)
from ordercopies.models import OrderCopy
from ordercopies.services import running
from ordercopies.signals import order_copies_ended
from orders import services as order_services
from orders.models import Address, Coupon, LineItem, Order, PaymentSource, Promotion, Sku, SkuPrice
from orders.services import order_approve, order_cancel
from tests import factories

Status = OrderCopy.Status
EXECUTE_TASK = "ordercopies.tasks.order_copy_execute_task"
# A copy that places its target with a coupon, inside the test's transaction: claim (savepoint,
# lock, update, events, release: 5); run (savepoint, lock the copies, the engine's savepoint: 3),
# load (sources, lines, SKUs locked, prices, wallet, coupons locked: 6), write (numbers,
# addresses, orders, lines, stock, coupon usage, copies' ends, events: 8), releases (2). The same
# for a batch of any size (tests/ordercopies/test_engine.py). Each of the two event writes also
# looks for the webhooks listening (the outbox: 2).
EXPECTED_COPY_QUERIES = 26


def fresh(order_copy: OrderCopy) -> OrderCopy:
    # refresh_from_db cannot set the protected status field: read the row again instead.
    return OrderCopy.objects.select_related("target_order").get(pk=order_copy.pk)


def sku_lines(order: Order) -> list[LineItem]:
    return list(order.line_items.filter(item_type="skus").order_by("sku_code"))


def discount_lines(order: Order) -> list[LineItem]:
    return list(order.line_items.exclude(item_type="skus").order_by("item_type", "name"))


def events_of(resource: Any, name: str) -> list[Event]:
    return list(
        Event.objects.filter(resource_id=str(resource.pk), name=name).order_by("created_at")
    )


def execute_jobs(order_copy: OrderCopy) -> list[DBTaskResult]:
    return [
        job
        for job in DBTaskResult.objects.filter(task_path=EXECUTE_TASK)
        if job.args_kwargs["args"] == [order_copy.pk]
    ]


def stock_of(sku: Sku) -> int:
    return Sku.objects.values_list("stock_quantity", flat=True).get(pk=sku.pk)


def address_content(address: Address) -> dict[str, Any]:
    return {field: getattr(address, field) for field in Address.COPIED_FIELDS}


def expire_promotion(promotion: Promotion) -> None:
    now = timezone.now()
    Promotion.objects.filter(pk=promotion.pk).update(
        starts_at=now - timedelta(days=10), expires_at=now - timedelta(days=1)
    )


# --- A completed copy ---------------------------------------------------------------------------


def test_completed_copy_builds_a_target_like_the_source(make_order, run_copy, market):
    source = make_order(lines=2, quantity=3, language_code="it", country_code="IT", place=True)

    order_copy = run_copy(source)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    assert order_copy.completed_at is not None
    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0
    target = order_copy.target_order
    assert target is not None
    assert target.pk != source.pk
    assert target.number != source.number
    assert target.market_id == source.market_id == market.pk
    assert target.mode == source.mode
    assert target.customer_id == source.customer_id is not None
    assert target.customer_email == source.customer_email
    assert target.language_code == "it"
    assert target.country_code == "IT"
    assert target.currency_code == market.currency_code
    assert target.payment_method_id == source.payment_method_id is not None
    assert target.status == Order.Status.PENDING  # not placed: it has a customer and lines
    assert target.placed_at is None


def test_completed_copy_makes_new_address_rows_with_the_same_content(make_order, run_copy):
    source = make_order(
        shipping_address=factories.AddressFactory(mode="test", company="ACME", phone="+39 02 1"),
        billing_address=factories.AddressFactory(mode="test", city="Turin", zip_code="10100"),
    )
    addresses_before = Address.objects.count()

    target = run_copy(source).target_order

    assert Address.objects.count() == addresses_before + 2
    assert target.shipping_address_id not in (source.shipping_address_id, None)
    assert target.billing_address_id not in (source.billing_address_id, None)
    assert target.shipping_address_id != target.billing_address_id
    assert address_content(target.shipping_address) == address_content(source.shipping_address)
    assert address_content(target.billing_address) == address_content(source.billing_address)


def test_one_shared_address_is_copied_once_and_stays_shared(make_order, run_copy):
    shared = factories.AddressFactory(mode="test")
    source = make_order(shipping_address=shared, billing_address=shared)
    addresses_before = Address.objects.count()

    target = run_copy(source).target_order

    assert Address.objects.count() == addresses_before + 1
    assert target.shipping_address_id == target.billing_address_id
    assert target.shipping_address_id != shared.pk
    assert address_content(target.shipping_address) == address_content(shared)


def test_completed_copy_has_every_sku_line_at_the_markets_current_price(
    make_order, run_copy, market
):
    source = make_order(lines=3, quantity=2, place=True)
    first, second, third = sku_lines(source)
    LineItem.objects.filter(pk=second.pk).update(quantity=5)  # quantities differ per line
    SkuPrice.objects.filter(sku_id=first.sku_id, market=market).update(amount_cents=1750)

    target = run_copy(source).target_order

    lines = sku_lines(target)
    assert [(line.sku_id, line.sku_code, line.name, line.quantity) for line in lines] == [
        (first.sku_id, first.sku_code, first.name, 2),
        (second.sku_id, second.sku_code, second.name, 5),
        (third.sku_id, third.sku_code, third.name, 2),
    ]
    assert [(line.unit_amount_cents, line.total_amount_cents) for line in lines] == [
        (1750, 3500),
        (1000, 5000),
        (1000, 2000),
    ]
    assert {line.order_id for line in lines} == {target.pk}
    assert target.subtotal_amount_cents == 10500
    assert target.skus_count == 9
    assert target.shipping_amount_cents == market.shipping_amount_cents
    assert target.total_amount_cents == 10500 + 500 + 2200  # 20 % tax on goods and shipping
    assert [line.unit_amount_cents for line in sku_lines(source)] == [1000, 1000, 1000]


def test_copy_of_an_order_without_customer_leaves_the_target_draft(make_order, run_copy):
    source = make_order(customer_email="")

    order_copy = run_copy(source)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    assert order_copy.target_order.customer_id is None
    assert order_copy.target_order.status == Order.Status.DRAFT
    assert len(sku_lines(order_copy.target_order)) == 2


def test_completed_copy_records_create_start_and_complete_events_in_order(
    make_order, run_copy, event_names
):
    source = make_order()

    order_copy = run_copy(source)

    assert event_names(order_copy) == [
        "order_copies.create",
        "order_copies.start",
        "order_copies.complete",
    ]
    (complete,) = events_of(order_copy, "order_copies.complete")
    assert complete.payload["target_order"] == order_copy.target_order_id
    assert "orders.create" in event_names(order_copy.target_order)


def test_source_in_any_status_can_be_copied(make_order, run_copy):
    source = make_order(place=True)
    approved = order_approve(order=source)
    cancelled_source = make_order(place=True)
    order_cancel(order=cancelled_source)

    assert run_copy(approved).status == Status.COMPLETED
    assert run_copy(cancelled_source).status == Status.COMPLETED


# --- Options ------------------------------------------------------------------------------------


def test_place_target_order_places_the_target_and_takes_its_stock(make_order, run_copy):
    source = make_order(lines=2, quantity=3, place=True)
    skus = [line.sku for line in sku_lines(source)]
    stock_before = [stock_of(sku) for sku in skus]

    order_copy = run_copy(source, place_target_order=True)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    target = order_copy.target_order
    assert target.status == Order.Status.PLACED
    assert target.placed_at is not None
    assert target.payment_status == Order.PaymentStatus.AUTHORIZED
    assert [stock_of(sku) for sku in skus] == [stock - 3 for stock in stock_before]


def test_a_sku_with_exactly_the_stock_wanted_is_copied_and_placed(make_order, run_copy):
    source = make_order(lines=1, quantity=3)
    (line,) = sku_lines(source)
    Sku.objects.filter(pk=line.sku_id).update(stock_quantity=3)

    order_copy = run_copy(source, place_target_order=True)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    assert stock_of(line.sku) == 0


def test_without_place_target_order_no_stock_is_taken(make_order, run_copy):
    source = make_order(lines=1, quantity=3)
    (line,) = sku_lines(source)
    stock_before = stock_of(line.sku)

    run_copy(source)

    assert stock_of(line.sku) == stock_before


def test_reuse_wallet_copies_a_payment_source_saved_in_the_wallet(make_order, run_copy):
    source = make_order()
    assert source.payment_source.wallet_entry.customer_id == source.customer_id

    target = run_copy(source, reuse_wallet=True).target_order

    assert target.payment_source_id == source.payment_source_id


def test_reuse_wallet_is_the_default(make_order, run_copy):
    source = make_order()

    target = run_copy(source).target_order

    assert target.payment_source_id == source.payment_source_id


def test_without_reuse_wallet_the_target_has_no_payment_source(make_order, run_copy):
    source = make_order()

    order_copy = run_copy(source, reuse_wallet=False)

    assert order_copy.status == Status.COMPLETED
    assert order_copy.errors_log == {}
    assert order_copy.target_order.payment_source_id is None
    assert order_copy.target_order.payment_method_id == source.payment_method_id


def test_a_payment_source_not_in_the_wallet_is_not_copied(make_order, run_copy):
    outside = factories.PaymentSourceFactory(mode="test")
    source = make_order(payment_source=outside)
    assert not PaymentSource.objects.filter(pk=outside.pk, wallet_entry__isnull=False).exists()

    order_copy = run_copy(source, reuse_wallet=True)

    assert order_copy.status == Status.COMPLETED
    assert order_copy.errors_log == {}
    assert order_copy.target_order.payment_source_id is None


def test_cancel_source_order_cancels_the_source_and_returns_its_stock(make_order, run_copy):
    source = make_order(lines=2, quantity=4, place=True)
    skus = [line.sku for line in sku_lines(source)]
    stock_before = [stock_of(sku) for sku in skus]

    order_copy = run_copy(source, cancel_source_order=True)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    source = Order.objects.get(pk=source.pk)
    assert source.status == Order.Status.CANCELLED
    assert source.cancelled_at is not None
    assert source.payment_status == Order.PaymentStatus.VOIDED
    assert [stock_of(sku) for sku in skus] == [stock + 4 for stock in stock_before]


def test_without_cancel_source_order_the_source_is_untouched(make_order, run_copy):
    source = make_order(place=True)

    run_copy(source)

    assert Order.objects.get(pk=source.pk).status == Order.Status.PLACED


def test_a_valid_coupon_and_its_discount_line_are_copied(make_order, run_copy, coupon):
    source = make_order(lines=2, coupon_code=coupon.code)
    (source_line,) = discount_lines(source)

    target = run_copy(source).target_order

    assert target.coupon_code == coupon.code
    (line,) = discount_lines(target)
    assert (line.item_type, line.promotion_id, line.total_amount_cents) == (
        "coupons",
        coupon.promotion_id,
        source_line.total_amount_cents,
    )
    assert target.discount_amount_cents == -200


def test_without_apply_promotions_discount_lines_are_copied_frozen_even_when_expired(
    make_order, run_copy, market
):
    promotion = factories.PromotionFactory(market=market, mode="test", percentage=20)
    source = make_order(lines=2)
    (source_line,) = discount_lines(source)
    assert source_line.total_amount_cents == -400
    expire_promotion(promotion)
    factories.PromotionFactory(market=market, mode="test", percentage=5)  # new, not applied

    target = run_copy(source, apply_promotions=False).target_order

    (line,) = discount_lines(target)
    assert line.pk != source_line.pk
    assert (line.item_type, line.promotion_id, line.name) == (
        "promotions",
        promotion.pk,
        promotion.name,
    )
    assert (line.unit_amount_cents, line.total_amount_cents) == (-400, -400)
    assert target.discount_amount_cents == -400
    assert target.total_amount_cents == source.total_amount_cents


def test_apply_promotions_recomputes_discounts_for_today(make_order, run_copy, market):
    expired = factories.PromotionFactory(market=market, mode="test", percentage=20)
    source = make_order(lines=2)
    assert [line.promotion_id for line in discount_lines(source)] == [expired.pk]
    expire_promotion(expired)
    fresh_promotion = factories.PromotionFactory(
        market=market, mode="test", kind=Promotion.Kind.FIXED, amount_cents=300
    )

    target = run_copy(source, apply_promotions=True).target_order

    (line,) = discount_lines(target)
    assert (line.item_type, line.promotion_id, line.total_amount_cents) == (
        "promotions",
        fresh_promotion.pk,
        -300,
    )
    assert target.discount_amount_cents == -300


@pytest.mark.parametrize("problem", ["expired", "used_up"])
def test_ignore_invalid_coupon_drops_the_coupon_and_completes(
    make_order, run_copy, coupon, problem
):
    source = make_order(coupon_code=coupon.code)
    make_coupon_invalid(coupon, problem)

    order_copy = run_copy(source, ignore_invalid_coupon=True)

    assert order_copy.status == Status.COMPLETED
    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0
    assert order_copy.target_order.coupon_code == ""
    assert discount_lines(order_copy.target_order) == []
    assert order_copy.target_order.discount_amount_cents == 0


# --- Errors -------------------------------------------------------------------------------------


def make_coupon_invalid(coupon: Coupon, problem: str) -> None:
    if problem == "expired":
        Coupon.objects.filter(pk=coupon.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    else:
        Coupon.objects.filter(pk=coupon.pk).update(usage_limit=3, usage_count=3)


@pytest.fixture
def error_case(
    request, make_order, coupon
) -> Callable[[], tuple[Order, dict[str, bool], str, str]]:
    """(source, options, errors_log key, words of the message) for one kind of error."""

    def build() -> tuple[Order, dict[str, bool], str, str]:
        kind = request.param
        if kind in ("out_of_stock", "disabled_sku"):
            source = make_order(lines=2)
            sku = sku_lines(source)[0].sku
            if kind == "out_of_stock":
                Sku.objects.filter(pk=sku.pk).update(stock_quantity=0)
                return source, {}, "line_items", f"SKU {sku.code} is out of stock"
            Sku.objects.filter(pk=sku.pk).update(enabled=False)
            return source, {}, "line_items", f"SKU {sku.code} is disabled"
        if kind in ("expired_coupon", "used_up_coupon"):
            source = make_order(coupon_code=coupon.code)
            problem = kind.removesuffix("_coupon")
            make_coupon_invalid(coupon, problem)
            words = "has expired" if problem == "expired" else "has been used up"
            return source, {}, "coupon_code", f"coupon {coupon.code} {words}"
        if kind == "refused_placement":
            source = make_order(billing_address=None)
            return source, {"place_target_order": True}, "status", "billing address is required"
        assert kind == "refused_cancellation"
        source = make_order()  # pending: never placed, so it cannot be cancelled
        return (
            source,
            {"cancel_source_order": True},
            "source_order",
            "cannot transition from pending to cancelled",
        )

    return build


ERROR_KINDS = [
    "out_of_stock",
    "disabled_sku",
    "expired_coupon",
    "used_up_coupon",
    "refused_placement",
    "refused_cancellation",
]


@pytest.mark.parametrize("error_case", ERROR_KINDS, indirect=True)
def test_an_error_fails_the_copy_under_its_key(error_case, run_copy):
    source, options, key, words = error_case()

    order_copy = run_copy(source, **options)

    assert order_copy.status == Status.FAILED
    assert order_copy.failed_at is not None
    assert order_copy.completed_at is None
    assert order_copy.target_order is None
    assert list(order_copy.errors_log) == [key]
    (message,) = order_copy.errors_log[key]
    assert words in message
    assert order_copy.errors_count == 1


@pytest.mark.parametrize("error_case", ERROR_KINDS, indirect=True)
def test_with_skip_errors_an_error_is_logged_and_the_copy_completes(error_case, run_copy):
    source, options, key, words = error_case()
    orders_before = Order.objects.count()

    order_copy = run_copy(source, skip_errors=True, **options)

    assert order_copy.status == Status.COMPLETED
    assert order_copy.completed_at is not None
    assert order_copy.failed_at is None
    assert order_copy.target_order is not None
    assert Order.objects.count() == orders_before + 1
    assert list(order_copy.errors_log) == [key]
    (message,) = order_copy.errors_log[key]
    assert words in message
    assert order_copy.errors_count == 1
    (complete,) = events_of(order_copy, "order_copies.complete")
    assert complete.payload["errors_log"] == order_copy.errors_log


def test_with_skip_errors_a_bad_sku_line_is_left_out(make_order, run_copy):
    source = make_order(lines=3)
    bad, *good = sku_lines(source)
    Sku.objects.filter(pk=bad.sku_id).update(stock_quantity=0)

    target = run_copy(source, skip_errors=True).target_order

    assert [line.sku_id for line in sku_lines(target)] == [line.sku_id for line in good]


def test_with_skip_errors_an_invalid_coupon_is_not_carried_to_the_target(
    make_order, run_copy, coupon
):
    source = make_order(coupon_code=coupon.code)
    make_coupon_invalid(coupon, "expired")

    order_copy = run_copy(source, skip_errors=True)

    assert order_copy.errors_count == 1
    assert order_copy.target_order.coupon_code == ""
    assert discount_lines(order_copy.target_order) == []


def test_with_skip_errors_a_refused_placement_leaves_the_target_pending(make_order, run_copy):
    source = make_order(billing_address=None)

    order_copy = run_copy(source, place_target_order=True, skip_errors=True)

    assert order_copy.target_order.status == Order.Status.PENDING
    assert order_copy.errors_log == {"status": ["cannot be placed: a billing address is required"]}


def test_errors_of_several_kinds_are_all_logged_and_counted(make_order, run_copy, coupon):
    source = make_order(lines=2, coupon_code=coupon.code)
    first, second = sku_lines(source)
    Sku.objects.filter(pk=first.sku_id).update(stock_quantity=0)
    Sku.objects.filter(pk=second.sku_id).update(enabled=False)
    make_coupon_invalid(coupon, "expired")

    order_copy = run_copy(source, cancel_source_order=True)

    assert order_copy.status == Status.FAILED
    assert order_copy.errors_log == {
        "coupon_code": [f"coupon {coupon.code} has expired"],
        "line_items": [
            f"SKU {first.sku_code} is out of stock",
            f"SKU {second.sku_code} is disabled",
        ],
        "source_order": ["cannot transition from pending to cancelled"],
    }
    assert order_copy.errors_count == 4


# --- A failed copy leaves nothing behind --------------------------------------------------------


@pytest.fixture
def busy_failing_source(make_order, coupon) -> Order:
    """A placed source whose copy (placing the target, cancelling the source) gets far: it
    cancels the source and places a target with the coupon before failing on a line whose SKU
    was disabled."""
    source = make_order(lines=2, quantity=2, coupon_code=coupon.code, place=True)
    Sku.objects.filter(pk=sku_lines(source)[0].sku_id).update(enabled=False)
    return source


BUSY_OPTIONS = {"place_target_order": True, "cancel_source_order": True}


def test_a_failed_copy_leaves_the_database_as_it_was(
    busy_failing_source, run_copy, db_snapshot, coupon
):
    before = db_snapshot(busy_failing_source, coupon)

    order_copy = run_copy(busy_failing_source, **BUSY_OPTIONS)

    assert order_copy.status == Status.FAILED
    assert db_snapshot(busy_failing_source, coupon) == before
    assert order_copy.failed_at is not None
    assert order_copy.errors_count == 1
    assert order_copy.target_order_id is None
    (fail,) = events_of(order_copy, "order_copies.fail")
    assert fail.payload["errors_log"] == order_copy.errors_log
    assert fail.payload["errors_log"]["line_items"][0].endswith("is disabled")
    assert fail.payload["target_order"] is None


def test_reissuing_an_order_that_took_the_last_units_counts_the_stock_it_gives_back(
    make_order, make_sku, run_copy
):
    sku = make_sku(stock_quantity=3)
    source = make_order(lines=0)
    order_services.order_line_item_add(order=source, sku=sku, quantity=3)
    source = order_services.order_place(order=source)
    assert Sku.objects.get(pk=sku.pk).stock_quantity == 0

    order_copy = run_copy(source, **BUSY_OPTIONS)

    assert order_copy.status == Status.COMPLETED, order_copy.errors_log
    assert order_copy.target_order.status == Order.Status.PLACED
    assert Order.objects.get(pk=source.pk).status == Order.Status.CANCELLED
    assert Sku.objects.get(pk=sku.pk).stock_quantity == 0


def test_the_same_copy_with_skip_errors_does_change_the_database(
    busy_failing_source, run_copy, db_snapshot, coupon
):
    # The control for the test above: the attempt really does write all that it rolls back.
    before = db_snapshot(busy_failing_source, coupon)

    order_copy = run_copy(busy_failing_source, skip_errors=True, **BUSY_OPTIONS)

    after = db_snapshot(busy_failing_source, coupon)
    assert order_copy.status == Status.COMPLETED
    assert after["orders"] == before["orders"] + 1
    assert after["line_items"] > before["line_items"]
    assert after["addresses"] == before["addresses"] + 2
    assert after["source"][0] == Order.Status.CANCELLED
    assert after["stock"] != before["stock"]
    assert after["coupon_usage"] == before["coupon_usage"] + 1


# --- Retry, abort, delete -----------------------------------------------------------------------


@pytest.fixture
def failed_copy(make_order, run_copy) -> OrderCopy:
    source = make_order(lines=1)
    Sku.objects.filter(pk=sku_lines(source)[0].sku_id).update(stock_quantity=0)
    order_copy = run_copy(source)
    assert order_copy.status == Status.FAILED
    return order_copy


def test_retry_sends_a_failed_copy_back_to_pending_keeping_its_errors_in_the_event(failed_copy):
    previous = failed_copy.errors_log
    jobs_before = len(execute_jobs(failed_copy))

    retried = services.order_copy_retry(order_copy=failed_copy)

    stored = fresh(retried)
    assert stored.status == Status.PENDING
    assert stored.errors_log == {}
    assert stored.errors_count == 0
    assert stored.failed_at is None
    (retry,) = events_of(failed_copy, "order_copies.retry")
    assert retry.payload["previous_errors"] == previous
    assert previous["line_items"]
    assert len(execute_jobs(failed_copy)) == jobs_before + 1


def test_a_retried_copy_runs_again_and_completes_once_the_problem_is_fixed(
    failed_copy, event_names
):
    services.order_copy_retry(order_copy=failed_copy)
    Sku.objects.filter(line_items__order=failed_copy.source_order_id).update(stock_quantity=10)

    done = services.order_copy_execute(order_copy_id=failed_copy.pk)

    assert done.status == Status.COMPLETED
    stored = fresh(failed_copy)
    assert stored.attempts == 2
    assert stored.target_order is not None
    assert stored.errors_log == {}
    assert event_names(failed_copy) == [
        "order_copies.create",
        "order_copies.start",
        "order_copies.fail",
        "order_copies.retry",
        "order_copies.start",
        "order_copies.complete",
    ]


def test_an_aborted_copy_can_be_retried(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_abort(order_copy=order_copy)

    services.order_copy_retry(order_copy=order_copy)

    assert fresh(order_copy).status == Status.PENDING
    assert services.order_copy_execute(order_copy_id=order_copy.pk).status == Status.COMPLETED


@pytest.mark.parametrize("end", ["completed", "pending"])
def test_only_failed_or_aborted_copies_can_be_retried(make_order, run_copy, end):
    source = make_order()
    if end == "completed":
        order_copy = run_copy(source)
    else:
        order_copy = services.order_copy_create(source_order=source, mode="test")

    with pytest.raises(CopyNotRetryable, match=f"this one is {end}"):
        services.order_copy_retry(order_copy=order_copy)

    assert fresh(order_copy).status == end
    assert events_of(order_copy, "order_copies.retry") == []


def test_abort_stops_a_pending_copy(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")

    services.order_copy_abort(order_copy=order_copy)

    assert fresh(order_copy).status == Status.ABORTED
    assert len(events_of(order_copy, "order_copies.abort")) == 1


@pytest.mark.parametrize("claimed", [False, True], ids=["completed", "in_progress"])
def test_only_pending_copies_can_be_aborted(make_order, run_copy, claimed):
    source = make_order()
    if claimed:
        order_copy = services.order_copy_create(source_order=source, mode="test")
        services.order_copy_claim(order_copy_id=order_copy.pk)
    else:
        order_copy = run_copy(source)
    status = fresh(order_copy).status

    with pytest.raises(CopyNotAbortable):
        services.order_copy_abort(order_copy=order_copy)

    assert fresh(order_copy).status == status
    assert events_of(order_copy, "order_copies.abort") == []


def test_executing_an_aborted_copy_does_nothing(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_abort(order_copy=order_copy)
    orders_before = Order.objects.count()

    assert services.order_copy_execute(order_copy_id=order_copy.pk) is None

    stored = fresh(order_copy)
    assert stored.status == Status.ABORTED
    assert stored.attempts == 0
    assert Order.objects.count() == orders_before


def test_delete_refuses_a_copy_in_progress(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)

    with pytest.raises(CopyNotDeletable):
        services.order_copy_delete(order_copy=order_copy)

    assert fresh(order_copy).status == Status.IN_PROGRESS


def test_delete_removes_an_ended_copy_and_records_it(make_order, run_copy):
    order_copy = run_copy(make_order())

    services.order_copy_delete(order_copy=order_copy)

    assert not OrderCopy.objects.filter(pk=order_copy.pk).exists()
    assert len(events_of(order_copy, "order_copies.destroy")) == 1


# --- Create: mode, exactly once, the job --------------------------------------------------------


@pytest.mark.parametrize("by_id", [False, True], ids=["order", "id"])
def test_a_source_order_of_the_other_mode_does_not_exist(db, by_id):
    live_market = factories.MarketFactory(mode="live", code="eu")
    live_order = factories.OrderFactory(market=live_market, mode="live")

    with pytest.raises(SourceOrderNotFound, match=live_order.pk):
        services.order_copy_create(source_order=live_order.pk if by_id else live_order, mode="test")

    assert not OrderCopy.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert not Event.objects.filter(name__startswith="order_copies.").exists()


def test_a_copy_runs_exactly_once(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    orders_before = Order.objects.count()

    first = services.order_copy_execute(order_copy_id=order_copy.pk)
    second = services.order_copy_execute(order_copy_id=order_copy.pk)

    assert first is not None and first.status == Status.COMPLETED
    assert second is None
    assert Order.objects.count() == orders_before + 1
    assert fresh(order_copy).attempts == 1
    assert len(events_of(order_copy, "order_copies.start")) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_copy_run_it_once(postgres, make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    orders_before = Order.objects.count()
    start = threading.Barrier(2)
    results: list[str | None] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            ended = services.order_copy_execute(order_copy_id=order_copy.pk)
            results.append(ended.status if ended else None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=str) == [None, Status.COMPLETED]  # one ran it, one found nothing
    assert Order.objects.count() == orders_before + 1
    assert fresh(order_copy).attempts == 1


def test_create_queues_the_job_in_the_same_transaction(
    make_order, django_capture_on_commit_callbacks
):
    source = make_order()

    with django_capture_on_commit_callbacks() as callbacks:
        order_copy = services.order_copy_create(source_order=source, mode="test")
        jobs = execute_jobs(order_copy)

    assert len(jobs) == 1
    assert jobs[0].args_kwargs == {"args": [order_copy.pk], "kwargs": {}}
    assert jobs[0].status == "READY"
    assert callbacks == []  # written with the copy, not deferred to a commit hook


def test_a_rolled_back_create_leaves_neither_copy_nor_job(make_order):
    source = make_order()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.order_copy_create(source_order=source, mode="test")
        raise RuntimeError("the caller's transaction fails")

    assert not OrderCopy.objects.exists()
    assert not DBTaskResult.objects.filter(task_path=EXECUTE_TASK).exists()


def test_create_stores_a_pending_copy_with_its_options_and_a_create_event(make_order):
    source = make_order()

    order_copy = services.order_copy_create(
        source_order=source, mode="test", place_target_order=True, skip_errors=True
    )

    stored = fresh(order_copy)
    assert stored.status == Status.PENDING
    assert stored.source_order_id == source.pk
    assert (stored.place_target_order, stored.skip_errors, stored.reuse_wallet) == (
        True,
        True,
        True,
    )
    (create,) = events_of(order_copy, "order_copies.create")
    assert create.payload == {"source_order": source.pk, "options": stored.options()}


def test_create_refuses_an_unknown_option(make_order):
    with pytest.raises(TypeError, match="place_order"):
        services.order_copy_create(source_order=make_order(), mode="test", place_order=True)

    assert not OrderCopy.objects.exists()


# --- Recovery of lost copies --------------------------------------------------------------------


def test_a_lost_copy_is_requeued_and_then_completes(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)  # the worker dies after its claim
    jobs_before = len(execute_jobs(order_copy))

    done = services.order_copy_recover_lost()

    assert done == {"requeued": [order_copy.pk], "aborted": []}
    stored = fresh(order_copy)
    assert stored.status == Status.PENDING
    assert stored.attempts == 1
    (recover,) = events_of(order_copy, "order_copies.recover")
    assert recover.payload == {"attempts": 1, "lost": True}
    assert len(execute_jobs(order_copy)) == jobs_before + 1
    executed = services.order_copy_execute(order_copy_id=order_copy.pk)
    assert executed.status == Status.COMPLETED
    assert executed.attempts == 2


def test_a_copy_lost_at_the_attempt_limit_is_aborted_with_the_reason(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)

    done = services.order_copy_recover_lost(max_attempts=1)

    assert done == {"requeued": [], "aborted": [order_copy.pk]}
    stored = fresh(order_copy)
    assert stored.status == Status.ABORTED
    assert stored.errors_log == {"base": ["the worker running this copy was lost 1 time; aborted"]}
    assert stored.errors_count == 1
    (abort,) = events_of(order_copy, "order_copies.abort")
    assert abort.payload["lost"] is True
    assert services.order_copy_execute(order_copy_id=order_copy.pk) is None


def test_a_copy_lost_again_and_again_is_aborted_at_the_configured_limit(make_order, settings):
    settings.ORDER_COPY_MAX_ATTEMPTS = 3
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    outcomes = []

    for _ in range(3):
        services.order_copy_claim(order_copy_id=order_copy.pk)
        done = services.order_copy_recover_lost()
        outcomes.append("aborted" if done["aborted"] else "requeued")

    assert outcomes == ["requeued", "requeued", "aborted"]
    stored = fresh(order_copy)
    assert stored.status == Status.ABORTED
    assert stored.attempts == 3
    assert "lost 3 times" in stored.errors_log["base"][0]
    assert len(events_of(order_copy, "order_copies.recover")) == 2


def test_recovery_leaves_pending_and_ended_copies_alone(make_order, run_copy):
    pending = services.order_copy_create(source_order=make_order(), mode="test")
    completed = run_copy(make_order())

    assert services.order_copy_recover_lost() == {"requeued": [], "aborted": []}

    assert fresh(pending).status == Status.PENDING
    assert fresh(completed).status == Status.COMPLETED


@contextmanager
def worker_holding(order_copy: OrderCopy) -> Iterator[None]:
    """Another connection holds the copy's row lock, as a live worker running it does."""
    locked, release = threading.Event(), threading.Event()

    def live_worker() -> None:
        try:
            with transaction.atomic():
                OrderCopy.objects.select_for_update().get(pk=order_copy.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    worker = threading.Thread(target=live_worker)
    worker.start()
    try:
        assert locked.wait(timeout=10), "the worker thread did not take the lock"
        yield
    finally:
        release.set()
        worker.join()


@pytest.mark.django_db(transaction=True)
def test_recovery_leaves_a_copy_whose_worker_is_alive(postgres, make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)

    with worker_holding(order_copy):
        done = services.order_copy_recover_lost()

    assert done == {"requeued": [], "aborted": []}
    assert fresh(order_copy).status == Status.IN_PROGRESS
    assert events_of(order_copy, "order_copies.recover") == []


@pytest.mark.django_db(transaction=True)
def test_abort_refuses_a_copy_a_worker_is_running(postgres, make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")

    with worker_holding(order_copy), pytest.raises(CopyNotAbortable, match="running now"):
        services.order_copy_abort(order_copy=order_copy)

    assert fresh(order_copy).status == Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_delete_refuses_a_copy_a_worker_is_running_with_copy_not_deletable(postgres, make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)

    with worker_holding(order_copy), pytest.raises(CopyNotDeletable):
        services.order_copy_delete(order_copy=order_copy)

    assert OrderCopy.objects.filter(pk=order_copy.pk).exists()


# --- Unexpected errors --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_fails_the_copy_with_an_incident_id_and_leaves_nothing(
    make_order, monkeypatch, caplog
):
    source = make_order()
    real_run = running.copies_run

    def create_then_crash(*args: Any, **kwargs: Any) -> Any:
        real_run(*args, **kwargs)  # the target is written before the crash, and must not remain
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(running, "copies_run", create_then_crash)
    order_copy = services.order_copy_create(source_order=source, mode="test")
    counts_before = (Order.objects.count(), LineItem.objects.count(), Address.objects.count())

    with caplog.at_level("ERROR", logger="ordercopies.services"):
        ended = services.order_copy_execute(order_copy_id=order_copy.pk)

    assert ended is not None
    stored = fresh(order_copy)
    assert stored.status == Status.FAILED
    assert stored.failed_at is not None
    assert list(stored.errors_log) == ["base"]
    (message,) = stored.errors_log["base"]
    incident = re.search(r"incident ([0-9a-f]{12})\b", message)
    assert incident, message
    assert "Traceback" not in message
    assert "secret internal detail" not in message
    assert "RuntimeError" not in message
    assert stored.errors_count == 1
    assert (Order.objects.count(), LineItem.objects.count(), Address.objects.count()) == (
        counts_before
    )
    assert stored.target_order_id is None
    logged = [r for r in caplog.records if incident.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log instead
    (fail,) = events_of(order_copy, "order_copies.fail")
    assert fail.payload["errors_log"] == stored.errors_log


def test_an_unexpected_error_fails_the_copy_inside_a_callers_transaction(make_order, monkeypatch):
    # The default pytest-django `db` fixture runs each test inside a transaction, as any caller
    # holding a transaction (an atomic request, a wrapping service) would.
    source = make_order()

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(running, "copies_run", crash)
    order_copy = services.order_copy_create(source_order=source, mode="test")

    services.order_copy_execute(order_copy_id=order_copy.pk)

    assert fresh(order_copy).status == Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_transient_database_error_is_retried_and_the_copy_completes(make_order, monkeypatch):
    source = make_order()
    real_run = running.copies_run
    calls = []

    def flaky_create(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            real_run(*args, **kwargs)
            raise OperationalError("server closed the connection unexpectedly")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(running, "copies_run", flaky_create)
    monkeypatch.setattr(services.time, "sleep", lambda seconds: None)
    order_copy = services.order_copy_create(source_order=source, mode="test")
    orders_before = Order.objects.count()

    ended = services.order_copy_execute(order_copy_id=order_copy.pk)

    assert ended.status == Status.COMPLETED
    assert len(calls) == 2
    assert Order.objects.count() == orders_before + 1  # the first attempt's target rolled back
    assert fresh(order_copy).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_persisting_database_error_fails_the_copy_after_the_retries(
    make_order, monkeypatch, settings
):
    settings.ORDER_COPY_TRANSIENT_RETRIES = 2
    source = make_order()
    calls = []

    def broken_create(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(running, "copies_run", broken_create)
    monkeypatch.setattr(services.time, "sleep", lambda seconds: None)
    order_copy = services.order_copy_create(source_order=source, mode="test")

    services.order_copy_execute(order_copy_id=order_copy.pk)

    stored = fresh(order_copy)
    assert len(calls) == 3
    assert stored.status == Status.FAILED
    (message,) = stored.errors_log["base"]
    assert message.startswith("a database error persisted")
    assert re.search(r"incident [0-9a-f]{12}", message)
    assert "could not connect" not in message


# --- Queries ------------------------------------------------------------------------------------


def test_a_copy_takes_the_same_number_of_queries_whatever_its_number_of_lines(
    make_order, coupon, django_assert_num_queries
):
    small = make_order(lines=1, coupon_code=coupon.code)
    large = make_order(lines=50, coupon_code=coupon.code)
    small_copy, large_copy, pinned_copy = (
        services.order_copy_create(source_order=source, mode="test", place_target_order=True)
        for source in (small, large, large)
    )

    with CaptureQueriesContext(connection) as small_queries:
        services.order_copy_execute(order_copy_id=small_copy.pk)
    with CaptureQueriesContext(connection) as large_queries:
        services.order_copy_execute(order_copy_id=large_copy.pk)

    assert fresh(small_copy).target_order.status == Order.Status.PLACED
    assert fresh(large_copy).target_order.status == Order.Status.PLACED
    assert fresh(large_copy).target_order.coupon_code == coupon.code
    assert len(sku_lines(fresh(large_copy).target_order)) == 50
    assert len(small_queries) == len(large_queries), (
        f"1 line: {len(small_queries)} queries, 50 lines: {len(large_queries)} queries"
    )
    with django_assert_num_queries(
        EXPECTED_COPY_QUERIES,
        info=f"a 50-line copy took {len(large_queries)} queries in the first measure",
    ):
        services.order_copy_execute(order_copy_id=pinned_copy.pk)


def test_the_lost_worker_limit_counts_from_the_last_retry(failed_copy, settings):
    settings.ORDER_COPY_MAX_ATTEMPTS = 2
    services.order_copy_retry(order_copy=failed_copy)
    services.order_copy_claim(order_copy_id=failed_copy.pk)  # attempt 2, then its worker is lost

    first = services.order_copy_recover_lost()
    services.order_copy_claim(order_copy_id=failed_copy.pk)  # attempt 3, lost again
    second = services.order_copy_recover_lost()

    assert first == {"requeued": [failed_copy.pk], "aborted": []}
    assert second == {"requeued": [], "aborted": [failed_copy.pk]}
    stored = fresh(failed_copy)
    # Both lost runs count: the one that aborted it too (its message says 2).
    assert (stored.status, stored.attempts, stored.lost_runs) == (Status.ABORTED, 3, 2)
    assert "lost 2 times" in stored.errors_log["base"][0]


def test_a_pending_copy_whose_job_was_lost_is_queued_again(make_order):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    # Its worker took the job, then died before it claimed the copy.
    DBTaskResult.objects.filter(args_kwargs__args=[order_copy.pk]).update(status="RUNNING")

    done = services.order_copy_recover_lost()

    assert done == {"requeued": [order_copy.pk], "aborted": []}
    waiting = DBTaskResult.objects.filter(status="READY", args_kwargs__args=[order_copy.pk])
    assert waiting.count() == 1
    assert services.order_copy_recover_lost() == {"requeued": [], "aborted": []}
    assert services.order_copy_execute(order_copy_id=order_copy.pk).status == Status.COMPLETED


# --- Faults: vanished copies, swallowed errors, what the sweep may touch -----------------------


def test_the_end_is_logged_with_the_number_of_error_messages(make_order, run_copy, caplog):
    source = make_order(lines=4)
    Sku.objects.filter(line_items__order=source).update(stock_quantity=0)

    with caplog.at_level("INFO", logger="ordercopies.services"):
        order_copy = run_copy(source, place_target_order=True)

    assert order_copy.status == Status.FAILED
    messages = sum(len(reasons) for reasons in order_copy.errors_log.values())
    assert order_copy.errors_count == messages
    assert messages > len(order_copy.errors_log)  # more messages than keys: count messages
    assert f"order copy {order_copy.pk} failed with {messages} errors" in caplog.messages


def test_a_completed_copy_is_logged_without_an_error_count(make_order, run_copy, caplog):
    with caplog.at_level("INFO", logger="ordercopies.services"):
        order_copy = run_copy(make_order())
    assert f"order copy {order_copy.pk} completed" in caplog.messages


def test_services_plural_counts():
    assert services.plural(1, "error") == "1 error"
    assert services.plural(4, "error") == "4 errors"
    assert services.plural(0, "copy", "copies") == "0 copies"


def _blocked_in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `call` on a connection of its own; the result (or exception) lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_for_a_lock_waiter(timeout: float = 10) -> None:
    with psycopg_connection() as watcher:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    pytest.fail("no session came to wait for a lock")


def psycopg_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        dbname=s["NAME"],
        autocommit=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_retry_of_a_copy_deleted_meanwhile_is_refused_as_not_found(postgres, failed_copy):
    jobs_before = len(execute_jobs(failed_copy))
    with psycopg_connection() as other_request:
        other_request.execute("BEGIN")
        other_request.execute(
            "SELECT id FROM ordercopies_ordercopy WHERE id = %s FOR UPDATE", [failed_copy.pk]
        )
        other_request.execute("DELETE FROM ordercopies_ordercopy WHERE id = %s", [failed_copy.pk])
        thread, outcome = _blocked_in_thread(
            lambda: services.order_copy_retry(order_copy=failed_copy)
        )
        _wait_for_a_lock_waiter()
        other_request.execute("COMMIT")
        thread.join(timeout=10)

    assert isinstance(outcome.get("error"), CopyNotFound), outcome
    assert outcome["error"].errors == {
        "base": [f"order copy {failed_copy.pk} no longer exists: another request deleted it"]
    }
    assert not OrderCopy.objects.filter(pk=failed_copy.pk).exists()
    assert events_of(failed_copy, "order_copies.retry") == []
    assert len(execute_jobs(failed_copy)) == jobs_before


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deletes_of_one_copy_refuse_the_second_cleanly(postgres, failed_copy):
    with psycopg_connection() as other_request:
        other_request.execute("BEGIN")
        other_request.execute("DELETE FROM ordercopies_ordercopy WHERE id = %s", [failed_copy.pk])
        # While the first delete holds the row: busy, at once (423 in the API).
        with pytest.raises(CopyNotDeletable):
            services.order_copy_delete(order_copy=failed_copy)
        other_request.execute("COMMIT")

    with pytest.raises(CopyNotFound):
        services.order_copy_delete(order_copy=failed_copy)
    with pytest.raises(CopyNotFound):
        services.order_copy_update(order_copy=failed_copy, reference="late")
    assert events_of(failed_copy, "order_copies.destroy") == []


@pytest.mark.django_db(transaction=True)
def test_a_claim_waits_for_a_short_lock_on_a_pending_copy_instead_of_dropping_it(
    postgres, make_order
):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    with psycopg_connection() as other_request:
        other_request.execute("BEGIN")
        other_request.execute(
            "SELECT id FROM ordercopies_ordercopy WHERE id = %s FOR UPDATE", [order_copy.pk]
        )
        thread, outcome = _blocked_in_thread(
            lambda: services.order_copy_execute(order_copy_id=order_copy.pk)
        )
        _wait_for_a_lock_waiter()
        other_request.execute("COMMIT")
        thread.join(timeout=30)

    assert outcome.get("result") is not None, outcome
    assert outcome["result"].status == Status.COMPLETED
    assert fresh(order_copy).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweep_locks_no_pending_copy(postgres, make_order):
    pending = services.order_copy_create_many(source_orders=[make_order()] * 3, mode="test")

    with CaptureQueriesContext(connection) as queries:
        assert services.order_copy_recover_lost() == {"requeued": [], "aborted": []}

    copy_locks = [
        query["sql"]
        for query in queries.captured_queries
        if "FOR UPDATE" in query["sql"] and '"ordercopies_ordercopy"' in query["sql"]
    ]
    assert copy_locks and all("'in_progress'" in sql for sql in copy_locks), copy_locks
    for order_copy in pending:
        assert services.order_copy_execute(order_copy_id=order_copy.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_a_claimed_copy_of_a_live_worker_is_not_lost_until_the_worker_dies(postgres, make_order):
    """Between the claim's commit and the run's row lock (or while a database error is waited
    out) only the job's worker lock says the copy has a live worker."""
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    (job,) = execute_jobs(order_copy)
    DBTaskResult.objects.filter(pk=job.pk).update(status="RUNNING", worker_ids=["worker-1"])
    services.order_copy_claim(order_copy_id=order_copy.pk)

    with psycopg_connection() as worker:
        worker.execute(
            "SELECT pg_advisory_lock_shared(%s, hashtext(%s))", [services.WORKER_LOCK, "worker-1"]
        )
        assert services.order_copy_recover_lost() == {"requeued": [], "aborted": []}
        assert fresh(order_copy).status == Status.IN_PROGRESS
        assert DBTaskResult.objects.get(pk=job.pk).status == "RUNNING"

    # The worker's connection is gone: so is its lock, and the copy is lost.
    assert services.order_copy_recover_lost() == {"requeued": [order_copy.pk], "aborted": []}
    dead = DBTaskResult.objects.get(pk=job.pk)
    assert (dead.status, dead.exception_class_path) == (
        "FAILED",
        "ordercopies.exceptions.WorkerLost",
    )
    assert fresh(order_copy).status == Status.PENDING
    assert services.order_copy_execute(order_copy_id=order_copy.pk).status == Status.COMPLETED


def test_an_aborted_copy_counts_the_lost_run_that_aborted_it(make_order, settings):
    settings.ORDER_COPY_MAX_ATTEMPTS = 1
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=order_copy.pk)

    services.order_copy_recover_lost()

    stored = fresh(order_copy)
    assert (stored.status, stored.lost_runs) == (Status.ABORTED, 1)
    assert stored.errors_log == {"base": ["the worker running this copy was lost 1 time; aborted"]}


def test_a_database_error_a_receiver_swallowed_is_retried_not_reported_as_an_end(
    make_order, caplog
):
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    calls: list[bool] = []

    def swallowing(sender: Any, **kwargs: Any) -> None:
        if not calls:  # the first time only: catch a database error, as a careless receiver
            calls.append(True)
            try:
                with transaction.atomic():
                    raise OperationalError("server closed the connection unexpectedly")
            except OperationalError:
                transaction.set_rollback(True)

    order_copies_ended.connect(swallowing)
    try:
        with caplog.at_level("INFO", logger="ordercopies.services"):
            ended = services.order_copy_execute(order_copy_id=order_copy.pk)
    finally:
        order_copies_ended.disconnect(swallowing)

    assert ended is not None and ended.status == Status.COMPLETED
    assert fresh(order_copy).attempts == 1
    assert len(events_of(order_copy, "order_copies.complete")) == 1
    assert caplog.messages.count(f"order copy {order_copy.pk} completed") == 1
    assert any("marked for rollback" in message for message in caplog.messages)
