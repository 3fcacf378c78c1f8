from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for every app (`manage.py seed_demo`): it may import them all, none imports it."""

    name = "demo"
