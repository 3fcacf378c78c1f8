"""Schedulers running at the same time, as real processes and as threads with their own
connections, against the test database on PostgreSQL; and the command itself."""

import os
import signal
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from events.models import Event
from ordercopies.models import OrderCopy
from subscriptions import services
from subscriptions.models import OrderSubscription, SubscriptionRun
from tests.subscriptions.conftest import make_due

ROOT = Path(__file__).resolve().parents[2]
Status = OrderSubscription.Status


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def manage(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "true"}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def due_subscriptions(make_subscription, count: int) -> list[OrderSubscription]:
    """`count` due subscriptions (one source order: cheap to build, the same for the claim)."""
    subscriptions = [make_subscription(frequency="hourly") for _ in range(count)]
    for subscription in subscriptions:
        make_due(subscription)
    return subscriptions


def assert_one_copy_per_scheduled_time(subscriptions: list[OrderSubscription]) -> None:
    ids = [subscription.pk for subscription in subscriptions]
    runs = SubscriptionRun.objects.filter(subscription_id__in=ids, trigger="schedule")
    assert runs.count() == len(ids)
    assert set(runs.values_list("subscription_id", flat=True)) == set(ids)
    copies = OrderCopy.objects.filter(order_subscription_id__in=ids)
    assert copies.count() == len(ids)
    assert set(copies.values_list("order_subscription_id", flat=True)) == set(ids)
    statuses = OrderSubscription.objects.filter(pk__in=ids).values_list("status", flat=True)
    assert set(statuses) == {Status.RUNNING}
    run_events = Event.objects.filter(name="order_subscriptions.run", resource_id__in=ids)
    assert run_events.count() == len(ids)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_scheduler_processes_started_together_make_one_copy_per_scheduled_time(
    postgres, make_subscription
):
    subscriptions = due_subscriptions(make_subscription, 150)

    schedulers = [manage("run_subscriptions", "--limit", "1000") for _ in range(2)]
    outputs = [scheduler.communicate(timeout=120)[0].decode() for scheduler in schedulers]

    for scheduler, output in zip(schedulers, outputs, strict=True):
        assert scheduler.returncode == 0, output[-3000:]
    started = [
        int(output.split("Subscriptions: runs started: ")[1].split(",")[0]) for output in outputs
    ]
    assert sum(started) == 150, outputs
    assert_one_copy_per_scheduled_time(subscriptions)


@pytest.mark.django_db(transaction=True)
def test_two_scheduler_threads_released_at_once_never_run_a_time_twice(postgres, make_subscription):
    subscriptions = due_subscriptions(make_subscription, 40)
    barrier = threading.Barrier(2)
    reports: list[services.SchedulerReport] = []
    failures: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait(timeout=30)
            reports.append(services.order_subscription_run_due(limit=1000))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    first, second = (set(report.started) for report in reports)
    assert first.isdisjoint(second)
    assert len(first | second) == 40
    assert_one_copy_per_scheduled_time(subscriptions)


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_skips_the_subscriptions_another_one_holds(postgres, make_subscription):
    held, free = due_subscriptions(make_subscription, 2)
    done = threading.Event()
    release = threading.Event()

    def other_scheduler() -> None:
        # Holds `held` as a scheduler mid-claim would: its row lock, in an open transaction.
        from django.db import transaction

        try:
            with transaction.atomic():
                OrderSubscription.objects.select_for_update().get(pk=held.pk)
                done.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_scheduler)
    thread.start()
    try:
        assert done.wait(timeout=30)
        report = services.order_subscription_run_due()
    finally:
        release.set()
        thread.join(timeout=30)

    assert report.started == [free.pk]  # not blocked by the held row, and not run twice
    assert services.order_subscription_run_due().started == [held.pk]


# The command ---------------------------------------------------------------------------------


def test_run_subscriptions_once_prints_what_it_did(make_subscription):
    due = make_subscription()
    make_due(due)
    out = StringIO()
    call_command("run_subscriptions", stdout=out)
    assert "Subscriptions: runs started: 1, expired: 0, renewal alerts: 0" in out.getvalue()
    assert OrderSubscription.objects.get(pk=due.pk).status == Status.RUNNING


