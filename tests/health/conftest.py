import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from health.models import ProcessPresence
from health.presence import presence_list, process_presence

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_presence(transactional_db: None) -> Iterator[ProcessPresence]:
    """This test process announced as a live worker, on a connection of its own (committed:
    SQLite would not let that connection write beside a test's open transaction)."""
    with process_presence(kind="worker") as holder:
        assert holder.registered.is_set(), "the presence did not register"
        yield ProcessPresence.objects.get(pk=holder.presence_id)


def wait_until(predicate: Callable[[], bool], *, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def alive_pids(kind: str) -> set[int]:
    return {p.pid for p in presence_list(kind=kind) if p.alive}  # type: ignore[attr-defined]


@pytest.fixture
def manage() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `manage.py <args>` on the test database (PostgreSQL); killed at the end if alive."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "true"}
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)
