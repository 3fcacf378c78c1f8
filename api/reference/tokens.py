from api.models import ApiClient
from api.reference import Example, Operation, Resource
from api.tokens import LIFETIMES


def token(kind: str, scope: str) -> dict[str, object]:
    return {
        "access_token": "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJvcmdhbml6YXRpb24iOnsi...",
        "token_type": "bearer",
        "expires_in": LIFETIMES[ApiClient.Kind(kind)],
        "scope": scope,
        "created_at": 1796287502,
    }


REFERENCE = Resource(
    type="tokens",
    description="""Access tokens: the OAuth 2 client credentials grant, as Commerce Layer's.
Every other operation needs `Authorization: Bearer <access_token>`.""",
    operations={
        "POST /oauth/token": Operation(
            summary="Get an access token",
            description="""An integration sends its `client_id` and `client_secret`; a sales
channel (a public client, no secret) its `client_id` and a `scope` of one of its markets,
`market:code:<code>`. The body is a form (`application/x-www-form-urlencoded`) or JSON. The
token is a JWT with Commerce Layer's claims, in its client's mode (test or live); ask for a new
one when it expires or when a call answers 401 `INVALID_TOKEN` (its client was revoked or
changed). Nothing is created: tokens are not stored.""",
            requests={
                "integration": Example(
                    summary="An integration, by id and secret",
                    value={
                        "grant_type": "client_credentials",
                        "client_id": "Q8nZ1fUe0Ckq3rTb",
                        "client_secret": "0J0sPlQ9r4H2vBz8WkxYd6",
                    },
                ),
                "sales channel": Example(
                    summary="A sales channel, by id and market",
                    value={
                        "grant_type": "client_credentials",
                        "client_id": "m3Gx7TqLpA2sVn9e",
                        "scope": "market:code:eu",
                    },
                ),
            },
            responses={
                "integration": Example(
                    summary="An integration's token", value=token("integration", "market:all")
                ),
                "sales channel": Example(
                    summary="A sales channel's token",
                    value=token("sales_channel", "market:code:eu"),
                ),
            },
        ),
    },
)
