"""Customers with their wallets, addresses, payment methods and payment sources."""

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from orders.admin.markets import MarketChoiceField
from orders.models import (
    Address,
    Customer,
    CustomerPaymentSource,
    PaymentMethod,
    PaymentSource,
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
