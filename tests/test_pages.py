"""The pages outside the admin and the API: the landing page, its icon, /healthz (its
workers check uses a real presence, tests/health/conftest.py)."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from health.models import ProcessPresence
from ordercopies import services
from ordercopies.models import OrderCopy
from tests.health.conftest import worker_presence

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.django_db]
__all__ = ["worker_presence"]  # the fixture


def test_the_landing_page_links_to_the_admin_the_api_docs_and_health(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/healthz"'):
        assert link in page


def test_the_favicon_is_served(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_healthz_is_ok_with_the_database_up_migrated_and_a_worker_alive(
    client: Client, worker_presence: ProcessPresence
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "workers": "ok", "backlog": "ok"},
        "details": {
            "workers_alive": 1,
            "schedulers_alive": 0,
            "pending": 0,
            "in_progress": 0,
            "oldest_pending_age_seconds": None,
        },
    }


def test_healthz_is_unhealthy_when_no_worker_is_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["workers"] == "no worker is alive: copies will wait"
    assert body["checks"]["database"] == body["checks"]["migrations"] == "ok"
    assert body["details"]["workers_alive"] == 0


def test_healthz_is_unhealthy_when_a_pending_copy_waited_too_long(
    client: Client, worker_presence: ProcessPresence, make_order, settings
) -> None:
    settings.HEALTH_MAX_BACKLOG_AGE = 600
    order_copy = services.order_copy_create(source_order=make_order(), mode="test")
    assert client.get("/healthz").status_code == 200  # just made: within the limit
    waited = timezone.now() - timedelta(seconds=700)
    OrderCopy.objects.filter(pk=order_copy.pk).update(created_at=waited)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["backlog"].startswith("the oldest pending copy has waited 70")
    assert body["checks"]["workers"] == "ok"
    assert body["details"]["pending"] == 1
    assert 700 <= body["details"]["oldest_pending_age_seconds"] < 760


def test_healthz_is_unhealthy_when_a_migration_is_not_applied(client: Client) -> None:
    MigrationRecorder(connection).migration_qs.filter(app="ordercopies").order_by("-id")[
        :1
    ].get().delete()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["migrations"] == "1 not applied"


def test_healthz_is_unhealthy_when_the_database_is_unreachable() -> None:
    # A real process whose database does not answer (nothing listens on port 1).
    probe = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503", result.stderr
    assert json.loads(body)["checks"] == {"database": "unreachable: OperationalError"}


def test_pages_refuse_writes(client: Client) -> None:
    assert client.post("/").status_code == 405
    assert client.post("/healthz").status_code == 405
    assert client.post("/metrics").status_code == 405
