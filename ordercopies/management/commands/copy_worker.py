"""`manage.py copy_worker`: django-tasks-db's `db_worker` for order copies, made to run alone in
production. Why a wrapper and not `db_worker` itself (django-tasks-db 0.13):

- its loop re-raises a database error from the job claim, so a lost connection, a database
  restart or a few seconds of refused connections end the process; and a job whose result could
  not be recorded then stays RUNNING. Here both are waited out with a bounded, logged backoff
  (`--outage-wait`), then the same process carries on; past the budget it exits with status 1
  for its service manager to restart it.
- it reloads on code changes when DEBUG is on, and SIGTERM to the reloader kills the copy in
  progress. This command never reloads: SIGTERM lets the current copy finish.
- each process sweeps for lost copies itself (`order_copy_recover_lost`, every
  `--sweep-interval` seconds, in a thread with its own connection), so recovery goes on while
  any worker lives; no queued job has to survive for it.
- every connection of the process holds the shared advisory WORKER_LOCK of its worker id: a
  sweep tells a live worker's job (and the copy it has claimed but not yet locked, or is
  retrying) from a dead worker's by that lock alone, never by a clock.
"""

import logging
import signal
import threading
import time
from argparse import ArgumentParser
from functools import partial
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django_tasks_db.compat import TaskContext, task_finished, task_started
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from health.presence import process_presence
from ordercopies import services
from ordercopies.tasks import EXECUTE_TASK_PATH

logger = logging.getLogger("ordercopies.worker")


class Sweeper(threading.Thread):
    """The lost-copy sweep, every `interval` seconds, the first one at once."""

    def __init__(self, *, interval: float) -> None:
        super().__init__(name="order-copy-sweeper", daemon=True)
        self.interval = interval
        self.sweeps = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        wait = 0.0
        while not self.stopping.wait(wait):
            wait = self.interval
            try:
                services.order_copy_recover_lost()
                self.sweeps += 1
            except Exception as exc:  # the next sweep tries again, on a new connection
                logger.warning("recovery sweep failed, next in %.0fs: %s", wait, exc)
                connection.close()
        connection.close()


