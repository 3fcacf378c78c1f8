"""Domain errors of order copies, turned into API errors, admin messages or exit statuses."""

from core.errors import DomainError


class OrderCopyError(DomainError):
    code = "VALIDATION_ERROR"


class SourceOrderNotFound(OrderCopyError):
    """The source order does not exist in the caller's mode."""

    key = "source_order"


class CopyNotFound(OrderCopyError):
    """The copy was deleted by a concurrent request while this one waited for it."""

    code = "RECORD_NOT_FOUND"
    status = 404


class CopyNotRetryable(OrderCopyError):
    code = "COPY_NOT_RETRYABLE"
    key = "status"


class CopyNotAbortable(OrderCopyError):
    code = "COPY_NOT_ABORTABLE"
    key = "status"


class CopyNotDeletable(OrderCopyError):
    """A copy that runs or made an order is part of that order's history."""

    code = "LOCKED"
    status = 423
    key = "status"


class CopyNotLaunchable(OrderCopyError):
    """Only a pending copy can be queued again."""

    code = "COPY_NOT_LAUNCHABLE"
    key = "status"


class CopyFailed(Exception):
    """Raised inside the copy's transaction to roll back everything the attempt did."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(errors)


class WorkerLost(Exception):  # noqa: N818 (the name a dead job row records)
    """Recorded on the job row of a worker that died while it ran the job."""
