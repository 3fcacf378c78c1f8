"""The triggers staff pull on copies (launch, retry, abort): a bulk trigger first shows a page
listing what will happen to each selected copy, then calls its service once per copy and
reports the successes and each refusal with its reason."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.admin_actions import service_each
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


def trigger_run(
    model_admin: admin.ModelAdmin[OrderCopy],
    request: HttpRequest,
    queryset: QuerySet[OrderCopy],
    *,
    trigger: Trigger,
) -> None:
    """One service call (and transaction) per copy: a refusal leaves the others done."""
    copies, refused = service_each(
        request,
        queryset.order_by("created_at", "pk"),
        call=lambda order_copy, actor: trigger.service(order_copy=order_copy, actor=actor),
        refused=OrderCopyError,
    )
    for order_copy in copies:
        model_admin.log_change(request, order_copy, f"{trigger.done.capitalize()} the copy.")
    refusals = [
        f"Copy {order_copy.pk} of order #{order_copy.source_order.number} was not "
        f"{trigger.done}: {error.message}"
        for order_copy, error in refused
    ]
    _report(model_admin, request, trigger=trigger, done=len(copies), refusals=refusals)


def _report(
    model_admin: admin.ModelAdmin[OrderCopy],
    request: HttpRequest,
    *,
    trigger: Trigger,
    done: int,
    refusals: list[str],
) -> None:
    level = messages.SUCCESS if not refusals else messages.WARNING if done else messages.ERROR
    if done:
        summary = f"{trigger.done.capitalize()} {done} {'copy' if done == 1 else 'copies'}"
        if trigger.queues and not worker_alive():
            summary += f" ({NO_WORKER})"
            level = messages.WARNING if level == messages.SUCCESS else level
    else:
        summary = f"No copy was {trigger.done}"
    if refusals:
        summary += f"; {len(refusals)} refused"
    model_admin.message_user(request, f"{summary}.", level)
    for refusal in refusals:
        model_admin.message_user(request, refusal, messages.ERROR)
