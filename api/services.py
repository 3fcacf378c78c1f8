"""Every write to API clients, and the grant of access tokens."""

from django.db import transaction
from django.utils import timezone

from api.models import ApiClient
from api.tokens import token_issue


class TokenRefused(Exception):
    def __init__(self, message: str, *, code: str = "INVALID_CLIENT", status: int = 401) -> None:
        self.message, self.code, self.status = message, code, status
        super().__init__(message)


@transaction.atomic
def api_client_create(
    *, name: str, kind: str, mode: str, market_codes: list[str] | None = None
) -> tuple[ApiClient, str | None]:
    """A new client and its secret (integrations only), which is shown once and never stored."""
    client = ApiClient(name=name, kind=kind, mode=mode, market_codes=market_codes or [])
    secret = client.set_new_credentials()
    client.full_clean(exclude=["client_id", "secret_hash"])
    client.save()
    return client, secret


def api_client_revoke(*, client: ApiClient) -> ApiClient:
    client.revoked_at = timezone.now()
    client.save(update_fields=["revoked_at"])
    return client


def access_token_grant(
    *, grant_type: str, client_id: str, client_secret: str = "", scope: str = ""
) -> dict[str, object]:
    """The client credentials grant: integrations by id and secret, sales channels by id and a
    `market:code:<code>` scope among their markets."""
    if grant_type != "client_credentials":
        raise TokenRefused(
            f"grant_type {grant_type!r} is not supported; use client_credentials",
            code="UNSUPPORTED_GRANT_TYPE",
            status=400,
        )
    client = ApiClient.objects.filter(client_id=client_id, revoked_at__isnull=True).first()
    if client is None:
        raise TokenRefused("unknown or revoked client_id")
    if client.confidential and not client.check_secret(client_secret):
        raise TokenRefused("the client_secret does not match this client")
    markets = _scope_markets(scope)
    if not client.confidential:
        if len(markets) != 1:
            raise TokenRefused(
                "a sales channel needs a scope of one market, e.g. market:code:eu",
                code="INVALID_SCOPE",
                status=400,
            )
        if markets[0] not in client.market_codes:
            raise TokenRefused(
                f"market {markets[0]} is not allowed for this client", code="INVALID_SCOPE"
            )
    return token_issue(client=client, markets=tuple(markets))


def _scope_markets(scope: str) -> list[str]:
    markets = []
    for part in scope.split():
        prefix = "market:code:"
        if not part.startswith(prefix) or not part[len(prefix) :]:
            raise TokenRefused(
                f"scope {part!r} is not understood: use market:code:<code>",
                code="INVALID_SCOPE",
                status=400,
            )
        markets.append(part[len(prefix) :])
    return markets
