from django.db import models

from api.models import ApiClient
from core.models import Mode


class IdempotencyKey(models.Model):
    """The answer to the first write an API client sent with an `Idempotency-Key` header, kept
    so that a repeat is answered the same without being carried out again. The row is inserted
    in the request's own transaction: it exists exactly when the request's writes do."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and body of the first request."
    )
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=2000, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "mode", "key"], name="idempotency_key_unique_per_client_mode"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.client_id}, {self.mode})"
