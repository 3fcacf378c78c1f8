"""Every error as Commerce Layer writes it:
{"errors": [{"title", "detail", "code", "status", "source": {"pointer"}, "meta"}]}."""

import json
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework_json_api.exceptions import Conflict

from api.tracing import current_trace_id
from core.errors import DomainError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with its own code, raised by our API code."""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status_code: int,
        title: str = "",
        pointer: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.error_code = code
        self.status_code = status_code
        self.title = title or detail
        self.pointer = pointer


class FilterNotAllowed(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="FILTER_NOT_ALLOWED", status_code=400, title="Invalid filter")


class InvalidResource(ApiError):
    def __init__(self, detail: str, *, pointer: str | None = None) -> None:
        super().__init__(
            detail,
            code="INVALID_RESOURCE",
            status_code=400,
            title="Invalid resource document",
            pointer=pointer,
        )


# DRF exception class → (code, status, title) as Commerce Layer names them.
CODES: list[tuple[type[exceptions.APIException], str, int, str]] = [
    (exceptions.NotAuthenticated, "UNAUTHORIZED", 401, "Access denied"),
    (exceptions.AuthenticationFailed, "INVALID_TOKEN", 401, "Invalid token"),
    (exceptions.PermissionDenied, "UNAUTHORIZED", 401, "Access denied"),
    (exceptions.NotFound, "RECORD_NOT_FOUND", 404, "Record not found"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED", 405, "Method not allowed"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE", 406, "Not acceptable"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type"),
    (exceptions.Throttled, "TOO_MANY_REQUESTS", 429, "Too many requests"),
    (exceptions.ParseError, "INVALID_RESOURCE", 400, "Invalid resource document"),
    # A document of another type, or whose id is not the URL's (JSON:API: 409 Conflict).
    (Conflict, "CONFLICT", 409, "Conflict"),
]


def error_object(
    *, title: str, detail: str, code: str, status_code: int, pointer: str | None = None, **meta: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "title": title,
        "detail": detail,
        "code": code,
        "status": str(status_code),
    }
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    trace = current_trace_id()
    if trace is not None:
        meta["trace_id"] = trace
    if meta:
        error["meta"] = meta
    return error


# Codes of errors answered outside DRF (api/middleware.py), by HTTP status.
HTTP_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    404: ("RECORD_NOT_FOUND", "Record not found"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal server error"),
}


def error_http_response(
    status_code: int, detail: str, *, content_type: str = "application/vnd.api+json"
) -> HttpResponse:
    """A JSON:API error document as a plain Django response, for answers given before or after
    DRF (body too large, rate limit, a Django error page under /api/ or /oauth/)."""
    phrase = HTTPStatus(status_code).phrase if status_code in set(HTTPStatus) else "Error"
    code, title = HTTP_CODES.get(status_code, (phrase.upper().replace(" ", "_"), phrase))
    error = error_object(title=title, detail=detail, code=code, status_code=status_code)
    return HttpResponse(
        json.dumps({"errors": [error]}), status=status_code, content_type=content_type
    )


def errors_response(errors: list[dict[str, Any]], status_code: int) -> Response:
    response = Response({"errors": errors}, status=status_code)
    response.exception = True
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    view = context.get("view")
    relationships: frozenset[str] = getattr(view, "relationship_names", frozenset())
    if isinstance(exc, DataError):
        # A value the database cannot store (NUL character, number out of range): bad input.
        logger.info("refused a value the database cannot store: %s", exc)
        return errors_response(
            [
                error_object(
                    title="Invalid value",
                    detail=f"a value cannot be stored: {str(exc).splitlines()[0]}",
                    code="INVALID_RESOURCE",
                    status_code=400,
                )
            ],
            400,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DomainError):
        # Every app's refusal says its own code and status (core/errors.py).
        return validation_response(
            exc.errors, relationships=relationships, code=exc.code, status_code=exc.status
        )
    if isinstance(exc, exceptions.ValidationError):
        return validation_response(exc.detail, relationships=relationships)
    if isinstance(exc, ApiError):
        error = error_object(
            title=exc.title,
            detail=str(exc.detail),
            code=exc.error_code,
            status_code=exc.status_code,
            pointer=exc.pointer,
        )
        return errors_response([error], exc.status_code)
    if isinstance(exc, exceptions.APIException):
        return _drf_error(exc)
    return None


def _drf_error(exc: exceptions.APIException) -> Response:
    code, status_code, title = "BAD_REQUEST", exc.status_code, "Bad request"
    for kind, kind_code, kind_status, kind_title in CODES:
        if isinstance(exc, kind):
            code, status_code, title = kind_code, kind_status, kind_title
            break
    detail = exc.detail if isinstance(exc.detail, str) else "; ".join(_messages(exc.detail))
    response = errors_response(
        [error_object(title=title, detail=str(detail), code=code, status_code=status_code)],
        status_code,
    )
    if status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait:
        response["Retry-After"] = str(int(wait))
    return response


def validation_response(
    detail: Any,
    *,
    relationships: Iterable[str] = (),
    code: str = "VALIDATION_ERROR",
    status_code: int = 422,
) -> Response:
    """One error object per message, each pointing at its member (422 VALIDATION_ERROR unless
    a domain error says otherwise)."""
    errors = []
    if not isinstance(detail, dict):
        detail = {"base": detail}
    for key, messages in detail.items():
        pointer = _pointer(str(key), relationships)
        for message in _messages(messages):
            errors.append(
                error_object(
                    title=message,
                    detail=f"{key} - {message}",
                    code=code,
                    status_code=status_code,
                    pointer=pointer,
                    error=getattr(message, "code", "invalid"),
                )
            )
    return errors_response(errors, status_code)


def _pointer(key: str, relationships: Iterable[str]) -> str:
    if key in ("base", "non_field_errors"):
        return "/data"
    if key in relationships:
        return f"/data/relationships/{key}"
    return f"/data/attributes/{key}"


def _messages(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{key}: {m}" for key, inner in value.items() for m in _messages(inner)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item)]
    return [value if isinstance(value, str) else str(value)]
