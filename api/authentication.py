from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.models import ApiClient
from api.tokens import AccessToken, InvalidToken, token_decode, token_grant_for


class ApiClientUser:
    """The caller as request.user: the API client behind the token."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.pk = client.pk

    def __str__(self) -> str:
        return self.client.name


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` from /oauth/token. The token's client is read on every
    request (one indexed lookup): a revoked client's tokens stop at once, and what a token may
    do (kind, mode, markets) is its client's today, not what its claims said when issued."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword or not token.strip():
            raise AuthenticationFailed("the Authorization header must be 'Bearer <access token>'")
        try:
            claims = token_decode(token.strip())
            client = ApiClient.objects.filter(pk=claims.client_pk, revoked_at__isnull=True).first()
            if client is None:
                raise InvalidToken("the API client of this token was revoked")
            grant = token_grant_for(token=claims, client=client)
        except InvalidToken as error:
            raise AuthenticationFailed(str(error)) from None
        return ApiClientUser(client), grant

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
