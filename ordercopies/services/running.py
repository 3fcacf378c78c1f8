"""How copies run, one or many at a time (a single copy is a batch of one):

1. `order_copy_claim_many` moves the pending copies of a job pending → in_progress and commits,
   so the claim is visible.
2. `order_copy_run_many` locks the claimed rows (and keeps them locked to the end), runs the
   copy engine (`ordercopies.engine`: load, check, write in bulk) in a savepoint, and commits
   every copy's end at once. A copy that fails leaves nothing and does not touch the others;
   when a bulk statement fails, the batch runs again one copy at a time, each in a savepoint.
   "completed" is logged only after the commit.
3. A worker that dies during step 2 loses its transaction and its row locks: the copies stay
   in_progress without a lock, which is how the recovery sweep (SKIP LOCKED) tells a lost copy
   from a running one, with no heartbeat and no clock. Between steps 1 and 2, and while a
   transient error is retried, the rows are not locked: then the job's worker lock
   (`WORKER_LOCK`, held by every connection of a `copy_worker`) says the copies are not lost.
"""

import logging
import uuid
from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.actors import SYSTEM, Actor
from events.services import event_build, event_record_many
from ordercopies.engine import copies_end, copies_run
from ordercopies.engine.writes import End
from ordercopies.models import OrderCopy
from ordercopies.services.common import (
    TRANSIENT_ERRORS,
    TransientRetry,
    drop_broken_connection,
    first_line,
    plural,
)

logger = logging.getLogger("ordercopies.services")


