from django.db.models import OuterRef, QuerySet, Subquery

from events.models import Event
from webhooks.models import EventCallback, Webhook, WebhookDelivery


def webhook_list(*, mode: str) -> QuerySet[Webhook]:
    return Webhook.objects.filter(mode=mode)


def webhook_list_for_event(*, event: Event) -> QuerySet[Webhook]:
    """The webhooks listening to `event` (its topic, its mode)."""
    return Webhook.objects.filter(mode=event.mode, topic=event.name)


def event_callback_list(*, mode: str) -> QuerySet[EventCallback]:
    return EventCallback.objects.filter(mode=mode)


def event_callback_list_for(*, webhook: Webhook) -> QuerySet[EventCallback]:
    """Newest first."""
    return EventCallback.objects.filter(webhook=webhook).order_by("-created_at", "id")


def event_callback_list_for_event(*, event: Event) -> QuerySet[EventCallback]:
    return EventCallback.objects.filter(delivery__event=event).order_by("-created_at", "id")


def webhook_delivery_list_for(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).select_related("event")


def webhook_delivery_list_with_last_callback() -> QuerySet[WebhookDelivery]:
    """Deliveries with the answer of their last call (`last_code`, `last_duration`), in one
    query."""
    last = EventCallback.objects.filter(delivery=OuterRef("pk")).order_by("-created_at")
    return WebhookDelivery.objects.select_related("webhook", "event").annotate(
        last_code=Subquery(last.values("response_code")[:1]),
        last_duration=Subquery(last.values("duration_ms")[:1]),
    )
