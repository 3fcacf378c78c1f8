"""The order pages with copying: "Copy selected orders" on the changelist, "Copy this order" on
an order's page, and the copies made from an order. OrderAdmin lives in orders/admin/; the copy
app extends it because it depends on orders, never the other way round."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from ordercopies import selectors
from ordercopies.admin.copying import (
    MIXED_MODES,
    copies_create,
    copies_url,
    copy_page,
    options_form,
    wants_preview,
)
from ordercopies.admin.displays import copies_table_html, copy_link, order_link
from orders.admin import OrderAdmin
from orders.models import Order

COPIES_SHOWN = 10


class OrderCopyingAdmin(OrderAdmin):
    change_form_template = "admin/ordercopies/order_change_form.html"
    actions = [*OrderAdmin.actions, "copy_orders"]

    def get_urls(self) -> list[URLPattern]:
        copy = path(
            "<path:object_id>/copy/",
            self.admin_site.admin_view(self.copy_view),
            name="orders_order_copy",
        )
        return [copy, *super().get_urls()]

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and self.has_view_copies_permission(request):
            fieldsets.append(("Copies", {"fields": ["made_by_copy", "copies"]}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "made_by_copy", "copies"] if obj is not None else readonly

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        if obj is not None and self.has_copy_permission(request):
            context["copy_order_url"] = reverse("admin:orders_order_copy", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_copy_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ordercopies.add_ordercopy")

    def has_view_copies_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.has_perm("ordercopies.view_ordercopy") or user.has_perm(
            "ordercopies.change_ordercopy"
        )

    @admin.action(
        description="Copy the order",
        description_plural="Copy selected orders",
        permissions=["copy"],
    )
    def copy_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = list(
            queryset.select_related("market", "payment_method").order_by("created_at", "pk")
        )
        if len({order.mode for order in orders}) > 1:
            self.message_user(request, MIXED_MODES, messages.ERROR)
            return None
        form = options_form(request)
        if not form.is_valid() or wants_preview(request):
            return copy_page(self, request, orders=orders, form=form, from_changelist=True)
        copies = copies_create(self, request, orders=orders, form=form)
        return HttpResponseRedirect(copies_url(copies)) if copies else None

    def copy_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page of "Copy this order": the copy form for one order, then the new copy's page."""
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(f"no order has the id {object_id}")
        if not (self.has_copy_permission(request) and self.has_view_permission(request, order)):
            raise PermissionDenied
        form = options_form(request)
        if not form.is_valid() or wants_preview(request):
            return copy_page(self, request, orders=[order], form=form, from_changelist=False)
        copies = copies_create(self, request, orders=[order], form=form)
        return HttpResponseRedirect(copies_url(copies) if copies else request.path)

    @admin.display(description="made by")
    def made_by_copy(self, obj: Order) -> str:
        """A target order links back to the copy that made it and to that copy's source."""
        made_by = selectors.order_copy_list().filter(target_order_id=obj.pk).first()
        if made_by is None:
            return "-"
        return format_html(
            "copy {} of order {}", copy_link(made_by), order_link(made_by.source_order)
        )

    @admin.display(description="copies made from this order")
    def copies(self, obj: Order) -> str:
        copies = selectors.order_copy_list_of_source(source_order_id=obj.pk, limit=COPIES_SHOWN)
        if not copies:
            return "none yet"
        changelist = reverse("admin:ordercopies_ordercopy_changelist")
        return format_html(
            '{}<p><a href="{}?source_order__id__exact={}">All copies of this order</a></p>',
            copies_table_html(copies),
            changelist,
            obj.pk,
        )
