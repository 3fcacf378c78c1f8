"""`webhooks`, `event_callbacks` and `events._trigger` through the API (JSON:API documents)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from ordercopies import services as copy_services
from tests.api.conftest import MEDIA, assert_error, patch_document
from webhooks import services
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def webhook_document(url: str, topic: str = "order_copies.complete", **attributes):
    return {
        "data": {
            "type": "webhooks",
            "attributes": {"topic": topic, "callback_url": url, **attributes},
        }
    }


def _create(api, receiver, **attributes):
    response = api.post("/api/webhooks", webhook_document(receiver.url, **attributes))
    assert response.status_code == 201, response.content
    return response.json()["data"]


def test_an_integration_creates_a_webhook_and_sees_its_shared_secret(api, receiver):
    data = _create(api, receiver, name="erp", include_resources=["target_order"])

    attributes = data["attributes"]
    assert data["type"] == "webhooks"
    assert attributes["topic"] == "order_copies.complete"
    assert attributes["include_resources"] == ["target_order"]
    assert attributes["circuit_state"] == "closed"
    assert attributes["circuit_failure_count"] == 0
    assert attributes["disabled_at"] is None
    assert len(attributes["shared_secret"]) == 64
    assert attributes["shared_secret"] == Webhook.objects.get().shared_secret
    assert set(data["relationships"]) == {"last_event_callbacks"}


def test_another_integration_does_not_see_the_shared_secret(api, make_api, receiver):
    data = _create(api, receiver)
    other = make_api()

    response = other.get(f"/api/webhooks/{data['id']}")

    assert response.json()["data"]["attributes"]["shared_secret"] is None


def test_a_sales_channel_may_not_touch_webhooks(make_api, market, receiver):
    shop = make_api("sales_channel", markets=("eu",))
    assert_error(shop.get("/api/webhooks"), 401, "UNAUTHORIZED")
    assert_error(shop.post("/api/webhooks", webhook_document(receiver.url)), 401, "UNAUTHORIZED")
    assert_error(shop.get("/api/event_callbacks"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"topic": "nothing"}, "/data/attributes/topic"),
        ({"topic": "unicorns.fly"}, "/data/attributes/topic"),
        ({"include_resources": ["nope"]}, "/data/attributes/include_resources"),
        ({"include_resources": ["a.b.c.d"]}, "/data/attributes/include_resources"),
        ({"callback_url": "ftp://example.com/x"}, "/data/attributes/callback_url"),
    ],
)
def test_a_webhook_that_cannot_work_is_refused(api, receiver, attributes, pointer):
    document = webhook_document(receiver.url)
    document["data"]["attributes"].update(attributes)

    assert_error(api.post("/api/webhooks", document), 422, "VALIDATION_ERROR", pointer=pointer)
    assert Webhook.objects.count() == 0


def test_private_and_loopback_callbacks_are_refused_by_default(api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    for url in (
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/",
        "http://[::1]/",
    ):
        response = api.post("/api/webhooks", webhook_document(url))
        error = assert_error(
            response, 422, "VALIDATION_ERROR", pointer="/data/attributes/callback_url"
        )
        assert "private, loopback or link-local" in error["detail"]
    assert Webhook.objects.count() == 0


def test_a_live_webhook_needs_https(live_api):
    response = live_api.post("/api/webhooks", webhook_document("http://hooks.example.com/x"))
    error = assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/attributes/callback_url")
    assert "https" in error["detail"]
    response = live_api.post("/api/webhooks", webhook_document("https://hooks.example.invalid/x"))
    assert response.status_code == 201, response.content


def test_webhooks_are_per_mode(api, live_api, receiver):
    data = _create(api, receiver)
    assert_error(live_api.get(f"/api/webhooks/{data['id']}"), 404, "RECORD_NOT_FOUND")
    assert live_api.get("/api/webhooks").json()["meta"]["record_count"] == 0


def test_disable_enable_and_reset_circuit_triggers(api, receiver):
    data = _create(api, receiver)
    path = f"/api/webhooks/{data['id']}"

    disabled = api.patch(path, patch_document("webhooks", data["id"], _disable=True)).json()
    assert disabled["data"]["attributes"]["disabled_at"] is not None
    enabled = api.patch(path, patch_document("webhooks", data["id"], _enable=True)).json()
    assert enabled["data"]["attributes"]["disabled_at"] is None
    Webhook.objects.filter(pk=data["id"]).update(circuit_state="open", circuit_failure_count=30)
    reset = api.patch(path, patch_document("webhooks", data["id"], _reset_circuit=True)).json()
    assert reset["data"]["attributes"]["circuit_state"] == "closed"
    assert reset["data"]["attributes"]["circuit_failure_count"] == 0
    both = patch_document("webhooks", data["id"], _disable=True, _enable=True)
    assert_error(api.patch(path, both), 422, "VALIDATION_ERROR")


def test_update_and_delete(api, receiver):
    data = _create(api, receiver)
    path = f"/api/webhooks/{data['id']}"
    changed = api.patch(path, patch_document("webhooks", data["id"], topic="orders.place"))
    assert changed.json()["data"]["attributes"]["topic"] == "orders.place"
    bad = patch_document("webhooks", data["id"], topic="orders")
    assert_error(api.patch(path, bad), 422, "VALIDATION_ERROR", pointer="/data/attributes/topic")
    assert Webhook.objects.get().topic == "orders.place"
    assert api.delete(path).status_code == 204
    assert Webhook.objects.count() == 0


def test_callbacks_of_a_webhook_and_an_event_and_trigger(api, receiver, make_order):
    data = _create(api, receiver, topic="order_copies.create")
    copy = copy_services.order_copy_create(source_order=make_order(place=True), mode="test")
    assert services.webhook_delivery_attempt_next() is not None
    event = Event.objects.get(name="order_copies.create", resource_id=copy.pk)

    callbacks = api.get(f"/api/webhooks/{data['id']}/last_event_callbacks").json()
    (callback,) = callbacks["data"]
    assert callback["type"] == "event_callbacks"
    assert callback["attributes"]["response_code"] == "200"
    assert callback["attributes"]["payload"]["data"]["id"] == copy.pk
    assert callback["attributes"]["callback_url"] == receiver.url
    listed = api.get("/api/event_callbacks", {"include": "webhook"}).json()
    assert listed["included"][0]["id"] == data["id"]
    related = api.get(f"/api/event_callbacks/{callback['id']}/webhook").json()
    assert related["data"]["id"] == data["id"]
    hooks = api.get(f"/api/events/{event.pk}/webhooks").json()
    assert [hook["id"] for hook in hooks["data"]] == [data["id"]]
    by_event = api.get(f"/api/events/{event.pk}/last_event_callbacks").json()
    assert [c["id"] for c in by_event["data"]] == [callback["id"]]

    response = api.patch(
        f"/api/events/{event.pk}", patch_document("events", event.pk, _trigger=True)
    )
    assert response.status_code == 200, response.content
    assert WebhookDelivery.objects.filter(event=event, status="pending").count() == 1
    services.webhook_delivery_attempt_next()
    assert len(receiver.wait_for(2)) == 2
    assert receiver.requests[0].headers["X-CommerceLayer-Event-Id"] == event.pk
    assert receiver.requests[1].headers["X-CommerceLayer-Event-Id"] == event.pk


def test_an_event_is_read_only_but_for_trigger(api, make_order):
    copy = copy_services.order_copy_create(source_order=make_order(place=True), mode="test")
    event = Event.objects.get(resource_id=copy.pk)
    response = api.patch(f"/api/events/{event.pk}", patch_document("events", event.pk, name="x"))
    assert_error(response, 400, "INVALID_RESOURCE", pointer="/data/attributes/name")
    response = api.patch(f"/api/events/{event.pk}", patch_document("events", event.pk))
    assert_error(response, 422, "VALIDATION_ERROR")
    assert Event.objects.get(pk=event.pk).name == "order_copies.create"


def test_lists_cost_the_same_queries_for_one_record_as_for_many(api, receiver, make_order):
    def queries(path: str, params=None) -> int:
        with CaptureQueriesContext(connection) as context:
            response = api.get(path, params)
        assert response.status_code == 200
        assert response["Content-Type"] == MEDIA
        return len(context.captured_queries)

    def call(times: int) -> None:
        for _ in range(times):
            copy_services.order_copy_create(source_order=source, mode="test")
        while services.webhook_delivery_attempt_next() is not None:
            pass

    source = make_order(place=True)
    webhook = _create(api, receiver, topic="order_copies.create")
    call(1)
    counts = [
        queries("/api/webhooks"),
        queries("/api/event_callbacks", {"include": "webhook"}),
        queries(f"/api/webhooks/{webhook['id']}/last_event_callbacks"),
    ]
    for _ in range(4):
        _create(api, receiver, topic="order_copies.create")
    call(3)
    assert api.get("/api/event_callbacks").json()["meta"]["record_count"] == 1 + 3 * 5
    assert counts == [
        queries("/api/webhooks"),
        queries("/api/event_callbacks", {"include": "webhook"}),
        queries(f"/api/webhooks/{webhook['id']}/last_event_callbacks"),
    ]
    assert counts == [4, 4, 5]
