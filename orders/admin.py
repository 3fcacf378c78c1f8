"""The orders back office. Every change of an order goes through orders/services.py: the change
form, the delete view and the actions parse input, call one service per order and report."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, Prefetch, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.actors import Actor
from events.selectors import event_list_for
from orders import services as order_services
from orders.exceptions import OrderError
from orders.models import (
    Address,
    Coupon,
    Customer,
    CustomerPaymentSource,
    LineItem,
    Market,
    Order,
    PaymentMethod,
    PaymentSource,
    Promotion,
    Sku,
    SkuPrice,
)
from orders.money import format_cents

ADMIN_ACTIONS = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


def errors_text(exc: OrderError) -> str:
    """An order error as one line: "key: message; key: message"."""
    return "; ".join(f"{key}: {message}" for key, texts in exc.errors.items() for message in texts)


def market_label(market: Market) -> str:
    return f"{market.name} ({market.code}, {market.currency_code}, {market.mode})"


class MarketChoiceField(ModelChoiceField[Market]):
    """Test and live markets share codes: the choice label says which mode it is."""

    def label_from_instance(self, obj: Market) -> str:
        return market_label(obj)


# ---------------------------------------------------------------------------------------------
# Catalogue, customers and payment


class SkuPriceInline(admin.TabularInline[SkuPrice, Sku]):
    model = SkuPrice
    extra = 0
    fields = ["market", "amount_cents", "formatted_amount"]
    readonly_fields = ["formatted_amount"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SkuPrice]:
        return super().get_queryset(request).select_related("market")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "market":
            kwargs["form_class"] = MarketChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="price")
    def formatted_amount(self, obj: SkuPrice) -> str:
        if obj.pk is None:
            return "-"
        return format_cents(obj.amount_cents, obj.market.currency_code)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin[Market]):
    list_display = ["code", "name", "mode", "currency_code", "shipping", "tax", "created_at"]
    list_filter = ["mode", "currency_code"]
    search_fields = ["code", "name", "=id"]
    readonly_fields = ["id", "created_at", "updated_at"]

    @admin.display(description="shipping", ordering="shipping_amount_cents")
    def shipping(self, obj: Market) -> str:
        return format_cents(obj.shipping_amount_cents, obj.currency_code)

    @admin.display(description="tax rate", ordering="tax_rate")
    def tax(self, obj: Market) -> str:
        return f"{obj.tax_rate * 100:.2f} %"


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin[Sku]):
    list_display = ["code", "name", "mode", "stock_quantity", "enabled", "do_not_ship", "prices"]
    list_filter = ["mode", "enabled", "do_not_ship"]
    search_fields = ["code", "name", "=id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [SkuPriceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sku]:
        prices = SkuPrice.objects.select_related("market").order_by("market__code")
        return super().get_queryset(request).prefetch_related(Prefetch("prices", queryset=prices))

    @admin.display(description="prices")
    def prices(self, obj: Sku) -> str:
        return ", ".join(
            f"{price.market.code} {format_cents(price.amount_cents, price.market.currency_code)}"
            for price in obj.prices.all()
        )


class WalletInline(admin.TabularInline[CustomerPaymentSource, Customer]):
    model = CustomerPaymentSource
    extra = 0
    fields = ["payment_source", "created_at"]
    readonly_fields = ["created_at"]
    raw_id_fields = ["payment_source"]
    verbose_name = "wallet entry"
    verbose_name_plural = "wallet"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerPaymentSource]:
        return super().get_queryset(request).select_related("payment_source")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ["email", "mode", "created_at"]
    list_filter = ["mode"]
    search_fields = ["email", "=id", "reference"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [WalletInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        # A wallet entry lives in its customer's mode.
        for entry in formset.save(commit=False):
            entry.mode = form.instance.mode
            entry.save()
        for entry in formset.deleted_objects:
            entry.delete()


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin[Address]):
    list_display = ["__str__", "company", "zip_code", "country_code", "email", "mode"]
    list_filter = ["mode", "country_code"]
    search_fields = ["=id", "first_name", "last_name", "company", "line_1", "city", "email"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin[PaymentMethod]):
    list_display = ["name", "market", "payment_source_type", "enabled", "mode"]
    list_filter = ["mode", "market", "enabled", "payment_source_type"]
    list_select_related = ["market"]
    search_fields = ["name", "=id", "payment_source_type"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "market":
            kwargs["form_class"] = MarketChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(PaymentSource)
class PaymentSourceAdmin(admin.ModelAdmin[PaymentSource]):
    list_display = ["__str__", "payment_source_type", "customer", "mode", "created_at"]
    list_filter = ["mode", "payment_source_type"]
    list_select_related = ["customer"]
    search_fields = ["=id", "customer__email", "payment_source_type"]
    raw_id_fields = ["customer"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(CustomerPaymentSource)
class CustomerPaymentSourceAdmin(admin.ModelAdmin[CustomerPaymentSource]):
    list_display = ["customer", "payment_source", "mode", "created_at"]
    list_filter = ["mode"]
    list_select_related = ["customer", "payment_source"]
    search_fields = ["=id", "customer__email"]
    raw_id_fields = ["customer", "payment_source"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin[Promotion]):
    list_display = ["name", "market", "kind", "discount", "requires_coupon", "starts_at"]
    list_display += ["expires_at", "mode"]
    list_filter = ["mode", "market", "kind", "requires_coupon"]
    list_select_related = ["market"]
    search_fields = ["name", "=id"]
    readonly_fields = ["id", "created_at", "updated_at"]

    @admin.display(description="discount")
    def discount(self, obj: Promotion) -> str:
        if obj.kind == Promotion.Kind.PERCENTAGE:
            return f"{obj.percentage} %"
        return format_cents(obj.amount_cents, obj.market.currency_code)


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin[Coupon]):
    list_display = ["code", "promotion", "usage", "expires_at", "validity", "mode"]
    list_filter = ["mode", "promotion__market"]
    list_select_related = ["promotion"]
    search_fields = ["code", "=id", "promotion__name"]
    raw_id_fields = ["promotion"]
    readonly_fields = ["id", "created_at", "updated_at"]

    @admin.display(description="used")
    def usage(self, obj: Coupon) -> str:
        limit = "∞" if obj.usage_limit is None else obj.usage_limit
        return f"{obj.usage_count} / {limit}"

    @admin.display(description="validity")
    def validity(self, obj: Coupon) -> str:
        return obj.invalid_reason(timezone.now()) or "valid"


# ---------------------------------------------------------------------------------------------
# Orders and line items


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
ORDER_STATUS_FIELDS = "number status payment_status fulfillment_status mode".split()
ORDER_CUSTOMER_FIELDS = (
    "market customer customer_email language_code currency_code country_code"
).split()
ORDER_PAYMENT_FIELDS = (
    "shipping_address billing_address payment_method payment_source coupon_code gift_card_code"
).split()
ORDER_AMOUNT_FIELDS = "subtotal discount shipping tax total skus_count".split()
ORDER_DATE_FIELDS = "created_at updated_at placed_at approved_at cancelled_at archived_at".split()
ORDER_REFERENCE_FIELDS = ["id", "reference", "reference_origin", "metadata"]
# Never in a form: statuses move only through the actions, amounts only through the services.
ORDER_READONLY_FIELDS = [*ORDER_STATUS_FIELDS, "id", "market", "customer", "currency_code"]
ORDER_READONLY_FIELDS += [*ORDER_AMOUNT_FIELDS, *ORDER_DATE_FIELDS, "timeline"]


class MarketListFilter(admin.RelatedFieldListFilter):
    """Markets by code and mode: the test and the live "eu" market have the same name."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        return [(market.pk, market_label(market)) for market in Market.objects.order_by("code")]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    form = OrderForm
    list_display = ["number", "status", "payment_status", "fulfillment_status", "market"]
    list_display += ["customer_email", "total", "skus_count", "placed_at", "created_at"]
    list_filter = ["status", "payment_status", "mode", ("market", MarketListFilter), ArchivedFilter]
    list_select_related = ["market"]
    search_fields = ["number", "=id", "customer_email", "reference"]
    date_hierarchy = "created_at"
    raw_id_fields = ["shipping_address", "billing_address", "payment_source"]
    actions = ["place_orders", "approve_orders", "cancel_orders", "archive_orders"]
    actions += ["unarchive_orders"]

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ORDER_ADD_FIELDS})]
        return [
            (None, {"fields": ORDER_STATUS_FIELDS + ORDER_CUSTOMER_FIELDS}),
            ("Addresses, payment and codes", {"fields": ORDER_PAYMENT_FIELDS}),
            ("Amounts", {"fields": ORDER_AMOUNT_FIELDS}),
            ("Dates", {"fields": ORDER_DATE_FIELDS}),
            ("Reference", {"fields": ORDER_REFERENCE_FIELDS}),
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

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for order in queryset:
            try:
                order_services.order_delete(order=order, actor=Actor.user(request.user))
            except OrderError as exc:
                message = f"Order {order} was not deleted: {errors_text(exc)}"
                self.message_user(request, message, messages.ERROR)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(
        description="Place the order",
        description_plural="Place selected orders",
        permissions=["place"],
        location=ADMIN_ACTIONS,
    )
    def place_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run_each(request, queryset, service=order_services.order_place, done="placed")

    @admin.action(
        description="Approve the order",
        description_plural="Approve selected orders",
        permissions=["approve"],
        location=ADMIN_ACTIONS,
    )
    def approve_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run_each(request, queryset, service=order_services.order_approve, done="approved")

    @admin.action(
        description="Cancel the order",
        description_plural="Cancel selected orders",
        permissions=["cancel"],
        location=ADMIN_ACTIONS,
    )
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run_each(request, queryset, service=order_services.order_cancel, done="cancelled")

    @admin.action(
        description="Archive the order",
        description_plural="Archive selected orders",
        permissions=["archive"],
        location=ADMIN_ACTIONS,
    )
    def archive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run_each(request, queryset, service=order_services.order_archive, done="archived")

    @admin.action(
        description="Unarchive the order",
        description_plural="Unarchive selected orders",
        permissions=["archive"],
        location=ADMIN_ACTIONS,
    )
    def unarchive_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        service = order_services.order_unarchive
        self._run_each(request, queryset, service=service, done="unarchived")

    def _run_each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        *,
        service: Callable[..., Order],
        done: str,
    ) -> None:
        """One service call (and transaction) per order: a refusal leaves the others done."""
        actor = Actor.user(request.user)
        succeeded = 0
        refusals = []
        for order in queryset.order_by("created_at", "pk"):
            try:
                service(order=order, actor=actor)
            except OrderError as exc:
                refusals.append(f"Order {order} was not {done}: {errors_text(exc)}")
            else:
                succeeded += 1
                self.log_change(request, order, f"{done.capitalize()} the order.")
        if succeeded:
            plural = "order" if succeeded == 1 else "orders"
            self.message_user(
                request, f"{done.capitalize()} {succeeded} {plural}.", messages.SUCCESS
            )
        for refusal in refusals:
            self.message_user(request, refusal, messages.ERROR)

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

    @admin.display(description="subtotal")
    def subtotal(self, obj: Order) -> str:
        return obj.formatted(obj.subtotal_amount_cents)

    @admin.display(description="discount")
    def discount(self, obj: Order) -> str:
        return obj.formatted(obj.discount_amount_cents)

    @admin.display(description="shipping")
    def shipping(self, obj: Order) -> str:
        return obj.formatted(obj.shipping_amount_cents)

    @admin.display(description="tax")
    def tax(self, obj: Order) -> str:
        return obj.formatted(obj.total_tax_amount_cents)

    @admin.display(description="total", ordering="total_amount_cents")
    def total(self, obj: Order) -> str:
        return obj.formatted(obj.total_amount_cents)

    @admin.display(description="events")
    def timeline(self, obj: Order) -> str:
        events = event_list_for(resource_type=Order.resource_type, resource_id=obj.pk)
        rows = format_html_join(
            "",
            "<li><time>{}</time> <strong>{}</strong> by {}{}</li>",
            (
                (
                    timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    event.name,
                    event.actor_label or event.actor_kind,
                    _payload_html(event.payload),
                )
                for event in events
            ),
        )
        return format_html("<ol>{}</ol>", rows) if rows else "-"


def _payload_html(payload: dict[str, Any]) -> str:
    if not payload:
        return ""
    return format_html(" <code>{}</code>", json.dumps(payload, sort_keys=True, default=str))
