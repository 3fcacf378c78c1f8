"""Signed access tokens (JWT, HS512) with the claims Commerce Layer's clients read."""

import hashlib
import time
from dataclasses import dataclass, field

import jwt
from django.conf import settings

from api.models import ApiClient

ISSUER = "https://auth.commercelayer.io"
ALGORITHM = "HS512"
LIFETIMES = {ApiClient.Kind.INTEGRATION: 7200, ApiClient.Kind.SALES_CHANNEL: 14400}


def _signing_key() -> bytes:
    # HS512 wants a 64-byte key: derive one from the configured secret.
    return hashlib.sha512(f"api-token:{settings.API_TOKEN_SECRET}".encode()).digest()


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessToken:
    """What a request may do: decoded from its bearer token."""

    client_pk: str
    kind: str
    mode: str
    markets: tuple[str, ...] = field(default=())

    @property
    def is_sales_channel(self) -> bool:
        return self.kind == ApiClient.Kind.SALES_CHANNEL


def token_issue(*, client: ApiClient, markets: tuple[str, ...] = ()) -> dict[str, object]:
    now = int(time.time())
    lifetime = LIFETIMES[ApiClient.Kind(client.kind)]
    scope = " ".join(f"market:code:{code}" for code in markets)
    claims = {
        "organization": {
            "id": settings.API_ORGANIZATION_ID,
            "slug": settings.API_ORGANIZATION_SLUG,
            "enterprise": False,
            "region": "eu-west-1",
        },
        "application": {
            "id": client.pk,
            "client_id": client.client_id,
            "kind": client.kind,
            "public": not client.confidential,
            "confidential": client.confidential,
        },
        "market": {"code": list(markets)} if markets else None,
        "scope": scope or "market:all",
        "test": client.mode == "test",
        "iss": ISSUER,
        "iat": now,
        "exp": now + lifetime,
    }
    token = jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime,
        "scope": claims["scope"],
        "created_at": now,
    }


def token_decode(token: str) -> AccessToken:
    """The token's grant; InvalidToken when it is malformed, forged or expired."""
    try:
        claims = jwt.decode(
            token, _signing_key(), algorithms=[ALGORITHM], options={"require": ["exp"]}
        )
        application = claims["application"]
        markets = tuple((claims.get("market") or {}).get("code") or ())
        return AccessToken(
            client_pk=str(application["id"]),
            kind=str(application["kind"]),
            mode="test" if claims["test"] else "live",
            markets=markets,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired") from None
    except (jwt.InvalidTokenError, KeyError, TypeError):
        raise InvalidToken("the access token is not valid") from None


def token_grant_for(*, token: AccessToken, client: ApiClient) -> AccessToken:
    """What a token may do now, read from its client as it is today, never from the claims
    alone: a client that changed kind or mode ends its old tokens (a sales channel's token,
    obtained without a secret, must never become an integration's, and an integration's token
    has no market scope to be a sales channel's), and a sales channel's token keeps only the
    markets its client still has. InvalidToken when nothing of it is left."""
    if client.mode != token.mode:
        raise InvalidToken("this token's mode is not its API client's: ask for a new token")
    if client.kind != token.kind:
        raise InvalidToken(
            f"this token was issued to a {token.kind} client and its API client is now a "
            f"{client.kind}: ask for a new token"
        )
    if client.kind != ApiClient.Kind.SALES_CHANNEL:
        return AccessToken(client_pk=client.pk, kind=client.kind, mode=client.mode)
    markets = tuple(code for code in token.markets if code in client.market_codes)
    if not markets:
        raise InvalidToken(
            f"market {', '.join(token.markets) or '(none)'} of this token is no longer allowed "
            "for its API client: ask for a new token"
        )
    return AccessToken(client_pk=client.pk, kind=client.kind, mode=client.mode, markets=markets)
