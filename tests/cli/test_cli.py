"""Commerce Layer's CLI (`@commercelayer/cli` and its resources plugin, from npm) against a live
server: login with a client id and secret, then list, get, create and triggers (issue 12)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.services import api_client_create
from events.models import Event
from orders.models import Customer

HERE = Path(__file__).resolve().parent
DOMAIN = "ordercopies.test"

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def cli_installed() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs Node.js 20+ and npm")
    if not (HERE / "node_modules" / "@commercelayer" / "cli").is_dir():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            pytest.skip(
                f"npm could not install the CLI (is the registry reachable?): "
                f"{installed.stderr.strip().splitlines()[-1:]}"
            )
    return HERE / "node_modules" / ".bin" / "cl"


@pytest.fixture
def cl(cli_installed, live_server, tmp_path, settings):
    """Runs the CLI with a home of its own (its configuration and linked plugin live there)."""
    settings.API_RATELIMIT_ENABLED = False
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "NO_UPDATE_NOTIFIER": "1",
        "CL_TEST_SERVER": live_server.url,
        "CL_TEST_DOMAIN": DOMAIN,
        "NODE_OPTIONS": f"--require {HERE / 'redirect.cjs'}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(cli_installed), *args],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[0])


def test_the_commerce_layer_cli_logs_in_and_works_against_our_api(cl, make_order):
    client, secret = api_client_create(name="CLI", kind="integration", mode="test")
    pending = make_order()
    login = cl(
        "applications:login",
        "--organization=acme",
        f"--domain={DOMAIN}",
        f"--clientId={client.client_id}",
        f"--clientSecret={secret}",  # "=": a secret may start with "-"
        "--alias=ci",
    )
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Login successful" in login.stdout
    plugin = HERE / "node_modules" / "@commercelayer" / "cli-plugin-resources"
    linked = cl("plugins:link", "--no-install", str(plugin))
    assert linked.returncode == 0, linked.stderr

    listed = _json(
        cl("resources:list", "orders", "-w", "status_eq=pending", "-f", "number", "-j", "-u")
    )
    assert pending.pk in [row["id"] for row in listed]
    got = _json(cl("resources:get", "orders", pending.pk, "-f", "number,status", "-j", "-u"))
    assert got == {
        "id": pending.pk,
        "type": "orders",
        "number": pending.number,
        "status": "pending",
    }

    created = cl("resources:create", "customers", "-a", "email=cli@example.com", "-j", "-u")
    assert created.returncode == 0, created.stderr
    assert Customer.objects.filter(email="cli@example.com", mode="test").exists()

    refreshed = cl("resources:update", "orders", pending.pk, "-a", "_refresh=true", "-j", "-u")
    assert refreshed.returncode == 0, refreshed.stderr
    assert Event.objects.filter(name="orders.refresh", resource_id=pending.pk).exists()

    refused = cl("resources:update", "orders", pending.pk, "-a", "_capture=true", "-j", "-u")
    assert refused.returncode != 0, "an unsupported trigger must not be reported as executed"
    assert "TRIGGER_NOT_SUPPORTED" in refused.stderr
