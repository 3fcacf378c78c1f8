"""Lost copies: the recovery sweep (DESIGN.md, rule 6)."""

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.services import event_record
from ordercopies.exceptions import WorkerLost
from ordercopies.models import OrderCopy
from ordercopies.services.common import SWEEP_LOCK, WORKER_LOCK, enqueue, jobs_in_database, plural

logger = logging.getLogger("ordercopies.services")


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
        enqueue(done["requeued"])
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
    if not jobs_in_database():
        return jobs
    rows = list(
        DBTaskResult.objects.filter(
            task_path__in=[EXECUTE_TASK_PATH, RECOVERY_TASK_PATH], status__in=["READY", "RUNNING"]
        ).values_list("pk", "task_path", "status", "args_kwargs", "worker_ids")
    )
    live = _live_workers({ids[-1] for *_, ids in rows if ids})
    for pk, path, status, args_kwargs, worker_ids in rows:
        # An execute job carries the ids of its batch (one, for a single copy).
        args = (args_kwargs.get("args") or []) if path == EXECUTE_TASK_PATH else []
        copy_ids = {str(copy_id) for copy_id in args}
        if status == "READY":
            jobs.queued |= copy_ids
        elif worker_ids and worker_ids[-1] in live:
            jobs.running |= copy_ids
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
    if not candidates or not jobs_in_database():
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
