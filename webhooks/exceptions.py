"""Domain errors of webhooks, turned into API errors (422 with their pointer) or admin messages."""

from core.errors import DomainError


class WebhookError(DomainError):
    pass


class UnsafeCallbackUrl(WebhookError):
    """Not http(s), http in live mode, or a host that resolves to a private address."""

    key = "callback_url"


class UnresolvableHost(UnsafeCallbackUrl):
    """The host does not resolve: accepted when saving, a failed call when delivering."""


class UnknownTopic(WebhookError):
    key = "topic"


class InvalidIncludeResources(WebhookError):
    key = "include_resources"


class NothingToDeliver(WebhookError):
    """An event fired again that no enabled webhook listens to."""
