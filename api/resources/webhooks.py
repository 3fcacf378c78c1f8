"""`webhooks` and `event_callbacks` (integration tokens only: a sales channel is refused both by
api/policy.py, which lists neither)."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.relations import ToMany, ToOne
from api.serializers import COMMON_FIELDS, ResourceSerializer
from api.tokens import AccessToken
from api.triggers import Trigger, triggers_run
from api.views import ResourceViewSet
from webhooks import selectors, services
from webhooks.models import EventCallback, Webhook


def webhook_action(service: Any) -> Trigger:
    """A trigger that runs `service(webhook=...)`, which returns the webhook fresh."""
    return Trigger(lambda view, webhook, value: service(webhook=webhook))


TRIGGERS = {
    "_disable": webhook_action(services.webhook_disable),
    "_enable": webhook_action(services.webhook_enable),
    "_reset_circuit": webhook_action(services.webhook_reset_circuit),
}
ATTRIBUTES = ["name", "topic", "callback_url", "include_resources"]
STATE = ["disabled_at", "circuit_state", "circuit_failure_count"]


class WebhookSerializer(ResourceSerializer):
    related_serializers = {
        "last_event_callbacks": "api.resources.webhooks.EventCallbackSerializer",
    }

    include_resources = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=10
    )
    shared_secret = serializers.SerializerMethodField()
    last_event_callbacks = ToMany(resource_type="event_callbacks")

    class Meta:
        model = Webhook
        resource_name = "webhooks"
        fields = [
            *COMMON_FIELDS,
            *ATTRIBUTES,
            "shared_secret",
            *STATE,
            "last_event_callbacks",
        ]
        read_only_fields = STATE

    trigger_table = TRIGGERS
    triggers_noun = "webhooks"

    def get_shared_secret(self, webhook: Webhook) -> str | None:
        """Shown to the integration that created the webhook (to any, for one made by staff)."""
        grant = self.context.get("grant")
        if webhook.owner_id is None:
            return webhook.shared_secret
        if isinstance(grant, AccessToken) and grant.client_pk == webhook.owner_id:
            return webhook.shared_secret
        return None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.triggers_sent(attrs)
        return attrs


class WebhookViewSet(ResourceViewSet):
    serializer_class = WebhookSerializer
    filter_fields = {
        name: name
        for name in ("id", "name", "topic", "callback_url", *STATE, "created_at", "updated_at")
    } | {"reference": "reference", "reference_origin": "reference_origin", "metadata": "metadata"}
    sort_fields = {
        name: name for name in ("id", "name", "topic", "disabled_at", "circuit_state", "created_at")
    } | {"circuit_failure_count": "circuit_failure_count", "updated_at": "updated_at"}

    def base_queryset(self, *, mode: str) -> QuerySet[Webhook]:
        return selectors.webhook_list(mode=mode)

    def related_queryset(self, instance: Any, name: str) -> QuerySet[Any]:
        if name == "last_event_callbacks":
            return selectors.event_callback_list_for(webhook=instance)
        return super().related_queryset(instance, name)

    def perform_create(self, serializer: WebhookSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        owner = getattr(self.request.user, "client", None)
        serializer.instance = services.webhook_create(
            mode=self.grant.mode, owner=owner, **_plain(data)
        )

    def perform_update(self, serializer: WebhookSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        webhook = serializer.instance
        changes = _plain(data)
        if changes:
            webhook = services.webhook_update(webhook=webhook, **changes)
        serializer.instance = triggers_run(view=self, instance=webhook, data=data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.webhook_delete(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name in services.UPDATABLE}


class EventCallbackSerializer(ResourceSerializer):
    """One call of a webhook's callback URL, with the receiver's answer (read-only)."""

    included_serializers = {"webhook": "api.resources.webhooks.WebhookSerializer"}

    webhook = ToOne(resource_type="webhooks", read_only=True)

    class Meta:
        model = EventCallback
        resource_name = "event_callbacks"
        fields = [
            "id",
            "created_at",
            "updated_at",
            "callback_url",
            "payload",
            "response_code",
            "response_message",
            "duration_ms",
            "webhook",
        ]


class EventCallbackViewSet(ResourceViewSet):
    serializer_class = EventCallbackSerializer
    http_method_names = ["get", "head", "options"]
    filter_fields = {
        name: name
        for name in ("id", "callback_url", "response_code", "response_message", "created_at")
    } | {"webhook_id": "webhook__id", "duration_ms": "duration_ms"}
    sort_fields = {name: name for name in ("created_at", "response_code", "duration_ms")}
    select_for_includes = {"webhook": ["webhook"]}

    def base_queryset(self, *, mode: str) -> QuerySet[EventCallback]:
        return selectors.event_callback_list(mode=mode)
