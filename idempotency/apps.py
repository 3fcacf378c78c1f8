from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "idempotency"
    verbose_name = "idempotency keys"
    default_auto_field = "django.db.models.BigAutoField"
