from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from health.metrics import API_REQUESTS

API_PREFIXES = ("/api/", "/oauth/")


class ApiRequestMetricsMiddleware:
    """Counts the API's answers by method and status for /metrics (in this process)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            API_REQUESTS.labels(method=request.method, status=str(response.status_code)).inc()
        return response
