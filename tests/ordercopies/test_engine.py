"""The batched copy engine (ordercopies/engine): a batch gives exactly what the same copies
run one at a time give; a failing copy leaves nothing and does not affect the others; copies
in concurrent batches share the last units and a coupon's last uses first come, first served;
the queries of a batch grow neither with its size nor with the lines of its orders."""

import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events.models import Event
from ordercopies import services
from ordercopies.models import OrderCopy
from ordercopies.options import CopyOptions
from orders import services as order_services
from orders.models import Address, Coupon, LineItem, Order, Sku, SkuPrice
from tests import factories

Status = OrderCopy.Status
OPTION_SETS = [
    dict(zip(CopyOptions.names(), values, strict=True))
    for values in itertools.product([False, True], repeat=len(CopyOptions.names()))
]
# A batch of copies that place their targets with a coupon, of any size (test_services.py
# explains the count; the pinned single copy there is this same batch of one).
EXPECTED_BATCH_QUERIES = 26  # 24, and the webhooks listening to the two event writes
# A plan: the sources' mode check, then the engine's reads without locks (sources, lines,
# SKUs, prices, wallet, coupons, promotions).
EXPECTED_PLAN_QUERIES = 8


def _label(options: dict[str, bool]) -> str:
    return ",".join(name for name, on in options.items() if on) or "defaults"


@pytest.fixture
def sources(make_order, make_sku, market, coupon) -> list[Order]:
    """Sources that meet what a copy can meet, some of them twice, in one batch: a placed order
    with a valid coupon and its discount line; a repriced SKU; a disabled SKU; a SKU with one
    unit left wanted by two copies; an expired coupon; an order without payment method; a draft
    without customer."""
    scarce = make_sku(stock_quantity=1)
    with_coupon = make_order(lines=2, coupon_code=coupon.code, place=True)
    repriced = make_order(lines=2, place=True)
    SkuPrice.objects.filter(sku__line_items__order=repriced).update(amount_cents=1500)
    disabled = make_order(lines=2)
    Sku.objects.filter(pk=disabled.line_items.first().sku_id).update(enabled=False)
    competing = [make_order(lines=1) for _ in range(2)]
    for order in competing:
        order_services.order_line_item_add(order=order, sku=scarce, quantity=1)
    expired = factories.CouponFactory(
        promotion=factories.PromotionFactory(market=market, requires_coupon=True, percentage=5),
        code="OLD5",
        usage_limit=1,
    )
    used_up = make_order(lines=1, coupon_code=expired.code)
    Coupon.objects.filter(pk=expired.pk).update(usage_count=1)
    unpaid = make_order(lines=1, payment_method=None, payment_source=None)
    guest = order_services.order_create(market=market)
    order_services.order_line_item_add(order=guest, sku=make_sku(), quantity=2)
    return [with_coupon, repriced, disabled, *competing, used_up, unpaid, guest, with_coupon]


def _run(sources: list[Order], options: dict[str, bool], *, batched: bool) -> dict[str, Any]:
    """Copy the sources (one copy each, in order), observe everything, and roll it all back."""
    with transaction.atomic():
        copies = [
            services.order_copy_create(source_order=source, mode="test", **options)
            for source in sources
        ]
        if batched:
            services.order_copy_execute_many(order_copy_ids=[copy.pk for copy in copies])
        else:
            for copy in copies:
                services.order_copy_execute(order_copy_id=copy.pk)
        observed = _observe(copies, sources)
        transaction.set_rollback(True)
    return observed


def _observe(copies: list[OrderCopy], sources: list[Order]) -> dict[str, Any]:
    ended = OrderCopy.objects.select_related("target_order").in_bulk([c.pk for c in copies])
    skus = Sku.objects.filter(line_items__order__in=sources).distinct()
    return {
        "copies": [_copy_seen(ended[copy.pk]) for copy in copies],
        "stock": dict(skus.values_list("code", "stock_quantity")),
        "coupons": dict(Coupon.objects.values_list("code", "usage_count")),
        "sources": [
            Order.objects.values_list("status", "payment_status").get(pk=source.pk)
            for source in sources
        ],
    }


