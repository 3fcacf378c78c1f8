"""Faults injected into real `manage.py copy_worker` processes on PostgreSQL: workers killed
while they sweep or copy, backends terminated, connections refused (through a loopback proxy the
test stops and starts), SIGTERM mid-copy. After each: no duplicate or orphan target order,
nothing half-done, every copy ended once, every completed copy has its target."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from events.models import Event
from ordercopies import services
from ordercopies.models import OrderCopy
from ordercopies.tasks import EXECUTE_TASK_PATH
from orders.models import Address, LineItem, Order
from subscriptions import services as subscription_services
from subscriptions.models import SubscriptionRun

ROOT = Path(__file__).resolve().parents[2]
ENDS = ["order_copies.complete", "order_copies.fail", "order_copies.abort"]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _database_url(port: int | None = None) -> str:
    s = connection.settings_dict
    host = "127.0.0.1" if port else s["HOST"] or "127.0.0.1"
    return f"postgres://{s['USER']}@{host}:{port or s['PORT'] or 5432}/{s['NAME']}"


def _admin() -> psycopg.Connection:
    """A connection of the test's own, outside Django's, in autocommit."""
    return psycopg.connect(_database_url().replace("postgres://", "postgresql://"), autocommit=True)


class Worker:
    """A `manage.py copy_worker` process; its output goes to a file (a pipe could fill up)."""

    def __init__(self, log: Path, *args: str, port: int | None = None, readme: bool = False):
        env = {**os.environ, "DATABASE_URL": _database_url(port), "DEBUG": "true"}
        command = [sys.executable, "manage.py", "copy_worker"]
        if not readme:
            command += ["--interval", "0.05", "--no-startup-delay", *args]
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 60, *, terminate: bool = True) -> None:
        """SIGTERM (unless it ends on its own: `--batch`), and it must exit cleanly."""
        if terminate and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        assert self.process.returncode == 0, self.output()[-3000:]

    def report(self) -> dict[str, int]:
        match = re.search(
            r"stopping: (\d+) jobs?, (\d+) execute jobs? that ran no copy, (\d+) sweeps?, "
            r"(\d+) database outages? waited out",
            self.output(),
        )
        assert match, self.output()[-3000:]
        jobs, idle, sweeps, outages = (int(group) for group in match.groups())
        return {"jobs": jobs, "idle": idle, "sweeps": sweeps, "outages": outages}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Started by the test; any still running at the end is killed."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


def _start(workers: list[Worker], tmp_path: Path, *args: str, **kwargs: object) -> Worker:
    worker = Worker(tmp_path / f"worker-{len(workers)}.log", *args, **kwargs)  # type: ignore[arg-type]
    workers.append(worker)
    return worker


def _free_port_outside_the_ephemeral_range() -> int:
    """A port no outgoing connection is given by the kernel meanwhile, so that the proxy can
    listen on it again after `refuse()`."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(max(1024, low - 8000), low), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port for the proxy")


