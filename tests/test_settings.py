"""Settings read from the environment, each case in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_PYTHON = BASE_DIR / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))

# Variables the settings read: cleared so the caller's environment never leaks into a case.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "SECURE_COOKIES",
    "LOG_LEVEL",
    "TASKS_BACKEND",
    "STATIC_ROOT",
    "ORDER_COPY_MAX_ATTEMPTS",
    "ORDER_COPY_TRANSIENT_RETRIES",
    "ORDER_COPY_RECOVERY_INTERVAL",
    "DJANGO_SETTINGS_MODULE",
}
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "a-long-random-production-secret-for-tests"}


def _run(env: dict[str, str], expression: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    return subprocess.run(
        [PYTHON, "-c", code],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _read(env: dict[str, str], expression: str):
    result = _run(env, expression)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _refused(env: dict[str, str]) -> str:
    result = _run(env, "settings.DEBUG")
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    return result.stderr


def test_defaults_are_for_development():
    debug, secret, hosts, attempts = _read(
        {},
        "[settings.DEBUG, settings.SECRET_KEY, settings.ALLOWED_HOSTS, "
        "settings.ORDER_COPY_MAX_ATTEMPTS]",
    )
    assert debug is True
    assert secret == "dev-only-insecure-secret-key-change-me"
    assert "localhost" in hosts
    assert "testserver" in hosts
    assert attempts == 3


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_production_without_a_secret_key_refuses_to_start(secret):
    env = {"DEBUG": "false"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    stderr = _refused(env)
    assert "SECRET_KEY is the development default while DEBUG is off" in stderr


def test_production_reads_allowed_hosts_as_a_list():
    debug, hosts = _read(
        {**PRODUCTION, "ALLOWED_HOSTS": "a.example, b.example,"},
        "[settings.DEBUG, settings.ALLOWED_HOSTS]",
    )
    assert debug is False
    assert hosts == ["a.example", "b.example"]


def test_production_allows_no_host_unless_told():
    assert _read(PRODUCTION, "settings.ALLOWED_HOSTS") == []


def test_production_uses_the_secret_key_given_and_secure_cookies():
    secret, session_secure, csrf_secure = _read(
        PRODUCTION,
        "[settings.SECRET_KEY, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]",
    )
    assert secret == PRODUCTION["SECRET_KEY"]
    assert (session_secure, csrf_secure) == (True, True)


def test_secure_cookies_can_be_turned_off_in_production():
    assert _read(
        {**PRODUCTION, "SECURE_COOKIES": "no"},
        "[settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]",
    ) == [False, False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), ("yes", True), ("on", True)]
    + [("0", False), ("False", False), ("no", False), ("off", False)],
)
def test_debug_accepts_the_usual_boolean_spellings(value, expected):
    env = {**PRODUCTION, "DEBUG": value}
    assert _read(env, "settings.DEBUG") is expected


def test_an_invalid_boolean_is_a_clear_error():
    stderr = _refused({"DEBUG": "maybe"})
    assert "DEBUG must be a boolean (true/false), got 'maybe'" in stderr


def test_sqlite_database_url_selects_sqlite_and_waits_for_locks():
    # Only parsed: the settings never open the file.
    url = "sqlite:////tmp/x.sqlite3"  # noqa: S108
    database = _read({"DATABASE_URL": url}, "settings.DATABASES['default']")
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == "/tmp/x.sqlite3"  # noqa: S108
    assert database["OPTIONS"]["timeout"] == 20
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgres_database_url_is_parsed_with_its_connection_age():
    database = _read(
        {
            "DATABASE_URL": "postgres://shop:pw@db.example:5433/shopdb",
            "DATABASE_CONN_MAX_AGE": "60",
        },
        "settings.DATABASES['default']",
    )
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["HOST"]) == (
        "shopdb",
        "shop",
        "db.example",
    )
    assert int(database["PORT"]) == 5433
    assert database["CONN_MAX_AGE"] == 60
    assert "transaction_mode" not in database.get("OPTIONS", {})


def test_default_database_is_the_project_sqlite_file():
    database = _read({}, "settings.DATABASES['default']")
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(BASE_DIR / "db.sqlite3")


def test_order_copy_settings_are_read_as_integers():
    values = _read(
        {
            "ORDER_COPY_MAX_ATTEMPTS": "7",
            "ORDER_COPY_TRANSIENT_RETRIES": "0",
            "ORDER_COPY_RECOVERY_INTERVAL": "15",
        },
        "[settings.ORDER_COPY_MAX_ATTEMPTS, settings.ORDER_COPY_TRANSIENT_RETRIES, "
        "settings.ORDER_COPY_RECOVERY_INTERVAL]",
    )
    assert values == [7, 0, 15]
    assert all(type(value) is int for value in values)


def test_an_invalid_integer_is_a_clear_error():
    stderr = _refused({"ORDER_COPY_MAX_ATTEMPTS": "many"})
    assert "ORDER_COPY_MAX_ATTEMPTS must be an integer, got 'many'" in stderr


def test_csrf_trusted_origins_are_read_as_a_list():
    origins = _read(
        {"CSRF_TRUSTED_ORIGINS": "https://a.example,https://b.example"},
        "settings.CSRF_TRUSTED_ORIGINS",
    )
    assert origins == ["https://a.example", "https://b.example"]