def _copy_seen(copy: OrderCopy) -> dict[str, Any]:
    target = copy.target_order
    return {
        "status": copy.status,
        "errors_log": copy.errors_log,
        "errors_count": copy.errors_count,
        "events": _events(copy.pk),
        "target": _target_seen(target) if target else None,
    }


def _target_seen(target: Order) -> dict[str, Any]:
    fields = [
        "status", "payment_status", "fulfillment_status", "coupon_code", "customer_id",
        "customer_email", "payment_method_id", "payment_source_id", "currency_code",
        "subtotal_amount_cents", "discount_amount_cents", "shipping_amount_cents",
        "total_tax_amount_cents", "total_amount_cents", "skus_count",
    ]  # fmt: skip
    lines = target.line_items.order_by("item_type", "sku_code", "name")
    return {
        **{name: getattr(target, name) for name in fields},
        "lines": list(
            lines.values_list(
                "item_type",
                "sku_code",
                "name",
                "quantity",
                "unit_amount_cents",
                "total_amount_cents",
                "promotion_id",
            )  # fmt: skip
        ),
        "addresses": [_address(target.shipping_address), _address(target.billing_address)],
        "shared_address": target.shipping_address_id == target.billing_address_id,
        "events": _events(target.pk),
    }


def _address(address: Address | None) -> dict[str, Any] | None:
    return {f: getattr(address, f) for f in Address.COPIED_FIELDS} if address else None


def _events(resource_id: str) -> list[tuple[str, dict[str, Any]]]:
    def stable(payload: dict[str, Any]) -> dict[str, Any]:
        # Numbers and new ids differ from one run to the other; whether they are set does not.
        return {
            k: (v is not None) if k in ("number", "target_order", "order_copy") else v
            for k, v in payload.items()
        }

    events = Event.objects.filter(resource_id=resource_id).order_by("created_at", "id")
    return [(event.name, stable(event.payload)) for event in events]


@pytest.mark.parametrize("options", OPTION_SETS, ids=_label)
def test_a_batch_copies_exactly_as_batches_of_one_and_as_its_plan_said(sources, options):
    plans = services.order_copy_plan_many(
        source_orders=sources, mode="test", options=CopyOptions(**options)
    )
    batched = _run(sources, options, batched=True)
    one_at_a_time = _run(sources, options, batched=False)

    assert batched == one_at_a_time
    assert {copy["status"] for copy in batched["copies"]} <= {"completed", "failed"}
    assert [_as_planned(copy) for copy in batched["copies"]] == [_planned(p) for p in plans]


def _as_planned(copy: dict[str, Any]) -> dict[str, Any]:
    """What a plan says of a copy, read from the copy as it ended."""
    target = copy["target"]
    seen: dict[str, Any] = {"status": copy["status"], "errors_log": copy["errors_log"]}
    if target is not None:
        seen["target"] = {name: target[name] for name in PLANNED_TARGET_FIELDS}
        seen["payment"] = (target["payment_method_id"], target["payment_source_id"])
        seen["lines"] = sorted(
            (line[0], line[1], line[3], line[4]) for line in target["lines"] if line[0] == "skus"
        )
    return seen


PLANNED_TARGET_FIELDS = [
    "status", "payment_status", "fulfillment_status", "coupon_code", "currency_code",
    "subtotal_amount_cents", "discount_amount_cents", "shipping_amount_cents",
    "total_tax_amount_cents", "total_amount_cents", "skus_count",
]  # fmt: skip


def _planned(plan: dict[str, Any]) -> dict[str, Any]:
    said: dict[str, Any] = {"status": plan["status"], "errors_log": plan["errors_log"]}
    if plan["target_order"] is not None:
        said["target"] = {name: plan["target_order"][name] for name in PLANNED_TARGET_FIELDS}
        payment = plan["payment"]
        said["payment"] = (payment["payment_method"], payment["payment_source"])
        said["lines"] = sorted(
            (line["item_type"], line["sku_code"], line["quantity"], line["unit_amount_cents_after"])
            for line in plan["line_items"]
            if line["item_type"] == "skus" and line["outcome"] in ("copied", "repriced")
        )
    return said


