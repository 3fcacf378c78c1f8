"""The edge of /api/ and /oauth/: rate limits, the body size limit, and JSON:API error documents
instead of Django's HTML pages, for every answer of those paths (500 included)."""

import logging
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from api.exceptions import error_http_response
from api.ratelimit import Verdict, ratelimit_check_settings, ratelimit_count
from api.tracing import current_trace_id, trace_start

logger = logging.getLogger(__name__)

PREFIXES = ("/api/", "/oauth/")


@cache
def _resources() -> frozenset[str]:
    from api.urls import RESOURCES  # the URLconf imports every viewset: only once it is needed

    return frozenset(RESOURCES)


def _guarded(request: HttpRequest) -> bool:
    return request.path_info.startswith(PREFIXES)


class ApiEdgeMiddleware:
    """First in MIDDLEWARE, so that it sees every answer of /api/ and /oauth/ as it leaves,
    whichever layer gave it. Paths elsewhere (the admin, the home page) pass untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        ratelimit_check_settings()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _guarded(request):
            return self.get_response(request)
        trace = trace_start(request)
        response = self._answer(request)
        response["X-Trace-Id"] = trace
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        try:
            verdict = ratelimit_count(request, resources=_resources())
        except DatabaseError:
            logger.exception("rate limits: the counters cannot be read or written")
            return _error(request, 503, "the service cannot count requests now: retry later")
        response = self._refusal(request, verdict) or self.get_response(request)
        response = _as_error_document(request, response)
        if verdict is not None:
            for name, value in verdict.headers().items():
                response[name] = value
        return response

    def _refusal(self, request: HttpRequest, verdict: Verdict | None) -> HttpResponse | None:
        if verdict is not None and verdict.exceeded:
            response = _error(
                request,
                429,
                f"more than {verdict.limit} requests in {verdict.interval} s: "
                f"retry in {verdict.retry_after} s",
            )
            response["Retry-After"] = str(verdict.retry_after)
            return response
        if _content_length(request) > settings.API_MAX_BODY_BYTES:
            return _too_large(request)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _guarded(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request)
        # Django still logs the traceback and answers 500 (re-raised in tests); the trace id
        # ties the answer the caller sees to that log line.
        logger.error("API incident %s: %s %s", current_trace_id(), request.method, request.path)
        return None


def _error(request: HttpRequest, status_code: int, detail: str) -> HttpResponse:
    # /oauth/token answers application/json, as Commerce Layer's does; its errors too.
    oauth = request.path_info.startswith("/oauth/")
    content_type = "application/json" if oauth else "application/vnd.api+json"
    return error_http_response(status_code, detail, content_type=content_type)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.API_MAX_BODY_BYTES
    return _error(
        request,
        413,
        f"the request body is larger than {limit} bytes (API_MAX_BODY_BYTES): send less",
    )


def _as_error_document(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An error answered by Django itself (its HTML 404, 400 or 500 pages, the debug page) as
    a JSON:API error document with the same status."""
    if response.status_code < 400 or "json" in response.get("Content-Type", ""):
        return response
    if response.status_code >= 500:
        detail = f"an unexpected error occurred; it is logged with trace id {current_trace_id()}"
        return _error(request, response.status_code, detail)
    if response.status_code == 404:
        return _error(request, 404, f"{request.path} is not an endpoint of this API")
    return _error(
        request, response.status_code, f"{request.method} {request.path} cannot be answered"
    )
