"""Domain errors of order subscriptions, turned into API errors, admin messages or exit statuses.

Each carries `errors` (attribute → messages, the shape of JSON:API validation errors with a
pointer) and `message` (all of them in one line), as ordercopies/exceptions.py does.
"""

from core.errors import DomainError


class OrderSubscriptionError(DomainError):
    code = "VALIDATION_ERROR"
    key = "base"

    def __init__(self, errors: str | dict[str, list[str]]) -> None:
        self.errors = {self.key: [errors]} if isinstance(errors, str) else errors
        self.message = "; ".join(
            message if key in ("base", "status") else f"{key}: {message}"
            for key, messages in self.errors.items()
            for message in messages
        )
        super().__init__(self.message)


class SubscriptionInvalid(OrderSubscriptionError):
    """Attributes that cannot be stored: each message under its attribute."""


class SourceOrderNotFound(OrderSubscriptionError):
    """The source order does not exist in the caller's mode."""

    key = "source_order"


class SubscriptionTransitionRefused(OrderSubscriptionError):
    """The subscription's status does not allow this action (activate, run now, ...)."""

    key = "status"


class SubscriptionNotDeletable(OrderSubscriptionError):
    key = "status"