def test_run_subscriptions_limits_the_runs_of_a_pass(make_subscription):
    for subscription in [make_subscription() for _ in range(3)]:
        make_due(subscription)
    out = StringIO()
    call_command("run_subscriptions", "--limit", "2", stdout=out)
    assert "runs started: 2," in out.getvalue()
    assert OrderSubscription.objects.filter(status=Status.RUNNING).count() == 2


def test_run_subscriptions_refuses_a_bad_interval(db):
    with pytest.raises(CommandError, match="--interval must be positive"):
        call_command("run_subscriptions", "--loop", "--interval", "-1")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_subscriptions_loop_runs_until_sigterm(postgres, make_subscription):
    scheduler = manage("run_subscriptions", "--loop", "--interval", "0.2")
    try:
        assert scheduler.stdout is not None
        assert "Scheduler started" in scheduler.stdout.readline().decode()
        due = make_subscription()
        make_due(due)
        for _ in range(200):
            if OrderSubscription.objects.get(pk=due.pk).status == Status.RUNNING:
                break
            threading.Event().wait(0.1)
        assert OrderSubscription.objects.get(pk=due.pk).status == Status.RUNNING
    finally:
        scheduler.send_signal(signal.SIGTERM)
        output = scheduler.communicate(timeout=30)[0].decode()
    assert scheduler.returncode == 0, output
    assert output.rstrip().endswith("Scheduler stopped.")


def test_a_pass_starts_every_due_run_and_queues_their_copies_in_batched_jobs(
    make_subscription, settings
):
    from django_tasks_db.models import DBTaskResult

    from ordercopies.tasks import EXECUTE_TASK_PATH

    settings.ORDER_COPY_BATCH_SIZE = 4
    due = [make_subscription() for _ in range(10)]
    for subscription in due:
        make_due(subscription)
    jobs_before = DBTaskResult.objects.filter(task_path=EXECUTE_TASK_PATH).count()

    report = services.order_subscription_run_due()

    assert sorted(report.started) == sorted(subscription.pk for subscription in due)
    jobs = DBTaskResult.objects.filter(task_path=EXECUTE_TASK_PATH)
    assert jobs.count() - jobs_before == 3  # 4 + 4 + 2 copies
    runs = SubscriptionRun.objects.filter(subscription__in=due, trigger="schedule")
    copies = set(runs.values_list("order_copy_id", flat=True))
    assert len(copies) == 10
    carried = {i for args in jobs.values_list("args_kwargs__args", flat=True) for i in args}
    assert copies <= carried


def _pass_and_batch_queries(make_subscription, count: int) -> tuple[int, int]:
    """Queries of a pass that starts `count` due runs, then of the batch that runs their
    copies (and so ends the runs)."""
    from django.test.utils import CaptureQueriesContext

    from ordercopies import services as copy_services

    due = due_subscriptions(make_subscription, count)
    with CaptureQueriesContext(connection) as started:
        report = services.order_subscription_run_due()
    assert sorted(report.started) == sorted(subscription.pk for subscription in due)
    copies = list(OrderCopy.objects.filter(order_subscription__in=due).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as ran:
        ended = copy_services.order_copy_execute_many(order_copy_ids=copies)
    assert {copy.status for copy in ended} == {OrderCopy.Status.COMPLETED}
    stored = OrderSubscription.objects.filter(pk__in=[s.pk for s in due])
    assert set(stored.values_list("status", flat=True)) == {Status.ACTIVE}
    runs = SubscriptionRun.objects.filter(subscription__in=due, trigger="schedule")
    assert runs.filter(ended_at__isnull=False, succeeded=True).count() == count
    return len(started), len(ran)


def test_a_pass_starts_runs_set_wise_and_a_batch_ends_them_set_wise(make_subscription):
    """A pass's queries do not grow with the runs it starts, nor do a batch's with the runs
    its copies end (one signal per batch, not one per copy)."""
    one = _pass_and_batch_queries(make_subscription, 1)
    SubscriptionRun.objects.all().delete()
    OrderSubscription.objects.all().delete()
    assert _pass_and_batch_queries(make_subscription, 12) == one
