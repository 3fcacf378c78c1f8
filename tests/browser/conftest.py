"""Browser tests: Playwright (Python) drives Debian's Chromium against pytest-django's live
server, with a real `manage.py copy_worker` process running the copies, on PostgreSQL.

Never `playwright install`: it downloads a browser. CI installs Debian's chromium (.ci/run).
"""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection

from health.presence import presence_list

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-long-browser-password"  # noqa: S105 (a test user's)
# Where the browser tests leave screenshots for a reviewer (CI keeps the folder as artifacts).
SCREENSHOTS = ROOT / "var" / "artifacts" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium with Playwright (needs /usr/bin/chromium)"
    )


@pytest.fixture(autouse=True)
def _needs_postgres(postgres: None) -> None:
    """A real worker process shares the live server's database: PostgreSQL only."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, so Django's async-unsafe check
    # would refuse the test's own ORM calls while the browser runs.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def worker_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `manage.py copy_worker` (django-tasks-db's db_worker for copies) on the test
    database, alive for the console before the test starts, stopped (and if need be killed) at
    the end; its output is printed when the test fails."""
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "DEBUG": "true"}
    args = [sys.executable, "manage.py", "copy_worker", "--interval", "0.1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_alive(process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
            print(log_path.read_text(errors="replace")[-5000:])


def _wait_until_alive(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until the worker holds its presence (health/presence.py), or fail."""
    deadline = time.monotonic() + timeout
    while not any(p.pid == process.pid and p.alive for p in presence_list(kind="worker")):  # type: ignore[attr-defined]
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker did not come alive (exit status {process.poll()})")
        time.sleep(0.1)


@pytest.fixture
def make_user(transactional_db: None) -> Callable[..., User]:
    """A staff user with a password; a superuser, or a staff user with the given
    "app.codename" permissions."""

    def make(username: str, *perms: str, superuser: bool = False) -> User:
        if superuser:
            return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
        user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make
