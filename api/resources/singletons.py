"""`/api/organization` and `/api/application`: the singletons Commerce Layer's CLI reads when it
logs in (its organization's name and slug, the application the token belongs to). Any valid
token reads them; nothing writes them (405)."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import ApiClient
from api.permissions import HasAccessToken
from api.serializers import timestamp
from api.tokens import AccessToken


class SingletonView(APIView):
    permission_classes = [HasAccessToken]
    http_method_names = ["get", "head", "options"]
    sales_channel_actions = ("retrieve",)
    action = "retrieve"

    def resource(self, grant: AccessToken) -> tuple[str, str, dict[str, Any]]:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        grant = request.auth
        assert isinstance(grant, AccessToken)  # noqa: S101 (HasAccessToken)
        resource_type, pk, attributes = self.resource(grant)
        url = request.build_absolute_uri(f"/api/{resource_type.removesuffix('s')}")
        return Response(
            {
                "data": {
                    "id": pk,
                    "type": resource_type,
                    "links": {"self": url},
                    "attributes": attributes,
                    "meta": {
                        "mode": grant.mode,
                        "organization_id": settings.API_ORGANIZATION_ID,
                        "trace_id": getattr(request, "trace_id", None),
                    },
                }
            }
        )


@extend_schema_view(get=extend_schema(tags=["organization"]))
class OrganizationView(SingletonView):
    def resource(self, grant: AccessToken) -> tuple[str, str, dict[str, Any]]:
        return (
            "organizations",
            settings.API_ORGANIZATION_ID,
            {
                "name": settings.API_ORGANIZATION_NAME,
                "slug": settings.API_ORGANIZATION_SLUG,
                "domain": f"{settings.API_ORGANIZATION_SLUG}.commercelayer.io",
            },
        )


@extend_schema_view(get=extend_schema(tags=["application"]))
class ApplicationView(SingletonView):
    def resource(self, grant: AccessToken) -> tuple[str, str, dict[str, Any]]:
        client = ApiClient.objects.get(pk=grant.client_pk)
        return (
            "applications",
            client.pk,
            {
                "name": client.name,
                "kind": client.kind,
                "public_access": not client.confidential,
                "created_at": timestamp(client.created_at),
            },
        )
