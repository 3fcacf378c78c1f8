"""The trace id of an API request: Commerce Layer's `meta.trace_id`, in every resource and error
document, the `X-Trace-Id` response header and every log line written while it is answered."""

import logging
import re
import secrets
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)

# A caller's own id (a proxy's X-Request-Id) is kept when it is short and plain.
ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def trace_start(request: HttpRequest) -> str:
    """The request's trace id (the caller's X-Request-Id when it is a plain one), current until
    the answer is sent (`trace_end`, on request_finished)."""
    given = request.headers.get("X-Request-Id", "")
    value = given if ACCEPTED.match(given) else secrets.token_hex(16)
    request.trace_id = value  # type: ignore[attr-defined]
    trace_id.set(value)
    return value


def trace_end(**signal: Any) -> None:
    trace_id.set(None)


def current_trace_id() -> str | None:
    return trace_id.get()


class TraceIdFilter(logging.Filter):
    """Gives every log record a `trace_id` ("-" outside an API request) for the formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = trace_id.get() or "-"
        return True
