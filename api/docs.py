"""/api/openapi.json and /api/docs/, a page that documents the schema offline (no JavaScript
or fonts from the internet)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views import View
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.permissions import AllowAny


class SchemaView(SpectacularJSONAPIView):
    """/api/openapi.json: public, JSON."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class SwaggerDocsView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
        operations = []
        for route, methods in sorted(schema.get("paths", {}).items()):
            for method, operation in methods.items():
                operations.append(
                    {
                        "method": method.upper(),
                        "path": route,
                        "summary": operation.get("summary") or operation.get("operationId", ""),
                        "parameters": [p.get("name") for p in operation.get("parameters", [])],
                        "tags": ", ".join(operation.get("tags", [])),
                    }
                )
        return TemplateResponse(
            request, "api/docs.html", {"info": schema.get("info", {}), "operations": operations}
        )
