from django.db.models import QuerySet

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
