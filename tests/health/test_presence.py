"""Workers and schedulers announce themselves; on PostgreSQL "alive" is a lock their process
holds, so a killed process is dead at once, whatever any clock says."""

import io
import os
import signal
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from health.models import ProcessPresence
from health.presence import HEARTBEAT_STALE_SECONDS, presence_alive_counts, process_presence
from tests.health.conftest import alive_pids, wait_until


@pytest.mark.django_db(transaction=True)
def test_a_process_inside_its_presence_block_is_alive_and_gone_after() -> None:
    assert presence_alive_counts() == {"worker": 0, "scheduler": 0}
    with process_presence(kind="scheduler") as holder:
        assert holder.registered.is_set()
        assert presence_alive_counts() == {"worker": 0, "scheduler": 1}
    assert presence_alive_counts() == {"worker": 0, "scheduler": 0}
    assert not ProcessPresence.objects.exists()  # a clean stop removes its row


@pytest.mark.django_db
def test_on_sqlite_a_row_whose_heartbeat_is_stale_is_dead() -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's heartbeat fallback (PostgreSQL uses the lock)")
    now = timezone.now()
    stale = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS + 1)
    for heartbeat, pid in ((now, 1), (stale, 2)):
        ProcessPresence.objects.create(
            kind="worker", host="h", pid=pid, started_at=stale, heartbeat_at=heartbeat
        )
    assert alive_pids("worker") == {1}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_an_old_heartbeat_does_not_make_a_live_process_dead(postgres, manage):
    # Alive is the lock, not the clock: a row whose heartbeat is a day old is still alive
    # while its process holds the lock.
    scheduler = manage("run_subscriptions", "--loop", "--interval", "60")
    assert wait_until(lambda: alive_pids("scheduler") == {scheduler.pid})
    ProcessPresence.objects.update(heartbeat_at=timezone.now() - timedelta(days=1))
    assert alive_pids("scheduler") == {scheduler.pid}
    scheduler.send_signal(signal.SIGTERM)
    out, _ = scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0, out.decode()[-2000:]
    assert alive_pids("scheduler") == set()
    assert not ProcessPresence.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_killed_scheduler_is_dead_without_any_wait(postgres, manage):
    scheduler = manage("run_subscriptions", "--loop", "--interval", "60")
    assert wait_until(lambda: alive_pids("scheduler") == {scheduler.pid})
    scheduler.kill()
    scheduler.wait(timeout=15)
    # No heartbeat to time out: the lock goes with the killed process's connection (the
    # server notices the closed socket; polled, bounded, well under any heartbeat period).
    assert wait_until(lambda: alive_pids("scheduler") == set(), timeout=5)
    assert ProcessPresence.objects.filter(pid=scheduler.pid).exists()  # the row stays, dead
    assert presence_alive_counts()["scheduler"] == 0


def test_one_shot_scheduler_passes_do_not_announce_a_scheduler(db) -> None:
    call_command("run_subscriptions", stdout=io.StringIO())
    assert not ProcessPresence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_process_registering_removes_the_rows_of_dead_processes() -> None:
    long_ago = timezone.now() - timedelta(hours=2)
    dead = ProcessPresence.objects.create(
        kind="worker", host="gone", pid=99999, started_at=long_ago, heartbeat_at=long_ago
    )
    with process_presence(kind="worker") as holder:
        assert holder.registered.is_set()
        assert not ProcessPresence.objects.filter(pk=dead.pk).exists()
        assert alive_pids("worker") == {os.getpid()}
