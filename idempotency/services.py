"""Idempotency keys: claim a key in the request's transaction, store the answer, replay it.

Concurrency comes from the database alone: a request holds its key by inserting the row, unique
per (client, mode, key), in its own transaction. A repeat's insert waits on that uncommitted row
(PostgreSQL waits on the first transaction; SQLite on its write lock), at most IDEMPOTENCY_WAIT
seconds: when the first commits, the repeat finds the row and replays it; when it rolls back,
the repeat holds the key and is carried out; when the wait ends first, it is refused (409)."""

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from idempotency.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused
from idempotency.models import IdempotencyKey

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path with its query, and the body (a JSON
    body compared as data, so spacing and key order do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_key_claim(
    *, client_id: str, mode: str, key: str, fingerprint: str
) -> tuple[IdempotencyKey, bool]:
    """(the key's row, True) when an earlier request with the key was carried out: replay its
    answer. (a new row, False) when this request now holds the key: carry it out, then
    `idempotency_key_store`. Call it inside the request's transaction. Raises
    IdempotencyKeyReused (the key came with another request) or IdempotencyKeyInUse (the first
    request still runs after IDEMPOTENCY_WAIT seconds)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    scope = {"client_id": client_id, "mode": mode, "key": key}
    stored = _stored(scope, cutoff=cutoff)
    if stored is None:
        try:
            with _lock_wait(settings.IDEMPOTENCY_WAIT), transaction.atomic():
                IdempotencyKey.objects.filter(**scope, created_at__lt=cutoff).delete()
                created = IdempotencyKey.objects.create(
                    **scope, fingerprint=fingerprint, created_at=now
                )
            return created, False
        except IntegrityError:
            stored = _stored(scope, cutoff=cutoff)  # committed meanwhile by the first request
        except OperationalError as exc:
            if not _lock_wait_ended(exc):
                raise
            stored = None
        if stored is None:
            raise IdempotencyKeyInUse(
                f"a request with the Idempotency-Key {key!r} is still being carried out: "
                "retry in a moment"
            )
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"the Idempotency-Key {key!r} was used with another request (method, path or body): "
            "use a new key for a new request"
        )
    return stored, True


def _stored(scope: dict[str, str], *, cutoff: datetime) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(**scope, created_at__gte=cutoff).first()


@contextmanager
def _lock_wait(seconds: float) -> Iterator[None]:
    """On PostgreSQL, bound the wait for a concurrent holder of the key (and only that wait:
    the request's own locks keep the default). SQLite bounds it by its busy timeout."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")


def _lock_wait_ended(exc: OperationalError) -> bool:
    if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    return connection.vendor == "sqlite" and "locked" in str(exc)


def idempotency_key_store(
    *, record: IdempotencyKey, status_code: int, content_type: str, location: str, body: str
) -> IdempotencyKey:
    """The answer of the request that holds the key, saved in its transaction."""
    record.status_code = status_code
    record.content_type = content_type
    record.location = location
    record.body = body
    record.save(update_fields=["status_code", "content_type", "location", "body"])
    return record


def idempotency_key_prune(*, now: datetime | None = None) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL seconds; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
