"""The subscriptions back office. Every change goes through subscriptions/services: the forms and
the actions parse input, call one service per subscription and report with message_user."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.actors import Actor
from core.admin_actions import EVERYWHERE, ServiceAction, delete_action, service_action_run
from events.selectors import event_list_for
from events.timeline import moment_text, timeline_html
from subscriptions import selectors, services
from subscriptions.exceptions import OrderSubscriptionError
from subscriptions.frequencies import InvalidFrequency, frequency_clean, frequency_describe
from subscriptions.models import OrderSubscription, SubscriptionRun

ADD_FIELDS = ["source_order", "frequency", "activate_by_source_order", "place_target_order"]
ADD_FIELDS += ["renewal_alert_period", "starts_at", "expires_at"]
REFERENCE_FIELDS = ["reference", "reference_origin", "metadata"]
UPDATABLE = ["frequency", "activate_by_source_order", "place_target_order"]
UPDATABLE += ["renewal_alert_period", "starts_at", "expires_at", "next_run_at", *REFERENCE_FIELDS]
DISPLAYS = ["schedule", "upcoming_runs", "runs", "timeline", "source_order_link"]
DISPLAYS += ["runs_so_far", "last_run"]
READONLY = ["id", "number", "status", "mode", "market", "customer_email"]
READONLY += ["customer_payment_source", "last_run_at", "occurrencies", "errors_count"]
READONLY += ["succeeded_on_last_run", "created_at", "updated_at", *DISPLAYS]


RUNS_HEAD = mark_safe(  # noqa: S308 (a constant)
    "<tr><th>started</th><th>scheduled</th><th>by</th><th>copy</th><th>outcome</th>"
    "<th>order</th><th>errors</th></tr>"
)


def _subscription_action(
    name: str, service: Callable[..., object], done: str, **words: Any
) -> ServiceAction:
    return ServiceAction(
        name=name,
        service=lambda subscription, actor: service(subscription=subscription, actor=actor),
        refused=OrderSubscriptionError,
        done=done,
        reason=lambda error: error.message,
        nouns=("subscription", "subscriptions"),
        **words,
    )


ACTIVATE = _subscription_action(
    "activate_subscriptions", services.order_subscription_activate, "activated"
)
DEACTIVATE = _subscription_action(
    "deactivate_subscriptions", services.order_subscription_deactivate, "deactivated"
)
RUN = _subscription_action(
    "run_subscriptions", services.order_subscription_run, "run", said="Started a run of"
)
CANCEL = _subscription_action(
    "cancel_subscriptions",
    services.order_subscription_cancel,
    "cancelled",
    verb="cancel",
    consequence="Cancelling is final: a cancelled subscription never runs again and cannot be "
    "activated. A run in progress still ends and is counted.",
)
DELETE = delete_action(
    service=lambda subscription, actor: services.order_subscription_delete(
        subscription=subscription, actor=actor
    ),
    refused=OrderSubscriptionError,
    consequence="Only drafts can be deleted; a subscription that ran is cancelled instead.",
    reason=lambda error: error.message,
    nouns=("subscription", "subscriptions"),
)


class OrderSubscriptionForm(forms.ModelForm[OrderSubscription]):
    """Field errors at once; the service checks again (and what the form cannot know)."""

    def clean_frequency(self) -> str:
        try:
            return frequency_clean(self.cleaned_data["frequency"])
        except InvalidFrequency as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(OrderSubscription)
class OrderSubscriptionAdmin(admin.ModelAdmin[OrderSubscription]):
    form = OrderSubscriptionForm
    list_display = ["number", "status", "schedule", "source_order_link", "customer_email"]
    list_display += ["next_run", "last_run", "runs_so_far", "mode"]
    list_filter = ["status", "mode", "succeeded_on_last_run", "place_target_order"]
    list_select_related = ["source_order"]
    search_fields = ["number", "=id", "customer_email", "source_order__number", "reference"]
    raw_id_fields = ["source_order"]
    actions = ["activate_subscriptions", "deactivate_subscriptions", "run_subscriptions"]
    actions += ["cancel_subscriptions", "delete_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderSubscription]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "source_order",
                "market",
                "customer_payment_source__customer",
                "customer_payment_source__payment_source",
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: OrderSubscription | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ADD_FIELDS}), ("Reference", {"fields": REFERENCE_FIELDS})]
        # Related fields side by side, the reference folded: a page that fits a screen or two.
        return [
            (None, {"fields": [("number", "status", "mode"), ("source_order_link", "market")]}),
            (None, {"fields": [("customer_email", "customer_payment_source")]}),
            ("Schedule", {"fields": [("frequency", "schedule"), ("starts_at", "expires_at")]}),
            (None, {"fields": [("next_run_at", "renewal_alert_period"), "upcoming_runs"]}),
            ("Options", {"fields": [("activate_by_source_order", "place_target_order")]}),
            ("Runs", {"fields": [("runs_so_far", "last_run"), "runs"]}),
            (
                "Reference",
                {
                    "fields": ["id", *REFERENCE_FIELDS, ("created_at", "updated_at")],
                    "classes": ["collapse"],
                },
            ),
            ("Timeline", {"fields": ["timeline"]}),
        ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: OrderSubscription | None = None
    ) -> list[str]:
        if obj is None:
            return []
        fixed = [*READONLY, "source_order"]
        if obj.status == OrderSubscription.Status.CANCELLED:
            return fixed + [name for name in UPDATABLE if name not in REFERENCE_FIELDS]
        if obj.status != OrderSubscription.Status.DRAFT:
            fixed.append("starts_at")
        return fixed

    # Writes: through the services ------------------------------------------------------------

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # A refusal the form could not foresee: the view's transaction rolls back and the form
        # reloads with the reason.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except OrderSubscriptionError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(
        self, request: HttpRequest, obj: OrderSubscription, form: Any, change: Any
    ) -> None:
        actor = Actor.user(request.user)
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in form.changed_data if name in UPDATABLE}
            if changes:
                services.order_subscription_update(subscription=obj, actor=actor, **changes)
            return
        fields = {name: data[name] for name in ADD_FIELDS + REFERENCE_FIELDS}
        source = fields.pop("source_order")
        subscription = services.order_subscription_create(
            source_order=source, mode=source.mode, actor=actor, **fields
        )
        obj.pk = subscription.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def has_delete_permission(
        self, request: HttpRequest, obj: OrderSubscription | None = None
    ) -> bool:
        # Only drafts: a subscription that ran is cancelled, its history kept.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == OrderSubscription.Status.DRAFT)

    def delete_model(self, request: HttpRequest, obj: OrderSubscription) -> None:
        services.order_subscription_delete(subscription=obj, actor=Actor.user(request.user))

    # Actions: one service call per subscription (core/admin_actions.py) -------------------

    @admin.action(description="Delete selected subscriptions (drafts only)", permissions=["delete"])
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=DELETE)

    @admin.action(
        description="Activate the subscription",
        description_plural="Activate selected subscriptions",
        permissions=["activate"],
        location=EVERYWHERE,
    )
    def activate_subscriptions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        service_action_run(self, request, queryset, action=ACTIVATE)

    @admin.action(
        description="Deactivate the subscription",
        description_plural="Deactivate selected subscriptions",
        permissions=["activate"],
        location=EVERYWHERE,
    )
    def deactivate_subscriptions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        service_action_run(self, request, queryset, action=DEACTIVATE)

    @admin.action(
        description="Run the subscription now",
        description_plural="Run selected subscriptions now",
        permissions=["run"],
        location=EVERYWHERE,
    )
    def run_subscriptions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        service_action_run(self, request, queryset, action=RUN)

    @admin.action(
        description="Cancel the subscription (final)",
        description_plural="Cancel selected subscriptions (final)",
        permissions=["cancel"],
        location=EVERYWHERE,
    )
    def cancel_subscriptions(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=CANCEL)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subscriptions.activate_ordersubscription")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subscriptions.cancel_ordersubscription")

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subscriptions.run_ordersubscription")

    # Read-only displays ----------------------------------------------------------------------

    @admin.display(description="source order", ordering="source_order__number")
    def source_order_link(self, obj: OrderSubscription) -> str:
        url = reverse("admin:orders_order_change", args=[obj.source_order_id])
        return format_html('<a href="{}">#{}</a>', url, obj.source_order.number)

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, obj: OrderSubscription) -> str:
        """None for a subscription that will not run (cancelled, inactive)."""
        if obj.status in (OrderSubscription.Status.CANCELLED, OrderSubscription.Status.INACTIVE):
            return f"none while {obj.status}"
        return moment_text(obj.next_run_at)

    @admin.display(description="runs so far", ordering="occurrencies")
    def runs_so_far(self, obj: OrderSubscription) -> str:
        failed = f", {obj.errors_count} failed" if obj.errors_count else ""
        return f"{obj.occurrencies}{failed}"

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, obj: OrderSubscription) -> str:
        if obj.last_run_at is None:
            return "-"
        outcome = {True: "succeeded", False: "failed", None: ""}[obj.succeeded_on_last_run]
        return f"{moment_text(obj.last_run_at)} {outcome}".strip()

    @admin.display(description="schedule", ordering="frequency")
    def schedule(self, obj: OrderSubscription) -> str:
        return frequency_describe(obj.frequency)

    @admin.display(description="next five runs")
    def upcoming_runs(self, obj: OrderSubscription) -> str:
        moments = selectors.order_subscription_upcoming_runs(subscription=obj, count=5)
        if not moments:
            return f"none while {obj.status}"
        items = ((moment_text(moment),) for moment in moments)
        rows = format_html_join("", "<li><time>{}</time></li>", items)
        return format_html("<ol>{}</ol>", rows)

    @admin.display(description="latest runs and their copies")
    def runs(self, obj: OrderSubscription) -> str:
        runs = selectors.order_subscription_runs(subscription=obj, limit=25)
        if not runs:
            return "none yet"
        body = format_html_join("", "<tr>{}</tr>", ((_run_cells(run),) for run in runs))
        return format_html('<table class="subscription-runs">{}{}</table>', RUNS_HEAD, body)

    @admin.display(description="events")
    def timeline(self, obj: OrderSubscription) -> str:
        events = event_list_for(resource_type=OrderSubscription.resource_type, resource_id=obj.pk)
        return timeline_html(events)


def _run_cells(run: SubscriptionRun) -> str:
    copy = run.order_copy
    copy_link, target_link = "-", "-"
    if copy is not None:
        copy_url = reverse("admin:ordercopies_ordercopy_change", args=[copy.pk])
        copy_link = format_html('<a href="{}">{}</a>', copy_url, copy.pk)
        if copy.target_order is not None:
            url = reverse("admin:orders_order_change", args=[copy.target_order_id])
            target_link = format_html('<a href="{}">#{}</a>', url, copy.target_order.number)
    outcome = {True: "succeeded", False: "failed", None: copy.status if copy else "running"}
    errors = "; ".join(message for texts in (run.errors_log or {}).values() for message in texts)
    missed = f" (+{run.skipped_slots} missed)" if run.skipped_slots else ""
    return format_html(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        moment_text(run.started_at),
        moment_text(run.scheduled_at) + missed,
        run.get_trigger_display(),
        copy_link,
        outcome[run.succeeded],
        target_link,
        errors or "-",
    )
