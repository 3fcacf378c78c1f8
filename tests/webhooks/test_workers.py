"""Real `manage.py deliver_webhooks` processes (and a real copy_worker) on PostgreSQL, calling a
real receiver on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from ordercopies import services as copy_services
from ordercopies.models import OrderCopy
from webhooks import services
from webhooks.models import EventCallback, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _env() -> dict[str, str]:
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
        "WEBHOOKS_RETRY_BASE": "0.05",
        "WEBHOOKS_RETRY_MAX": "0.2",
        "WEBHOOKS_TIMEOUT": "2",
    }


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _deliverer() -> subprocess.Popen[bytes]:
    return _start("deliver_webhooks", "--interval", "0.05")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out.decode()


def _wait(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_copy_run_by_a_worker_is_delivered_exactly_once(postgres, receiver, make_order):
    webhook = services.webhook_create(
        mode="test", topic="order_copies.complete", callback_url=receiver.url
    )
    worker, deliverer = _start("copy_worker", "--interval", "0.05"), _deliverer()
    try:
        copy = copy_services.order_copy_create(source_order=make_order(place=True), mode="test")
        (request,) = receiver.wait_for(1, timeout=60)
        time.sleep(0.5)  # a second call, if any, would come now
    finally:
        _stop(worker)
        log = _stop(deliverer)

    assert "Webhook worker started" in log
    assert len(receiver.requests) == 1
    assert OrderCopy.objects.get(pk=copy.pk).status == "completed"
    assert json.loads(request.body)["data"]["attributes"]["status"] == "completed"
    assert request.headers["X-CommerceLayer-Signature"] == services.outbound.signature_of(
        request.body, secret=webhook.shared_secret
    )


def test_a_worker_killed_mid_delivery_loses_nothing(postgres, receiver, make_order):
    receiver.script = ["hang"]
    services.webhook_create(mode="test", topic="order_copies.create", callback_url=receiver.url)
    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")

    first = _deliverer()
    receiver.wait_for(1)
    first.send_signal(signal.SIGKILL)  # mid-call: its transaction and row lock are gone
    first.wait(timeout=30)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)

    second = _deliverer()
    try:
        _wait(lambda: WebhookDelivery.objects.get().status == "delivered")
    finally:
        _stop(second)

    killed, retried = receiver.requests
    assert killed.headers["X-CommerceLayer-Delivery-Id"] == delivery.pk
    assert retried.headers["X-CommerceLayer-Delivery-Id"] == delivery.pk
    assert killed.headers["X-CommerceLayer-Event-Id"] == retried.headers["X-CommerceLayer-Event-Id"]
    assert killed.body == retried.body
    assert EventCallback.objects.get().response_code == "200"


def test_three_workers_deliver_each_of_sixty_events_once(postgres, receiver, make_order):
    receiver.delay = 0.02
    services.webhook_create(mode="test", topic="order_copies.create", callback_url=receiver.url)
    source = make_order(place=True)
    copy_services.order_copy_create_many(source_orders=[source] * 60, mode="test")

    workers = [_deliverer() for _ in range(3)]
    try:
        _wait(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 60)
    finally:
        for worker in workers:
            _stop(worker)

    ids = [r.headers["X-CommerceLayer-Delivery-Id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 60
    assert EventCallback.objects.count() == 60
