"""Webhooks (Commerce Layer's): a topic, a callback URL, a shared secret, a circuit breaker.

A delivery (`WebhookDelivery`) is the outbox row: one per event and listening webhook, written
in the transaction that records the event, so a rolled-back change never notifies and a committed
one always does. Workers (`manage.py deliver_webhooks`) claim due deliveries with SKIP LOCKED and
keep the row locked while they call the receiver; each call is an `EventCallback`.
"""

import secrets

from django.db import models

from core.models import Resource, generate_id


def generate_shared_secret() -> str:
    return secrets.token_hex(32)


class Webhook(Resource):
    resource_type = "webhooks"

    class Circuit(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"

    name = models.CharField(max_length=255, blank=True, default="")
    topic = models.CharField(max_length=80)
    callback_url = models.URLField(max_length=2000)
    include_resources = models.JSONField(default=list, blank=True)
    shared_secret = models.CharField(max_length=64, default=generate_shared_secret, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True)
    circuit_state = models.CharField(
        max_length=6, choices=Circuit.choices, default=Circuit.CLOSED, editable=False
    )
    circuit_failure_count = models.PositiveIntegerField(default=0, editable=False)
    # The integration that created it: the only one shown its shared secret.
    owner = models.ForeignKey(
        "api.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["mode", "topic"], name="webhook_mode_topic")]
        permissions = [
            ("reset_circuit_webhook", "Can reset the circuit of webhooks"),
            ("redeliver_webhookdelivery", "Can deliver a webhook delivery again"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.topic} → {self.callback_url}"


class WebhookDelivery(models.Model):
    """One event to deliver to one webhook: retried with backoff until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # every retry failed

    id = models.CharField(primary_key=True, max_length=10, default=generate_id, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # The signed body, rendered at the first attempt and sent byte for byte on every retry.
    body = models.TextField(blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class EventCallback(Resource):
    """One call of a webhook's callback URL (Commerce Layer's `event_callbacks`)."""

    resource_type = "event_callbacks"

    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="last_event_callbacks"
    )
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="callbacks"
    )
    callback_url = models.URLField(max_length=2000)
    payload = models.JSONField(default=dict, blank=True)
    response_code = models.CharField(max_length=3, blank=True, default="")
    response_message = models.CharField(max_length=255, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="callback_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.callback_url} → {self.response_code or 'no answer'}"

    @property
    def succeeded(self) -> bool:
        return self.response_code.startswith("2")
