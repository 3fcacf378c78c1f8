"""Domain errors of order subscriptions (see core/errors.py), turned into API errors, admin
messages or exit statuses."""

from core.errors import DomainError


class OrderSubscriptionError(DomainError):
    code = "VALIDATION_ERROR"


class SubscriptionInvalid(OrderSubscriptionError):
    """Attributes that cannot be stored: each message under its attribute."""


class SourceOrderNotFound(OrderSubscriptionError):
    """The source order does not exist in the caller's mode."""

    key = "source_order"


class SubscriptionTransitionRefused(OrderSubscriptionError):
    """The subscription's status does not allow this action (activate, run now, ...)."""

    code = "SUBSCRIPTION_TRANSITION_REFUSED"
    key = "status"


class SubscriptionNotDeletable(OrderSubscriptionError):
    code = "SUBSCRIPTION_NOT_DELETABLE"
    key = "status"
