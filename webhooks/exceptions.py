"""Domain errors of webhooks, turned into API errors (422 with their pointer) or admin messages."""

from core.errors import DomainError


class WebhookError(DomainError):
    code = "VALIDATION_ERROR"
    key = "base"

    def __init__(self, message: str) -> None:
        self.message = message
        self.errors = {self.key: [message]}
        super().__init__(message)


class UnsafeCallbackUrl(WebhookError):
    """Not http(s), http in live mode, or a host that resolves to a private address."""

    key = "callback_url"


class UnresolvableHost(UnsafeCallbackUrl):
    """The host does not resolve: accepted when saving, a failed call when delivering."""


class UnknownTopic(WebhookError):
    key = "topic"


class InvalidIncludeResources(WebhookError):
    key = "include_resources"
