class IdempotencyError(Exception):
    """A write sent with an Idempotency-Key that cannot be carried out or replayed."""

    status_code = 400
    code = "BAD_REQUEST"
    title = "Bad request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IdempotencyKeyReused(IdempotencyError):
    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "Idempotency key reused"


class IdempotencyKeyInUse(IdempotencyError):
    status_code = 409
    code = "IDEMPOTENCY_KEY_IN_USE"
    title = "Idempotency key in use"
