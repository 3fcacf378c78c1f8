"""Commerce Layer's official JS SDK (`@commercelayer/sdk` 7, from npm) against a live server."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.services import api_client_create
from api.tokens import token_issue
from events.models import Event
from orders.models import Order
from webhooks import services as webhook_services
from webhooks.models import Webhook

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


def _a_webhook_that_was_called(source: Order) -> tuple[Webhook, Event]:
    """A webhook of `orders.place` and one call of it, for the source order's placement fired
    again: its receiver does not exist (.invalid never resolves), so the call failed."""
    webhook = webhook_services.webhook_create(
        mode="test", topic="orders.place", callback_url="https://receiver.invalid/hooks"
    )
    event = Event.objects.get(name="orders.place", resource_id=source.pk)
    webhook_services.event_trigger(event=event)
    assert webhook_services.webhook_delivery_attempt_next() is not None
    return webhook, event


def test_the_commerce_layer_sdk_works_against_our_api(sdk_installed, live_server, make_order):
    client, _ = api_client_create(name="sdk", kind="integration", mode="test")
    token = token_issue(client=client)["access_token"]
    source = make_order(place=True)
    pending = make_order()
    webhook, event = _a_webhook_that_was_called(source)
    env = {
        **os.environ,
        "BASE_URL": live_server.url,
        "TOKEN": str(token),
        "SOURCE_ORDER_ID": source.pk,
        "PENDING_ORDER_ID": pending.pk,
        "WEBHOOK_ID": webhook.pk,
        "EVENT_ID": event.pk,
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
