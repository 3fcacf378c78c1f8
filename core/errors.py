"""The one base of every app's domain errors (orders, ordercopies, subscriptions, api).

A refusal carries `errors` (attribute or "base" → messages: the shape of an order copy's
errors_log and of JSON:API validation errors with their pointers), `message` (all of them in
one line, for admin messages and command output), and, as class attributes, its stable JSON:API
`code` and HTTP `status`. The API's error handler reads those two attributes: it imports no app
error. Codes are listed in the README ("Error codes") and never change meaning.
"""

from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "VALIDATION_ERROR"
    status: ClassVar[int] = 422
    # The attribute a message given as a plain string is about.
    key: ClassVar[str] = "base"

    def __init__(self, errors: str | dict[str, list[str]]) -> None:
        self.errors = {self.key: [errors]} if isinstance(errors, str) else errors
        self.message = "; ".join(
            message if key in ("base", self.key) else f"{key}: {message}"
            for key, messages in self.errors.items()
            for message in messages
        )
        super().__init__(self.message)
