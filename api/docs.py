"""/api/openapi.json, and the reference pages that render it with no file from the internet
(drf-spectacular-sidecar's Swagger UI and Redoc, served as static files): /api/docs/ to read
(Redoc), /api/docs/try/ to call the API with a token (Swagger UI). Their text is the schema's,
written in api/reference/."""

from typing import Any

from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

# The browser may load nothing but this server's files: Redoc links a logo from its CDN, which
# this refuses before any request leaves. Inline code and styles are the UIs' own; blob: for
# Redoc's worker and downloads.
OFFLINE = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)


class SchemaView(SpectacularJSONAPIView):
    """/api/openapi.json: public, JSON."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class OfflinePage:
    """A page whose Content-Security-Policy keeps the browser off the internet."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response["Content-Security-Policy"] = OFFLINE
        return response


class ReferenceView(OfflinePage, SpectacularRedocView):
    """/api/docs/: the reference to read (public)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    url_name = "openapi"
    template_name = "api/redoc.html"
    title = "Order copies API reference"


class TryView(OfflinePage, SpectacularSwaggerView):
    """/api/docs/try/: every operation with "Try it out", after "Authorize" with a token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    url_name = "openapi"
    template_name = "api/swagger_ui.html"
    title = "Order copies API: try it"
