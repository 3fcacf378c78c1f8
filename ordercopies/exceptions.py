"""Domain errors of order copies, turned into API errors, admin messages or exit statuses."""

from core.errors import DomainError


class OrderCopyError(DomainError):
    code = "VALIDATION_ERROR"
    key = "base"

    def __init__(self, message: str) -> None:
        self.message = message
        self.errors = {self.key: [message]}
        super().__init__(message)


class SourceOrderNotFound(OrderCopyError):
    """The source order does not exist in the caller's mode."""

    key = "source_order"


class CopyNotFound(OrderCopyError):
    """The copy was deleted by a concurrent request while this one waited for it."""


class CopyNotRetryable(OrderCopyError):
    key = "status"


class CopyNotAbortable(OrderCopyError):
    key = "status"


class CopyNotDeletable(OrderCopyError):
    key = "status"


class CopyNotLaunchable(OrderCopyError):
    """Only a pending copy can be queued again."""

    key = "status"


class CopyFailed(Exception):
    """Raised inside the copy's transaction to roll back everything the attempt did."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(errors)


class WorkerLost(Exception):  # noqa: N818 (the name a dead job row records)
    """Recorded on the job row of a worker that died while it ran the job."""