def test_a_plan_writes_nothing_and_takes_the_same_queries_whatever_the_lines(
    make_order, coupon, django_assert_num_queries
):
    short = make_order(lines=1, coupon_code=coupon.code, place=True)
    long = make_order(lines=30, coupon_code=coupon.code, place=True)
    everything = CopyOptions(
        place_target_order=True, cancel_source_order=True, apply_promotions=True
    )
    tables = (Order, LineItem, Address, Event, OrderCopy, Coupon)
    before = [model.objects.count() for model in tables]
    stock = dict(Sku.objects.values_list("pk", "stock_quantity"))

    with django_assert_num_queries(EXPECTED_PLAN_QUERIES):
        short_plan = services.order_copy_plan(source_order=short, mode="test", options=everything)
    with django_assert_num_queries(EXPECTED_PLAN_QUERIES):
        long_plan = services.order_copy_plan(source_order=long, mode="test", options=everything)

    assert [model.objects.count() for model in tables] == before
    assert dict(Sku.objects.values_list("pk", "stock_quantity")) == stock
    assert Coupon.objects.get(pk=coupon.pk).usage_count == 2  # the sources' placements only
    assert Order.objects.get(pk=long.pk).status == Order.Status.PLACED
    assert short_plan["placement"]["passes"] and short_plan["source_cancellation"]["passes"]
    assert long_plan["status"] == "completed"
    assert len([line for line in long_plan["line_items"] if line["item_type"] == "skus"]) == 30
    assert long_plan["coupon"] == {"code": coupon.code, "outcome": "kept", "reason": ""}
    json.dumps(long_plan)  # JSON-serialisable as it is


def test_a_plan_tells_each_line_copied_repriced_or_left_out_and_why(make_order, make_sku):
    source = make_order(lines=3)
    first, second, third = source.line_items.order_by("sku_code")
    SkuPrice.objects.filter(sku_id=second.sku_id).update(amount_cents=1250)
    Sku.objects.filter(pk=third.sku_id).update(enabled=False)

    plan = services.order_copy_plan(
        source_order=source, mode="test", options=CopyOptions(skip_errors=True)
    )

    by_code = {line["sku_code"]: line for line in plan["line_items"]}
    assert by_code[first.sku_code]["outcome"] == "copied"
    repriced = by_code[second.sku_code]
    assert (
        repriced["outcome"],
        repriced["unit_amount_cents_before"],
        repriced["unit_amount_cents_after"],
    ) == ("repriced", 1000, 1250)
    assert by_code[third.sku_code]["outcome"] == "left_out"
    assert by_code[third.sku_code]["reason"] == f"SKU {third.sku_code} is disabled"
    assert plan["status"] == "completed"
    assert plan["errors_log"] == {"line_items": [f"SKU {third.sku_code} is disabled"]}


def test_a_plan_of_an_order_of_the_other_mode_is_refused(make_order):
    from ordercopies.exceptions import SourceOrderNotFound

    with pytest.raises(SourceOrderNotFound):
        services.order_copy_plan(source_order=make_order(), mode="live")


def test_the_differential_sources_meet_successes_and_every_kind_of_failure(sources):
    # The sources above are only worth comparing if they make copies succeed and fail.
    seen = _run(sources, {"place_target_order": True, "cancel_source_order": True}, batched=True)

    statuses = [copy["status"] for copy in seen["copies"]]
    assert "completed" in statuses and "failed" in statuses
    errors = {key for copy in seen["copies"] for key in copy["errors_log"]}
    assert {"line_items", "coupon_code", "status", "source_order"} <= errors


# --- Failing copies in a batch -------------------------------------------------------------------


