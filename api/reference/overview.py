"""What every operation shares: the page's introduction (tokens, modes, documents, errors,
pagination, includes, filters, rate limits) and the errors each kind of operation can answer.
Every figure is read from the code or the settings that enforce it."""

from django.conf import settings

from api import pagination, policy
from api.filters import MAX_FILTERS, MAX_SORT_FIELDS
from api.filters import paths as filter_paths
from api.filters import predicates as filters
from api.models import ApiClient
from api.ratelimit import Rate, rate_parse
from api.reference import Refusal
from api.tokens import LIFETIMES

# The errors of each kind of operation, besides those in its own entry.
ANY_CALL = (
    Refusal(401, "UNAUTHORIZED", "no token, or the token's client may not do this"),
    Refusal(401, "INVALID_TOKEN", "the token is malformed, expired, or its client was revoked"),
    Refusal(429, "TOO_MANY_REQUESTS", "a rate limit is exhausted: wait `Retry-After` seconds"),
)
INCLUDE = Refusal(
    400,
    "INVALID_RESOURCE",
    f"`include` names a relationship that cannot be included, or goes deeper than "
    f"{policy.MAX_INCLUDE_DEPTH} levels or over {policy.MAX_INCLUDE_PATHS} paths",
)
NOT_FOUND = Refusal(404, "RECORD_NOT_FOUND", "no record with this id in the token's mode and reach")
WRITE = (
    Refusal(400, "INVALID_RESOURCE", "the body is not a JSON:API document of this type"),
    Refusal(413, "PAYLOAD_TOO_LARGE", "the body is larger than the limit"),
    Refusal(415, "UNSUPPORTED_MEDIA_TYPE", "the body is not sent as `application/vnd.api+json`"),
    Refusal(422, "VALIDATION_ERROR", "an attribute or relationship is refused (see the pointer)"),
)
VERB_ERRORS: dict[str, tuple[Refusal, ...]] = {
    "list": (
        *ANY_CALL,
        Refusal(400, "FILTER_NOT_ALLOWED", "a filter attribute, predicate or value is refused"),
        Refusal(400, "SORT_NOT_ALLOWED", "`sort` names a field that cannot be sorted on"),
        Refusal(400, "INVALID_PAGE", f"`page[size]` is not 1 to {pagination.MAX_SIZE}, or "
                "`page[number]` is not a positive integer"),
        INCLUDE,
    ),
    "read": (*ANY_CALL, NOT_FOUND, INCLUDE),
    "create": (*ANY_CALL, *WRITE, INCLUDE),
    "update": (*ANY_CALL, NOT_FOUND, *WRITE, INCLUDE),
    "delete": (*ANY_CALL, NOT_FOUND),
    "token": (
        Refusal(400, "UNSUPPORTED_GRANT_TYPE", "`grant_type` is not `client_credentials`"),
        Refusal(400, "INVALID_SCOPE", "a sales channel's `scope` is not one market, or "
                "`scope` is not `market:code:<code>`"),
        Refusal(400, "INVALID_RESOURCE", "the body is neither a form nor JSON, or nests too deep"),
        Refusal(401, "INVALID_CLIENT", "unknown or revoked `client_id`, or a wrong secret"),
        Refusal(401, "INVALID_SCOPE", "the market is not one of the sales channel's"),
        Refusal(413, "PAYLOAD_TOO_LARGE", "the body is larger than the limit"),
        Refusal(429, "TOO_MANY_REQUESTS", "too many token requests from this address: wait "
                "`Retry-After` seconds"),
    ),
}  # fmt: skip


# The filter predicates as a reader meets them; any other the filters accept follows.
READING_ORDER = (
    "eq not_eq in not_in lt lteq gt gteq cont not_cont start end matches null not_null present "
    "blank true false"
).split()


def _rate(setting: str) -> Rate:
    return rate_parse(getattr(settings, setting), setting=setting)


def _per(rate: Rate) -> str:
    if rate.interval % 60 == 0:
        minutes = rate.interval // 60
        return f"{rate.limit:,} / {'min' if minutes == 1 else f'{minutes} min'}"
    return f"{rate.limit:,} / {rate.interval} s"


