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


class SchemaView(SpectacularJSONAPIView):
    """/api/openapi.json: public, JSON."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class ReferenceView(SpectacularRedocView):
    """/api/docs/: the reference to read (public)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    url_name = "openapi"
    template_name = "api/redoc.html"
    title = "Order copies API reference"


class TryView(SpectacularSwaggerView):
    """/api/docs/try/: every operation with "Try it out", after "Authorize" with a token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    url_name = "openapi"
    template_name = "api/swagger_ui.html"
    title = "Order copies API: try it"
