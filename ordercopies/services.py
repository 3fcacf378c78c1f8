"""Every write to order copies: create, execute, retry, abort, delete and the recovery of lost
copies. How one copy runs:

1. `order_copy_claim` moves it pending → in_progress and commits, so the claim is visible.
2. `order_copy_run` locks the copy row (and keeps it locked to the end), builds the target
   order in a savepoint, then commits completed, or failed with the savepoint rolled back:
   a failed attempt leaves nothing behind. "completed" is logged only after the commit.
3. A worker that dies during step 2 loses its transaction and its row lock: the copy stays
   in_progress without a lock, which is how `order_copy_recover_lost` (SKIP LOCKED) tells a
   lost copy from a running one, with no heartbeat and no clock. Between steps 1 and 2, and
   while a transient error is retried, the row is not locked: then the job's worker lock
   (`WORKER_LOCK`, held by every connection of a `copy_worker`) says the copy is not lost.
"""

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    models,
    transaction,
)
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.actors import SYSTEM, Actor
from events.services import event_build, event_record, event_record_many
from ordercopies.copying import source_order_load, target_order_create
from ordercopies.exceptions import (
    CopyFailed,
    CopyNotAbortable,
    CopyNotDeletable,
    CopyNotFound,
    CopyNotLaunchable,
    CopyNotRetryable,
    OrderCopyError,
    SourceOrderNotFound,
)
from ordercopies.models import OrderCopy
from ordercopies.signals import order_copy_ended
from orders.exceptions import OrderError
from orders.models import Order
from orders.services import order_cancel, order_place

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError)

# PostgreSQL advisory lock keys (two-int form). A live copy worker holds (WORKER_LOCK,
# hashtext(worker id)) shared on each of its connections; a sweep holds (SWEEP_LOCK, 0) for its
# transaction so that two sweeps never queue the same orphan twice.
WORKER_LOCK = 7301
SWEEP_LOCK = 7302

# How long a copy (and a worker between jobs) waits for a database that went away before it
# gives up: a restart or a failover takes seconds to tens of seconds.
DATABASE_OUTAGE_WAIT = 60.0


class WorkerLost(Exception):  # noqa: N818 (the name a dead job row records)
    """Recorded on the job row of a worker that died while it ran the job."""


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
            logger.warning("database unreachable (%s); next try in %.1fs", _first_line(exc), delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        else:
            if time.monotonic() - started > 0.1:
                logger.warning("database reachable again after %.1fs", time.monotonic() - started)
            return


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def order_copy_create(
    *,
    source_order: Order | str,
    mode: str,
    actor: Actor = SYSTEM,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
    order_subscription: models.Model | None = None,
    **options: bool,
) -> OrderCopy:
    """Store a pending copy of `source_order` (an order or its id, which must exist in `mode`),
    record `order_copies.create` and queue its job, all in one transaction. A subscription run
    passes its `order_subscription`."""
    return order_copy_create_many(
        source_orders=[source_order],
        mode=mode,
        actor=actor,
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata,
        order_subscription=order_subscription,
        **options,
    )[0]


@transaction.atomic
def order_copy_create_many(
    *,
    source_orders: Sequence[Order | str],
    mode: str,
    actor: Actor = SYSTEM,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, Any] | None = None,
    order_subscription: models.Model | None = None,
    **options: bool,
) -> list[OrderCopy]:
    """One pending copy per source order with the same options, in bulk; all or none."""
    unknown = set(options) - set(OrderCopy.OPTIONS)
    if unknown:
        raise TypeError(f"unknown order copy options: {', '.join(sorted(unknown))}")
    ids = [order.pk if isinstance(order, Order) else order for order in source_orders]
    found = set(Order.objects.filter(pk__in=ids, mode=mode).values_list("pk", flat=True))
    missing = [order_id for order_id in ids if order_id not in found]
    if missing:
        raise SourceOrderNotFound(f"source order {missing[0]} does not exist")
    copies = OrderCopy.objects.bulk_create(
        OrderCopy(
            source_order_id=order_id,
            mode=mode,
            reference=reference,
            reference_origin=reference_origin,
            metadata=metadata or {},
            order_subscription_id=order_subscription.pk if order_subscription else None,
            **options,
        )
        for order_id in ids
    )
    made_by = {"order_subscription": order_subscription.pk} if order_subscription else {}
    event_record_many(
        event_build(
            name="order_copies.create",
            resource=copy,
            actor=actor,
            payload={"source_order": copy.source_order_id, "options": copy.options(), **made_by},
        )
        for copy in copies
    )
    _enqueue([copy.pk for copy in copies])
    return copies


