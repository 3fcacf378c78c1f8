"""Real `manage.py db_worker` processes against the test database on PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from events.models import Event
from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Address, LineItem, Order

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _worker(*, batch: bool = True) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "true"}
    args = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.05"]
    args += ["--batch"] if batch else []
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _finish(workers: list[subprocess.Popen[bytes]], timeout: float = 240) -> None:
    for worker in workers:
        out, _ = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, out.decode()[-3000:]


def test_three_workers_run_each_of_300_copies_exactly_once(postgres, make_order):
    sources = [make_order(lines=3) for _ in range(10)]
    copies = services.order_copy_create_many(source_orders=sources * 30, mode="test")
    orders_before = Order.objects.count()

    _finish([_worker() for _ in range(3)])

    ids = [copy.pk for copy in copies]
    assert set(OrderCopy.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "completed"
    }
    assert set(OrderCopy.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    targets = OrderCopy.objects.filter(pk__in=ids).values_list("target_order_id", flat=True)
    assert len(set(targets)) == 300
    assert Order.objects.count() == orders_before + 300
    assert Event.objects.filter(name="order_copies.start", resource_id__in=ids).count() == 300
    assert LineItem.objects.filter(order_id__in=targets).count() == 900


def _wait_for_lock_waiter(table: str, timeout: float = 60) -> None:
    """Until some session waits for a row lock on `table`: the worker is mid-copy."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [f'SELECT "{table}".%'],
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    pytest.fail(f"no worker came to wait on {table}")


def test_worker_killed_mid_copy_leaves_no_trace_and_the_copy_is_recovered(postgres, make_order):
    source = make_order(lines=4, place=True)
    copy = services.order_copy_create(source_order=source, mode="test", cancel_source_order=True)
    counts_before = (Order.objects.count(), LineItem.objects.count(), Address.objects.count())

    # Hold the source order's row lock from another connection: the worker builds the target
    # order, then blocks when it comes to cancel the source, in the middle of its transaction.
    with psycopg.connect(_database_url().replace("postgres://", "postgresql://")) as blocker:
        blocker.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", [source.pk])
        worker = _worker(batch=False)
        _wait_for_lock_waiter("orders_order")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        blocker.rollback()

    copy.refresh_from_db()
    assert copy.status == OrderCopy.Status.IN_PROGRESS
    assert copy.attempts == 1
    assert (Order.objects.count(), LineItem.objects.count(), Address.objects.count()) == (
        counts_before
    )
    source.refresh_from_db()
    assert source.status == Order.Status.PLACED

    recovered = services.order_copy_recover_lost()
    assert recovered == {"requeued": [copy.pk], "aborted": []}
    _finish([_worker()])

    copy.refresh_from_db()
    assert copy.status == OrderCopy.Status.COMPLETED, copy.errors_log
    assert copy.attempts == 2
    source.refresh_from_db()
    assert source.status == Order.Status.CANCELLED
    assert Order.objects.count() == counts_before[0] + 1
    names = list(
        Event.objects.filter(resource_id=copy.pk)
        .order_by("created_at")
        .values_list("name", flat=True)
    )
    assert names == [
        "order_copies.create",
        "order_copies.start",
        "order_copies.recover",
        "order_copies.start",
        "order_copies.complete",
    ]


def test_a_running_copy_is_not_taken_by_the_recovery_sweep(postgres, make_order):
    source = make_order(lines=2, place=True)
    copy = services.order_copy_create(source_order=source, mode="test", cancel_source_order=True)
    with psycopg.connect(_database_url().replace("postgres://", "postgresql://")) as blocker:
        blocker.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", [source.pk])
        worker = _worker(batch=False)
        try:
            _wait_for_lock_waiter("orders_order")
            assert services.order_copy_recover_lost() == {"requeued": [], "aborted": []}
        finally:
            blocker.rollback()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copy.refresh_from_db()
            if copy.status == OrderCopy.Status.COMPLETED:
                break
            time.sleep(0.1)
        assert copy.status == OrderCopy.Status.COMPLETED
        assert copy.attempts == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_worker_killed_mid_batch_has_every_copy_of_the_batch_recovered_and_completed_once(
    postgres, make_order
):
    sources = [make_order(lines=2, place=True) for _ in range(5)]
    copies = services.order_copy_create_many(
        source_orders=sources, mode="test", cancel_source_order=True
    )
    ids = [copy.pk for copy in copies]
    counts_before = (Order.objects.count(), LineItem.objects.count(), Address.objects.count())

    # One job carries the five copies. Holding one source's row lock from another connection
    # stops the worker inside the batch's transaction, all five claimed and locked.
    with psycopg.connect(_database_url().replace("postgres://", "postgresql://")) as blocker:
        blocker.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", [sources[2].pk])
        worker = _worker(batch=False)
        _wait_for_lock_waiter("orders_order")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        blocker.rollback()

    in_flight = OrderCopy.objects.filter(pk__in=ids)
    assert set(in_flight.values_list("status", "attempts")) == {(OrderCopy.Status.IN_PROGRESS, 1)}
    assert (Order.objects.count(), LineItem.objects.count(), Address.objects.count()) == (
        counts_before
    )

    recovered = services.order_copy_recover_lost()
    assert sorted(recovered["requeued"]) == sorted(ids) and recovered["aborted"] == []
    _finish([_worker()])

    ended = OrderCopy.objects.filter(pk__in=ids)
    assert set(ended.values_list("status", "attempts")) == {(OrderCopy.Status.COMPLETED, 2)}
    assert Order.objects.count() == counts_before[0] + 5
    assert set(
        Order.objects.filter(pk__in=[s.pk for s in sources]).values_list("status", flat=True)
    ) == {Order.Status.CANCELLED}
    for copy_id in ids:
        names = list(
            Event.objects.filter(resource_id=copy_id)
            .order_by("created_at")
            .values_list("name", flat=True)
        )
        assert names == [
            "order_copies.create",
            "order_copies.start",
            "order_copies.recover",
            "order_copies.start",
            "order_copies.complete",
        ]