def _rate_limits() -> str:
    if not settings.API_RATELIMIT_ENABLED:
        return "Rate limits are switched off on this server (`API_RATELIMIT_ENABLED=false`)."
    read, write = _rate("API_RATE_READ"), _rate("API_RATE_WRITE")
    read_burst, write_burst = _rate("API_RATE_READ_BURST"), _rate("API_RATE_WRITE_BURST")
    return f"""Counted per API client (the token's) and per client address; the first exhausted
refuses, with 429 `TOO_MANY_REQUESTS` and `Retry-After` (seconds). Windows slide, and refused
requests count too.

| requests | average, all resources together | burst, each resource |
|---|---|---|
| reads (GET, HEAD, OPTIONS) | {_per(read)} | {_per(read_burst)} |
| writes (POST, PATCH, DELETE) | {_per(write)} | {_per(write_burst)} |
| `POST /oauth/token` (per address) | {_per(_rate("OAUTH_RATE"))} | — |

Every answer carries `X-Ratelimit-Limit`, `X-Ratelimit-Interval` (seconds) and
`X-Ratelimit-Remaining` of the most binding limit."""


def _hours(kind: str) -> int:
    return LIFETIMES[ApiClient.Kind(kind)] // 3600


def introduction() -> str:
    """The schema's `info.description`: what a newcomer reads first."""
    known = [p for p in READING_ORDER if p in filters.PREDICATES]
    others = sorted(set(filters.PREDICATES) - set(READING_ORDER) - {"jcont"})
    predicates = ", ".join(f"`{p}`" for p in [*known, *others])
    return f"""A Commerce Layer compatible JSON:API. An **order copy** turns an existing order
into a new one as a background job you can follow; **order subscriptions** repeat an order on
a schedule. Read the reference at [/api/docs/](/api/docs/); call the API with a token at
[/api/docs/try/](/api/docs/try/).

## Tokens

`POST /oauth/token` with `grant_type=client_credentials` (a URL-encoded form or JSON), then send
`Authorization: Bearer <access_token>` on every call.

- An **integration** (a back-office system) sends `client_id` and `client_secret`; its token
  lasts {_hours("integration")} h and may do everything the API offers.
- A **sales channel** (a shop front end: its client is public, no secret) sends `client_id` and
  `scope=market:code:<code>`; its token lasts {_hours("sales_channel")} h and may do only what
  each operation says, on its market's rows.

```http
POST /oauth/token
Content-Type: application/x-www-form-urlencoded

grant_type=client_credentials&client_id=7Bq...&client_secret=Zs4...
```

```json
{{"access_token": "eyJhbGciOiJIUzUxMiJ9...", "token_type": "bearer",
 "expires_in": {LIFETIMES[ApiClient.Kind.INTEGRATION]}, "scope": "market:all",
 "created_at": 1796287502}}
```

A refused token request answers an error document as `application/json`: 400
`UNSUPPORTED_GRANT_TYPE` or `INVALID_SCOPE`, 401 `INVALID_CLIENT`. Each client is in `test` or
`live` mode and its tokens see only records of that mode. Revoking a client ends its tokens at
once (401 `INVALID_TOKEN`: ask for a new token).

## Documents

Requests and answers are JSON:API documents, `application/vnd.api+json` (writes sent as plain
`application/json` are a 415). Paths have no trailing slash. Triggers (`_retry`, `_place`, …)
are write-only boolean attributes sent in a PATCH, one a request. A body may be at most
{settings.API_MAX_BODY_BYTES:,} bytes (else 413 `PAYLOAD_TOO_LARGE`) and nest at most
{settings.API_MAX_JSON_DEPTH} levels of objects and arrays (else 400 `INVALID_RESOURCE`).
An integration sends an `Idempotency-Key` header (a UUID of its own) with a POST, PATCH or
DELETE to make it safe to retry (a sales channel's key is a 400: its client is shared by every
shopper): a repeat within {settings.IDEMPOTENCY_KEY_TTL // 3600} h answers the first
answer again, with `Idempotent-Replayed: true`, and does nothing more; the same key with another
request is a 422 `IDEMPOTENCY_KEY_REUSED`; a repeat while the first still runs waits up to
{settings.IDEMPOTENCY_WAIT} s, then is a 409 `IDEMPOTENCY_KEY_IN_USE`. Only answers that did
something (2xx) are kept: after a refusal, fix the request and send it with the same key.
Every relationship is readable as `/api/<type>/<id>/<relationship>` and
`/api/<type>/<id>/relationships/<relationship>`.

## Lists

- **Pages**: `page[number]` (from 1) and `page[size]` ({pagination.DEFAULT_SIZE} by default, at
  most {pagination.MAX_SIZE}); lists carry `meta.record_count`, `meta.page_count` and
  first/prev/next/last links.
- **Filters**: `filter[q][<attribute>_<predicate>]=<value>`, on the attributes each list
  names. Predicates: {predicates}, and `metadata_jcont` (JSON containment). `_in` and `_not_in`
  take comma-separated values (at most {filters.MAX_LIST_ITEMS}); a value is at most
  {filters.MAX_VALUE_LENGTH:,} characters ({filters.MAX_PATTERN_LENGTH} for `_matches`, a
  case-insensitive SQL LIKE: `%` any run of characters, `_` any one). The `_any` and `_all`
  forms take a list and match when one or every value does; `_or_` joins up to
  {filter_paths.MAX_OR_ATTRIBUTES} attributes (`number_or_reference_eq`); an attribute may
  cross up to {filter_paths.MAX_DEPTH} relationships (`source_order_market_code_eq`,
  `tags_name_in`), each checked against what the token may read. NULL follows SQL: only
  `_null`, `_blank` and the `_or_null` forms match a missing value. At most {MAX_FILTERS}
  filters a request. An attribute, predicate or value that is not allowed is a 400
  `FILTER_NOT_ALLOWED`, never ignored.
- **Sorting**: `sort=-created_at,status` (at most {MAX_SORT_FIELDS} fields), also on a to-one
  relationship's attribute (`sort=market.code`); an unknown field is a 400 `SORT_NOT_ALLOWED`.
- **Includes**: `include=source_order,target_order.line_items`, at most
  {policy.MAX_INCLUDE_DEPTH} levels and {policy.MAX_INCLUDE_PATHS} paths a request, on lists,
  reads and writes; `fields[<type>]=a,b` keeps only the attributes named.

## Errors

```json
{{"errors": [{{"title": "...", "detail": "...", "code": "VALIDATION_ERROR", "status": "422",
             "source": {{"pointer": "/data/attributes/status"}}, "meta": {{"error": "invalid"}}}}]}}
```

| status | code | when |
|---|---|---|
| 400 | `INVALID_RESOURCE` | malformed document, include beyond the limits |
| 400 | `FILTER_NOT_ALLOWED`, `SORT_NOT_ALLOWED`, `INVALID_PAGE` | a refused list parameter |
| 401 | `UNAUTHORIZED` | no token, or this client may not do this |
| 401 | `INVALID_TOKEN` | malformed, expired or revoked token |
| 404 | `RECORD_NOT_FOUND` | no such record in the token's mode and reach, or no such route |
| 405 | `METHOD_NOT_ALLOWED` | the route does not take this method |
| 413 | `PAYLOAD_TOO_LARGE` | the body is too large |
| 415 | `UNSUPPORTED_MEDIA_TYPE` | a write not sent as `application/vnd.api+json` |
| 422 | `VALIDATION_ERROR` | a refused attribute, relationship or trigger (see `source.pointer`) |
| 423 | `LOCKED` | deleting an order copy in progress |
| 429 | `TOO_MANY_REQUESTS` | a rate limit is exhausted |
| 500 | `INTERNAL_SERVER_ERROR` | a bug: the detail gives an incident id to report |

## Rate limits

{_rate_limits()}
"""
