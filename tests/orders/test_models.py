"""Order state machines, coupon validity and promotion windows, without the database."""

from datetime import UTC, datetime, timedelta

import pytest
from django_fsm import TransitionNotAllowed

from orders.models import Coupon, Order, Promotion
from tests.factories import OrderFactory

AT = datetime(2030, 5, 17, 12, 0, tzinfo=UTC)

Status = Order.Status
PaymentStatus = Order.PaymentStatus
FulfillmentStatus = Order.FulfillmentStatus

# transition method -> the statuses it may start from (everything else is forbidden)
STATUS_SOURCES = {
    "make_pending": {Status.DRAFT},
    "place": {Status.PENDING},
    "approve": {Status.PLACED},
    "cancel": {Status.PLACED, Status.APPROVED},
}
PAYMENT_SOURCES = {
    "authorize_payment": {PaymentStatus.UNPAID},
    "mark_free": {PaymentStatus.UNPAID},
    "void_payment": {PaymentStatus.AUTHORIZED},
}
FULFILLMENT_SOURCES = {
    "mark_fulfillment_not_required": {FulfillmentStatus.UNFULFILLED},
}
TIMED = {"place", "approve", "cancel"}


def _call(order: Order, method: str) -> None:
    kwargs = {"at": AT} if method in TIMED else {}
    getattr(order, method)(**kwargs)


def _forbidden(sources: dict[str, set[str]], all_values: list[str]) -> list[tuple[str, str]]:
    return [
        (method, value)
        for method, allowed in sources.items()
        for value in all_values
        if value not in allowed
    ]


# --- order status -------------------------------------------------------------------------------


def test_draft_becomes_pending():
    order = Order(status=Status.DRAFT)
    order.make_pending()
    assert order.status == Status.PENDING


def test_pending_becomes_placed_and_records_when():
    order = Order(status=Status.PENDING)
    order.place(at=AT)
    assert order.status == Status.PLACED
    assert order.placed_at == AT


def test_placed_becomes_approved_and_records_when():
    order = Order(status=Status.PLACED)
    order.approve(at=AT)
    assert order.status == Status.APPROVED
    assert order.approved_at == AT


@pytest.mark.parametrize("source", [Status.PLACED, Status.APPROVED])
def test_placed_or_approved_becomes_cancelled_and_records_when(source):
    order = Order(status=source)
    order.cancel(at=AT)
    assert order.status == Status.CANCELLED
    assert order.cancelled_at == AT


def test_a_new_order_starts_as_an_unpaid_unfulfilled_draft():
    order = Order()
    assert order.status == Status.DRAFT
    assert order.payment_status == PaymentStatus.UNPAID
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED


@pytest.mark.parametrize(
    ("method", "source"), _forbidden(STATUS_SOURCES, list(Status.values)), ids=str
)
def test_forbidden_status_transition_is_refused_and_changes_nothing(method, source):
    order = Order(status=source)
    with pytest.raises(TransitionNotAllowed):
        _call(order, method)
    assert order.status == source
    assert order.placed_at is None
    assert order.approved_at is None
    assert order.cancelled_at is None


def test_forbidden_transitions_cover_the_ones_named_in_the_spec():
    forbidden = set(_forbidden(STATUS_SOURCES, list(Status.values)))
    for pair in [
        ("place", Status.DRAFT),
        ("approve", Status.DRAFT),
        ("approve", Status.PENDING),
        ("cancel", Status.PENDING),
        ("cancel", Status.DRAFT),
        ("place", Status.APPROVED),
        ("place", Status.CANCELLED),
        ("approve", Status.CANCELLED),
        ("cancel", Status.CANCELLED),
        ("make_pending", Status.CANCELLED),
    ]:
        assert pair in forbidden


@pytest.mark.parametrize("method", sorted(STATUS_SOURCES))
def test_a_cancelled_order_cannot_move_anywhere(method):
    order = Order(status=Status.CANCELLED)
    with pytest.raises(TransitionNotAllowed):
        _call(order, method)
    assert order.status == Status.CANCELLED


# --- payment and fulfillment --------------------------------------------------------------------


def test_unpaid_payment_is_authorized():
    order = Order(payment_status=PaymentStatus.UNPAID)
    order.authorize_payment()
    assert order.payment_status == PaymentStatus.AUTHORIZED


def test_unpaid_payment_is_marked_free():
    order = Order(payment_status=PaymentStatus.UNPAID)
    order.mark_free()
    assert order.payment_status == PaymentStatus.FREE


def test_authorized_payment_is_voided():
    order = Order(payment_status=PaymentStatus.AUTHORIZED)
    order.void_payment()
    assert order.payment_status == PaymentStatus.VOIDED


@pytest.mark.parametrize(
    ("method", "source"), _forbidden(PAYMENT_SOURCES, list(PaymentStatus.values)), ids=str
)
def test_forbidden_payment_transition_is_refused(method, source):
    order = Order(payment_status=source)
    with pytest.raises(TransitionNotAllowed):
        _call(order, method)
    assert order.payment_status == source


