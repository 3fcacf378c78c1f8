"""Every write to API clients and to rate-limit counters, and the grant of access tokens."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from api.models import ApiClient, RateLimitCounter
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


@dataclass(frozen=True)
class RateCount:
    window_start: int
    count: int  # requests in the window that started at window_start, this one included
    previous_count: int  # requests in the window just before


def rate_limit_counters_hit(*, windows: dict[str, tuple[int, int]]) -> dict[str, RateCount]:
    """Counts one request in each counter `key` whose current window started at
    `windows[key][0]` and lasts `windows[key][1]` seconds. One upsert statement for all of
    them: atomic, so concurrent requests in any number of processes are all counted. A counter
    entering its next window keeps the count of the one before; one whose window passed long
    ago starts again at 1. A clock a little behind never moves a window back."""
    if not windows:
        return {}
    q = connection.ops.quote_name
    table = q(RateLimitCounter._meta.db_table)
    key, start, seconds, count, previous = (
        q(c) for c in ("key", "window_start", "window_seconds", "count", "previous_count")
    )
    same = f"{table}.{start} >= excluded.{start}"
    follows = f"{table}.{start} + excluded.{seconds} = excluded.{start}"
    rows = ", ".join(["(%s, %s, %s, 1, 0)"] * len(windows))
    sql = (
        f"INSERT INTO {table} ({key}, {start}, {seconds}, {count}, {previous}) "  # noqa: S608
        f"VALUES {rows} ON CONFLICT ({key}) DO UPDATE SET "
        f"{count} = CASE WHEN {same} THEN {table}.{count} + 1 ELSE 1 END, "
        f"{previous} = CASE WHEN {same} THEN {table}.{previous} "
        f"WHEN {follows} THEN {table}.{count} ELSE 0 END, "
        f"{start} = CASE WHEN {same} THEN {table}.{start} ELSE excluded.{start} END, "
        f"{seconds} = excluded.{seconds} "
        f"RETURNING {key}, {start}, {count}, {previous}"
    )
    params = [value for name, (begin, length) in windows.items() for value in (name, begin, length)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0]: RateCount(*row[1:]) for row in cursor.fetchall()}


def rate_limit_counters_prune(*, now: int) -> int:
    """Deletes the counters whose current and previous windows have both passed: they count
    nothing any more, and callers that never come back would otherwise stay for ever."""
    ended = RateLimitCounter.objects.filter(window_start__lt=now - 2 * F("window_seconds"))
    deleted, _ = ended.delete()
    return deleted
