from django.apps import AppConfig
from django.core.signals import request_finished


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from api.tracing import trace_end

        # Cleared once the answer is sent, not when the middleware returns: Django logs the
        # answer (django.request's "Not Found: ...") after every middleware has run.
        request_finished.connect(trace_end, dispatch_uid="api.trace_end")