def test_failing_copies_of_a_batch_leave_nothing_and_the_others_complete(
    make_order, make_sku, market, coupon
):
    scarce = make_sku(stock_quantity=0)
    out_of_stock = make_order(lines=1)
    order_services.order_line_item_add(order=out_of_stock, sku=scarce)
    bad_coupon = make_order(lines=1, coupon_code=coupon.code)
    Coupon.objects.filter(pk=coupon.pk).update(usage_limit=0)
    unplaceable = make_order(lines=1, billing_address=None)
    cancelled_meanwhile = make_order(lines=1, place=True)
    good = [make_order(lines=2, place=True) for _ in range(2)]
    plan = [
        (good[0], {"place_target_order": True, "cancel_source_order": True}),
        (out_of_stock, {}),
        (bad_coupon, {}),
        (unplaceable, {"place_target_order": True}),
        (cancelled_meanwhile, {"cancel_source_order": True}),
        (good[1], {"place_target_order": True}),
    ]
    copies = [
        services.order_copy_create(source_order=source, mode="test", **options)
        for source, options in plan
    ]
    order_services.order_cancel(order=cancelled_meanwhile)
    stock_before = dict(Sku.objects.values_list("pk", "stock_quantity"))
    counts_before = (Order.objects.count(), LineItem.objects.count(), Address.objects.count())

    ended = services.order_copy_execute_many(order_copy_ids=[copy.pk for copy in copies])

    assert len(ended) == 6
    stored = [OrderCopy.objects.get(pk=copy.pk) for copy in copies]
    assert [copy.status for copy in stored] == [
        Status.COMPLETED, Status.FAILED, Status.FAILED, Status.FAILED, Status.FAILED,
        Status.COMPLETED,
    ]  # fmt: skip
    assert list(stored[1].errors_log) == ["line_items"]
    assert list(stored[2].errors_log) == ["coupon_code"]
    assert stored[3].errors_log == {"status": ["cannot be placed: a billing address is required"]}
    assert stored[4].errors_log == {
        "source_order": ["cannot transition from cancelled to cancelled"]
    }
    assert all(copy.target_order_id is None for copy in stored[1:5])
    # Two targets with their own addresses (one shared copy each) and two lines each.
    assert (Order.objects.count(), LineItem.objects.count(), Address.objects.count()) == (
        counts_before[0] + 2,
        counts_before[1] + 4,
        counts_before[2] + 4,
    )
    stock_after = dict(Sku.objects.values_list("pk", "stock_quantity"))
    moved = {pk for pk in stock_after if stock_after[pk] != stock_before[pk]}
    good_skus = set(LineItem.objects.filter(order__in=good).values_list("sku_id", flat=True))
    assert moved == set(LineItem.objects.filter(order=good[1]).values_list("sku_id", flat=True))
    assert moved < good_skus  # the first good copy cancelled its source: stock back, then taken
    assert Order.objects.get(pk=good[0].pk).status == Order.Status.CANCELLED
    assert Coupon.objects.get(pk=coupon.pk).usage_count == 0
    assert not Event.objects.filter(name="orders.create", payload__order_copy=stored[1].pk)


def test_a_failing_bulk_statement_runs_the_batch_one_copy_at_a_time(make_order, monkeypatch):
    from ordercopies.engine import writes

    copies = [
        services.order_copy_create(source_order=make_order(lines=1), mode="test") for _ in range(3)
    ]
    real_insert = writes.orders_insert_many

    def refuse_batches(*, orders: Any, **kwargs: Any) -> None:
        if len(orders) > 1:
            # As a bulk statement that trips over one row would.
            from django.db import IntegrityError

            raise IntegrityError("duplicate key value violates unique constraint")
        real_insert(orders=orders, **kwargs)

    monkeypatch.setattr(writes, "orders_insert_many", refuse_batches)

    ended = services.order_copy_execute_many(order_copy_ids=[copy.pk for copy in copies])

    assert [copy.status for copy in ended] == [Status.COMPLETED] * 3
    assert all(copy.target_order_id for copy in ended)


# --- Concurrent batches --------------------------------------------------------------------------


