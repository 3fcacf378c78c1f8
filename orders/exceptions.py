"""Domain errors of orders (see core/errors.py): each with its stable code and status."""

from core.errors import DomainError


class OrderError(DomainError):
    code = "VALIDATION_ERROR"


class OrderTransitionRefused(OrderError):
    """The order's status does not allow this action."""

    code = "ORDER_TRANSITION_REFUSED"
    key = "status"


class OrderPlacementRefused(OrderError):
    """A placement rule failed; `errors` says which ones."""

    code = "ORDER_NOT_PLACEABLE"


class OrderNotEditable(OrderError):
    """Line items, addresses and payment can change only on draft and pending orders."""

    code = "ORDER_NOT_EDITABLE"
    key = "status"


class OrderInvalid(OrderError):
    """Input that cannot be applied to an order (unknown SKU in the market, other mode, ...)."""

    code = "VALIDATION_ERROR"


class CouponExhausted(OrderError):
    """Counting the uses of a coupon would pass its usage limit."""

    key = "coupon_code"


class InvalidCoupon(OrderError):
    code = "COUPON_INVALID"
    key = "coupon_code"


class AddressInUse(OrderError):
    """An address of a placed (or later) order is part of its record: it cannot change."""

    code = "ADDRESS_IN_USE"
    status = 423
    key = "base"


class CustomerHasOrders(OrderError):
    code = "CUSTOMER_HAS_ORDERS"
