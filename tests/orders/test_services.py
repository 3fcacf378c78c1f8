"""Order services on the real database: editing, placement rules, transitions and their events."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.actors import Actor
from events.selectors import event_list_for
from orders import services
from orders.exceptions import (
    InvalidCoupon,
    OrderInvalid,
    OrderNotEditable,
    OrderPlacementRefused,
    OrderTransitionRefused,
)
from orders.models import Coupon, Customer, LineItem, Market, Order, Promotion, Sku
from tests import factories

STAFF = Actor(kind="user", id="42", label="staff@example.com")


def _fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def _stock(sku: Sku) -> int:
    return Sku.objects.values_list("stock_quantity", flat=True).get(pk=sku.pk)


def _usage(coupon: Coupon) -> int:
    return Coupon.objects.values_list("usage_count", flat=True).get(pk=coupon.pk)


def _skus_of(order: Order) -> list[Sku]:
    return [line.sku for line in order.line_items.filter(item_type="skus").select_related("sku")]


def _snapshot(order: Order) -> dict[str, object]:
    """What a refused action must leave as it was."""
    fresh = _fresh(order)
    return {
        "status": fresh.status,
        "payment_status": fresh.payment_status,
        "fulfillment_status": fresh.fulfillment_status,
        "placed_at": fresh.placed_at,
        "approved_at": fresh.approved_at,
        "cancelled_at": fresh.cancelled_at,
        "archived_at": fresh.archived_at,
        "total_amount_cents": fresh.total_amount_cents,
        "updated_at": fresh.updated_at,
        "stock": {sku.code: _stock(sku) for sku in _skus_of(fresh)},
        "lines": sorted(
            order.line_items.values_list("item_type", "sku_code", "quantity", "total_amount_cents")
        ),
    }


def _event_names(order: Order) -> list[str]:
    return [e.name for e in event_list_for(resource_type="orders", resource_id=order.pk)]


@pytest.fixture
def coupon(market: Market) -> Coupon:
    promotion = factories.PromotionFactory(
        market=market,
        mode=market.mode,
        requires_coupon=True,
        kind=Promotion.Kind.FIXED,
        amount_cents=300,
    )
    return factories.CouponFactory(
        mode=market.mode, code="SAVE3", promotion=promotion, usage_limit=5, usage_count=2
    )


@pytest.fixture
def build_order(market: Market) -> Callable[..., Order]:
    """A ready-to-place order with the given (sku, quantity) lines, built through the services."""

    def build(*, items: list[tuple[Sku, int]], **changes: object) -> Order:
        customer = factories.CustomerFactory(mode=market.mode)
        wallet = factories.CustomerPaymentSourceFactory(customer=customer, mode=market.mode)
        order = services.order_create(market=market, customer_email=customer.email)
        for sku, quantity in items:
            services.order_line_item_add(order=order, sku=sku, quantity=quantity)
        fields: dict[str, object] = {
            "shipping_address": factories.AddressFactory(mode=market.mode),
            "billing_address": factories.AddressFactory(mode=market.mode),
            "payment_method": factories.PaymentMethodFactory(market=market, mode=market.mode),
            "payment_source": wallet.payment_source,
        }
        fields.update(changes)
        return services.order_update(order=order, **fields)

    return build


# --- creation and the draft → pending move ------------------------------------------------------


def test_order_create_makes_a_draft_in_the_market_currency_and_mode(market):
    order = services.order_create(market=market, customer_email="  Ada@Example.COM ")
    fresh = _fresh(order)
    assert fresh.status == Order.Status.DRAFT
    assert fresh.currency_code == "EUR"
    assert fresh.mode == market.mode
    assert fresh.number
    assert fresh.customer_email == "ada@example.com"
    assert fresh.customer == Customer.objects.get(mode=market.mode, email="ada@example.com")


def test_order_numbers_are_unique_and_increasing(market):
    first = services.order_create(market=market)
    second = services.order_create(market=market)
    assert int(second.number) > int(first.number)


def test_order_create_reuses_the_customer_with_that_email(market):
    first = services.order_create(market=market, customer_email="ada@example.com")
    second = services.order_create(market=market, customer_email="ADA@example.com")
    assert first.customer_id == second.customer_id
    assert Customer.objects.filter(email="ada@example.com").count() == 1


def test_draft_with_a_line_item_but_no_customer_stays_draft(market, make_sku):
    order = services.order_create(market=market)
    services.order_line_item_add(order=order, sku=make_sku())
    assert _fresh(order).status == Order.Status.DRAFT


def test_draft_with_a_customer_but_no_line_item_stays_draft(market):
    order = services.order_create(market=market, customer_email="ada@example.com")
    services.order_update(order=order, billing_address=factories.AddressFactory())
    assert _fresh(order).status == Order.Status.DRAFT


def test_draft_becomes_pending_when_it_gets_its_first_line_item(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com")
    services.order_line_item_add(order=order, sku=make_sku())
    assert _fresh(order).status == Order.Status.PENDING


def test_draft_becomes_pending_when_it_gets_a_customer(market, make_sku):
    order = services.order_create(market=market)
    services.order_line_item_add(order=order, sku=make_sku())
    updated = services.order_update(order=order, customer_email="ada@example.com")
    assert updated.status == Order.Status.PENDING
    assert _fresh(order).status == Order.Status.PENDING


# --- placement ----------------------------------------------------------------------------------


def _remove_line_items(order: Order) -> None:
    for line in order.line_items.filter(item_type="skus"):
        services.order_line_item_delete(line_item=line)


def _first_sku(order: Order) -> Sku:
    return _skus_of(order)[0]


def _out_of_stock(order: Order) -> str:
    sku = _first_sku(order)
    Sku.objects.filter(pk=sku.pk).update(stock_quantity=1)
    return f"SKU {sku.code} is out of stock (1 available, 2 wanted)"


def _disabled(order: Order) -> str:
    sku = _first_sku(order)
    Sku.objects.filter(pk=sku.pk).update(enabled=False)
    return f"SKU {sku.code} is disabled"


def _expired_coupon(order: Order) -> str:
    Coupon.objects.filter(code=order.coupon_code).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    return f"coupon {order.coupon_code} has expired"


def _used_up_coupon(order: Order) -> str:
    Coupon.objects.filter(code=order.coupon_code).update(usage_limit=2)
    return f"coupon {order.coupon_code} has been used up"


def _back_to_draft(order: Order) -> str:
    # A queryset update bypasses the protected field: the only way to get a complete draft.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.DRAFT)
    return "cannot transition from draft to placed"


BREAKERS: list[tuple[str, Callable[[Order], str | None], str, str | None]] = [
    ("no_line_items", _remove_line_items, "line_items", "the order has no line items"),
    (
        "no_customer_email",
        lambda o: services.order_update(order=o, customer_email=""),
        "customer_email",
        "a customer email is required",
    ),
    (
        "no_billing_address",
        lambda o: services.order_update(order=o, billing_address=None),
        "billing_address",
        "a billing address is required",
    ),
    (
        "no_shipping_address",
        lambda o: services.order_update(order=o, shipping_address=None),
        "shipping_address",
        "a shipping address is required to ship the order",
    ),
    (
        "no_payment_method",
        lambda o: services.order_update(order=o, payment_method=None),
        "payment_method",
        "a payment method is required",
    ),
    (
        "no_payment_source",
        lambda o: services.order_update(order=o, payment_source=None),
        "payment_source",
        "a payment source is required",
    ),
    ("out_of_stock", _out_of_stock, "line_items", None),
    ("disabled_sku", _disabled, "line_items", None),
    ("expired_coupon", _expired_coupon, "coupon_code", None),
    ("used_up_coupon", _used_up_coupon, "coupon_code", None),
    ("draft_order", _back_to_draft, "status", None),
]


@pytest.mark.parametrize(
    ("breaker", "key", "message"),
    [pytest.param(b, k, m, id=name) for name, b, k, m in BREAKERS],
)
def test_placement_refused_by_one_rule_reports_it_and_changes_nothing(
    make_order, coupon, breaker, key, message
):
    order = make_order(lines=2, quantity=2, coupon_code=coupon.code)
    returned = breaker(order)
    expected = message or returned
    before = _snapshot(order)
    usage_before = _usage(coupon)

    with pytest.raises(OrderPlacementRefused) as exc:
        services.order_place(order=order)

    assert exc.value.errors == {key: [expected]}
    assert expected in str(exc.value)
    assert _snapshot(order) == before
    assert _usage(coupon) == usage_before
    assert "orders.place" not in _event_names(order)


def test_placement_reports_every_broken_rule_at_once(make_order):
    order = make_order(billing_address=None, payment_method=None)
    with pytest.raises(OrderPlacementRefused) as exc:
        services.order_place(order=order)
    assert set(exc.value.errors) == {"billing_address", "payment_method"}


def test_an_unbroken_order_passes_every_rule(make_order, coupon):
    # The control for the parametrized refusals: the same order, unbroken, is placed.
    order = make_order(lines=2, quantity=2, coupon_code=coupon.code)
    assert services.order_place(order=order).status == Order.Status.PLACED


def test_placement_counts_the_quantity_of_a_sku_over_all_its_lines(build_order, make_sku):
    sku = make_sku(stock_quantity=3)
    order = build_order(items=[(sku, 2)])
    services.order_line_item_add(order=order, sku=sku, quantity=2)
    with pytest.raises(OrderPlacementRefused) as exc:
        services.order_place(order=order)
    assert exc.value.errors == {
        "line_items": [f"SKU {sku.code} is out of stock (3 available, 4 wanted)"]
    }
    assert _stock(sku) == 3


def test_placement_takes_stock_uses_the_coupon_and_authorizes_payment(make_order, coupon):
    order = make_order(lines=2, quantity=3, coupon_code=coupon.code)
    skus = _skus_of(order)
    before = timezone.now()

    placed = services.order_place(order=order, actor=STAFF)

    fresh = _fresh(placed)
    assert fresh.status == Order.Status.PLACED
    assert before <= fresh.placed_at <= timezone.now()
    assert fresh.payment_status == Order.PaymentStatus.AUTHORIZED
    assert fresh.fulfillment_status == Order.FulfillmentStatus.UNFULFILLED
    assert [_stock(sku) for sku in skus] == [97, 97]
    assert _usage(coupon) == 3


def test_placing_an_order_with_exactly_the_stock_left_empties_it(build_order, make_sku):
    sku = make_sku(stock_quantity=2)
    services.order_place(order=build_order(items=[(sku, 2)]))
    assert _stock(sku) == 0


def test_placing_a_placed_order_again_is_refused_and_takes_no_more_stock(make_order):
    order = make_order(place=True)
    skus = _skus_of(order)
    with pytest.raises(OrderPlacementRefused) as exc:
        services.order_place(order=order)
    assert exc.value.errors == {"status": ["cannot transition from placed to placed"]}
    assert [_stock(sku) for sku in skus] == [99, 99]


def test_free_order_needs_no_payment_and_is_marked_free(build_order, make_sku):
    order = build_order(
        items=[(make_sku(price_cents=0, do_not_ship=True), 1)],
        payment_method=None,
        payment_source=None,
    )
    assert order.total_amount_cents == 0

    placed = services.order_place(order=order)

    fresh = _fresh(placed)
    assert fresh.status == Order.Status.PLACED
    assert fresh.payment_status == Order.PaymentStatus.FREE


def test_order_made_free_by_its_discount_needs_no_payment(build_order, make_sku, market):
    factories.PromotionFactory(
        market=market, kind=Promotion.Kind.FIXED, amount_cents=5000, name="Everything off"
    )
    order = build_order(
        items=[(make_sku(price_cents=1000, do_not_ship=True), 1)],
        payment_method=None,
        payment_source=None,
    )
    assert order.discount_amount_cents == -1000
    assert order.total_amount_cents == 0
    assert services.order_place(order=order).payment_status == Order.PaymentStatus.FREE


def test_order_of_do_not_ship_skus_needs_no_shipping_address(build_order, make_sku):
    order = build_order(
        items=[(make_sku(do_not_ship=True), 1), (make_sku(do_not_ship=True), 2)],
        shipping_address=None,
    )
    placed = services.order_place(order=order)
    fresh = _fresh(placed)
    assert fresh.status == Order.Status.PLACED
    assert fresh.fulfillment_status == Order.FulfillmentStatus.NOT_REQUIRED
    assert fresh.shipping_amount_cents == 0


def test_one_shippable_sku_among_do_not_ship_ones_needs_a_shipping_address(build_order, make_sku):
    order = build_order(
        items=[(make_sku(do_not_ship=True), 1), (make_sku(do_not_ship=False), 1)],
        shipping_address=None,
    )
    with pytest.raises(OrderPlacementRefused) as exc:
        services.order_place(order=order)
    assert exc.value.errors == {
        "shipping_address": ["a shipping address is required to ship the order"]
    }


def test_placement_records_an_event_with_the_actor(make_order):
    order = make_order()
    services.order_place(order=order, actor=STAFF)
    event = event_list_for(resource_type="orders", resource_id=order.pk).get(name="orders.place")
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        "user",
        "42",
        "staff@example.com",
    )
    assert event.payload == {
        "number": order.number,
        "total_amount_cents": _fresh(order).total_amount_cents,
    }


def _place_concurrently(orders: list[Order]) -> tuple[list[str], list[OrderPlacementRefused]]:
    """Place each order in its own thread and connection, all starting together."""
    barrier = threading.Barrier(len(orders))
    placed: list[str] = []
    refused: list[OrderPlacementRefused] = []
    unexpected: list[BaseException] = []

    def place(order: Order) -> None:
        try:
            barrier.wait(timeout=10)
            services.order_place(order=order)
            placed.append(order.pk)
        except OrderPlacementRefused as exc:
            refused.append(exc)
        except BaseException as exc:  # reported by the assertion below
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a placement is stuck"
    assert unexpected == []
    return placed, refused


@pytest.mark.django_db(transaction=True)
def test_two_placements_racing_for_the_last_unit_let_exactly_one_win(
    postgres, build_order, make_sku
):
    sku = make_sku(stock_quantity=1)
    orders = [build_order(items=[(sku, 1)]) for _ in range(2)]

    placed, refused = _place_concurrently(orders)

    assert len(placed) == 1
    assert len(refused) == 1
    assert refused[0].errors == {
        "line_items": [f"SKU {sku.code} is out of stock (0 available, 1 wanted)"]
    }
    assert _stock(sku) == 0
    statuses = sorted(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status"))
    assert statuses == [("pending",), ("placed",)]


@pytest.mark.django_db(transaction=True)
def test_two_placements_racing_for_the_last_coupon_use_let_exactly_one_win(
    postgres, build_order, make_sku, coupon
):
    Coupon.objects.filter(pk=coupon.pk).update(usage_limit=1, usage_count=0)
    orders = [build_order(items=[(make_sku(), 1)], coupon_code=coupon.code) for _ in range(2)]

    placed, refused = _place_concurrently(orders)

    assert len(placed) == 1
    assert len(refused) == 1
    assert refused[0].errors == {"coupon_code": [f"coupon {coupon.code} has been used up"]}
    assert _usage(coupon) == 1
    loser = next(o for o in orders if o.pk not in placed)
    assert [_stock(sku) for sku in _skus_of(loser)] == [100]


# --- approve, cancel ----------------------------------------------------------------------------


def test_approve_moves_a_placed_order_to_approved(make_order):
    order = make_order(place=True)
    approved = services.order_approve(order=order, actor=STAFF)
    fresh = _fresh(approved)
    assert fresh.status == Order.Status.APPROVED
    assert fresh.approved_at is not None
    assert _event_names(order)[-1] == "orders.approve"


def test_approve_refuses_a_pending_order_and_leaves_it(make_order):
    order = make_order()
    before = _snapshot(order)
    with pytest.raises(OrderTransitionRefused) as exc:
        services.order_approve(order=order)
    assert exc.value.errors == {"status": ["cannot transition from pending to approved"]}
    assert _snapshot(order) == before


def test_cancel_restores_stock_and_voids_the_payment(make_order):
    order = make_order(place=True, lines=2, quantity=4)
    skus = _skus_of(order)
    assert [_stock(sku) for sku in skus] == [96, 96]

    cancelled = services.order_cancel(order=order, actor=STAFF)

    fresh = _fresh(cancelled)
    assert fresh.status == Order.Status.CANCELLED
    assert fresh.cancelled_at is not None
    assert fresh.payment_status == Order.PaymentStatus.VOIDED
    assert [_stock(sku) for sku in skus] == [100, 100]


def test_cancel_an_approved_order(make_order):
    order = services.order_approve(order=make_order(place=True))
    cancelled = services.order_cancel(order=order)
    assert _fresh(cancelled).status == Order.Status.CANCELLED
    assert [_stock(sku) for sku in _skus_of(order)] == [100, 100]


def test_cancel_a_free_order_keeps_it_free(build_order, make_sku):
    sku = make_sku(price_cents=0, do_not_ship=True)
    order = services.order_place(
        order=build_order(items=[(sku, 1)], payment_method=None, payment_source=None)
    )
    cancelled = services.order_cancel(order=order)
    assert _fresh(cancelled).payment_status == Order.PaymentStatus.FREE
    assert _stock(sku) == 100


def test_cancel_refuses_a_pending_order(make_order):
    order = make_order()
    before = _snapshot(order)
    with pytest.raises(OrderTransitionRefused) as exc:
        services.order_cancel(order=order)
    assert exc.value.errors == {"status": ["cannot transition from pending to cancelled"]}
    assert _snapshot(order) == before


def test_cancelling_twice_is_refused_and_returns_stock_only_once(make_order):
    order = services.order_cancel(order=make_order(place=True))
    with pytest.raises(OrderTransitionRefused) as exc:
        services.order_cancel(order=order)
    assert exc.value.errors == {"status": ["cannot transition from cancelled to cancelled"]}
    assert [_stock(sku) for sku in _skus_of(order)] == [100, 100]


def test_a_cancelled_order_cannot_be_approved(make_order):
    order = services.order_cancel(order=make_order(place=True))
    with pytest.raises(OrderTransitionRefused):
        services.order_approve(order=order)
    assert _fresh(order).status == Order.Status.CANCELLED


# --- archive, unarchive, delete -----------------------------------------------------------------


def test_archive_and_unarchive(make_order):
    order = make_order(place=True)
    archived = services.order_archive(order=order, actor=STAFF)
    assert _fresh(archived).archived_at is not None
    unarchived = services.order_unarchive(order=order, actor=STAFF)
    assert _fresh(unarchived).archived_at is None
    assert _event_names(order)[-2:] == ["orders.archive", "orders.unarchive"]


def test_archiving_twice_is_refused(make_order):
    order = services.order_archive(order=make_order())
    archived_at = _fresh(order).archived_at
    with pytest.raises(OrderTransitionRefused) as exc:
        services.order_archive(order=order)
    assert exc.value.errors == {"archived_at": ["the order is already archived"]}
    assert _fresh(order).archived_at == archived_at


def test_unarchiving_an_order_that_is_not_archived_is_refused(make_order):
    order = make_order()
    with pytest.raises(OrderTransitionRefused) as exc:
        services.order_unarchive(order=order)
    assert exc.value.errors == {"archived_at": ["the order is not archived"]}
    assert _event_names(order).count("orders.unarchive") == 0


def test_order_delete_removes_a_pending_order_and_its_lines(make_order):
    order = make_order()
    services.order_delete(order=order, actor=STAFF)
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not LineItem.objects.filter(order_id=order.pk).exists()
    assert _event_names(order)[-1] == "orders.destroy"


def test_order_delete_refuses_a_placed_order(make_order):
    order = make_order(place=True)
    with pytest.raises(OrderNotEditable) as exc:
        services.order_delete(order=order)
    assert exc.value.errors == {"status": ["a placed order cannot be deleted; archive it instead"]}
    assert Order.objects.filter(pk=order.pk, status=Order.Status.PLACED).exists()
    assert order.line_items.count() == 2


# --- order_update -------------------------------------------------------------------------------


def test_order_update_changes_addresses_and_records_an_event(make_order):
    order = make_order()
    address = factories.AddressFactory()
    updated = services.order_update(order=order, billing_address=address, actor=STAFF)
    assert _fresh(updated).billing_address_id == address.pk
    event = event_list_for(resource_type="orders", resource_id=order.pk).last()
    assert event.name == "orders.update"
    assert event.payload == {"changed": ["billing_address"]}
    assert event.actor_id == "42"


def test_order_update_refuses_editing_a_placed_order(make_order):
    order = make_order(place=True)
    before = _snapshot(order)
    billing_before = _fresh(order).billing_address_id
    with pytest.raises(OrderNotEditable) as exc:
        services.order_update(order=order, billing_address=factories.AddressFactory())
    assert exc.value.errors == {"status": ["a placed order cannot be edited"]}
    assert _fresh(order).billing_address_id == billing_before
    assert _snapshot(order) == before


def test_reference_and_metadata_can_change_on_a_placed_order(make_order):
    order = make_order(place=True)
    updated = services.order_update(order=order, reference="ERP-1", metadata={"batch": 7})
    fresh = _fresh(updated)
    assert (fresh.reference, fresh.metadata) == ("ERP-1", {"batch": 7})
    assert fresh.status == Order.Status.PLACED


def test_changing_the_reference_of_a_placed_order_keeps_its_discount_and_totals(make_order, coupon):
    Coupon.objects.filter(pk=coupon.pk).update(usage_limit=1, usage_count=0)
    order = make_order(coupon_code=coupon.code, place=True)
    before = _snapshot(order)
    assert before["total_amount_cents"] == (2000 - 300 + 500) * 12 // 10

    services.order_update(order=order, reference="ERP-1")

    after = _snapshot(order)
    assert after["lines"] == before["lines"]
    assert after["total_amount_cents"] == before["total_amount_cents"]


def test_order_update_refuses_an_address_of_the_other_mode(make_order):
    order = make_order()
    live_address = factories.AddressFactory(mode="live")
    shipping_before = _fresh(order).shipping_address_id
    with pytest.raises(OrderInvalid) as exc:
        services.order_update(order=order, shipping_address=live_address)
    assert exc.value.errors == {
        "shipping_address": [f"shipping_address {live_address.pk} does not exist"]
    }
    assert _fresh(order).shipping_address_id == shipping_before


def test_order_update_refuses_a_payment_source_of_the_other_mode(make_order):
    order = make_order()
    live_source = factories.PaymentSourceFactory(mode="live")
    with pytest.raises(OrderInvalid) as exc:
        services.order_update(order=order, payment_source=live_source)
    assert list(exc.value.errors) == ["payment_source"]
    assert _fresh(order).payment_source_id != live_source.pk


def test_order_update_refuses_a_payment_method_of_another_market(make_order):
    order = make_order()
    other = factories.PaymentMethodFactory(market=factories.MarketFactory(code="us"))
    with pytest.raises(OrderInvalid) as exc:
        services.order_update(order=order, payment_method=other)
    assert exc.value.errors == {"payment_method": ["the payment method is for another market"]}
    assert _fresh(order).payment_method_id != other.pk


def test_order_update_refuses_fields_that_are_not_editable(make_order):
    order = make_order()
    with pytest.raises(OrderInvalid) as exc:
        services.order_update(order=order, total_amount_cents=1, status="placed")
    assert exc.value.errors == {
        "base": ["these order fields cannot be changed: status, total_amount_cents"]
    }
    assert _fresh(order).status == Order.Status.PENDING


def test_order_update_applies_a_valid_coupon_as_a_discount_line(make_order, coupon):
    order = make_order(lines=1)
    updated = services.order_update(order=order, coupon_code=coupon.code)
    assert updated.coupon_code == coupon.code
    assert updated.discount_amount_cents == -300
    assert list(order.line_items.filter(item_type="coupons").values_list("total_amount_cents")) == [
        (-300,)
    ]


def test_removing_the_coupon_removes_its_discount(make_order, coupon):
    order = make_order(lines=1, coupon_code=coupon.code)
    updated = services.order_update(order=order, coupon_code="")
    assert updated.discount_amount_cents == 0
    assert not order.line_items.filter(item_type="coupons").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda c: None, "coupon NOPE does not exist", id="unknown"),
        pytest.param(
            lambda c: Coupon.objects.filter(pk=c.pk).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            ),
            "coupon SAVE3 has expired",
            id="expired",
        ),
        pytest.param(
            lambda c: Coupon.objects.filter(pk=c.pk).update(usage_limit=2),
            "coupon SAVE3 has been used up",
            id="used_up",
        ),
        pytest.param(
            lambda c: Promotion.objects.filter(pk=c.promotion_id).update(
                market=factories.MarketFactory(code="us")
            ),
            "coupon SAVE3 is not valid in market eu",
            id="other_market",
        ),
    ],
)
def test_order_update_refuses_an_invalid_coupon(make_order, coupon, setup, message):
    order = make_order()
    setup(coupon)
    code = "NOPE" if "NOPE" in message else coupon.code
    with pytest.raises(InvalidCoupon) as exc:
        services.order_update(order=order, coupon_code=code)
    assert exc.value.errors == {"coupon_code": [message]}
    fresh = _fresh(order)
    assert fresh.coupon_code == ""
    assert fresh.discount_amount_cents == 0


def test_order_update_refuses_a_coupon_of_the_other_mode(make_order, coupon):
    order = make_order()
    Coupon.objects.filter(pk=coupon.pk).update(mode="live")
    with pytest.raises(InvalidCoupon) as exc:
        services.order_update(order=order, coupon_code=coupon.code)
    assert exc.value.errors == {"coupon_code": ["coupon SAVE3 does not exist"]}


def test_changing_the_customer_email_finds_or_creates_the_customer(make_order):
    order = make_order()
    updated = services.order_update(order=order, customer_email=" Grace@Example.com")
    fresh = _fresh(updated)
    assert fresh.customer_email == "grace@example.com"
    assert fresh.customer.email == "grace@example.com"


def test_clearing_the_customer_email_clears_the_customer(make_order):
    updated = services.order_update(order=make_order(), customer_email="")
    fresh = _fresh(updated)
    assert fresh.customer_email == ""
    assert fresh.customer_id is None


# --- line items ---------------------------------------------------------------------------------


def test_line_item_add_prices_the_sku_from_the_market(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com")
    sku = make_sku(price_cents=1250)
    line = services.order_line_item_add(order=order, sku=sku, quantity=3)
    assert (line.sku_code, line.name, line.quantity) == (sku.code, sku.name, 3)
    assert (line.unit_amount_cents, line.total_amount_cents) == (1250, 3750)
    fresh = _fresh(order)
    assert (fresh.subtotal_amount_cents, fresh.skus_count) == (3750, 3)


def test_line_item_add_merges_quantities_of_the_same_sku(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com")
    sku = make_sku(price_cents=1000)
    first = services.order_line_item_add(order=order, sku=sku, quantity=2)
    second = services.order_line_item_add(order=order, sku=sku, quantity=3)
    assert second.pk == first.pk
    line = LineItem.objects.get(order=order)
    assert (line.quantity, line.total_amount_cents) == (5, 5000)
    assert _fresh(order).skus_count == 5


def test_merging_a_line_item_takes_the_current_market_price(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com")
    sku = make_sku(price_cents=1000)
    services.order_line_item_add(order=order, sku=sku, quantity=1)
    sku.prices.update(amount_cents=1200)
    line = services.order_line_item_add(order=order, sku=sku, quantity=1)
    assert (line.unit_amount_cents, line.total_amount_cents) == (1200, 2400)


def test_merging_a_line_item_moves_its_updated_at(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com")
    sku = make_sku()
    line = services.order_line_item_add(order=order, sku=sku)
    services.order_line_item_add(order=order, sku=sku)
    assert LineItem.objects.get(pk=line.pk).updated_at > line.updated_at


def test_line_item_add_refuses_a_sku_without_price_in_the_market(market):
    order = services.order_create(market=market, customer_email="ada@example.com")
    sku = factories.SkuFactory(code="NOPRICE")
    with pytest.raises(OrderInvalid) as exc:
        services.order_line_item_add(order=order, sku=sku)
    assert exc.value.errors == {"sku": ["SKU NOPRICE has no price in market eu"]}
    assert not order.line_items.exists()
    assert _fresh(order).status == Order.Status.DRAFT


def test_line_item_add_refuses_a_sku_of_the_other_mode(market):
    order = services.order_create(market=market)
    sku = factories.SkuFactory(mode="live")
    factories.SkuPriceFactory(sku=sku, market=market)
    with pytest.raises(OrderInvalid) as exc:
        services.order_line_item_add(order=order, sku=sku)
    assert list(exc.value.errors) == ["sku"]
    assert not order.line_items.exists()


@pytest.mark.parametrize("quantity", [0, -1])
def test_line_item_add_refuses_a_quantity_below_one(market, make_sku, quantity):
    order = services.order_create(market=market, customer_email="ada@example.com")
    with pytest.raises(OrderInvalid) as exc:
        services.order_line_item_add(order=order, sku=make_sku(), quantity=quantity)
    assert exc.value.errors == {"quantity": ["quantity must be at least 1"]}
    assert not order.line_items.exists()


def test_line_item_add_refuses_a_placed_order(make_order, make_sku):
    order = make_order(place=True)
    with pytest.raises(OrderNotEditable):
        services.order_line_item_add(order=order, sku=make_sku())
    assert order.line_items.count() == 2


def test_line_item_update_changes_quantity_and_totals(make_order):
    order = make_order(lines=1)
    line = order.line_items.get()
    services.order_line_item_update(line_item=line, quantity=4)
    line.refresh_from_db()
    assert (line.quantity, line.total_amount_cents) == (4, 4000)
    fresh = _fresh(order)
    assert (fresh.subtotal_amount_cents, fresh.skus_count) == (4000, 4)


def test_line_item_update_refuses_quantity_zero(make_order):
    line = make_order(lines=1).line_items.get()
    with pytest.raises(OrderInvalid) as exc:
        services.order_line_item_update(line_item=line, quantity=0)
    assert exc.value.errors == {"quantity": ["quantity must be at least 1"]}
    assert LineItem.objects.get(pk=line.pk).quantity == 1


def test_line_item_update_refuses_a_placed_order(make_order):
    order = make_order(place=True)
    line = order.line_items.first()
    with pytest.raises(OrderNotEditable) as exc:
        services.order_line_item_update(line_item=line, quantity=5)
    assert exc.value.errors == {"status": ["the line items of a placed order cannot change"]}
    assert LineItem.objects.get(pk=line.pk).quantity == 1


def test_line_item_delete_refuses_a_placed_order(make_order):
    order = make_order(place=True)
    line = order.line_items.first()
    with pytest.raises(OrderNotEditable):
        services.order_line_item_delete(line_item=line)
    assert LineItem.objects.filter(pk=line.pk).exists()
    assert _fresh(order).subtotal_amount_cents == 2000


def test_line_item_delete_recomputes_the_totals(make_order):
    order = make_order(lines=2)
    services.order_line_item_delete(line_item=order.line_items.first())
    fresh = _fresh(order)
    assert (fresh.subtotal_amount_cents, fresh.skus_count) == (1000, 1)
    assert order.line_items.count() == 1


# --- events -------------------------------------------------------------------------------------


def test_each_order_action_records_its_event_with_the_actor(market, make_sku):
    order = services.order_create(market=market, customer_email="ada@example.com", actor=STAFF)
    services.order_line_item_add(order=order, sku=make_sku(), actor=STAFF)
    wallet = factories.CustomerPaymentSourceFactory(customer=order.customer)
    services.order_update(
        order=order,
        billing_address=factories.AddressFactory(),
        shipping_address=factories.AddressFactory(),
        payment_method=factories.PaymentMethodFactory(market=market),
        payment_source=wallet.payment_source,
        actor=STAFF,
    )
    services.order_place(order=order, actor=STAFF)
    services.order_approve(order=order, actor=STAFF)
    services.order_cancel(order=order, actor=STAFF)
    services.order_archive(order=order, actor=STAFF)

    events = list(event_list_for(resource_type="orders", resource_id=order.pk))
    assert [e.name for e in events] == [
        "orders.create",
        "orders.update",
        "orders.place",
        "orders.approve",
        "orders.cancel",
        "orders.archive",
    ]
    for event in events:
        assert (event.actor_kind, event.actor_id, event.actor_label) == (
            "user",
            "42",
            "staff@example.com",
        )
        assert event.mode == order.mode
    assert events[0].payload == {"number": order.number}


def test_actions_without_an_actor_are_recorded_as_the_system(market):
    order = services.order_create(market=market)
    event = event_list_for(resource_type="orders", resource_id=order.pk).get()
    assert (event.name, event.actor_kind, event.actor_label) == (
        "orders.create",
        "system",
        "system",
    )


def test_line_item_events_are_on_the_line_item_timeline(market, make_sku):
    order = services.order_create(market=market)
    line = services.order_line_item_add(order=order, sku=make_sku(), quantity=2)
    event = event_list_for(resource_type="line_items", resource_id=line.pk).get()
    assert event.name == "line_items.create"
    assert event.payload == {"order": order.pk, "sku_code": line.sku_code, "quantity": 2}
