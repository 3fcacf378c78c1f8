"""The page a destructive admin action shows before it acts: the objects it will change and
what will happen to them, with "Yes" and "No, take me back". It posts the action again with
post=yes, under the action field of the page it came from (the list or an object's page)."""

from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

TEMPLATE = "admin/action_confirmation.html"


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get("post") == "yes"


def action_confirmation(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    verb: str,
    consequence: str,
) -> TemplateResponse:
    """`verb`: "cancel"; `consequence`: what happens to each object, in a sentence."""
    objects: list[Model] = list(queryset.order_by("pk"))
    # The list posts "action"; an object's page "CHANGE_FORM-action" (Django's action forms).
    field = next(
        (
            name
            for name, value in request.POST.items()
            if name.endswith("action") and value == action
        ),
        "action",
    )
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": f"{verb.capitalize()} {model_admin.opts.verbose_name_plural}",
        "opts": model_admin.opts,
        "objects": objects,
        "verb": verb,
        "consequence": consequence,
        "action": action,
        "action_field": field,
        "from_list": "index" in request.POST,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, TEMPLATE, context)