def _run_concurrently(batches: list[list[str]]) -> None:
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def run(ids: list[str]) -> None:
        try:
            barrier.wait(timeout=30)
            services.order_copy_execute_many(order_copy_ids=ids)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(ids,)) for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_share_the_last_units_first_come_first_served(
    postgres, make_order, make_sku
):
    scarce = make_sku(stock_quantity=3)
    orders = [make_order(lines=1) for _ in range(8)]
    for order in orders:
        order_services.order_line_item_add(order=order, sku=scarce, quantity=1)
    copies = [
        services.order_copy_create(source_order=order, mode="test", place_target_order=True)
        for order in orders
    ]
    ids = [copy.pk for copy in copies]

    _run_concurrently([ids[0::2], ids[1::2]])

    statuses = list(OrderCopy.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses.count(Status.COMPLETED) == 3
    assert statuses.count(Status.FAILED) == 5
    assert Sku.objects.get(pk=scarce.pk).stock_quantity == 0
    placed = Order.objects.filter(created_by_copy__in=ids, status=Order.Status.PLACED)
    assert placed.count() == 3
    for failed in OrderCopy.objects.filter(pk__in=ids, status=Status.FAILED):
        assert failed.errors_log == {"line_items": [f"SKU {scarce.code} is out of stock"]}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_share_a_coupons_last_uses(postgres, make_order, coupon):
    Coupon.objects.filter(pk=coupon.pk).update(usage_limit=2)
    orders = [make_order(lines=1, coupon_code=coupon.code) for _ in range(6)]
    copies = [
        services.order_copy_create(source_order=order, mode="test", place_target_order=True)
        for order in orders
    ]
    ids = [copy.pk for copy in copies]

    _run_concurrently([ids[:3], ids[3:]])

    statuses = list(OrderCopy.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses.count(Status.COMPLETED) == 2
    assert Coupon.objects.get(pk=coupon.pk).usage_count == 2
    for failed in OrderCopy.objects.filter(pk__in=ids, status=Status.FAILED):
        assert list(failed.errors_log) == ["coupon_code"]


# --- Queries -------------------------------------------------------------------------------------


def _batch_queries(copies: list[OrderCopy]) -> int:
    with CaptureQueriesContext(connection) as queries:
        ended = services.order_copy_execute_many(order_copy_ids=[copy.pk for copy in copies])
    assert [copy.status for copy in ended] == [Status.COMPLETED] * len(copies)
    return len(queries)


def _copies(sources: list[Order], count: int) -> list[OrderCopy]:
    return services.order_copy_create_many(
        source_orders=[sources[i % len(sources)] for i in range(count)],
        mode="test",
        place_target_order=True,
    )


def test_a_batch_takes_the_same_queries_for_1_10_and_200_copies(postgres, make_order, coupon):
    # (PostgreSQL: SQLite splits bulk statements past its limit of bound parameters.)
    sources = [make_order(lines=2, coupon_code=coupon.code) for _ in range(10)]

    counts = {size: _batch_queries(_copies(sources, size)) for size in (1, 10, 200)}

    assert counts == dict.fromkeys((1, 10, 200), EXPECTED_BATCH_QUERIES)


def test_a_batch_takes_the_same_queries_whatever_the_lines_of_its_orders(
    make_order, coupon, django_assert_num_queries
):
    short = [make_order(lines=1, coupon_code=coupon.code) for _ in range(3)]
    long = [make_order(lines=30, coupon_code=coupon.code) for _ in range(3)]

    assert _batch_queries(_copies(short, 3)) == EXPECTED_BATCH_QUERIES
    assert _batch_queries(_copies(long, 3)) == EXPECTED_BATCH_QUERIES


def test_copy_options_are_declared_once():
    assert OrderCopy.OPTIONS == CopyOptions.names()
    defaults = {name: OrderCopy._meta.get_field(name).default for name in CopyOptions.names()}
    assert defaults == CopyOptions.defaults()


def test_an_unknown_option_is_refused_by_name(make_order: Callable[..., Order]):
    with pytest.raises(TypeError, match="unknown order copy options: place"):
        services.order_copy_create(source_order=make_order(), mode="test", place=True)
