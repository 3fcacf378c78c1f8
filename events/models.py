from django.db import models

from core.models import Resource


class Event(Resource):
    """One thing that happened to a resource: the timeline of the API and the admin."""

    name = models.CharField(max_length=80, db_index=True)
    resource_type = models.CharField(max_length=40)
    resource_id = models.CharField(max_length=10)
    payload = models.JSONField(default=dict, blank=True)
    actor_kind = models.CharField(max_length=20, default="system")
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["resource_type", "resource_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} {self.resource_type}/{self.resource_id}"
