from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import parsers, renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import error_object, errors_response
from api.parsers import BoundedJSONParser
from api.services import TokenRefused, access_token_grant


class TokenView(APIView):
    """POST /oauth/token (JSON or form body), as Commerce Layer's auth endpoint. Its rate limit
    (OAUTH_RATE per client address, shared by every process) is api/middleware.py's."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    parser_classes = [BoundedJSONParser, parsers.FormParser]
    renderer_classes = [renderers.JSONRenderer]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        try:
            token = access_token_grant(
                grant_type=str(data.get("grant_type", "")),
                client_id=str(data.get("client_id", "")),
                client_secret=str(data.get("client_secret", "")),
                scope=str(data.get("scope", "")),
            )
        except TokenRefused as refusal:
            error = error_object(
                title="Invalid token request",
                detail=refusal.message,
                code=refusal.code,
                status_code=refusal.status,
            )
            return errors_response([error], refusal.status)
        return Response(token)
