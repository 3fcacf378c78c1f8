"""The pages outside the admin and the API: the landing page, its icon, /healthz."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.django_db]


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


def test_healthz_is_ok_with_the_database_up_and_migrated(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


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