def _jobs_in_database() -> bool:
    return bool(settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend")


def _enqueue(copy_ids: Iterable[str]) -> None:
    # Imported here: tasks import this module.
    from ordercopies.tasks import order_copy_execute_task

    # With the database backend the job rows are part of this transaction: a copy is never
    # committed without its job, nor a job without its copy. Other backends run jobs elsewhere
    # (or at once), so they must only see committed copies.
    in_transaction = _jobs_in_database()
    for copy_id in copy_ids:
        if in_transaction:
            order_copy_execute_task.enqueue(copy_id)
        else:
            transaction.on_commit(partial(order_copy_execute_task.enqueue, copy_id))


def order_copy_execute(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Run one copy from start to end if it is pending and no one else runs it. Returns the
    copy as it ended, or None when there was nothing to run (logged with the copy's status)."""
    order_copy = _claim_retrying(order_copy_id=order_copy_id, actor=actor)
    if order_copy is None:
        status = OrderCopy.objects.filter(pk=order_copy_id).values_list("status", flat=True)
        logger.info(
            "order copy %s: nothing to run, it is %s", order_copy_id, status.first() or "deleted"
        )
        return None
    return order_copy_run(order_copy=order_copy, actor=actor)


def order_copy_claim(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Move a pending copy to in_progress (attempts + 1) and commit; None when it is not pending
    (another worker claimed it, or it ended, or it is gone)."""
    with transaction.atomic():
        order_copy = _lock_pending(order_copy_id)
        if order_copy is None:
            return None
        order_copy.start(at=timezone.now())
        order_copy.save(update_fields=["status", "started_at", "attempts", "updated_at"])
        event_record(
            name="order_copies.start",
            resource=order_copy,
            actor=actor,
            payload={"attempt": order_copy.attempts},
        )
    logger.info("order copy %s started (attempt %d)", order_copy.pk, order_copy.attempts)
    return order_copy


def _claim_retrying(*, order_copy_id: str, actor: Actor) -> OrderCopy | None:
    # A transient error in the claim is retried like one in the run: the job must not end
    # (and leave its copy pending without a job) because the connection dropped.
    retry = _TransientRetry(order_copy_id=order_copy_id, what="claim")
    while True:
        try:
            return order_copy_claim(order_copy_id=order_copy_id, actor=actor)
        except TRANSIENT_ERRORS as exc:
            if not retry.wait(exc):
                raise


def _lock_pending(order_copy_id: str) -> OrderCopy | None:
    pending = OrderCopy.objects.filter(pk=order_copy_id, status=OrderCopy.Status.PENDING)
    order_copy = pending.select_for_update(skip_locked=True).first()
    if order_copy is None and pending.exists():
        # Pending but locked: a run never holds a pending copy, so this is a short write (an
        # update, a launch, another claim) and the job waits for it instead of ending unrun.
        # Another claim that wins leaves it in_progress, and the WHERE then finds nothing.
        order_copy = pending.select_for_update().first()
    return order_copy


def order_copy_run(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Copy a claimed copy, retrying transient database errors with backoff: a deadlock or a
    serialization failure up to ORDER_COPY_TRANSIENT_RETRIES times, a lost connection (or a
    database that refuses them) for up to DATABASE_OUTAGE_WAIT seconds. An unexpected error, or
    one that persists, fails the copy with a pointer to the logged traceback. Logs the end once
    committed."""
    retry = _TransientRetry(order_copy_id=order_copy.pk, what="run")
    while True:
        try:
            ended = _run_locked(order_copy=order_copy, actor=actor)
        except TRANSIENT_ERRORS as exc:
            if not retry.wait(exc):
                return _fail_unexpected(order_copy, exc, "a database error persisted")
        except Exception as exc:
            return _fail_unexpected(order_copy, exc, "an unexpected error stopped the copy")
        else:
            return _log_end(ended, order_copy_id=order_copy.pk)


class _TransientRetry:
    """The backoff of one copy's transient errors. A lost connection is an outage, waited out
    by time, not by count: terminated backends or a restart must not fail a copy."""

    def __init__(self, *, order_copy_id: str, what: str) -> None:
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
            _first_line(exc),
            kind,
            delay,
        )
        _drop_broken_connection()
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


@transaction.atomic
def _run_locked(*, order_copy: OrderCopy, actor: Actor) -> OrderCopy | None:
    # The row lock is held to the end of this transaction: it is what tells the recovery
    # sweep that the copy has a live worker.
    locked = _lock_claimed(order_copy)
    if locked is None:
        return None
    try:
        with transaction.atomic():
            target, errors = _copy(order_copy=locked, actor=actor)
    except CopyFailed as failure:
        ended = _end(locked, actor=actor, errors=failure.errors)
    else:
        ended = _end(locked, actor=actor, errors=errors, target=target)
    if transaction.get_rollback():
        # Something in this transaction caught a database error and left it to roll back:
        # leaving now would roll back in silence while we report an end. Retry instead.
        raise OperationalError("the copy's transaction was marked for rollback; retrying")
    return ended


def _log_end(ended: OrderCopy | None, *, order_copy_id: str) -> OrderCopy | None:
    if ended is None:
        status = OrderCopy.objects.filter(pk=order_copy_id).values_list("status", flat=True)
        logger.warning(
            "order copy %s is no longer this worker's claim (it is %s); leaving it",
            order_copy_id,
            status.first() or "deleted",
        )
        return None
    errors = f" with {plural(ended.errors_count, 'error')}" if ended.errors_count else ""
    logger.info("order copy %s %s%s", ended.pk, ended.status, errors)
    return ended


def _copy(*, order_copy: OrderCopy, actor: Actor) -> tuple[Order, dict[str, list[str]]]:
    """The copy itself; raises CopyFailed (rolling back the savepoint) when it must fail.

    The source is cancelled first (it is "at the end" for everyone else: all of this commits
    at once), so that the stock it gives back counts for the target: re-issuing an order that
    took the last units works. Locks go copy, then source order, then SKUs.
    """
    errors: dict[str, list[str]] = {}
    if order_copy.cancel_source_order:
        try:
            order_cancel(order=Order(pk=order_copy.source_order_id), actor=actor)
        except OrderError as refusal:
            errors["source_order"] = _refusal_messages(refusal, "cancelled")
    source = source_order_load(order_id=order_copy.source_order_id)
    target, found = target_order_create(order_copy=order_copy, source=source, actor=actor)
    errors = found | errors
    if order_copy.place_target_order:
        try:
            target = order_place(order=target, actor=actor)
        except OrderError as refusal:
            errors.setdefault("status", []).extend(_refusal_messages(refusal, "placed"))
    if errors and not order_copy.skip_errors:
        raise CopyFailed(errors)
    return target, errors


def _refusal_messages(refusal: OrderError, target_status: str) -> list[str]:
    messages = []
    for key, reasons in refusal.errors.items():
        for reason in reasons:
            messages.append(reason if key == "status" else f"cannot be {target_status}: {reason}")
    return messages


def _end(
    order_copy: OrderCopy,
    *,
    actor: Actor,
    errors: dict[str, list[str]],
    target: Order | None = None,
) -> OrderCopy:
    now = timezone.now()
    if target is not None:
        order_copy.complete(at=now, target=target, errors=errors)
        name, timestamp = "order_copies.complete", "completed_at"
    else:
        order_copy.fail(at=now, errors=errors)
        name, timestamp = "order_copies.fail", "failed_at"
    order_copy.save(
        update_fields=[
            "status",
            timestamp,
            "target_order",
            "errors_log",
            "errors_count",
            "updated_at",
        ]
    )
    event_record(
        name=name,
        resource=order_copy,
        actor=actor,
        payload={
            "attempt": order_copy.attempts,
            "errors_log": errors,
            "target_order": target.pk if target else None,
        },
    )
    # In this transaction: a subscription's run ends with its copy, or not at all.
    order_copy_ended.send(sender=OrderCopy, order_copy=order_copy, succeeded=target is not None)
    return order_copy


def _drop_broken_connection() -> None:
    # A worker runs copies in autocommit: a connection broken by the error is replaced. Inside
    # a caller's transaction the connection is the caller's and must stay open.
    if not connection.in_atomic_block:
        close_old_connections()


def _fail_unexpected(order_copy: OrderCopy, exc: BaseException, what: str) -> OrderCopy | None:
    """Record failed for an error that is not the copy's fault, in a short transaction of its
    own. The traceback goes to the log under an id; errors_log only names that id."""
    incident = uuid.uuid4().hex[:12]
    logger.error("order copy %s: %s (incident %s)", order_copy.pk, what, incident, exc_info=exc)
    _drop_broken_connection()
    message = f"{what}; the worker log has the details under incident {incident}"
    with transaction.atomic():
        locked = _lock_claimed(order_copy)
        ended = _end(locked, actor=SYSTEM, errors={"base": [message]}) if locked else None
    return _log_end(ended, order_copy_id=order_copy.pk)


def _lock_claimed(order_copy: OrderCopy) -> OrderCopy | None:
    """The copy's row, locked, if it is still this claim's: in progress with the attempt number
    it was claimed with. None when the sweep released it (someone else may run it now), or when
    it already ended (a commit whose answer was lost with the connection)."""
    return (
        OrderCopy.objects.select_for_update()
        .filter(pk=order_copy.pk, status=OrderCopy.Status.IN_PROGRESS, attempts=order_copy.attempts)
        .first()
    )


@transaction.atomic
def order_copy_retry(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Send a failed or aborted copy back to pending and queue it. The previous attempt's
    errors stay in its `order_copies.fail` event and in this retry's payload."""
    locked = _lock(order_copy)
    previous = locked.errors_log
    try:
        locked.retry()
    except TransitionNotAllowed:
        raise CopyNotRetryable(
            f"only failed or aborted copies can be retried; this one is {locked.status}"
        ) from None
    locked.save(
        update_fields=[
            "status",
            "failed_at",
            "lost_runs",
            "errors_log",
            "errors_count",
            "updated_at",
        ]
    )
    event_record(
        name="order_copies.retry",
        resource=locked,
        actor=actor,
        payload={"previous_errors": previous},
    )
    _enqueue([locked.pk])
    return locked


@transaction.atomic
def order_copy_abort(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Stop a pending copy before a worker takes it. A running copy cannot be aborted."""
    locked = _lock(order_copy, busy=CopyNotAbortable)
    if locked.status != OrderCopy.Status.PENDING:
        raise CopyNotAbortable(f"only pending copies can be aborted; this one is {locked.status}")
    locked.abort()
    locked.save(update_fields=["status", "updated_at"])
    event_record(name="order_copies.abort", resource=locked, actor=actor)
    return locked


@transaction.atomic
def order_copy_launch(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy:
    """Queue a pending copy's job again (its job was lost, or purged from the queue) and record
    `order_copies.launch`. Safe when the first job is still queued: whichever job claims the
    copy first runs it; the other finds it no longer pending and does nothing."""
    locked = _lock(order_copy, busy=CopyNotLaunchable)
    if locked.status != OrderCopy.Status.PENDING:
        raise CopyNotLaunchable(f"only pending copies can be launched; this one is {locked.status}")
    event_record(name="order_copies.launch", resource=locked, actor=actor)
    _enqueue([locked.pk])
    return locked


@transaction.atomic
def order_copy_delete(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> None:
    locked = _lock(order_copy, busy=CopyNotDeletable)
    if locked.status == OrderCopy.Status.IN_PROGRESS:
        raise CopyNotDeletable("a copy in progress cannot be deleted; wait for it to end")
    event_record(name="order_copies.destroy", resource=locked, actor=actor)
    locked.delete()


def _lock(order_copy: OrderCopy, *, busy: type[OrderCopyError] | None = None) -> OrderCopy:
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


def order_copy_recover_lost(*, max_attempts: int | None = None) -> dict[str, list[str]]:
    """Find in_progress copies that no one runs (their row lock is free and no live worker
    holds their job): queue them again, or abort them once `max_attempts` runs in a row were
    lost. Queue again pending copies that no job will run, and close the job rows of dead
    workers. Locks no pending copy but the orphans it queues. Returns the ids, by outcome."""
    limit = max_attempts or settings.ORDER_COPY_MAX_ATTEMPTS
    done: dict[str, list[str]] = {"requeued": [], "aborted": []}
    with transaction.atomic():
        if not _sweep_lock():
            logger.info("recovery sweep skipped: another sweep is running")
            return done
        # Copies first, jobs after: a job is claimed (and committed) before its copy, so a
        # copy pending or in_progress in the first reads has its job READY or RUNNING (or it
        # ended) in the later one; read the other way round, a copy claimed in between looks
        # lost or orphaned.
        pending = set(
            OrderCopy.objects.filter(status=OrderCopy.Status.PENDING).values_list("pk", flat=True)
        )
        unlocked = _unlocked_copies_in_progress()
        jobs = _copy_jobs()
        for lost in unlocked:
            if lost.pk not in jobs.running:
                done[_recover(lost, limit=limit)].append(lost.pk)
        orphans = _orphaned_copies(pending - jobs.queued - jobs.running - set(done["requeued"]))
        done["requeued"] += orphans
        closed = _close_dead_jobs(jobs.dead)
        _enqueue(done["requeued"])
    if done["requeued"] or done["aborted"] or closed:
        logger.warning(
            "recovery sweep: %s queued again (%s without a job), %s aborted, %s closed",
            plural(len(done["requeued"]), "copy", "copies"),
            len(orphans),
            plural(len(done["aborted"]), "copy", "copies"),
            plural(closed, "dead job row"),
        )
    return done


def _sweep_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [SWEEP_LOCK])
        return bool(cursor.fetchone()[0])


def _recover(lost: OrderCopy, *, limit: int) -> str:
    runs = plural(lost.lost_runs + 1, "time")
    if lost.lost_runs + 1 >= limit:
        lost.abort(
            errors={"base": [f"the worker running this copy was lost {runs}; aborted"]}, lost=True
        )
        name, outcome = "order_copies.abort", "aborted"
    else:
        lost.release()
        name, outcome = "order_copies.recover", "requeued"
    lost.save(update_fields=["status", "lost_runs", "errors_log", "errors_count", "updated_at"])
    event_record(name=name, resource=lost, payload={"attempts": lost.attempts, "lost": True})
    logger.warning("order copy %s was lost by its worker (%s): %s", lost.pk, runs, outcome)
    return outcome


class _CopyJobs:
    """The copies the job queue will still run: `queued` (a READY job), `running` (a RUNNING
    job of a live worker), and the RUNNING job rows whose worker is dead."""

    def __init__(self) -> None:
        self.queued: set[str] = set()
        self.running: set[str] = set()
        self.dead: list[Any] = []


def _copy_jobs() -> _CopyJobs:
    from django_tasks_db.models import DBTaskResult

    from ordercopies.tasks import EXECUTE_TASK_PATH, RECOVERY_TASK_PATH

    jobs = _CopyJobs()
    if not _jobs_in_database():
        return jobs
    rows = list(
        DBTaskResult.objects.filter(
            task_path__in=[EXECUTE_TASK_PATH, RECOVERY_TASK_PATH], status__in=["READY", "RUNNING"]
        ).values_list("pk", "task_path", "status", "args_kwargs", "worker_ids")
    )
    live = _live_workers({ids[-1] for *_, ids in rows if ids})
    for pk, path, status, args_kwargs, worker_ids in rows:
        copy_id = str((args_kwargs.get("args") or [""])[0]) if path == EXECUTE_TASK_PATH else ""
        if status == "READY":
            jobs.queued.add(copy_id)
        elif worker_ids and worker_ids[-1] in live:
            jobs.running.add(copy_id)
        else:
            jobs.dead.append(pk)
    return jobs


def _live_workers(worker_ids: set[str]) -> set[str]:
    """The workers among `worker_ids` that hold their WORKER_LOCK on some connection: a worker
    that died, however, released it with its last connection. Read from pg_locks, so the
    sweep takes no lock a worker would wait for. None on SQLite (it has no such locks)."""
    if connection.vendor != "postgresql" or not worker_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w FROM unnest(%s::text[]) AS w WHERE EXISTS ("
            " SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objsubid = 2"
            " AND objid = (hashtext(w)::bigint & 4294967295)::oid)",
            [sorted(worker_ids), WORKER_LOCK],
        )
        return {row[0] for row in cursor.fetchall()}


def _unlocked_copies_in_progress() -> list[OrderCopy]:
    # SKIP LOCKED: a copy whose row a worker holds is running. The others are lost unless their
    # job is RUNNING under a live worker (`_CopyJobs.running`): between the claim's commit and
    # the run's lock, or while it waits out a database error, the row is free. Locked until
    # the sweep commits, so their worker cannot end them meanwhile.
    return list(
        OrderCopy.objects.select_for_update(skip_locked=True).filter(
            status=OrderCopy.Status.IN_PROGRESS
        )
    )


def _orphaned_copies(candidates: set[str]) -> list[str]:
    """Those of `candidates` (pending with no job to run them: their worker took the job and
    died before it claimed the copy) still pending now, locked for the rest of the sweep. A
    second job for a copy is harmless (the claim is exclusive), so no clock is needed."""
    if not candidates or not _jobs_in_database():
        return []
    orphans = list(
        OrderCopy.objects.select_for_update(skip_locked=True)
        .filter(pk__in=candidates, status=OrderCopy.Status.PENDING)
        .values_list("pk", flat=True)
    )
    for orphan in OrderCopy.objects.filter(pk__in=orphans).only("pk", "mode"):
        event_record(name="order_copies.recover", resource=orphan, payload={"orphan": True})
        logger.warning("order copy %s was pending without a job: queued again", orphan.pk)
    return orphans


def _close_dead_jobs(job_ids: list[Any]) -> int:
    """Mark FAILED the RUNNING job rows of dead workers, so that they end (and
    `prune_db_task_results` can remove them) instead of staying RUNNING forever."""
    from django_tasks_db.models import DBTaskResult

    if not job_ids:
        return 0
    dead = DBTaskResult.objects.select_for_update(skip_locked=True).filter(
        pk__in=job_ids, status="RUNNING"
    )
    return DBTaskResult.objects.filter(pk__in=list(dead.values_list("pk", flat=True))).update(
        status="FAILED",
        finished_at=timezone.now(),
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback="WorkerLost: the worker running this job was lost (its worker lock was free)",
        return_value=None,
    )


@transaction.atomic
def order_copy_update(*, order_copy: OrderCopy, actor: Actor = SYSTEM, **changes: Any) -> OrderCopy:
    """Change a copy's reference, reference_origin or metadata (nothing else may change)."""
    unknown = set(changes) - {"reference", "reference_origin", "metadata"}
    if unknown:
        raise TypeError(f"order copy fields that cannot change: {', '.join(sorted(unknown))}")
    locked = _lock(order_copy)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*changes, "updated_at"])
    event_record(
        name="order_copies.update",
        resource=locked,
        actor=actor,
        payload={"changed": sorted(changes)},
    )
    return locked