def order_copy_execute(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Run one copy from start to end if it is pending and no one else runs it. Returns the
    copy as it ended, or None when there was nothing to run (logged with the copy's status)."""
    ended = order_copy_execute_many(order_copy_ids=[order_copy_id], actor=actor)
    return ended[0] if ended else None


def order_copy_execute_many(
    *, order_copy_ids: Sequence[str], actor: Actor = SYSTEM
) -> list[OrderCopy]:
    """Run, as one batch, those of the copies that are pending and that no one else runs.
    Returns the copies as they ended; the others are logged with their status."""
    claimed = _claim_retrying(order_copy_ids=order_copy_ids, actor=actor)
    _log_not_run(set(order_copy_ids) - {copy.pk for copy in claimed}, why="nothing to run")
    if not claimed:
        return []
    return order_copy_run_many(order_copies=claimed, actor=actor)


def order_copy_claim(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Move a pending copy to in_progress (attempts + 1) and commit; None when it is not pending
    (another worker claimed it, or it ended, or it is gone)."""
    claimed = order_copy_claim_many(order_copy_ids=[order_copy_id], actor=actor)
    return claimed[0] if claimed else None


def order_copy_claim_many(
    *, order_copy_ids: Sequence[str], actor: Actor = SYSTEM
) -> list[OrderCopy]:
    """Claim those of the copies still pending, in three statements, and commit. The claim
    waits for a lock on a pending copy: a run never holds one, so it is a short write (an
    update, a launch, a sweep, another claim); a claim that won leaves it in_progress, and the
    WHERE then skips it. Rows are locked in primary-key order: overlapping claims never
    deadlock."""
    with transaction.atomic():
        copies = list(
            OrderCopy.objects.select_for_update()
            .filter(pk__in=list(order_copy_ids), status=OrderCopy.Status.PENDING)
            .order_by("pk")
        )
        now = timezone.now()
        for order_copy in copies:
            order_copy.start(at=now)
            order_copy.updated_at = now
        # One statement for the batch: every claimed copy moves the same way (the rows are
        # locked, so attempts + 1 is what start() computed in memory).
        OrderCopy.objects.filter(pk__in=[order_copy.pk for order_copy in copies]).update(
            status=OrderCopy.Status.IN_PROGRESS,
            started_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        event_record_many(
            event_build(
                name="order_copies.start",
                resource=order_copy,
                actor=actor,
                payload={"attempt": order_copy.attempts},
            )
            for order_copy in copies
        )
    for order_copy in copies:
        logger.info("order copy %s started (attempt %d)", order_copy.pk, order_copy.attempts)
    return _in_copy_order(copies)


def _in_copy_order(copies: list[OrderCopy]) -> list[OrderCopy]:
    # First come, first served: copies competing for stock or a coupon are decided in the
    # order they were created.
    return sorted(copies, key=lambda order_copy: (order_copy.created_at, order_copy.pk))


def _claim_retrying(*, order_copy_ids: Sequence[str], actor: Actor) -> list[OrderCopy]:
    # A transient error in the claim is retried like one in the run: the job must not end
    # (and leave its copies pending without a job) because the connection dropped.
    retry = TransientRetry(order_copy_id=_label(order_copy_ids), what="claim")
    while True:
        try:
            return order_copy_claim_many(order_copy_ids=order_copy_ids, actor=actor)
        except TRANSIENT_ERRORS as exc:
            if not retry.wait(exc):
                raise


def order_copy_run(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy | None:
    """`order_copy_run_many` for one claimed copy."""
    ended = order_copy_run_many(order_copies=[order_copy], actor=actor)
    return ended[0] if ended else None


def order_copy_run_many(
    *, order_copies: Sequence[OrderCopy], actor: Actor = SYSTEM
) -> list[OrderCopy]:
    """Run claimed copies as one batch, retrying transient database errors with backoff: a
    deadlock or a serialization failure up to ORDER_COPY_TRANSIENT_RETRIES times, a lost
    connection (or a database that refuses them) for up to DATABASE_OUTAGE_WAIT seconds. An
    unexpected error, or one that persists, fails the copies with a pointer to the logged
    traceback. Logs the ends once committed."""
    retry = TransientRetry(order_copy_id=_label([c.pk for c in order_copies]), what="run")
    while True:
        try:
            ended = _run_locked(order_copies=order_copies, actor=actor)
        except TRANSIENT_ERRORS as exc:
            if not retry.wait(exc):
                return _fail_unexpected(order_copies, exc, "a database error persisted")
        except Exception as exc:
            return _fail_unexpected(order_copies, exc, "an unexpected error stopped the copy")
        else:
            return _log_ends(ended, claimed=order_copies)


@transaction.atomic
def _run_locked(*, order_copies: Sequence[OrderCopy], actor: Actor) -> list[OrderCopy]:
    # The row locks are held to the end of this transaction: they are what tells the recovery
    # sweep that the copies have a live worker.
    locked = _lock_claimed(order_copies)
    if not locked:
        return []
    try:
        with transaction.atomic():
            ended = copies_run(locked, actor=actor)
            _refuse_silent_rollback()
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        if len(locked) == 1:
            raise
        ended = _run_one_at_a_time(locked, actor=actor, cause=exc)
    _refuse_silent_rollback()
    return ended


def _refuse_silent_rollback() -> None:
    if transaction.get_rollback():
        # Something in this transaction caught a database error and left it to roll back:
        # leaving now would roll back in silence while we report ends. Retry instead.
        raise OperationalError("the copies' transaction was marked for rollback; retrying")


def _run_one_at_a_time(
    locked: list[OrderCopy], *, actor: Actor, cause: Exception
) -> list[OrderCopy]:
    """The batch again, each copy in a savepoint of its own: a copy whose own run fails ends
    failed (with an incident id) and the others are not affected."""
    logger.warning(
        "a batch of %s runs one copy at a time: %s",
        plural(len(locked), "copy", "copies"),
        first_line(cause),
    )
    ended = []
    for order_copy in locked:
        try:
            with transaction.atomic():
                ended += copies_run([order_copy], actor=actor)
                _refuse_silent_rollback()
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            message = _incident(order_copy.pk, exc, "an unexpected error stopped the copy")
            ended += copies_end([(order_copy, {"base": [message]}, None, [])], actor=SYSTEM)
    return ended


def _incident(label: str, exc: BaseException, what: str) -> str:
    incident = uuid.uuid4().hex[:12]
    logger.error("order copy %s: %s (incident %s)", label, what, incident, exc_info=exc)
    return f"{what}; the worker log has the details under incident {incident}"


def _fail_unexpected(
    order_copies: Sequence[OrderCopy], exc: BaseException, what: str
) -> list[OrderCopy]:
    """Record failed for an error that is not the copies' fault, in a short transaction of its
    own. The traceback goes to the log under an id; errors_log only names that id."""
    message = _incident(_label([c.pk for c in order_copies]), exc, what)
    drop_broken_connection()
    with transaction.atomic():
        locked = _lock_claimed(order_copies)
        ends: list[End] = [(order_copy, {"base": [message]}, None, []) for order_copy in locked]
        ended = copies_end(ends, actor=SYSTEM)
    return _log_ends(ended, claimed=order_copies)


def _lock_claimed(order_copies: Sequence[OrderCopy]) -> list[OrderCopy]:
    """The copies' rows, locked (in primary-key order), that are still this claim's: in
    progress with the attempt number they were claimed with. Not those the sweep released
    (someone else may run them now), nor those that already ended (a commit whose answer was
    lost with the connection). In copy order."""
    by_attempt: dict[int, list[str]] = {}
    for order_copy in order_copies:
        by_attempt.setdefault(order_copy.attempts, []).append(order_copy.pk)
    claims = reduce(or_, (Q(attempts=n, pk__in=ids) for n, ids in by_attempt.items()))
    locked = (
        OrderCopy.objects.select_for_update()
        .filter(claims, status=OrderCopy.Status.IN_PROGRESS)
        .order_by("pk")
    )
    return _in_copy_order(list(locked))


def _log_ends(ended: list[OrderCopy], *, claimed: Sequence[OrderCopy]) -> list[OrderCopy]:
    lost = {order_copy.pk for order_copy in claimed} - {order_copy.pk for order_copy in ended}
    _log_not_run(lost, why="no longer this worker's claim", level=logging.WARNING)
    for order_copy in ended:
        errors = order_copy.errors_count
        counted = f" with {plural(errors, 'error')}" if errors else ""
        logger.info("order copy %s %s%s", order_copy.pk, order_copy.status, counted)
    return ended


def _log_not_run(order_copy_ids: set[str], *, why: str, level: int = logging.INFO) -> None:
    if not order_copy_ids:
        return
    statuses = dict(OrderCopy.objects.filter(pk__in=order_copy_ids).values_list("pk", "status"))
    for order_copy_id in sorted(order_copy_ids):
        status = statuses.get(order_copy_id, "deleted")
        logger.log(level, "order copy %s: %s, it is %s", order_copy_id, why, status)


def _label(order_copy_ids: Sequence[str]) -> str:
    if len(order_copy_ids) == 1:
        return str(order_copy_ids[0])
    return f"{order_copy_ids[0] if order_copy_ids else ''} (and {len(order_copy_ids) - 1} more)"
