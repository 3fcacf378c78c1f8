from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events.services import event_listeners
        from webhooks import metrics  # noqa: F401 (registers its collector for /metrics)
        from webhooks.services import webhook_deliveries_record

        # Every recorded event writes the deliveries of the webhooks listening to it, in the
        # transaction that records it (the outbox: see webhooks/services.py).
        if webhook_deliveries_record not in event_listeners:
            event_listeners.append(webhook_deliveries_record)
