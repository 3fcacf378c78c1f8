"""The webhooks' console pages: circuits, recent deliveries, Reset circuit and Redeliver behind
their permissions, query counts pinned."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from ordercopies import services as copy_services
from webhooks import services
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

WEBHOOKS = reverse("admin:webhooks_webhook_changelist")
DELIVERIES = reverse("admin:webhooks_webhookdelivery_changelist")


@pytest.fixture
def staff_client():
    def make(*codenames: str) -> Client:
        user = User.objects.create_user(username="staff", password="staff", is_staff=True)
        perms = Permission.objects.filter(
            content_type__app_label="webhooks", codename__in=codenames
        )
        assert perms.count() == len(codenames)
        user.user_permissions.set(perms)
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def delivered(receiver, make_order) -> Webhook:
    """A webhook with `n` delivered events (one per copy created)."""
    webhook = services.webhook_create(
        mode="test", topic="order_copies.create", callback_url=receiver.url
    )
    source = make_order(place=True)

    def add(n: int) -> Webhook:
        for _ in range(n):
            copy_services.order_copy_create(source_order=source, mode="test")
        while services.webhook_delivery_attempt_next() is not None:
            pass
        return webhook

    return add


@pytest.mark.parametrize("count", [1, 6])
def test_delivery_list_shows_status_code_and_duration_in_fixed_queries(
    admin_client, delivered, django_assert_num_queries, count
):
    delivered(count)
    with django_assert_num_queries(6):
        response = admin_client.get(DELIVERIES)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count(">delivered<") == count
    assert " ms" in body and ">200<" in body


def test_a_webhook_page_shows_its_circuit_and_recent_deliveries(admin_client, delivered):
    webhook = delivered(2)
    response = admin_client.get(reverse("admin:webhooks_webhook_change", args=[webhook.pk]))
    body = response.content.decode()
    assert ">closed<" in body
    assert body.count("order_copies.create") >= 2
    delivery = WebhookDelivery.objects.first()
    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert (
        delivery.pk in page.content.decode() and "&quot;order_copies&quot;" in page.content.decode()
    )


def test_reset_circuit_needs_its_permission(staff_client, delivered):
    webhook = delivered(1)
    Webhook.objects.filter(pk=webhook.pk).update(circuit_state="open", circuit_failure_count=30)
    form = {"action": "reset_circuits", "_selected_action": [webhook.pk]}

    viewer = staff_client("view_webhook")
    viewer.post(WEBHOOKS, form)
    assert Webhook.objects.get().circuit_state == "open"

    User.objects.all().delete()
    operator = staff_client("view_webhook", "reset_circuit_webhook")
    response = operator.post(WEBHOOKS, form, follow=True)
    assert "Reset the circuit of 1 webhook." in response.content.decode()
    webhook.refresh_from_db()
    assert (webhook.circuit_state, webhook.circuit_failure_count) == ("closed", 0)


def test_redeliver_queues_a_new_delivery_of_the_same_event(staff_client, delivered):
    delivered(1)
    delivery = WebhookDelivery.objects.get()
    form = {"action": "redeliver", "_selected_action": [delivery.pk]}

    staff_client("view_webhookdelivery").post(DELIVERIES, form)
    assert WebhookDelivery.objects.count() == 1

    User.objects.all().delete()
    client = staff_client("view_webhookdelivery", "redeliver_webhookdelivery")
    response = client.post(DELIVERIES, form, follow=True)
    assert "Queued 1 delivery again." in response.content.decode()
    again = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (again.event_id, again.status) == (delivery.event_id, "pending")


def test_the_add_form_refuses_an_unknown_topic(admin_client, receiver):
    data = {"name": "x", "topic": "nope", "callback_url": receiver.url, "mode": "test"}
    data |= {"include_resources": "[]", "metadata": "{}", "reference": ""}
    response = admin_client.post(reverse("admin:webhooks_webhook_add"), data)
    assert response.status_code == 200
    assert "is not a topic" in response.content.decode()
    assert Webhook.objects.count() == 0


def test_metrics_count_deliveries_circuits_and_calls(client, delivered, receiver):
    webhook = delivered(2)
    Webhook.objects.filter(pk=webhook.pk).update(circuit_state="open")

    text = client.get("/metrics").content.decode()

    assert 'webhooks_deliveries{status="delivered"} 2.0' in text
    assert 'webhooks_deliveries{status="pending"} 0.0' in text
    assert "webhooks_circuits_open 1.0" in text
    assert 'webhooks_callbacks{outcome="succeeded"} 2.0' in text
    assert "webhooks_oldest_due_age_seconds 0.0" in text
