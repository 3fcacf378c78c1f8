"""Deliveries in-process against a real receiver on 127.0.0.1: the outbox, the signature, the
retries and the circuit."""

import base64
import hashlib
import hmac
import json

import pytest
from django.db import transaction

from ordercopies import services as copy_services
from ordercopies.models import OrderCopy
from webhooks import services
from webhooks.models import EventCallback, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def _webhook(receiver, topic="order_copies.complete", **kwargs) -> Webhook:
    return services.webhook_create(mode="test", topic=topic, callback_url=receiver.url, **kwargs)


def _deliver_all() -> int:
    attempted = 0
    while services.webhook_delivery_attempt_next() is not None:
        attempted += 1
    return attempted


def _copy(source, **options) -> OrderCopy:
    copy = copy_services.order_copy_create(source_order=source, mode="test", **options)
    copy_services.order_copy_execute(order_copy_id=copy.pk)
    return OrderCopy.objects.get(pk=copy.pk)


def test_a_completed_copy_is_delivered_once_signed_as_commerce_layer_documents(
    receiver, make_order
):
    webhook = _webhook(receiver, include_resources=["target_order", "source_order.market"])
    copy = _copy(make_order(place=True), place_target_order=True)

    assert _deliver_all() == 1
    (request,) = receiver.wait_for(1)
    expected = base64.b64encode(
        hmac.new(webhook.shared_secret.encode(), request.body, hashlib.sha256).digest()
    ).decode()
    assert request.headers["X-CommerceLayer-Signature"] == expected
    assert request.headers["X-CommerceLayer-Topic"] == "order_copies.complete"
    document = json.loads(request.body)
    assert document["data"]["type"] == "order_copies"
    assert document["data"]["id"] == copy.pk
    assert document["data"]["attributes"]["status"] == "completed"
    included = {(d["type"], d["id"]) for d in document["included"]}
    assert ("orders", copy.target_order_id) in included
    assert ("markets", copy.source_order.market_id) in included
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert request.headers["X-CommerceLayer-Delivery-Id"] == delivery.pk
    callback = EventCallback.objects.get()
    assert (callback.response_code, callback.response_message) == ("200", "OK")
    assert callback.payload == document


def test_a_failed_copy_notifies_its_fail_topic_only(receiver, make_order):
    _webhook(receiver, topic="order_copies.fail")
    _webhook(receiver, topic="order_copies.complete")
    copy = _copy(make_order(shipping_address=None), place_target_order=True)

    assert copy.status == "failed"
    assert _deliver_all() == 1
    (request,) = receiver.wait_for(1)
    assert request.headers["X-CommerceLayer-Topic"] == "order_copies.fail"
    assert json.loads(request.body)["data"]["attributes"]["status"] == "failed"


def test_a_rolled_back_change_writes_no_delivery(receiver, make_order):
    _webhook(receiver, topic="order_copies.create")
    source = make_order(place=True)

    with pytest.raises(RuntimeError), transaction.atomic():
        copy_services.order_copy_create(source_order=source, mode="test")
        assert WebhookDelivery.objects.count() == 1  # written with the event…
        raise RuntimeError("rolled back")

    assert WebhookDelivery.objects.count() == 0  # …and gone with it
    assert _deliver_all() == 0
    assert receiver.requests == []


def test_a_webhook_of_the_other_mode_or_disabled_hears_nothing(receiver, make_order, settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    services.webhook_create(mode="live", topic="order_copies.create", callback_url=receiver.url)
    services.webhook_disable(webhook=_webhook(receiver, topic="order_copies.create"))

    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")

    assert WebhookDelivery.objects.count() == 0


def test_a_failing_receiver_is_retried_with_growing_delays_until_it_answers(receiver, make_order):
    receiver.script = [500, 500, 503]
    _webhook(receiver, topic="order_copies.create")
    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")

    requests = []
    while len(requests) < 4:
        services.webhook_delivery_attempt_next()
        requests = list(receiver.requests)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 4)
    gaps = [b.at - a.at for a, b in zip(requests, requests[1:], strict=False)]
    assert gaps[0] >= 0.025 and gaps[1] >= gaps[0] * 0.9 and gaps[2] >= 0.1, gaps
    codes = list(
        EventCallback.objects.order_by("created_at").values_list("response_code", flat=True)
    )
    assert codes == ["500", "500", "503", "200"]
    assert {r.headers["X-CommerceLayer-Delivery-Id"] for r in requests} == {delivery.pk}
    assert len({r.body for r in requests}) == 1
    assert Webhook.objects.get().circuit_failure_count == 0


def test_after_ten_retries_a_delivery_is_given_up(receiver, make_order, settings):
    settings.WEBHOOKS_RETRY_MAX = 0.0
    receiver.default = 500
    _webhook(receiver, topic="order_copies.create")
    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")

    assert _deliver_all() == 11
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 11)
    assert delivery.last_error == "500 Internal Server Error"


def test_the_circuit_opens_after_thirty_failures_and_reset_closes_it(
    receiver, make_order, settings
):
    settings.WEBHOOKS_RETRY_MAX = 0.0
    settings.WEBHOOKS_TIMEOUT = 0.2
    receiver.default = "hang"
    webhook = _webhook(receiver, topic="order_copies.create")
    source = make_order(place=True)
    for _ in range(4):
        copy_services.order_copy_create(source_order=source, mode="test")

    assert _deliver_all() == 30
    webhook.refresh_from_db()
    assert (webhook.circuit_state, webhook.circuit_failure_count) == ("open", 30)
    assert len(receiver.requests) == 30
    assert EventCallback.objects.filter(response_code="").count() == 30
    assert "no answer within 0.2 s" in EventCallback.objects.first().response_message
    assert _deliver_all() == 0  # open: no further calls
    assert WebhookDelivery.objects.filter(status="pending").count() >= 1

    receiver.default = 200
    webhook = services.webhook_reset_circuit(webhook=webhook)
    assert (webhook.circuit_state, webhook.circuit_failure_count) == ("closed", 0)
    _deliver_all()
    assert WebhookDelivery.objects.filter(status="pending").count() == 0
    assert WebhookDelivery.objects.filter(status="delivered").count() >= 1


def test_the_address_is_checked_again_at_delivery_and_a_private_one_is_never_called(
    receiver, make_order, settings
):
    _webhook(receiver, topic="order_copies.create")
    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False  # as if its DNS now pointed inside

    services.webhook_delivery_attempt_next()

    assert receiver.requests == []
    callback = EventCallback.objects.get()
    assert callback.response_code == ""
    assert "private, loopback or link-local" in callback.response_message
    assert WebhookDelivery.objects.get().status == "pending"  # retried later


def test_redirects_are_not_followed(receiver, make_order):
    receiver.default = 302
    _webhook(receiver, topic="order_copies.create")
    copy_services.order_copy_create(source_order=make_order(place=True), mode="test")

    services.webhook_delivery_attempt_next()

    assert len(receiver.requests) == 1
    assert EventCallback.objects.get().response_code == "302"
    assert WebhookDelivery.objects.get().status == "pending"


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap(settings):
    settings.WEBHOOKS_RETRY_BASE, settings.WEBHOOKS_RETRY_MAX = 10.0, 100.0
    for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = [services.retry_delay(attempts) for _ in range(200)]
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(set(delays)) > 100  # jittered
