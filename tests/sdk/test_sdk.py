"""Commerce Layer's official JS SDK (`@commercelayer/sdk` 7, from npm) against a live server."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.services import api_client_create
from api.tokens import token_issue

HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def sdk_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs Node.js 20+ and npm")
    if not (HERE / "node_modules" / "@commercelayer" / "sdk").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True
        )


def test_the_commerce_layer_sdk_works_against_our_api(sdk_installed, live_server, make_order):
    client, _ = api_client_create(name="sdk", kind="integration", mode="test")
    token = token_issue(client=client)["access_token"]
    source = make_order(place=True)
    pending = make_order()
    env = {
        **os.environ,
        "BASE_URL": live_server.url,
        "TOKEN": str(token),
        "SOURCE_ORDER_ID": source.pk,
        "PENDING_ORDER_ID": pending.pk,
    }
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "contract.test.mjs"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# fail 0" in result.stdout or "✖" not in result.stdout
