"""Order copies as an operations console: watch them, read why one failed, and launch, retry or
abort them. Nothing here edits a copy: every change is a service call (ordercopies/services.py)
and the status, timestamps, errors, attempts and target order are only shown."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.actors import Actor
from core.admin_actions import EVERYWHERE, delete_action, service_action_run
from events.selectors import event_list_for
from events.timeline import payload_html
from ordercopies import selectors, services
from ordercopies.admin.dashboard import worker_alive
from ordercopies.admin.displays import (
    ERROR_KINDS,
    age_text,
    errors_html,
    first_error_text,
    options_text,
    order_link,
    status_badge,
    timeline_html,
)
from ordercopies.admin.triggers import TRIGGERS, trigger_action
from ordercopies.exceptions import OrderCopyError
from ordercopies.models import OrderCopy

STATUS_FIELDS = ("id", "coloured_status", "mode", "source", "target", "attempts")
ERROR_FIELDS = ("errors_count", "errors")
DATE_FIELDS = ("created_at", "updated_at", "started_at", "completed_at", "failed_at")
REFERENCE_FIELDS = ("reference", "reference_origin", "metadata_list")


MOVING = (OrderCopy.Status.PENDING, OrderCopy.Status.IN_PROGRESS)
TRIGGER_ACTIONS = {name: trigger_action(trigger) for name, trigger in TRIGGERS.items()}
DELETE = delete_action(
    service=lambda order_copy, actor: services.order_copy_delete(
        order_copy=order_copy, actor=actor
    ),
    refused=OrderCopyError,
    consequence="Each is deleted with its errors and events; the orders it read or made stay.",
    reason=lambda error: error.message,
    label=lambda c: f"Copy {c.pk} of order #{c.source_order.number}",
    nouns=("copy", "copies"),
)


class ErrorKindFilter(admin.SimpleListFilter):
    """Copies whose errors_log has an error of this kind (its key)."""

    title = "error kind"
    parameter_name = "error_kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(ERROR_KINDS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[OrderCopy]) -> QuerySet[OrderCopy]:
        kind = self.value()
        return queryset.filter(errors_log__has_key=kind) if kind else queryset


@admin.register(OrderCopy)
class OrderCopyAdmin(admin.ModelAdmin[OrderCopy]):
    list_display = ["id", "coloured_status", "source", "target", "first_error", "attempts"]
    list_display += ["age", "mode"]
    list_filter = ["status", ErrorKindFilter, "mode", *OrderCopy.OPTIONS, "created_at"]
    search_fields = ["=id", "=source_order__id", "=source_order__number", "reference"]
    search_fields += ["source_order__customer_email", "errors_log"]
    search_help_text = (
        "Search by copy id, source order id or number (exact), reference, customer email or "
        "error text."
    )
    fieldsets = [
        (None, {"fields": [STATUS_FIELDS[:3], STATUS_FIELDS[3:], "made_by"]}),
        ("Errors", {"fields": ERROR_FIELDS}),
        ("Options", {"fields": [OrderCopy.OPTIONS[:3], OrderCopy.OPTIONS[3:]]}),
        ("Dates", {"fields": [DATE_FIELDS[:2], DATE_FIELDS[2:]], "classes": ["collapse"]}),
        ("Reference", {"fields": [REFERENCE_FIELDS], "classes": ["collapse"]}),
        ("Timeline", {"fields": ["timeline"]}),
    ]
    # Everything is shown, nothing is a form field: a copy changes only through its triggers.
    readonly_fields = [*STATUS_FIELDS, *ERROR_FIELDS, *OrderCopy.OPTIONS, *DATE_FIELDS]
    readonly_fields += [*REFERENCE_FIELDS, "made_by", "timeline"]
    actions = ["retry_copies", "launch_copies", "abort_copies", "delete_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderCopy]:
        return selectors.order_copy_list()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = selectors.order_copy_status_counts()
        changelist = reverse("admin:ordercopies_ordercopy_changelist")
        status_counts = [
            (status_badge(status), counts.get(status, 0), f"{changelist}?status__exact={status}")
            for status in OrderCopy.Status
        ]
        context = {
            "status_counts": status_counts,
            "live_active": any(counts.get(status, 0) for status in MOVING),
            "no_worker": not worker_alive(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: OrderCopy | None = None,
    ) -> HttpResponse:
        context["copy_buttons"] = self._buttons(request, obj) if obj is not None else []
        context["live_active"] = obj is not None and obj.status in MOVING
        context["no_worker"] = obj is not None and not worker_alive()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _buttons(self, request: HttpRequest, obj: OrderCopy) -> list[tuple[str, str, str]]:
        """The triggers this user may pull that the copy's status accepts, as (action, label,
        the question a destructive one asks first, or "")."""
        allowed = self.get_actions(request, action_location=admin.ActionLocation.CHANGE_FORM)
        return [
            (trigger.action, trigger.name.capitalize(), trigger.confirmation.format(copy=obj.pk))
            for trigger in TRIGGERS.values()
            if trigger.action in allowed
            and selectors.order_copy_trigger_refusal(order_copy=obj, trigger=trigger.name) is None
        ]

    # Permissions: copies are made from orders and change only through the triggers ----------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OrderCopy | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OrderCopy | None = None) -> bool:
        running = obj is not None and obj.status == OrderCopy.Status.IN_PROGRESS
        return super().has_delete_permission(request, obj) and not running

    def has_launch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ordercopies.launch_ordercopy")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ordercopies.retry_ordercopy")

    def has_abort_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ordercopies.abort_ordercopy")

    def delete_model(self, request: HttpRequest, obj: OrderCopy) -> None:
        services.order_copy_delete(order_copy=obj, actor=Actor.user(request.user))

    # Actions ---------------------------------------------------------------------------------

    @admin.action(
        description="Launch the copy",
        description_plural="Launch selected pending copies (queue them again)",
        permissions=["launch"],
        location=EVERYWHERE,
    )
    def launch_copies(
        self, request: HttpRequest, queryset: QuerySet[OrderCopy]
    ) -> TemplateResponse | None:
        return self._trigger(request, queryset, name="launch")

    @admin.action(
        description="Retry the copy",
        description_plural="Retry selected failed or aborted copies",
        permissions=["retry"],
        location=EVERYWHERE,
    )
    def retry_copies(
        self, request: HttpRequest, queryset: QuerySet[OrderCopy]
    ) -> TemplateResponse | None:
        return self._trigger(request, queryset, name="retry")

    @admin.action(
        description="Abort the copy",
        description_plural="Abort selected pending copies",
        permissions=["abort"],
        location=EVERYWHERE,
    )
    def abort_copies(
        self, request: HttpRequest, queryset: QuerySet[OrderCopy]
    ) -> TemplateResponse | None:
        return self._trigger(request, queryset, name="abort")

    @admin.action(description="Delete selected order copies", permissions=["delete"])
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[OrderCopy]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=DELETE)

    def _trigger(
        self, request: HttpRequest, queryset: QuerySet[OrderCopy], *, name: str
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=TRIGGER_ACTIONS[name])

    # Read-only displays ----------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def coloured_status(self, obj: OrderCopy) -> str:
        return status_badge(obj.status)

    @admin.display(description="source order", ordering="source_order__number")
    def source(self, obj: OrderCopy) -> str:
        return order_link(obj.source_order)

    @admin.display(description="target order")
    def target(self, obj: OrderCopy) -> str:
        return order_link(obj.target_order)

    @admin.display(description="options")
    def options(self, obj: OrderCopy) -> str:
        return options_text(obj)

    @admin.display(description="age", ordering="-created_at")
    def age(self, obj: OrderCopy) -> str:
        return age_text(obj)

    @admin.display(description="first error")
    def first_error(self, obj: OrderCopy) -> str:
        return first_error_text(obj.errors_log)

    @admin.display(description="errors log")
    def errors(self, obj: OrderCopy) -> str:
        return errors_html(obj.errors_log)

    @admin.display(description="metadata")
    def metadata_list(self, obj: OrderCopy) -> str:
        return payload_html(obj.metadata or {}) or "-"

    @admin.display(description="made by subscription")
    def made_by(self, obj: OrderCopy) -> str:
        subscription_id = getattr(obj, "order_subscription_id", None)
        if not subscription_id:
            return "-"
        url = reverse("admin:subscriptions_ordersubscription_change", args=[subscription_id])
        return format_html('<a href="{}">subscription {}</a>', url, subscription_id)

    @admin.display(description="events")
    def timeline(self, obj: OrderCopy) -> str:
        return timeline_html(
            event_list_for(resource_type=OrderCopy.resource_type, resource_id=obj.pk)
        )
