"""The one way an admin action is written here: confirm (when it destroys or cannot be undone)
→ call one service per object, each in its own transaction, so a refusal leaves the others done
→ report how many were done and why each refused object was refused.

An admin declares a `ServiceAction` and calls `service_action_run` from its `@admin.action`;
deleting through a service is `delete_action`."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.actors import Actor

CONFIRMATION_TEMPLATE = "admin/action_confirmation.html"
# Actions offered on the list and on an object's page alike.
EVERYWHERE = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]

Confirmation = Callable[
    [admin.ModelAdmin[Any], HttpRequest, QuerySet[Any], "ServiceAction"], TemplateResponse | None
]


@dataclass(frozen=True, kw_only=True)
class ServiceAction:
    """`service(obj, actor)` for each selected object; `refused` is the domain error it raises
    for an object it will not change."""

    name: str  # the admin action's name, which the confirmation page posts again
    service: Callable[[Any, Actor], object]
    refused: type[Exception]
    done: str  # "cancelled"
    reason: Callable[[Any], str] = str  # a refusal's words
    label: Callable[[Any], str] = str  # how the report names a refused object
    verb: str = ""  # "cancel", with `consequence`: asks first
    consequence: str = ""  # what happens to each object, in a sentence
    said: str = ""  # the report's first words instead of "Cancelled"
    nouns: tuple[str, str] = ("", "")  # the report's noun and plural; default: the model's
    note: Callable[[], str | None] = lambda: None  # added to the count when it applies
    confirmation: Confirmation | None = None  # a page of the admin's own instead
    deletes: bool = False


def is_confirmed(request: HttpRequest) -> bool:
    return request.POST.get("post") == "yes"


def service_action_run(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: ServiceAction,
) -> TemplateResponse | None:
    """The confirmation page until confirmed (when the action asks), then the run and its
    report; None once done, as Django's actions return."""
    confirm = action.confirmation or (_ask_first if action.consequence else None)
    page = confirm(model_admin, request, queryset, action) if confirm else None
    if page is not None:
        return page
    done, refusals = service_each(
        request,
        queryset.order_by("created_at", "pk"),
        call=action.service,
        refused=action.refused,
    )
    if action.deletes:
        model_admin.log_deletions(request, done)  # type: ignore[arg-type]
    else:
        for obj in done:
            message = f"{action.done.capitalize()} the {model_admin.opts.verbose_name}."
            model_admin.log_change(request, obj, message)
    service_action_report(
        model_admin,
        request,
        action=action,
        done=len(done),
        refusals=[
            f"{action.label(obj)} was not {action.done}: {action.reason(e)}" for obj, e in refusals
        ],
    )
    return None


def service_action_report(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    action: ServiceAction,
    done: int,
    refusals: list[str],
) -> None:
    """ "Cancelled 2 orders; 1 refused." (success, warning when some were refused, error when
    none was done), then each refusal with its reason."""
    one, many = action.nouns if action.nouns[0] else _model_nouns(model_admin)
    level = messages.SUCCESS if not refusals else messages.WARNING if done else messages.ERROR
    if done:
        summary = f"{action.said or action.done.capitalize()} {done} {one if done == 1 else many}"
        note = action.note()
        if note:
            summary += f" ({note})"
            level = messages.WARNING if level == messages.SUCCESS else level
    else:
        summary = f"No {one} was {action.done}"
    if refusals:
        summary += f"; {len(refusals)} refused"
    model_admin.message_user(request, f"{summary}.", level)
    for refusal in refusals:
        model_admin.message_user(request, refusal, messages.ERROR)


def delete_action(
    *,
    service: Callable[[Any, Actor], object],
    refused: type[Exception],
    consequence: str,
    **words: Any,
) -> ServiceAction:
    """Django's "Delete selected …" through a service: asks first, deletes each object on its
    own, logs the deletions that happened and reports each refusal (Django's own would say
    "Successfully deleted" of objects the service refused)."""
    return ServiceAction(
        name="delete_selected",
        service=service,
        refused=refused,
        done="deleted",
        verb="delete",
        consequence=consequence,
        deletes=True,
        **words,
    )


def service_each[T](
    request: HttpRequest,
    objects: Iterable[T],
    *,
    call: Callable[[T, Actor], Any],
    refused: type[Exception],
) -> tuple[list[T], list[tuple[T, Any]]]:
    """Call `call(obj, actor)` for each object as the staff user; returns the objects done and
    the (object, error) pairs of the refusals of type `refused`."""
    actor = Actor.user(request.user)
    done: list[T] = []
    refusals: list[tuple[T, Any]] = []
    for obj in objects:
        try:
            call(obj, actor)
        except refused as error:
            refusals.append((obj, error))
        else:
            done.append(obj)
    return done, refusals


def _model_nouns(model_admin: admin.ModelAdmin[Any]) -> tuple[str, str]:
    return str(model_admin.opts.verbose_name), str(model_admin.opts.verbose_name_plural)


def _ask_first(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    action: ServiceAction,
) -> TemplateResponse | None:
    if is_confirmed(request):
        return None
    return action_confirmation(
        model_admin,
        request,
        queryset,
        action=action.name,
        verb=action.verb,
        consequence=action.consequence,
    )


def action_confirmation(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    verb: str,
    consequence: str,
) -> TemplateResponse:
    """The page a destructive action shows before it acts: the objects it will change and what
    happens to each, with "Yes" and "No, take me back". It posts the action again with
    post=yes, under the action field of the page it came from (the list or an object's page).
    `verb`: "cancel"; `consequence`: what happens to each object, in a sentence."""
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
    return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)
