from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Order subscriptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from subscriptions import receivers  # noqa: F401 (connects the signal receivers)
