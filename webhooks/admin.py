"""Webhooks in the console: each webhook with its circuit and its recent deliveries (status,
code, duration, payload); *Reset circuit* on webhooks and *Redeliver* on deliveries, each behind
its permission. Changes go through webhooks/services."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from webhooks import selectors, services
from webhooks.exceptions import WebhookError
from webhooks.models import EventCallback, Webhook, WebhookDelivery

ACTION_LOCATIONS = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
RECENT = 20
CIRCUIT_COLOURS = {"closed": "#2e7d32", "open": "#c62828"}
DELIVERIES_HEAD = mark_safe(  # noqa: S308 (a constant)
    "<tr><th>delivery</th><th>event</th><th>status</th><th>attempts</th><th>last error</th></tr>"
)
STATUS_COLOURS = {"pending": "#8a6d00", "delivered": "#2e7d32", "failed": "#c62828"}


def _badge(value: str, colours: dict[str, str]) -> str:
    return format_html('<strong style="color:{}">{}</strong>', colours.get(value, "inherit"), value)


class WebhookForm(forms.ModelForm[Webhook]):
    """The service's checks (topic, callback URL, includes) as field errors."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            services.webhook_check(
                mode=data.get("mode", "test"),
                topic=data.get("topic", ""),
                callback_url=data.get("callback_url", ""),
                include_resources=data.get("include_resources") or [],
            )
        except WebhookError as error:
            for key, problems in error.errors.items():
                self.add_error(key if key in self.fields else None, problems)
        return data


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin[Webhook]):
    form = WebhookForm
    list_display = ["__str__", "topic", "mode", "circuit", "circuit_failure_count", "disabled_at"]
    list_filter = ["mode", "circuit_state", "topic"]
    search_fields = ["id", "name", "topic", "callback_url"]
    fields = ["name", "topic", "callback_url", "include_resources", "mode", "reference"]
    fields += ["metadata", "shared_secret", "circuit", "circuit_failure_count", "disabled_at"]
    fields += ["owner", "recent_deliveries"]
    readonly_fields = ["shared_secret", "circuit", "circuit_failure_count", "disabled_at"]
    readonly_fields += ["owner", "recent_deliveries"]
    actions = ["reset_circuits"]

    @admin.display(description="circuit", ordering="circuit_state")
    def circuit(self, obj: Webhook) -> str:
        return _badge(obj.circuit_state, CIRCUIT_COLOURS)

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, obj: Webhook) -> str:
        deliveries = selectors.webhook_delivery_list_for(webhook=obj)[:RECENT]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:webhooks_webhookdelivery_change", args=[d.pk]),
                    d.pk,
                    d.event.name,
                    _badge(d.status, STATUS_COLOURS),
                    d.attempts,
                    d.last_error or "-",
                )
                for d in deliveries
            ),
        )
        return format_html("<table>{}{}</table>", DELIVERIES_HEAD, rows) if rows else "none yet"

    @admin.action(
        description="Reset the circuit",
        description_plural="Reset the circuit of selected webhooks",
        permissions=["reset_circuit"],
        location=ACTION_LOCATIONS,
    )
    def reset_circuits(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        count = 0
        for webhook in queryset.order_by("created_at", "pk"):
            services.webhook_reset_circuit(webhook=webhook)
            self.log_change(request, webhook, "Reset its circuit.")
            count += 1
        noun = "webhook" if count == 1 else "webhooks"
        self.message_user(request, f"Reset the circuit of {count} {noun}.", messages.SUCCESS)

    def has_reset_circuit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.reset_circuit_webhook")


class EventCallbackInline(admin.TabularInline[EventCallback, WebhookDelivery]):
    model = EventCallback
    fields = ["created_at", "response_code", "response_message", "duration_ms"]
    readonly_fields = ["created_at", "response_code", "response_message", "duration_ms"]
    extra = 0
    can_delete = False
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


DELIVERY_FIELDS = ["id", "webhook", "event", "state", "attempts", "next_attempt_at"]
DELIVERY_FIELDS += ["delivered_at", "last_error", "payload"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ["id", "created_at", "webhook", "event_name", "state", "attempts"]
    list_display += ["last_code", "last_duration", "next_attempt_at"]
    list_filter = ["status", "mode"]
    search_fields = ["id", "webhook__id", "event__id", "event__name"]
    list_select_related = ["webhook", "event"]
    fields = DELIVERY_FIELDS  # type: ignore[assignment]
    readonly_fields = DELIVERY_FIELDS
    inlines = [EventCallbackInline]
    actions = ["redeliver"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return selectors.webhook_delivery_list_with_last_callback()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="event", ordering="event__name")
    def event_name(self, obj: WebhookDelivery) -> str:
        return obj.event.name

    @admin.display(description="status", ordering="status")
    def state(self, obj: WebhookDelivery) -> str:
        return _badge(obj.status, STATUS_COLOURS)

    @admin.display(description="last code")
    def last_code(self, obj: WebhookDelivery) -> str:
        return getattr(obj, "last_code", None) or "-"

    @admin.display(description="last duration")
    def last_duration(self, obj: WebhookDelivery) -> str:
        duration = getattr(obj, "last_duration", None)
        return "-" if duration is None else f"{duration} ms"

    @admin.display(description="payload")
    def payload(self, obj: WebhookDelivery) -> str:
        if not obj.body:
            return "rendered at the first attempt"
        return format_html("<pre>{}</pre>", json.dumps(json.loads(obj.body), indent=2))

    @admin.action(
        description="Redeliver",
        description_plural="Redeliver selected deliveries",
        permissions=["redeliver"],
        location=ACTION_LOCATIONS,
    )
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for delivery in queryset.order_by("created_at", "pk"):
            services.webhook_delivery_redeliver(delivery=delivery)
            count += 1
        noun = "delivery" if count == 1 else "deliveries"
        self.message_user(request, f"Queued {count} {noun} again.", messages.SUCCESS)

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.redeliver_webhookdelivery")
