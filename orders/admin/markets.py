"""Markets, and the market labels every order page shares: test and live markets have the same
codes, so a market is always shown with its mode."""

from typing import Any

from django.contrib import admin
from django.forms import ModelChoiceField
from django.http import HttpRequest

from orders.models import Market
from orders.money import format_cents


def market_label(market: Market) -> str:
    return f"{market.name} ({market.code}, {market.currency_code}, {market.mode})"


class MarketChoiceField(ModelChoiceField[Market]):
    """Test and live markets share codes: the choice label says which mode it is."""

    def label_from_instance(self, obj: Market) -> str:
        return market_label(obj)


class MarketListFilter(admin.RelatedFieldListFilter):
    """Markets by code and mode: the test and the live "eu" market have the same name."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        return [(market.pk, market_label(market)) for market in Market.objects.order_by("code")]


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
