from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import serializers

from api.relations import ToMany
from api.serializers import ResourceSerializer
from api.triggers import Trigger, triggers_run
from api.views import ResourceViewSet
from events.models import Event
from webhooks import selectors as webhook_selectors
from webhooks import services as webhook_services


def _fire_again(view: Any, event: Event, value: Any) -> Event:
    webhook_services.event_trigger(event=event)
    return event


class EventSerializer(ResourceSerializer):
    """An event: what happened to a resource, who did it. Read-only but for `_trigger`, which
    fires it again (its webhooks deliver it again)."""

    related_serializers = {
        "webhooks": "api.resources.webhooks.WebhookSerializer",
        "last_event_callbacks": "api.resources.webhooks.EventCallbackSerializer",
    }

    resource = serializers.SerializerMethodField()
    who = serializers.SerializerMethodField()
    webhooks = ToMany(resource_type="webhooks")
    last_event_callbacks = ToMany(resource_type="event_callbacks")

    class Meta:
        model = Event
        resource_name = "events"
        fields = [
            "id",
            "created_at",
            "updated_at",
            "name",
            "payload",
            "resource",
            "who",
            "webhooks",
            "last_event_callbacks",
        ]
        read_only_fields = ["name", "payload"]

    trigger_table = {"_trigger": Trigger(_fire_again)}
    triggers_noun = "events"

    def get_resource(self, event: Event) -> dict[str, str]:
        return {"type": event.resource_type, "id": event.resource_id}

    def get_who(self, event: Event) -> dict[str, Any]:
        return {"kind": event.actor_kind, "id": event.actor_id, "label": event.actor_label}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.triggers_sent(attrs):
            raise serializers.ValidationError(
                {"base": ["events are read-only: send _trigger to fire one again"]}
            )
        return attrs


class EventViewSet(ResourceViewSet):
    serializer_class = EventSerializer
    http_method_names = ["get", "patch", "head", "options"]
    filter_fields = {
        n: n for n in ("id", "name", "resource_type", "resource_id", "created_at", "actor_kind")
    }
    sort_fields = {n: n for n in ("created_at", "name")}

    def base_queryset(self, *, mode: str) -> QuerySet[Event]:
        return Event.objects.filter(mode=mode)

    def related_queryset(self, instance: Model, name: str) -> QuerySet[Any]:
        assert isinstance(instance, Event)  # noqa: S101
        if name == "webhooks":
            return webhook_selectors.webhook_list_for_event(event=instance)
        if name == "last_event_callbacks":
            return webhook_selectors.event_callback_list_for_event(event=instance)
        return super().related_queryset(instance, name)

    def perform_update(self, serializer: EventSerializer) -> None:  # type: ignore[override]
        serializer.instance = triggers_run(
            view=self, instance=serializer.instance, data=dict(serializer.validated_data)
        )
