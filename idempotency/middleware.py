"""`Idempotency-Key` on every POST, PATCH and DELETE under /api/, for every view at once.

A keyed write of a valid token runs in one transaction with its key: the key's row is inserted
first, the view runs, and a 2xx answer is stored in the row before the commit. Anything else (a
refusal, a 500) rolls the transaction back, key included: it was not carried out, and a repeat
with the same key runs it again. A repeat of a stored request is answered from the row with
`Idempotent-Replayed: true`, without reaching the view."""

import json
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.authentication import BearerTokenAuthentication
from api.exceptions import error_object
from idempotency.exceptions import IdempotencyError
from idempotency.models import IdempotencyKey
from idempotency.services import idempotency_key_claim, idempotency_key_store, request_fingerprint

WRITES = frozenset({"POST", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
REPLAYED = "Idempotent-Replayed"


class IdempotencyMiddleware:
    """Last in MIDDLEWARE: its transaction holds the view only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None or request.method not in WRITES or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        key = key.strip()
        if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            return _error(
                IdempotencyError(
                    f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable "
                    "characters (a UUID, say), without control characters"
                )
            )
        try:
            caller = _caller(request)
        except IdempotencyError as refusal:
            return _error(refusal)
        if caller is None:
            return self.get_response(request)  # no valid token: refused by the API as without a key
        client_id, mode = caller
        fingerprint = request_fingerprint(
            method=request.method, path=request.get_full_path(), body=request.body
        )
        with transaction.atomic():
            try:
                record, replay = idempotency_key_claim(
                    client_id=client_id, mode=mode, key=key, fingerprint=fingerprint
                )
            except IdempotencyError as refusal:
                return _error(refusal)
            if replay:
                return _replayed(record)
            response = self.get_response(request)
            if response.streaming or not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            idempotency_key_store(
                record=record,
                status_code=response.status_code,
                content_type=response.get("Content-Type", ""),
                location=response.get("Location", ""),
                body=response.content.decode(),
            )
        return response


def _caller(request: HttpRequest) -> tuple[str, str] | None:
    """The API client and mode of the request's token, as the API itself reads them. A sales
    channel's key is refused: its client is public and shared by every shopper of the shop, so
    one shopper's key could replay another shopper's answer (their order, their address)."""
    try:
        authenticated = BearerTokenAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        return None
    if authenticated is None:
        return None
    _, grant = authenticated
    if grant.is_sales_channel:
        raise IdempotencyError(
            "Idempotency-Key is for integrations: a sales channel's client is shared by every "
            "shopper, so its keys could replay another shopper's answer; send the write without it"
        )
    return grant.client_pk, grant.mode


def _replayed(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        record.body, status=record.status_code or 200, content_type=record.content_type or None
    )
    if record.location:
        response["Location"] = record.location
    response[REPLAYED] = "true"
    return response


def _error(refusal: IdempotencyError) -> HttpResponse:
    error = error_object(
        title=refusal.title,
        detail=refusal.message,
        code=refusal.code,
        status_code=refusal.status_code,
    )
    response = HttpResponse(
        json.dumps({"errors": [error]}),
        status=refusal.status_code,
        content_type="application/vnd.api+json",
    )
    if refusal.status_code == 409:
        response["Retry-After"] = "1"
    return response
