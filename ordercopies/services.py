"""Every write to order copies: create, execute, retry, abort, delete and the recovery of lost
copies. How one copy runs:

1. `order_copy_claim` moves it pending → in_progress and commits, so the claim is visible.
2. `order_copy_run` locks the copy row (and keeps it locked to the end), builds the target
   order in a savepoint, then commits completed, or failed with the savepoint rolled back:
   a failed attempt leaves nothing behind.
3. A worker that dies during step 2 loses its transaction and its row lock: the copy stays
   in_progress without a lock, which is how `order_copy_recover_lost` (SKIP LOCKED) tells a
   lost copy from a running one, with no heartbeat and no clock.
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
from django.db.models import QuerySet
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.actors import SYSTEM, Actor
from events.services import event_build, event_record, event_record_many
from ordercopies.copying import source_order_load, target_order_create
from ordercopies.exceptions import (
    CopyFailed,
    CopyNotAbortable,
    CopyNotDeletable,
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
    from ordercopies.tasks import order_copy_execute_task, order_copy_recovery_schedule

    # With the database backend the job rows are part of this transaction: a copy is never
    # committed without its job, nor a job without its copy. Other backends run jobs elsewhere
    # (or at once), so they must only see committed copies.
    in_transaction = _jobs_in_database()
    for copy_id in copy_ids:
        if in_transaction:
            order_copy_execute_task.enqueue(copy_id)
        else:
            transaction.on_commit(partial(order_copy_execute_task.enqueue, copy_id))
    if in_transaction:
        order_copy_recovery_schedule()


def order_copy_execute(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Run one copy from start to end if it is pending and no one else runs it. Returns the
    copy as it ended, or None when there was nothing to run."""
    order_copy = order_copy_claim(order_copy_id=order_copy_id, actor=actor)
    if order_copy is None:
        return None
    return order_copy_run(order_copy=order_copy, actor=actor)


def order_copy_claim(*, order_copy_id: str, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Move a pending copy to in_progress (attempts + 1) and commit; None when it is not pending
    or another worker holds it."""
    with transaction.atomic():
        order_copy = (
            OrderCopy.objects.select_for_update(skip_locked=True)
            .filter(pk=order_copy_id, status=OrderCopy.Status.PENDING)
            .first()
        )
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


def order_copy_run(*, order_copy: OrderCopy, actor: Actor = SYSTEM) -> OrderCopy | None:
    """Copy a claimed copy, retrying transient database errors with backoff. An unexpected
    error fails the copy with a pointer to the logged traceback."""
    retries = settings.ORDER_COPY_TRANSIENT_RETRIES
    for attempt in range(retries + 1):
        try:
            return _run_locked(order_copy=order_copy, actor=actor)
        except TRANSIENT_ERRORS as exc:
            if attempt == retries:
                return _fail_unexpected(order_copy, exc, "a database error persisted")
            delay = 0.2 * 2**attempt
            logger.warning("order copy %s: transient %s, retry in %.1fs", order_copy.pk, exc, delay)
            _drop_broken_connection()
            time.sleep(delay)
        except Exception as exc:
            return _fail_unexpected(order_copy, exc, "an unexpected error stopped the copy")
    return None  # pragma: no cover (the loop always returns)


@transaction.atomic
def _run_locked(*, order_copy: OrderCopy, actor: Actor) -> OrderCopy | None:
    # The row lock is held to the end of this transaction: it is what tells the recovery
    # sweep that the copy has a live worker.
    locked = _lock_claimed(order_copy)
    if locked is None:
        logger.warning("order copy %s was taken from this worker; leaving it", order_copy.pk)
        return None
    try:
        with transaction.atomic():
            target, errors = _copy(order_copy=locked, actor=actor)
    except CopyFailed as failure:
        return _end(locked, actor=actor, errors=failure.errors)
    return _end(locked, actor=actor, errors=errors, target=target)


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
    logger.info("order copy %s %s (%d errors)", order_copy.pk, order_copy.status, len(errors))
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
        if locked is None:
            return None
        return _end(locked, actor=SYSTEM, errors={"base": [message]})


def _lock_claimed(order_copy: OrderCopy) -> OrderCopy | None:
    """The copy's row, locked, if it is still this claim's: in progress with the attempt number
    it was claimed with. None when the sweep released it (someone else may run it now)."""
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
    except DatabaseError:
        if busy is None:
            raise
        raise busy("the copy is running now; wait for it to end") from None


def order_copy_recover_lost(*, max_attempts: int | None = None) -> dict[str, list[str]]:
    """Find in_progress copies that no worker holds (their row lock is free): queue them again,
    or abort them once `max_attempts` runs in a row were lost. Returns the ids, by outcome."""
    limit = max_attempts or settings.ORDER_COPY_MAX_ATTEMPTS
    done: dict[str, list[str]] = {"requeued": [], "aborted": []}
    with transaction.atomic():
        for lost in _lost_copies():
            if lost.lost_runs + 1 >= limit:
                reason = (
                    f"the worker running this copy was lost {lost.lost_runs + 1} times; aborted"
                )
                lost.abort(errors={"base": [reason]})
                name, outcome = "order_copies.abort", "aborted"
            else:
                lost.release()
                name, outcome = "order_copies.recover", "requeued"
            lost.save(
                update_fields=["status", "lost_runs", "errors_log", "errors_count", "updated_at"]
            )
            event_record(
                name=name, resource=lost, payload={"attempts": lost.attempts, "lost": True}
            )
            done[outcome].append(lost.pk)
            logger.warning("order copy %s was lost by its worker: %s", lost.pk, outcome)
        orphans = _orphaned_copies(besides=done["requeued"])
        for orphan in orphans:
            event_record(name="order_copies.recover", resource=orphan, payload={"orphan": True})
            logger.warning("order copy %s was pending without a job: queued again", orphan.pk)
        done["requeued"] += [orphan.pk for orphan in orphans]
        _enqueue(done["requeued"])
    return done


def _orphaned_copies(*, besides: list[str]) -> list[OrderCopy]:
    """Pending copies with no job waiting to run them: their job was taken by a worker that
    died before it claimed the copy. A second job for a copy is harmless (the claim is
    exclusive), so no clock is needed to tell them apart."""
    from django_tasks_db.models import DBTaskResult

    from ordercopies.tasks import EXECUTE_TASK_PATH

    if not _jobs_in_database():
        return []
    waiting = DBTaskResult.objects.filter(task_path=EXECUTE_TASK_PATH, status="READY")
    queued = {
        (job.get("args") or [None])[0] for job in waiting.values_list("args_kwargs", flat=True)
    }
    pending = (
        OrderCopy.objects.select_for_update(skip_locked=True)
        .filter(status=OrderCopy.Status.PENDING)
        .exclude(pk__in=besides)
    )
    return [copy for copy in pending.only("pk", "mode") if copy.pk not in queued]


def _lost_copies() -> QuerySet[OrderCopy]:
    return OrderCopy.objects.select_for_update(skip_locked=True).filter(
        status=OrderCopy.Status.IN_PROGRESS
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
