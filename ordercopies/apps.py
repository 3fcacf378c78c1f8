from django.apps import AppConfig


class OrderCopiesConfig(AppConfig):
    name = "ordercopies"
    verbose_name = "Order copies"
    default_auto_field = "django.db.models.BigAutoField"