class CopyWorker(db_worker.Worker):
    def __init__(self, *, outage_wait: float, sweep_interval: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage_wait = outage_wait
        self.on_postgresql = connection.vendor == "postgresql"
        # SQLite has no row locks to tell a live copy from a lost one: no sweeps there.
        self.sweeper = Sweeper(interval=sweep_interval) if self.on_postgresql else None
        self.idle_jobs = 0
        self.outages = 0
        self.waiting_out_outage = False

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        """The first SIGTERM (or SIGINT) ends the loop once the current job, or the current
        claim of a job, is done. django-tasks-db exits at once when no job runs, which can cut
        its claim's transaction in the middle of a query."""
        if not self.running or self.waiting_out_outage:
            return super().shutdown(signum, frame)
        logger.warning(
            "Received %s - shutting down gracefully after the current job", signal.strsignal(signum)
        )
        self.running = False

    def run(self) -> None:
        if self.on_postgresql:
            connection_created.connect(self.hold_worker_lock, weak=False)
            connection.close()  # the next connection holds the lock from its first query
        if self.sweeper:
            self.sweeper.start()
        try:
            after_outage = False
            while True:
                try:
                    if after_outage and self.on_postgresql:  # (no JSON contains on SQLite)
                        self.requeue_abandoned()
                    return super().run()
                except services.TRANSIENT_ERRORS as exc:
                    self.startup_delay = False
                    self.wait_for_database(exc)
                    after_outage = True
        finally:
            if self.sweeper:
                # A sweep in progress ends (and commits) before the process does: exiting would
                # cut its transaction, and its report would not count it.
                self.sweeper.stopping.set()
                self.sweeper.join(timeout=60)
            self.report()

    def hold_worker_lock(self, sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock_shared(%s, hashtext(%s))",
                [services.WORKER_LOCK, self.worker_id],
            )

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """As django-tasks-db runs a job, except that its outcome is recorded once the database
        answers again when it went away meanwhile (a job never stays RUNNING under a live
        worker), and an execute job that ran no copy is counted."""
        try:
            self.running_task = True
            try:
                return_value = self.call(db_task_result)
            except BaseException as exc:  # recorded on the job row, as django-tasks-db does
                if isinstance(exc, services.TRANSIENT_ERRORS):
                    self.wait_for_database(exc)
                record = partial(db_task_result.set_failed, exc)
            else:
                if db_task_result.task_path == EXECUTE_TASK_PATH and return_value is None:
                    self.idle_jobs += 1
                record = partial(db_task_result.set_successful, return_value)
            self.record(record)
            task_finished.send(
                sender=type(db_task_result.task.get_backend()),
                task_result=db_task_result.task_result,
            )
        finally:
            self.running_task = False
            self._run_tasks += 1

    def call(self, db_task_result: DBTaskResult) -> Any:
        task = db_task_result.task
        task_result = db_task_result.task_result
        task_started.send(sender=type(task.get_backend()), task_result=task_result)
        if task.takes_context:
            context: Any = TaskContext(task_result=task_result)
            return task.call(context, *task_result.args, **task_result.kwargs)
        return task.call(*task_result.args, **task_result.kwargs)

    def record(self, record: partial[None]) -> None:
        while True:
            try:
                return record()
            except services.TRANSIENT_ERRORS as exc:
                self.wait_for_database(exc)

    def wait_for_database(self, exc: BaseException) -> None:
        """Wait (logged, bounded) until the database answers; past `outage_wait` seconds exit
        with status 1 so that the service manager starts a fresh worker."""
        self.outages += 1
        logger.warning("worker %s lost the database: %s", self.worker_id, exc)
        connection.close()
        if not self.running and not self.running_task:
            raise SystemExit(0)  # stopping anyway: nothing to wait for
        self.waiting_out_outage = True
        try:
            services.database_wait(budget=self.outage_wait)
        except services.TRANSIENT_ERRORS:
            logger.error(
                "worker %s: no database for %.0fs, exiting", self.worker_id, self.outage_wait
            )
            raise SystemExit(1) from None
        finally:
            self.waiting_out_outage = False
        logger.warning("worker %s: database back, carrying on", self.worker_id)

    def requeue_abandoned(self) -> None:
        """Between jobs this worker runs none: a job row RUNNING under its id is one whose
        claim committed while the connection died, unknown to the loop. Queue it again (a copy
        job is idempotent: its claim is exclusive)."""
        abandoned = DBTaskResult.objects.filter(
            status="RUNNING", worker_ids__contains=[self.worker_id]
        )
        if count := abandoned.update(status="READY"):
            logger.warning(
                "worker %s: %s claimed as the connection died, queued again",
                self.worker_id,
                services.plural(count, "job"),
            )

    def report(self) -> None:
        sweeps = self.sweeper.sweeps if self.sweeper else 0
        logger.info(
            "worker %s stopping: %s, %s that ran no copy, %s, %s waited out",
            self.worker_id,
            services.plural(self._run_tasks, "job"),
            services.plural(self.idle_jobs, "execute job"),
            services.plural(sweeps, "sweep"),
            services.plural(self.outages, "database outage"),
        )


class Command(db_worker.Command):
    help = (
        "Run order copy jobs (django-tasks-db's db_worker, never reloading), sweep for lost "
        "copies, and wait out database outages. Run as many as you like; stop with SIGTERM."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False)
        parser.add_argument(
            "--outage-wait",
            type=db_worker.valid_interval,
            default=300.0,
            help="seconds a lost database is waited for before the worker exits with status 1",
        )
        parser.add_argument(
            "--sweep-interval",
            type=db_worker.valid_interval,
            default=float(settings.ORDER_COPY_RECOVERY_INTERVAL),
            help="seconds between two lost-copy sweeps (default: ORDER_COPY_RECOVERY_INTERVAL)",
        )

    def handle(self, **options: Any) -> None:
        if options["reload"]:
            raise CommandError("copy_worker never reloads (SIGTERM would kill a running copy)")
        if options["sweep_interval"] <= 0:
            raise CommandError("--sweep-interval must be more than 0")
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = CopyWorker(
            outage_wait=options["outage_wait"],
            sweep_interval=options["sweep_interval"],
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        worker.configure_signals()
        started = time.monotonic()
        # Alive for the console and /healthz while the loop runs (health/presence.py).
        with process_presence(kind="worker"):
            worker.run()
        logger.info("worker %s ran for %.1fs", worker.worker_id, time.monotonic() - started)
