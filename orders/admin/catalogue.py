"""The catalogue: SKUs with their prices per market, promotions and coupons."""

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, Prefetch, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils import timezone

from orders.admin.markets import MarketChoiceField
from orders.models import Coupon, Promotion, Sku, SkuPrice
from orders.money import format_cents


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
