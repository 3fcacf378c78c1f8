from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from api.serializers import ResourceSerializer
from api.views import ResourceViewSet
from events.models import Event


class EventSerializer(ResourceSerializer):
    """An event: what happened to a resource, who did it (read-only)."""

    resource = serializers.SerializerMethodField()
    who = serializers.SerializerMethodField()

    class Meta:
        model = Event
        resource_name = "events"
        fields = ["id", "created_at", "updated_at", "name", "payload", "resource", "who"]

    def get_resource(self, event: Event) -> dict[str, str]:
        return {"type": event.resource_type, "id": event.resource_id}

    def get_who(self, event: Event) -> dict[str, Any]:
        return {"kind": event.actor_kind, "id": event.actor_id, "label": event.actor_label}


class EventViewSet(ResourceViewSet):
    serializer_class = EventSerializer
    http_method_names = ["get", "head", "options"]
    filter_fields = {
        n: n for n in ("id", "name", "resource_type", "resource_id", "created_at", "actor_kind")
    }
    sort_fields = {n: n for n in ("created_at", "name")}

    def base_queryset(self, *, mode: str) -> QuerySet[Event]:
        return Event.objects.filter(mode=mode)
