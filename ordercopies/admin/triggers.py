"""The triggers staff pull on copies (launch, retry, abort): a bulk trigger first shows a page
listing what will happen to each selected copy, then calls its service once per copy and
reports the successes and each refusal with its reason (core/admin_actions.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.admin_actions import ServiceAction
from ordercopies import selectors, services
from ordercopies.admin.dashboard import NO_WORKER, worker_alive
from ordercopies.admin.displays import order_link, status_badge
from ordercopies.exceptions import OrderCopyError
from ordercopies.models import OrderCopy

CONFIRMATION_TEMPLATE = "admin/ordercopies/ordercopy/trigger_confirmation.html"


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str  # as in selectors.TRIGGER_SOURCES
    service: Callable[..., OrderCopy]
    done: str
    outcome: str  # what happens to an accepted copy
    queues: bool  # an accepted copy waits for a worker
    confirmation: str = ""  # asked before the copy page's button acts ({copy}: its id)

    @property
    def action(self) -> str:
        return f"{self.name}_copies"


TRIGGERS = {
    trigger.name: trigger
    for trigger in (
        Trigger("launch", services.order_copy_launch, "launched", "its job is queued again", True),
        Trigger(
            "retry", services.order_copy_retry, "retried", "it goes back to pending and runs", True
        ),
        Trigger(
            "abort",
            services.order_copy_abort,
            "aborted",
            "it stops and will not run",
            False,
            "Abort copy {copy}? It stops and will not run (Retry can queue it again).",
        ),
    )
}


def is_confirmed(request: HttpRequest) -> bool:
    """Bulk triggers run once confirmed. From a copy's own page (one copy, in view) at once."""
    from_change_form = f"{admin.ActionLocation.CHANGE_FORM.value}-action" in request.POST
    return from_change_form or request.POST.get("post") == "yes"


def trigger_confirmation(
    model_admin: admin.ModelAdmin[OrderCopy],
    request: HttpRequest,
    queryset: QuerySet[OrderCopy],
    *,
    trigger: Trigger,
) -> TemplateResponse:
    rows = [
        (
            order_copy,
            status_badge(order_copy.status),
            order_link(order_copy.source_order),
            selectors.order_copy_trigger_refusal(order_copy=order_copy, trigger=trigger.name),
        )
        for order_copy in queryset.order_by("created_at", "pk")
    ]
    accepted = sum(1 for *_, refusal in rows if refusal is None)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": f"{trigger.name.capitalize()} order copies",
        "opts": model_admin.opts,
        "trigger": trigger,
        "rows": rows,
        "accepted": accepted,
        "refused": len(rows) - accepted,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)


def trigger_action(trigger: Trigger) -> ServiceAction:
    """The trigger as the admin's one kind of action: its confirmation page, then one service
    call per copy, reported with each refusal (and, for triggers that queue, whether a worker
    will run the copies)."""
    return ServiceAction(
        name=trigger.action,
        service=lambda order_copy, actor: trigger.service(order_copy=order_copy, actor=actor),
        refused=OrderCopyError,
        done=trigger.done,
        reason=lambda error: error.message,
        label=lambda c: f"Copy {c.pk} of order #{c.source_order.number}",
        nouns=("copy", "copies"),
        note=(lambda: None if worker_alive() else NO_WORKER) if trigger.queues else lambda: None,
        confirmation=lambda model_admin, request, queryset, _: (
            None
            if is_confirmed(request)
            else trigger_confirmation(model_admin, request, queryset, trigger=trigger)
        ),
    )
