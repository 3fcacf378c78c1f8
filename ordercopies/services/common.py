"""What every part of the copy services shares: the database's transient errors and how a
copy waits them out, the advisory lock keys, the job queue, the copy row lock."""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

from ordercopies.exceptions import CopyNotFound, OrderCopyError
from ordercopies.models import OrderCopy

logger = logging.getLogger("ordercopies.services")

TRANSIENT_ERRORS = (OperationalError, InterfaceError)

# PostgreSQL advisory lock keys (two-int form). A live copy worker holds (WORKER_LOCK,
# hashtext(worker id)) shared on each of its connections; a sweep holds (SWEEP_LOCK, 0) for its
# transaction so that two sweeps never queue the same orphan twice.
WORKER_LOCK = 7301
SWEEP_LOCK = 7302

# How long a copy (and a worker between jobs) waits for a database that went away before it
# gives up: a restart or a failover takes seconds to tens of seconds.
DATABASE_OUTAGE_WAIT = 60.0


def plural(count: int, noun: str, nouns: str = "") -> str:
    """'1 error', '4 errors', '2 copies' (with `nouns`): for log lines and messages."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def database_wait(*, budget: float = DATABASE_OUTAGE_WAIT) -> None:
    """Return once the database answers again, trying with a logged backoff (0.5 s doubling
    to 5 s); raise the last error after `budget` seconds. A no-op inside a transaction: the
    connection is the caller's, and so is the decision."""
    if connection.in_atomic_block:
        return
    started, delay = time.monotonic(), 0.5
    while True:
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except TRANSIENT_ERRORS as exc:
            connection.close()
            waited = time.monotonic() - started
            if waited + delay > budget:
                logger.error("database still unreachable after %.1fs: giving up (%s)", waited, exc)
                raise
            logger.warning("database unreachable (%s); next try in %.1fs", first_line(exc), delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        else:
            if time.monotonic() - started > 0.1:
                logger.warning("database reachable again after %.1fs", time.monotonic() - started)
            return


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def jobs_in_database() -> bool:
    return bool(settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend")


_collecting: ContextVar[list[str] | None] = ContextVar("copies_queued_together", default=None)


@contextmanager
def copies_queued_together() -> Iterator[None]:
    """Inside the block, copies created one by one (a scheduler pass starting many runs) are
    queued at its end, in batched jobs, instead of one job each. Use it inside the transaction
    that creates them, so that the jobs still commit with their copies."""
    collected: list[str] = []
    token = _collecting.set(collected)
    try:
        yield
    finally:
        _collecting.reset(token)
    enqueue(collected)


def enqueue(copy_ids: Sequence[str]) -> None:
    """Queue jobs for the copies, ORDER_COPY_BATCH_SIZE copy ids a job (the copies a worker
    then runs as one batch)."""
    collecting = _collecting.get()
    if collecting is not None:
        collecting.extend(copy_ids)
        return
    # Imported here: tasks import this module.
    from ordercopies.tasks import order_copy_execute_task

    # With the database backend the job rows are part of this transaction: a copy is never
    # committed without its job, nor a job without its copy. Other backends run jobs elsewhere
    # (or at once), so they must only see committed copies.
    in_transaction = jobs_in_database()
    size = max(1, settings.ORDER_COPY_BATCH_SIZE)
    for start in range(0, len(copy_ids), size):
        chunk = list(copy_ids[start : start + size])
        if in_transaction:
            order_copy_execute_task.enqueue(*chunk)
        else:
            transaction.on_commit(partial(order_copy_execute_task.enqueue, *chunk))


class TransientRetry:
    """The backoff of one copy's transient errors. A lost connection is an outage, waited out
    by time, not by count: terminated backends or a restart must not fail a copy."""

    def __init__(self, *, order_copy_id: str, what: str) -> None:
        # order_copy_id: the copy, or the batch ("3 copies from X") the log lines name.
        self.order_copy_id, self.what = order_copy_id, what
        self.retries = 0
        self.lost_since: float | None = None

    def wait(self, exc: BaseException) -> bool:
        """Sleep before the next try; False when it is time to give up."""
        if _connection_lost(exc) and not connection.in_atomic_block:
            self.lost_since = self.lost_since or time.monotonic()
            if time.monotonic() - self.lost_since > DATABASE_OUTAGE_WAIT:
                return False
            kind = "lost connection"
        else:
            self.retries += 1
            if self.retries > settings.ORDER_COPY_TRANSIENT_RETRIES:
                return False
            kind = f"retry {self.retries} of {settings.ORDER_COPY_TRANSIENT_RETRIES}"
        delay = 0.2 * 2 ** min(self.retries, 3)
        logger.warning(
            "order copy %s: transient database error in its %s (%s); %s, again in %.1fs",
            self.order_copy_id,
            self.what,
            first_line(exc),
            kind,
            delay,
        )
        drop_broken_connection()
        time.sleep(delay)
        database_wait(budget=DATABASE_OUTAGE_WAIT)
        return True


def _connection_lost(exc: BaseException) -> bool:
    """A broken or refused connection, or a backend the server ended (SQLSTATE classes 08 and
    57P), as opposed to a deadlock or a serialization failure on a live connection."""
    raw = connection.connection
    if isinstance(exc, InterfaceError) or raw is None or getattr(raw, "closed", False):
        return True
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return sqlstate.startswith(("08", "57P"))


def drop_broken_connection() -> None:
    # A worker runs copies in autocommit: a connection broken by the error is replaced. Inside
    # a caller's transaction the connection is the caller's and must stay open.
    if not connection.in_atomic_block:
        close_old_connections()


def lock(order_copy: OrderCopy, *, busy: type[OrderCopyError] | None = None) -> OrderCopy:
    """The copy's row lock. With `busy`, a copy whose row a worker holds (it is running) raises
    that error at once instead of waiting for the worker."""
    try:
        return OrderCopy.objects.select_for_update(nowait=busy is not None).get(pk=order_copy.pk)
    except OrderCopy.DoesNotExist:
        # Deleted by a concurrent request while this one waited for (or read) it.
        raise CopyNotFound(
            f"order copy {order_copy.pk} no longer exists: another request deleted it"
        ) from None
    except DatabaseError:
        if busy is None:
            raise
        raise busy("the copy is running now; wait for it to end") from None
