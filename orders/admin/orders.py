"""Orders and line items. Every change of an order goes through orders/services.py: the change
form, the delete view and the actions parse input, call one service per order and report.

ordercopies/admin/ extends OrderAdmin with copying (the copy app depends on orders, never the
other way round)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from core.actors import Actor
from core.admin_actions import EVERYWHERE, ServiceAction, delete_action, service_action_run
from events.selectors import event_list_for
from events.timeline import timeline_html
from orders import services as order_services
from orders.admin.markets import MarketChoiceField, MarketListFilter
from orders.exceptions import OrderError
from orders.models import Address, LineItem, Order, PaymentMethod, PaymentSource
from orders.money import format_cents


def errors_text(exc: OrderError) -> str:
    """An order error as staff read it: its messages in one line, "message; message"."""
    return "; ".join(str(message) for texts in exc.errors.values() for message in texts)


def _order_action(
    name: str, service: Callable[..., Order], done: str, **words: Any
) -> ServiceAction:
    return ServiceAction(
        name=name,
        service=lambda order, actor: service(order=order, actor=actor),
        refused=OrderError,
        done=done,
        reason=errors_text,
        label=lambda order: f"Order {order}",
        **words,
    )


PLACE = _order_action("place_orders", order_services.order_place, "placed")
APPROVE = _order_action("approve_orders", order_services.order_approve, "approved")
CANCEL = _order_action(
    "cancel_orders",
    order_services.order_cancel,
    "cancelled",
    verb="cancel",
    consequence="Each is cancelled for good, and its stock is given back.",
)
ARCHIVE = _order_action("archive_orders", order_services.order_archive, "archived")
UNARCHIVE = _order_action("unarchive_orders", order_services.order_unarchive, "unarchived")
DELETE = delete_action(
    service=lambda order, actor: order_services.order_delete(order=order, actor=actor),
    refused=OrderError,
    consequence="Each is deleted for good with its line items (placed orders are archived, "
    "never deleted).",
    reason=errors_text,
    label=lambda order: f"Order {order}",
)


LINE_ITEM_FIELDS = ("item_type", "sku_code", "name", "quantity", "unit_amount", "total_amount")


class LineItemInline(admin.TabularInline[LineItem, Order]):
    """Read-only: line items change through the order services, never through this form."""

    model = LineItem
    extra = 0
    can_delete = False
    fields = LINE_ITEM_FIELDS
    readonly_fields = LINE_ITEM_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[LineItem]:
        return super().get_queryset(request).select_related("order")

    def has_add_permission(  # type: ignore[override]  # as the stubs' own InlineModelAdmin
        self, request: HttpRequest, obj: Order | None
    ) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    @admin.display(description="unit amount")
    def unit_amount(self, obj: LineItem) -> str:
        return format_cents(obj.unit_amount_cents, obj.order.currency_code)

    @admin.display(description="total amount")
    def total_amount(self, obj: LineItem) -> str:
        return format_cents(obj.total_amount_cents, obj.order.currency_code)


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin[LineItem]):
    list_display = ["__str__", "order", "item_type", "sku_code", "unit_amount", "total_amount"]
    list_display += ["mode", "created_at"]
    list_filter = ["mode", "item_type"]
    list_select_related = ["order"]
    search_fields = ["=id", "sku_code", "name", "order__number"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LineItem | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LineItem | None = None) -> bool:
        # Asked for each line when an order is deleted: lines go with an editable order.
        allowed = super().has_delete_permission(request, obj)
        return allowed and obj is not None and obj.order.is_editable

    def delete_model(self, request: HttpRequest, obj: LineItem) -> None:
        order_services.order_line_item_delete(line_item=obj, actor=Actor.user(request.user))

    @admin.display(description="unit amount", ordering="unit_amount_cents")
    def unit_amount(self, obj: LineItem) -> str:
        return format_cents(obj.unit_amount_cents, obj.order.currency_code)

    @admin.display(description="total amount", ordering="total_amount_cents")
    def total_amount(self, obj: LineItem) -> str:
        return format_cents(obj.total_amount_cents, obj.order.currency_code)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Archived"), ("no", "Not archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(archived_at__isnull=self.value() == "no")
        return queryset


class OrderForm(forms.ModelForm[Order]):
    """Offers only the addresses, payment methods and sources of the order's mode and market."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        order = self.instance
        if order.market_id is None:
            return
        self._limit("shipping_address", Address.objects.filter(mode=order.mode))
        self._limit("billing_address", Address.objects.filter(mode=order.mode))
        self._limit("payment_method", PaymentMethod.objects.filter(market_id=order.market_id))
        self._limit("payment_source", PaymentSource.objects.filter(mode=order.mode))

    def _limit(self, name: str, queryset: QuerySet[Any]) -> None:
        field = self.fields.get(name)
        if isinstance(field, ModelChoiceField):
            field.queryset = queryset


