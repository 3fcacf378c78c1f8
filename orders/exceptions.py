"""Domain errors of orders. Each carries `errors`: attribute → messages, the shape of an order
copy's errors_log and of JSON:API validation errors, so every edge can report it as it is."""

from core.errors import DomainError


class OrderError(DomainError):
    default_key = "base"

    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {self.default_key: [errors]}
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))


class OrderTransitionRefused(OrderError):
    """The order's status does not allow this action."""

    default_key = "status"


class OrderPlacementRefused(OrderError):
    """A placement rule failed; `errors` says which ones."""


class OrderNotEditable(OrderError):
    """Line items, addresses and payment can change only on draft and pending orders."""

    default_key = "status"


class OrderInvalid(OrderError):
    """Input that cannot be applied to an order (unknown SKU in the market, other mode, ...)."""


class CouponExhausted(OrderError):
    """Counting the uses of a coupon would pass its usage limit."""

    default_key = "coupon_code"


class InvalidCoupon(OrderError):
    default_key = "coupon_code"