class Proxy:
    """A TCP proxy on loopback to PostgreSQL. `refuse()` closes its port and cuts every
    connection through it (as a database that is down does); `accept()` opens it again."""

    def __init__(self) -> None:
        s = connection.settings_dict
        self.upstream = (s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432))
        self.port = _free_port_outside_the_ephemeral_range()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.accept()

    def accept(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._serve, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        assert self.listener is not None
        # shutdown() first: close() alone leaves a socket that a thread blocks on in accept()
        # listening until that accept returns.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.listener = None
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by refuse()
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _wait_for_lock_waiter(pattern: str, timeout: float = 30) -> int:
    """The backend pid of a session waiting for a lock, its query matching `pattern`. (On a
    connection of its own in autocommit: pg_stat_activity is a snapshot per transaction.)"""
    deadline = time.monotonic() + timeout
    with _admin() as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s LIMIT 1",
                [pattern],
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    pytest.fail(f"no session came to wait on a lock for {pattern}")


def _wait_until_ended(ids: list[str], timeout: float) -> float:
    started = time.monotonic()
    ended = ["completed", "failed", "aborted"]
    while time.monotonic() - started < timeout:
        left = OrderCopy.objects.filter(pk__in=ids).exclude(status__in=ended).count()
        if not left:
            return time.monotonic() - started
        time.sleep(0.2)
    statuses = Counter(OrderCopy.objects.filter(pk__in=ids).values_list("status", flat=True))
    pytest.fail(f"copies still not ended after {timeout}s: {dict(statuses)}")


def _counts() -> tuple[int, int, int]:
    return Order.objects.count(), LineItem.objects.count(), Address.objects.count()


def _assert_invariants(ids: list[str], *, before: tuple[int, int, int], lines: int) -> Counter:
    """No duplicate or orphan target order, nothing half-done, every copy ended once, every
    completed copy has its target. Returns the copies' statuses, counted."""
    copies = OrderCopy.objects.filter(pk__in=ids)
    statuses = Counter(copies.values_list("status", flat=True))
    assert sum(statuses.values()) == len(ids)
    assert set(statuses) <= {"completed", "failed", "aborted"}, statuses
    targets = list(copies.filter(status="completed").values_list("target_order_id", flat=True))
    assert None not in targets, "a completed copy without its target order"
    assert len(set(targets)) == len(targets), "two copies share a target order"
    orders, line_items, addresses = before
    # Every order made since `before` is a completed copy's target: no orphan, no duplicate.
    assert Order.objects.count() == orders + len(targets)
    # Every target is whole: all its lines and its two addresses, and nothing else was left.
    assert LineItem.objects.filter(order_id__in=targets).count() == lines * len(targets)
    assert LineItem.objects.count() == line_items + lines * len(targets)
    assert Address.objects.count() == addresses + 2 * len(targets)
    ends = Counter(
        dict(
            Event.objects.filter(resource_id__in=ids, name__in=ENDS)
            .values_list("resource_id")
            .annotate(n=Count("id"))
            .values_list("resource_id", "n")
        )
    )
    assert set(ends) == set(ids), "a copy ended without its end event"
    assert set(ends.values()) == {1}, "a copy ended twice"
    assert not DBTaskResult.objects.filter(
        task_path=EXECUTE_TASK_PATH, args_kwargs__args__0__in=ids, status="RUNNING"
    ).exists(), "a job row stayed RUNNING"
    return statuses


def test_a_sweep_killed_mid_sweep_does_not_stop_recovery(postgres, make_order, workers, tmp_path):
    """A: worker 1 dies mid-copy; worker 2 dies mid-sweep over that copy (held there by a lock on
    the job table); two live workers still recover the copy on their own."""
    source = make_order(lines=3, place=True)
    copy = services.order_copy_create(source_order=source, mode="test", cancel_source_order=True)
    before = _counts()
    started = time.monotonic()

    with _admin() as admin:
        admin.execute("BEGIN")
        admin.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", [source.pk])
        first = _start(workers, tmp_path, "--sweep-interval", "1")
        _wait_for_lock_waiter('SELECT "orders_order".%')
        first.kill()
        admin.execute("ROLLBACK")
        assert OrderCopy.objects.get(pk=copy.pk).status == OrderCopy.Status.IN_PROGRESS

        # The next sweep finds the copy lost, then must write to the job table: it waits there.
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE django_tasks_database_dbtaskresult IN SHARE MODE")
        sweeper = _start(workers, tmp_path, "--sweep-interval", "1")
        _wait_for_lock_waiter("%django_tasks_database_dbtaskresult%")
        sweeper.kill()
        admin.execute("ROLLBACK")

    stored = OrderCopy.objects.get(pk=copy.pk)
    assert (stored.status, stored.lost_runs) == (OrderCopy.Status.IN_PROGRESS, 0)
    live = [_start(workers, tmp_path, "--sweep-interval", "1") for _ in range(2)]
    _wait_until_ended([copy.pk], timeout=30)
    for worker in live:
        worker.stop()

    stored = OrderCopy.objects.get(pk=copy.pk)
    assert stored.status == OrderCopy.Status.COMPLETED, stored.errors_log
    assert (stored.attempts, stored.lost_runs) == (2, 1)
    names = list(
        Event.objects.filter(resource_id=copy.pk).order_by("created_at").values_list("name")
    )
    assert [name for (name,) in names] == [
        "order_copies.create",
        "order_copies.start",
        "order_copies.recover",
        "order_copies.start",
        "order_copies.complete",
    ]
    # The killed worker's job row was closed, not left RUNNING (prune can remove it).
    jobs = DBTaskResult.objects.filter(task_path=EXECUTE_TASK_PATH, args_kwargs__args=[copy.pk])
    assert sorted(jobs.values_list("status", flat=True)) == ["FAILED", "SUCCESSFUL"]
    assert jobs.get(status="FAILED").exception_class_path == "ordercopies.exceptions.WorkerLost"
    _assert_invariants([copy.pk], before=before, lines=3)
    print(f"\nA: 1 copy, 2 workers killed (mid-copy, mid-sweep), recovered in {_since(started)}")


def test_sweeps_every_2s_never_take_work_from_three_workers(
    postgres, make_order, workers, tmp_path
):
    """B: 300 copies, 3 workers sweeping every 2 s, no faults: no copy needs a sweep and no
    execute job ends without running its copy."""
    sources = [make_order(lines=2) for _ in range(10)]
    copies = services.order_copy_create_many(source_orders=sources * 30, mode="test")
    ids = [copy.pk for copy in copies]
    before = _counts()
    started = time.monotonic()

    batch = [_start(workers, tmp_path, "--batch", "--sweep-interval", "2") for _ in range(3)]
    for worker in batch:
        worker.stop(timeout=180, terminate=False)

    statuses = _assert_invariants(ids, before=before, lines=2)
    assert statuses == {"completed": 300}
    assert set(OrderCopy.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    assert not Event.objects.filter(resource_id__in=ids, name="order_copies.recover").exists()
    # Each job carries a batch of ORDER_COPY_BATCH_SIZE copies and answers their end statuses.
    jobs = DBTaskResult.objects.filter(task_path=EXECUTE_TASK_PATH, args_kwargs__args__0__in=ids)
    carried = sorted(i for args in jobs.values_list("args_kwargs__args", flat=True) for i in args)
    assert carried == sorted(ids)
    assert set(jobs.values_list("status", flat=True)) == {"SUCCESSFUL"}
    ended: Counter[str] = Counter()
    for counts in jobs.values_list("return_value", flat=True):
        ended.update(counts)
    assert ended == {"completed": 300}
    reports = [worker.report() for worker in batch]
    assert sum(report["jobs"] for report in reports) == jobs.count()
    assert [report["idle"] for report in reports] == [0, 0, 0]
    assert all(report["sweeps"] >= 1 for report in reports)
    print(
        f"\nB: 300 copies, 3 workers, {sum(r['sweeps'] for r in reports)} sweeps, "
        f"0 idle jobs, {_since(started)}"
    )


def test_a_connection_lost_as_a_subscription_copy_ends_is_retried_and_counted_once(
    postgres, make_order, workers, tmp_path
):
    """C: the worker's backend is terminated while the subscription's receiver waits for the
    subscription's row lock, inside the copy's transaction."""
    placed = make_order(lines=2, place=True)
    subscription = subscription_services.order_subscription_create(
        source_order=placed, mode="test", frequency="daily"
    )
    occurrencies = subscription.occurrencies
    run = subscription_services.order_subscription_run(subscription=subscription)
    assert run.order_copy_id is not None
    before = _counts()
    started = time.monotonic()

    with _admin() as admin:
        admin.execute("BEGIN")
        admin.execute(
            "SELECT id FROM subscriptions_ordersubscription WHERE id = %s FOR UPDATE",
            [subscription.pk],
        )
        worker = _start(workers, tmp_path)
        pid = _wait_for_lock_waiter('SELECT "subscriptions_ordersubscription".%')
        with _admin() as killer:
            assert killer.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
        admin.execute("ROLLBACK")

    _wait_until_ended([run.order_copy_id], timeout=30)
    # The subscription's end of run commits with the copy: wait for the worker to be idle.
    time.sleep(0.5)
    worker.stop()

    copy = OrderCopy.objects.get(pk=run.order_copy_id)
    assert copy.status == OrderCopy.Status.COMPLETED, copy.errors_log
    assert (copy.attempts, copy.lost_runs) == (1, 0)
    assert Event.objects.filter(resource_id=copy.pk, name="order_copies.complete").count() == 1
    stored_run = SubscriptionRun.objects.get(pk=run.pk)
    assert stored_run.ended_at is not None and stored_run.succeeded is True
    subscription.refresh_from_db()
    assert subscription.occurrencies == occurrencies + 1
    assert subscription.succeeded_on_last_run is True
    ends = Event.objects.filter(
        resource_id=subscription.pk, name="order_subscriptions.run_complete"
    )
    assert ends.count() == 1
    log = worker.output()
    assert "transient database error" in log
    assert len(re.findall(rf"order copy {copy.pk} completed", log)) == 1
    _assert_invariants([copy.pk], before=before, lines=2)
    print(f"\nC: 1 subscription copy, 1 backend terminated mid-end, completed in {_since(started)}")


def test_workers_outlive_terminated_backends_and_refused_connections(
    postgres, make_order, workers, tmp_path
):
    """D: three workers through a proxy; connections refused for 10 s, then every worker
    backend terminated again and again. The same processes carry on and every copy ends."""
    sources = [make_order(lines=2) for _ in range(10)]
    copies = services.order_copy_create_many(source_orders=sources * 30, mode="test")
    ids = [copy.pk for copy in copies]
    before = _counts()
    proxy = Proxy()
    running = [
        _start(workers, tmp_path, "--sweep-interval", "2", port=proxy.port) for _ in range(3)
    ]
    pids = [worker.process.pid for worker in running]
    started = time.monotonic()

    deadline = time.monotonic() + 60
    while not all("order copy" in worker.output() for worker in running):
        assert time.monotonic() < deadline, "the workers did not start copying"
        time.sleep(0.1)
    proxy.refuse()
    time.sleep(10)
    proxy.accept()
    terminated = 0
    with _admin() as admin:
        connection.ensure_connection()
        own = connection.connection.info.backend_pid
        # At least 15 rounds and 15 backends killed: a round may find none while the workers
        # reconnect, so the rounds go on (bounded) until enough were.
        rounds, stop_at = 0, time.monotonic() + 30
        while (rounds < 15 or terminated < 15) and time.monotonic() < stop_at:
            rounds += 1
            time.sleep(0.3)
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend' "
                "AND pid NOT IN (pg_backend_pid(), %s)",
                [own],
            ).fetchall()
            terminated += len(rows)
    took = _wait_until_ended(ids, timeout=90)

    assert [worker.process.poll() for worker in running] == [None, None, None]
    assert [worker.process.pid for worker in running] == pids
    for worker in running:
        worker.stop()
    statuses = _assert_invariants(ids, before=before, lines=2)
    assert statuses == {"completed": 300}
    # Each worker met the refusal (in its loop or in a copy) and waited it out, logged.
    waits = [worker.output().count("database reachable again") for worker in running]
    assert all(waits), waits
    assert all("database unreachable" in worker.output() for worker in running)
    assert terminated >= 15
    attempts = Counter(OrderCopy.objects.filter(pk__in=ids).values_list("attempts", flat=True))
    print(
        f"\nD: 300 copies, 3 workers, 10 s refusal + {terminated} backends terminated, "
        f"{sum(waits)} outages waited out, attempts {dict(attempts)}, "
        f"all ended {took:.1f}s after the faults began ({_since(started)} in all)"
    )


def test_sigterm_mid_copy_lets_a_worker_started_as_documented_finish(
    postgres, make_order, workers, tmp_path
):
    """E: `manage.py copy_worker` exactly as the README gives it, with DEBUG on (no reloader)."""
    source = make_order(lines=2, place=True)
    copy = services.order_copy_create(source_order=source, mode="test", cancel_source_order=True)
    before = _counts()

    with _admin() as admin:
        admin.execute("BEGIN")
        admin.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", [source.pk])
        worker = _start(workers, tmp_path, readme=True)
        _wait_for_lock_waiter('SELECT "orders_order".%')
        worker.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert worker.process.poll() is None, "the worker did not wait for its copy"
        admin.execute("ROLLBACK")
    worker.stop(timeout=30, terminate=False)  # a second SIGTERM would force it

    stored = OrderCopy.objects.get(pk=copy.pk)
    assert stored.status == OrderCopy.Status.COMPLETED, stored.errors_log
    assert stored.attempts == 1
    source.refresh_from_db()
    assert source.status == Order.Status.CANCELLED
    assert "shutting down gracefully" in worker.output()
    _assert_invariants([copy.pk], before=before, lines=2)


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"
