"""Commerce Layer's official JS SDK (`@commercelayer/sdk` 7, from npm) against a live server."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.services import api_client_create
from api.tokens import token_issue
from events.models import Event
from ordercopies import services as copy_services
from orders.models import Order
from subscriptions import services as subscription_services
from tests import factories
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
        "PLACEABLE_ORDER_ID": make_order().pk,
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


def _pools(*, market, make_order) -> dict[str, list[str]]:
    """Fresh resources for every write the enumeration makes (each write gets its own), and
    one resource of each type to read."""
    placed = make_order(place=True, lines=1)
    orders = [make_order(lines=1) for _ in range(45)]
    line_orders = [make_order(lines=1) for _ in range(10)]
    subscriptions = [
        subscription_services.order_subscription_create(
            source_order=placed, mode="test", frequency="monthly"
        )
        for _ in range(10)
    ]
    wallets = [factories.CustomerPaymentSourceFactory(mode="test") for _ in range(6)]
    skus = [factories.SkuFactory(mode="test") for _ in range(6)]
    for sku in skus:
        factories.SkuPriceFactory(sku=sku, market=market, amount_cents=500)
    promotion = factories.PromotionFactory(market=market, mode="test")
    pools = {
        "placed_orders": [placed],
        "orders": orders,
        "line_items": [order.line_items.first() for order in line_orders],
        "order_copies": [
            copy_services.order_copy_create(source_order=placed, mode="test") for _ in range(4)
        ],
        "order_subscriptions": subscriptions,
        "customers": [factories.CustomerFactory(mode="test") for _ in range(8)],
        "addresses": [factories.AddressFactory(mode="test") for _ in range(6)],
        "customer_payment_sources": wallets,
        "payment_sources": [factories.PaymentSourceFactory(mode="test") for _ in range(2)],
        "markets": [market],
        "skus": skus,
        "payment_methods": [factories.PaymentMethodFactory(market=market, mode="test")],
        "promotions": [promotion],
        "coupons": [factories.CouponFactory(promotion=promotion, mode="test")],
        "events": list(Event.objects.filter(mode="test")[:4]),
    }
    ids = {name: [str(row.pk) for row in rows] for name, rows in pools.items()}
    ids |= {f"read_{name}": [ids[name][-1]] for name in pools}
    ids["read_orders"] = [str(placed.pk)]
    return ids


def test_every_sdk_method_of_the_resources_works_or_is_refused(
    sdk_installed, live_server, market, make_order, settings
):
    """Issue 12: each method the installed SDK declares on these resources (read from its
    .d.ts files by enumerate.mjs) answers a 2xx that did what it says, or a 4xx JSON:API error.
    Zero 5xx, zero 2xx writes that changed nothing."""
    settings.API_RATELIMIT_ENABLED = False  # hundreds of calls; limits are tested in tests/api
    client, _ = api_client_create(name="sdk", kind="integration", mode="test")
    pools = _pools(market=market, make_order=make_order)
    env = {
        **os.environ,
        "BASE_URL": live_server.url,
        "TOKEN": str(token_issue(client=client)["access_token"]),
        "POOLS": json.dumps(pools),
    }
    result = subprocess.run(
        ["node", "enumerate.mjs"], cwd=HERE, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    (Path(os.environ.get("SDK_REPORT", "/dev/null"))).write_text(json.dumps(report, indent=1))
    missing = [entry["resource"] for entry in report if entry["method"] is None]
    assert not missing, f"resources the SDK does not declare: {missing}"
    assert len(report) > 200, "the SDK's declarations were not read"
    unanswered = [entry for entry in report if not entry["answers"]]
    server_errors = [e for e in report if any(a["status"] >= 500 for a in e["answers"])]
    throttled = [e for e in report if any(a["status"] == 429 for a in e["answers"])]
    assert throttled == [], "a throttled call says nothing about the method"
    not_json = [
        e
        for e in report
        if any(a["status"] >= 400 and a["type"] != "application/vnd.api+json" for a in e["answers"])
    ]
    no_ops = [e for e in report if e.get("changed") is False]
    assert unanswered == [], unanswered[:5]
    assert server_errors == [], server_errors[:5]
    assert not_json == [], not_json[:5]
    assert no_ops == [], no_ops
    worked = sum(1 for e in report if e["error"] is None)
    print(f"{len(report)} SDK calls: {worked} worked, {len(report) - worked} refused with a 4xx")
