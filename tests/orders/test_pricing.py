"""Order totals and promotion discounts: the pure functions, then through the services."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orders import services
from orders.models import Coupon, LineItem, Market, Order, Promotion, Sku
from orders.pricing import discount_lines_build, promotion_discount_cents, totals_compute
from tests import factories

AT = datetime(2030, 5, 17, 12, 0, tzinfo=UTC)


def _market(*, shipping: int = 500, tax_rate: str = "0.2") -> Market:
    return Market(
        code="eu", currency_code="EUR", shipping_amount_cents=shipping, tax_rate=Decimal(tax_rate)
    )


def _sku_line(price: int, quantity: int = 1, *, do_not_ship: bool = False) -> LineItem:
    return LineItem(
        item_type=LineItem.ItemType.SKUS,
        sku=Sku(code=f"SKU-{price}", do_not_ship=do_not_ship),
        quantity=quantity,
        unit_amount_cents=price,
        total_amount_cents=price * quantity,
    )


def _discount_line(amount: int, item_type: str = LineItem.ItemType.PROMOTIONS) -> LineItem:
    return LineItem(
        item_type=item_type, quantity=1, unit_amount_cents=-amount, total_amount_cents=-amount
    )


def _promotion(**kwargs) -> Promotion:
    fields = {
        "name": "Spring",
        "kind": Promotion.Kind.PERCENTAGE,
        "percentage": 10,
        "starts_at": AT - timedelta(days=1),
        "expires_at": AT + timedelta(days=1),
    }
    fields.update(kwargs)
    return Promotion(**fields)


# --- totals_compute -----------------------------------------------------------------------------


def test_totals_of_lines_with_a_promotion_and_a_coupon():
    lines = [
        _sku_line(1000, 2),
        _sku_line(1550),
        _discount_line(355, LineItem.ItemType.PROMOTIONS),
        _discount_line(500, LineItem.ItemType.COUPONS),
    ]
    totals = totals_compute(lines=lines, market=_market())
    # 3550 subtotal - 855 discount + 500 shipping = 3195 taxable; 20 % = 639.
    assert totals.subtotal_amount_cents == 3550
    assert totals.discount_amount_cents == -855
    assert totals.shipping_amount_cents == 500
    assert totals.total_tax_amount_cents == 639
    assert totals.total_amount_cents == 3834
    assert totals.skus_count == 3


def test_gift_card_lines_count_as_discounts():
    lines = [_sku_line(1000), _discount_line(250, LineItem.ItemType.GIFT_CARDS)]
    totals = totals_compute(lines=lines, market=_market(shipping=0, tax_rate="0"))
    assert totals.discount_amount_cents == -250
    assert totals.total_amount_cents == 750


def test_no_shipping_when_every_sku_is_do_not_ship():
    lines = [_sku_line(1000, do_not_ship=True), _sku_line(500, do_not_ship=True)]
    totals = totals_compute(lines=lines, market=_market(tax_rate="0"))
    assert totals.shipping_amount_cents == 0
    assert totals.total_amount_cents == 1500


def test_flat_shipping_once_when_any_sku_ships():
    lines = [_sku_line(1000, 3), _sku_line(500, do_not_ship=True)]
    totals = totals_compute(lines=lines, market=_market(tax_rate="0"))
    assert totals.shipping_amount_cents == 500
    assert totals.total_amount_cents == 4000


def test_no_shipping_without_sku_lines_even_when_told_shippable():
    totals = totals_compute(lines=[], market=_market(), shippable=True)
    assert totals.shipping_amount_cents == 0
    assert totals.total_amount_cents == 0
    assert totals.skus_count == 0


@pytest.mark.parametrize(
    ("do_not_ship", "shippable", "shipping"),
    [(True, True, 500), (False, False, 0)],
)
def test_explicit_shippable_overrides_the_skus(do_not_ship, shippable, shipping):
    lines = [_sku_line(1000, do_not_ship=do_not_ship)]
    totals = totals_compute(lines=lines, market=_market(), shippable=shippable)
    assert totals.shipping_amount_cents == shipping


def test_tax_is_the_market_rate_of_discounted_subtotal_plus_shipping():
    lines = [_sku_line(2000), _discount_line(500)]
    totals = totals_compute(lines=lines, market=_market(shipping=700, tax_rate="0.22"))
    assert totals.total_tax_amount_cents == 484  # 22 % of 2200
    assert totals.total_amount_cents == 2684


def test_no_tax_at_a_zero_rate():
    totals = totals_compute(lines=[_sku_line(999)], market=_market(tax_rate="0"))
    assert totals.total_tax_amount_cents == 0
    assert totals.total_amount_cents == 1499


@pytest.mark.parametrize(
    ("price", "rate", "tax"),
    [
        (525, "0.1", 103),  # 102.5: half up, where half-even would give 102
        (535, "0.1", 104),  # 103.5
        (524, "0.1", 102),  # 102.4
        (500, "0.0825", 83),  # 82.5
        (499, "0.0825", 82),  # 82.4175
    ],
)
def test_tax_is_rounded_half_up_to_the_cent(price, rate, tax):
    totals = totals_compute(lines=[_sku_line(price)], market=_market(shipping=500, tax_rate=rate))
    assert totals.total_tax_amount_cents == tax
    assert totals.total_amount_cents == price + 500 + tax


def test_discount_never_goes_below_minus_the_subtotal():
    lines = [_sku_line(1000), _discount_line(800), _discount_line(700, LineItem.ItemType.COUPONS)]
    totals = totals_compute(lines=lines, market=_market())
    assert totals.discount_amount_cents == -1000
    assert totals.total_tax_amount_cents == 100  # shipping alone is taxed
    assert totals.total_amount_cents == 600


def test_a_positive_discount_line_never_adds_to_the_total():
    lines = [_sku_line(1000), _discount_line(-300)]
    totals = totals_compute(lines=lines, market=_market(shipping=0, tax_rate="0"))
    assert totals.discount_amount_cents == 0
    assert totals.total_amount_cents == 1000


def test_totals_apply_to_the_order_fields():
    order = Order()
    totals = totals_compute(lines=[_sku_line(1000, 2), _discount_line(200)], market=_market())
    totals.apply_to(order)
    assert (
        order.subtotal_amount_cents,
        order.discount_amount_cents,
        order.shipping_amount_cents,
        order.total_tax_amount_cents,
        order.total_amount_cents,
        order.skus_count,
    ) == (2000, -200, 500, 460, 2760, 2)


# --- discounts ----------------------------------------------------------------------------------


def test_percentage_promotion_discounts_that_share_of_the_subtotal():
    promotion = _promotion(percentage=15)
    assert promotion_discount_cents(promotion=promotion, subtotal_cents=4000) == 600


def test_discount_is_capped_at_the_subtotal():
    fixed = _promotion(kind=Promotion.Kind.FIXED, amount_cents=5000)
    assert promotion_discount_cents(promotion=fixed, subtotal_cents=1200) == 1200
    everything = _promotion(percentage=100)
    assert promotion_discount_cents(promotion=everything, subtotal_cents=1200) == 1200


def test_discount_lines_for_active_automatic_promotions_and_a_valid_coupon():
    order = Order(mode="test")
    automatic = _promotion(name="Auto 10%", percentage=10)
    expired = _promotion(starts_at=AT - timedelta(days=3), expires_at=AT - timedelta(days=2))
    coupon_only = _promotion(name="Coupon only", requires_coupon=True, percentage=50)
    fixed = _promotion(name="Fixed 5", kind=Promotion.Kind.FIXED, requires_coupon=True)
    fixed.amount_cents = 500
    coupon = Coupon(code="FIVE", promotion=fixed)

    lines = discount_lines_build(
        order=order,
        subtotal_cents=3000,
        promotions=[automatic, expired, coupon_only, fixed],
        coupon=coupon,
        at=AT,
    )

    assert [
        (line.item_type, line.name, line.promotion, line.quantity, line.total_amount_cents)
        for line in lines
    ] == [
        ("promotions", "Auto 10%", automatic, 1, -300),
        ("coupons", "Fixed 5", fixed, 1, -500),
    ]
    assert all(line.unit_amount_cents == line.total_amount_cents for line in lines)
    assert all(line.order is order and line.mode == "test" for line in lines)


def test_no_coupon_line_for_an_invalid_coupon():
    fixed = _promotion(kind=Promotion.Kind.FIXED, amount_cents=500, requires_coupon=True)
    coupon = Coupon(code="USED", promotion=fixed, usage_limit=1, usage_count=1)
    lines = discount_lines_build(
        order=Order(), subtotal_cents=3000, promotions=[], coupon=coupon, at=AT
    )
    assert lines == []


def test_no_discount_lines_on_an_empty_subtotal():
    lines = discount_lines_build(
        order=Order(), subtotal_cents=0, promotions=[_promotion()], coupon=None, at=AT
    )
    assert lines == []


# --- through the services -----------------------------------------------------------------------


@pytest.fixture
def promotions(market):
    automatic = factories.PromotionFactory(
        market=market, name="Ten percent", kind=Promotion.Kind.PERCENTAGE, percentage=10
    )
    fixed = factories.PromotionFactory(
        market=market,
        name="Five off",
        kind=Promotion.Kind.FIXED,
        amount_cents=500,
        requires_coupon=True,
    )
    coupon = factories.CouponFactory(code="FIVEOFF", promotion=fixed)
    return automatic, fixed, coupon


def _order_with(market, make_sku, lines, **changes):
    order = services.order_create(market=market, customer_email="ada@example.com")
    for price, quantity in lines:
        services.order_line_item_add(
            order=order, sku=make_sku(price_cents=price), quantity=quantity
        )
    return services.order_update(order=order, **changes)


def test_order_with_a_promotion_and_a_coupon_gets_two_discount_lines_and_exact_totals(
    market, make_sku, promotions
):
    automatic, fixed, coupon = promotions
    assert (market.shipping_amount_cents, market.tax_rate) == (500, Decimal("0.2"))

    order = _order_with(market, make_sku, [(1000, 2), (1550, 1)], coupon_code=coupon.code)

    discounts = list(
        order.line_items.exclude(item_type="skus").values_list(
            "item_type", "promotion", "total_amount_cents"
        )
    )
    assert sorted(discounts) == [("coupons", fixed.pk, -500), ("promotions", automatic.pk, -355)]
    fresh = Order.objects.get(pk=order.pk)
    # subtotal 2 × 1000 + 1550 = 3550; discount -355 (10 %) - 500 = -855; shipping 500;
    # taxable 3550 - 855 + 500 = 3195; tax 20 % = 639; total 3195 + 639 = 3834.
    assert fresh.subtotal_amount_cents == 3550
    assert fresh.discount_amount_cents == -855
    assert fresh.shipping_amount_cents == 500
    assert fresh.total_tax_amount_cents == 639
    assert fresh.total_amount_cents == 3834
    assert fresh.skus_count == 3


def test_discount_lines_follow_the_subtotal_when_lines_change(market, make_sku, promotions):
    _, _, coupon = promotions
    order = _order_with(market, make_sku, [(1000, 1)], coupon_code=coupon.code)
    line = order.line_items.get(item_type="skus")
    services.order_line_item_update(line_item=line, quantity=3)

    promotion_line = order.line_items.get(item_type="promotions")
    assert promotion_line.total_amount_cents == -300
    assert order.line_items.filter(item_type="coupons").count() == 1
    fresh = Order.objects.get(pk=order.pk)
    # 3000 - 300 - 500 + 500 = 2700; tax 540; total 3240.
    assert (fresh.discount_amount_cents, fresh.total_amount_cents) == (-800, 3240)


def test_discounts_through_the_services_never_exceed_the_subtotal(market, make_sku):
    factories.PromotionFactory(market=market, percentage=10)
    big = factories.PromotionFactory(
        market=market, kind=Promotion.Kind.FIXED, amount_cents=5000, requires_coupon=True
    )
    coupon = factories.CouponFactory(code="BIG", promotion=big)
    order = _order_with(market, make_sku, [(1000, 1)], coupon_code=coupon.code)

    fresh = Order.objects.get(pk=order.pk)
    assert fresh.discount_amount_cents == -1000
    assert fresh.total_tax_amount_cents == 100
    assert fresh.total_amount_cents == 600


def test_promotion_of_another_market_gives_no_discount(market, make_sku):
    factories.PromotionFactory(market=factories.MarketFactory(code="us"), percentage=50)
    order = _order_with(market, make_sku, [(1000, 1)])
    assert not order.line_items.exclude(item_type="skus").exists()
    assert Order.objects.get(pk=order.pk).total_amount_cents == 1800


def test_placing_keeps_the_totals_computed_while_editing(market, make_sku, promotions):
    _, _, coupon = promotions
    order = _order_with(
        market,
        make_sku,
        [(1000, 2), (1550, 1)],
        coupon_code=coupon.code,
        billing_address=factories.AddressFactory(),
        shipping_address=factories.AddressFactory(),
        payment_method=factories.PaymentMethodFactory(market=market),
        payment_source=factories.PaymentSourceFactory(),
    )
    placed = services.order_place(order=order)
    assert Order.objects.get(pk=placed.pk).total_amount_cents == 3834


def test_percentage_discount_is_rounded_half_up_like_tax():
    assert promotion_discount_cents(promotion=_promotion(percentage=10), subtotal_cents=1005) == 101
    assert promotion_discount_cents(promotion=_promotion(percentage=10), subtotal_cents=1004) == 100


def test_a_coupon_of_an_automatic_promotion_does_not_discount_twice():
    automatic = _promotion(name="Auto 10%", percentage=10)
    automatic.pk = 1
    coupon = Coupon(code="AUTO", promotion=automatic)

    lines = discount_lines_build(
        order=Order(mode="test"), subtotal_cents=3000, promotions=[automatic], coupon=coupon, at=AT
    )

    assert [(line.item_type, line.total_amount_cents) for line in lines] == [("promotions", -300)]
