"""Copying orders from the order pages: the form with every copy option, the page showing it
with the orders to copy (and the problems a copy of each can already be seen to meet), and the
creation of the copies through the service."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.actors import Actor
from ordercopies import services
from ordercopies.admin.dashboard import NO_WORKER, worker_alive
from ordercopies.admin.displays import copy_link, order_link
from ordercopies.admin.preview import copy_preview_problems
from ordercopies.exceptions import OrderCopyError
from ordercopies.models import OrderCopy
from orders.admin import market_label
from orders.models import Order

COPY_TEMPLATE = "admin/ordercopies/copy_orders.html"
PREVIEW_FIELD = "_preview"
LINKED_COPIES = 10  # copies linked one by one in the message; the list shows them all
FILTERED_COPIES = 100  # up to this many, the copies list is filtered to the new copies
MIXED_MODES = (
    "The selection mixes test and live orders: filter the orders by mode, then copy each "
    "mode on its own."
)


class CopyOptionsForm(forms.Form):
    """Every option of an order copy (SPEC.md §2), with the model's defaults."""

    place_target_order = forms.BooleanField(
        required=False, label="Place the target order", help_text="Place the new order at the end."
    )
    cancel_source_order = forms.BooleanField(
        required=False,
        label="Cancel the source order",
        help_text="Cancel the source order at the end; it must be placed or approved.",
    )
    reuse_wallet = forms.BooleanField(
        required=False,
        initial=True,
        label="Reuse the wallet",
        help_text="Copy the payment source when it is saved in the customer's wallet.",
    )
    skip_errors = forms.BooleanField(
        required=False,
        label="Skip errors",
        help_text="Only creating the new order must succeed; other errors are logged and the "
        "copy still completes.",
    )
    apply_promotions = forms.BooleanField(
        required=False,
        label="Apply promotions",
        help_text="Evaluate promotions again instead of copying the discount lines as they are.",
    )
    ignore_invalid_coupon = forms.BooleanField(
        required=False,
        label="Ignore an invalid coupon",
        help_text="Drop an expired or used-up coupon instead of failing.",
    )
    reference = forms.CharField(
        required=False, max_length=255, help_text="Stored on each copy, e.g. a ticket number."
    )

    def options(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in OrderCopy.OPTIONS}


def options_form(request: HttpRequest) -> CopyOptionsForm:
    """Bound once the copy page is submitted (post=yes); unbound when the page is first shown."""
    submitted = request.method == "POST" and request.POST.get("post") == "yes"
    return CopyOptionsForm(request.POST if submitted else None)


def copy_page(
    model_admin: admin.ModelAdmin[Order],
    request: HttpRequest,
    *,
    orders: list[Order],
    form: CopyOptionsForm,
    from_changelist: bool,
) -> TemplateResponse:
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": "Copy orders" if len(orders) > 1 else f"Copy order #{orders[0].number}",
        "opts": model_admin.opts,
        "orders": orders,
        "rows": _rows(orders, form),
        "form": form,
        # The admin's own fieldset layout; AdminForm takes any form (the stubs say ModelForm).
        "adminform": helpers.AdminForm(
            form,  # type: ignore[arg-type]
            [("Copy options", {"fields": list(form.fields)})],
            {},
        ),
        "from_changelist": from_changelist,
        "preview_field": PREVIEW_FIELD,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, COPY_TEMPLATE, context)


def _rows(orders: list[Order], form: CopyOptionsForm) -> list[tuple[Any, ...]]:
    """Each order with its link, market, total and the problems its copy would meet with the
    form's options (ordercopies/admin/preview.py: one call, to be swapped for the copy plan)."""
    problems = copy_preview_problems(orders=orders, options=_options(form))
    return [
        (
            order,
            order_link(order),
            market_label(order.market),
            order.formatted(order.total_amount_cents),
            problems.get(order.pk, []),
        )
        for order in orders
    ]


def _options(form: CopyOptionsForm) -> dict[str, Any]:
    """The options chosen on the page, or the defaults before anything was chosen."""
    if form.is_bound and form.is_valid():
        return form.options()
    return {name: bool(form.fields[name].initial) for name in OrderCopy.OPTIONS}


def wants_preview(request: HttpRequest) -> bool:
    """The page was sent to check the orders again with other options, not to copy."""
    return PREVIEW_FIELD in request.POST


def copies_create(
    model_admin: admin.ModelAdmin[Order],
    request: HttpRequest,
    *,
    orders: list[Order],
    form: CopyOptionsForm,
) -> list[OrderCopy] | None:
    """One copy per order with the form's options; None (and the reason said) when refused."""
    try:
        copies = services.order_copy_create_many(
            source_orders=orders,
            mode=orders[0].mode,
            actor=Actor.user(request.user),
            reference=form.cleaned_data["reference"],
            **form.options(),
        )
    except OrderCopyError as error:
        model_admin.message_user(request, f"No copy was made: {error.message}", messages.ERROR)
        return None
    if worker_alive():
        model_admin.message_user(request, _created_message(copies, orders), messages.SUCCESS)
    else:
        message = format_html("{} Copies {}.", _created_message(copies, orders), NO_WORKER)
        model_admin.message_user(request, message, messages.WARNING)
    return copies


def _created_message(copies: list[OrderCopy], orders: list[Order]) -> SafeString:
    numbers = {order.pk: order.number for order in orders}
    links = format_html_join(
        ", ",
        "{} of #{}",
        ((copy_link(c), numbers[c.source_order_id]) for c in copies[:LINKED_COPIES]),
    )
    more = len(copies) - LINKED_COPIES
    return format_html(
        "Created {} order {}: {}{}. They run in the background; their status shows how they end.",
        len(copies),
        "copy" if len(copies) == 1 else "copies",
        links,
        f" and {more} more" if more > 0 else "",
    )


def copies_url(copies: list[OrderCopy]) -> str:
    """Where to follow new copies: one copy's page, or the list filtered to them."""
    if len(copies) == 1:
        return reverse("admin:ordercopies_ordercopy_change", args=[copies[0].pk])
    changelist = reverse("admin:ordercopies_ordercopy_changelist")
    if len(copies) > FILTERED_COPIES:
        return changelist
    return f"{changelist}?id__in={','.join(order_copy.pk for order_copy in copies)}"