def test_unfulfilled_order_is_marked_fulfillment_not_required():
    order = Order(fulfillment_status=FulfillmentStatus.UNFULFILLED)
    order.mark_fulfillment_not_required()
    assert order.fulfillment_status == FulfillmentStatus.NOT_REQUIRED


@pytest.mark.parametrize(
    ("method", "source"),
    _forbidden(FULFILLMENT_SOURCES, list(FulfillmentStatus.values)),
    ids=str,
)
def test_forbidden_fulfillment_transition_is_refused(method, source):
    order = Order(fulfillment_status=source)
    with pytest.raises(TransitionNotAllowed):
        _call(order, method)
    assert order.fulfillment_status == source


def test_status_transitions_leave_payment_and_fulfillment_alone():
    order = Order(status=Status.PENDING)
    order.place(at=AT)
    assert order.payment_status == PaymentStatus.UNPAID
    assert order.fulfillment_status == FulfillmentStatus.UNFULFILLED


# --- protected fields and editability -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", Status.PLACED),
        ("payment_status", PaymentStatus.PAID),
        ("fulfillment_status", FulfillmentStatus.FULFILLED),
    ],
)
def test_state_fields_cannot_be_assigned_directly(field, value):
    order = Order()
    with pytest.raises(AttributeError):
        setattr(order, field, value)
    assert getattr(order, field) != value


@pytest.mark.django_db
def test_status_of_a_loaded_order_cannot_be_assigned_directly():
    order = Order.objects.get(pk=OrderFactory().pk)
    with pytest.raises(AttributeError):
        order.status = "placed"
    assert order.status == Status.DRAFT
    assert Order.objects.get(pk=order.pk).status == Status.DRAFT


@pytest.mark.parametrize(
    ("status", "editable"),
    [
        (Status.DRAFT, True),
        (Status.PENDING, True),
        (Status.PLACED, False),
        (Status.APPROVED, False),
        (Status.CANCELLED, False),
    ],
)
def test_only_draft_and_pending_orders_are_editable(status, editable):
    assert Order(status=status).is_editable is editable


def test_amounts_are_formatted_in_the_order_currency():
    assert Order(currency_code="EUR").formatted(123456) == "€1,234.56"
    assert Order(currency_code="USD").formatted(-5) == "-$0.05"
    assert Order(currency_code="CHF").formatted(100) == "CHF 1.00"


# --- promotions and coupons ---------------------------------------------------------------------


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


def _coupon(**kwargs) -> Coupon:
    fields = {"code": "SPRING", "promotion": _promotion(requires_coupon=True)}
    fields.update(kwargs)
    return Coupon(**fields)


def test_promotion_is_active_from_its_start_inclusive():
    promotion = _promotion(starts_at=AT, expires_at=AT + timedelta(hours=1))
    assert promotion.is_active(AT)
    assert not promotion.is_active(AT - timedelta(microseconds=1))


def test_promotion_is_no_longer_active_at_its_expiry():
    promotion = _promotion(starts_at=AT - timedelta(hours=1), expires_at=AT)
    assert promotion.is_active(AT - timedelta(microseconds=1))
    assert not promotion.is_active(AT)


def test_valid_coupon_has_no_invalid_reason():
    assert (
        _coupon(usage_limit=3, usage_count=2, expires_at=AT + timedelta(days=1)).invalid_reason(AT)
        is None
    )


def test_coupon_without_limit_or_expiry_stays_valid_however_much_it_is_used():
    assert _coupon(usage_limit=None, usage_count=10_000, expires_at=None).invalid_reason(AT) is None


def test_coupon_expired_at_the_instant_of_its_expiry():
    coupon = _coupon(expires_at=AT)
    assert coupon.invalid_reason(AT) == "coupon SPRING has expired"
    assert coupon.invalid_reason(AT - timedelta(microseconds=1)) is None


def test_coupon_used_up_when_usage_reaches_its_limit():
    assert _coupon(usage_limit=2, usage_count=2).invalid_reason(AT) == (
        "coupon SPRING has been used up"
    )
    assert _coupon(usage_limit=2, usage_count=1).invalid_reason(AT) is None


def test_coupon_of_an_inactive_promotion_is_invalid():
    expired = _promotion(starts_at=AT - timedelta(days=2), expires_at=AT - timedelta(days=1))
    future = _promotion(starts_at=AT + timedelta(days=1), expires_at=AT + timedelta(days=2))
    reason = "coupon SPRING belongs to a promotion that is not active"
    assert _coupon(promotion=expired).invalid_reason(AT) == reason
    assert _coupon(promotion=future).invalid_reason(AT) == reason


def test_expiry_is_reported_before_usage_and_promotion():
    inactive = _promotion(starts_at=AT - timedelta(days=2), expires_at=AT - timedelta(days=1))
    coupon = _coupon(
        expires_at=AT - timedelta(hours=1), usage_limit=1, usage_count=1, promotion=inactive
    )
    assert coupon.invalid_reason(AT) == "coupon SPRING has expired"