ORDER_ADD_FIELDS = (
    "market customer_email language_code country_code reference reference_origin metadata"
).split()
ORDER_STATUS_FIELDS = "number status payment_status fulfillment_status mode skus_count".split()
ORDER_CUSTOMER_FIELDS = (
    "market customer customer_email language_code currency_code country_code"
).split()
ORDER_PAYMENT_FIELDS = (
    "shipping_address billing_address payment_method payment_source coupon_code gift_card_code"
).split()
ORDER_DATE_FIELDS = "created_at updated_at placed_at approved_at cancelled_at archived_at".split()
ORDER_REFERENCE_FIELDS = ["id", "reference", "reference_origin", "metadata"]
# Never in a form: statuses move only through the actions, amounts only through the services.
ORDER_READONLY_FIELDS = [*ORDER_STATUS_FIELDS, "id", "market", "customer", "currency_code"]
ORDER_READONLY_FIELDS += [*ORDER_DATE_FIELDS, "timeline"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    form = OrderForm
    # Fits 1280 px beside the filters: the fulfillment status and the market's full label are
    # on the order's page (and the market filter says which is which).
    list_display = ["number", "status", "payment_status", "market_code", "customer_email"]
    list_display += ["total", "skus_count", "placed_at", "mode_badge"]
    list_filter = ["mode", "status", "payment_status", ("market", MarketListFilter), ArchivedFilter]
    list_select_related = ["market"]
    search_fields = ["number", "=id", "customer_email", "reference"]
    date_hierarchy = "created_at"
    raw_id_fields = ["shipping_address", "billing_address", "payment_source"]
    actions = ["place_orders", "approve_orders", "cancel_orders", "archive_orders"]
    actions += ["unarchive_orders", "delete_selected"]

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ORDER_ADD_FIELDS})]
        # Related fields side by side and the rarely read folded: a page staff can take in.
        return [
            (None, {"fields": _in_rows(ORDER_STATUS_FIELDS + ORDER_CUSTOMER_FIELDS, 3)}),
            ("Addresses, payment and codes", {"fields": _in_rows(ORDER_PAYMENT_FIELDS, 2)}),
            # Folded: a long page keeps what staff act on in view.
            ("Dates", {"fields": _in_rows(ORDER_DATE_FIELDS, 3), "classes": ["collapse"]}),
            ("Reference", {"fields": ORDER_REFERENCE_FIELDS, "classes": ["collapse"]}),
            ("Timeline", {"fields": ["timeline"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> list[str]:
        if obj is None:
            return []
        if obj.is_editable:
            return ORDER_READONLY_FIELDS
        return ORDER_READONLY_FIELDS + sorted(order_services.EDITABLE_FIELDS)

    def get_inlines(self, request: HttpRequest, obj: Order | None) -> list[Any]:
        return [LineItemInline] if obj is not None else []

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "market":
            kwargs["form_class"] = MarketChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["order_totals"] = order_totals(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Writes: through the services ------------------------------------------------------------

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # A service refusal the form could not foresee (a coupon used up meanwhile, ...): the
        # view's transaction rolls back and the form reloads with the reason.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except OrderError as exc:
            self.message_user(
                request, f"The order was not saved: {errors_text(exc)}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Order, form: Any, change: Any) -> None:
        actor = Actor.user(request.user)
        if change:
            allowed = order_services.EDITABLE_FIELDS | order_services.ALWAYS_EDITABLE_FIELDS
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in allowed
            }
            if changes:
                order_services.order_update(order=obj, actor=actor, **changes)
            return
        fields = {name: form.cleaned_data[name] for name in ORDER_ADD_FIELDS}
        order = order_services.order_create(actor=actor, **fields)
        obj.pk = order.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        # Placed orders are archived, never deleted.
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

    def delete_model(self, request: HttpRequest, obj: Order) -> None:
        order_services.order_delete(order=obj, actor=Actor.user(request.user))

    # Actions: one service call per order (core/admin_actions.py) --------------------------

    @admin.action(description="Delete selected orders", permissions=["delete"])
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=DELETE)

    @admin.action(
        description="Place the order",
        description_plural="Place selected orders",
        permissions=["place"],
        location=EVERYWHERE,
    )
    def place_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        service_action_run(self, request, queryset, action=PLACE)

    @admin.action(
        description="Approve the order",
        description_plural="Approve selected orders",
        permissions=["approve"],
        location=EVERYWHERE,
    )
    def approve_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        service_action_run(self, request, queryset, action=APPROVE)

    @admin.action(
        description="Cancel the order",
        description_plural="Cancel selected orders",
        permissions=["cancel"],
        location=EVERYWHERE,
    )
    def cancel_orders(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=CANCEL)

    @admin.action(
        description="Archive the order",
        description_plural="Archive selected orders",
        permissions=["archive"],
        location=EVERYWHERE,
    )
    def archive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        service_action_run(self, request, queryset, action=ARCHIVE)

    @admin.action(
        description="Unarchive the order",
        description_plural="Unarchive selected orders",
        permissions=["archive"],
        location=EVERYWHERE,
    )
    def unarchive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        service_action_run(self, request, queryset, action=UNARCHIVE)

    def has_place_permission(self, request: HttpRequest) -> bool:
        return self._has_order_permission(request, "place_order")

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return self._has_order_permission(request, "approve_order")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self._has_order_permission(request, "cancel_order")

    def has_archive_permission(self, request: HttpRequest) -> bool:
        return self._has_order_permission(request, "archive_order")

    def _has_order_permission(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    # Read-only displays ----------------------------------------------------------------------

    @admin.display(description="mode", ordering="mode")
    def mode_badge(self, obj: Order) -> str:
        return mode_badge(obj.mode)

    @admin.display(description="market", ordering="market__code")
    def market_code(self, obj: Order) -> str:
        return obj.market.code

    @admin.display(description="total", ordering="total_amount_cents")
    def total(self, obj: Order) -> str:
        return obj.formatted(obj.total_amount_cents)

    @admin.display(description="events")
    def timeline(self, obj: Order) -> str:
        return timeline_html(event_list_for(resource_type=Order.resource_type, resource_id=obj.pk))


def _in_rows(fields: list[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(fields[start : start + size]) for start in range(0, len(fields), size)]


MODE_COLOURS = {"test": "#a35200", "live": "#1e7a46"}


def mode_badge(mode: str) -> str:
    """Test and live, visibly apart wherever records of both are listed."""
    return format_html(
        '<span class="mode-badge mode-{}" style="padding:1px 6px;border-radius:4px;color:#fff;'
        'background:{};font-size:0.8em;text-transform:uppercase">{}</span>',
        mode,
        MODE_COLOURS.get(mode, "#5f6b76"),
        mode,
    )


def order_totals(order: Order) -> list[tuple[str, str]]:
    """The amounts shown under the line items, label → formatted amount."""
    return [
        ("Subtotal", order.formatted(order.subtotal_amount_cents)),
        ("Discount", order.formatted(order.discount_amount_cents)),
        ("Shipping", order.formatted(order.shipping_amount_cents)),
        ("Tax", order.formatted(order.total_tax_amount_cents)),
        ("Total", order.formatted(order.total_amount_cents)),
    ]
