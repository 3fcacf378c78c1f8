"""The orders resource and what a client needs to build an order: markets, customers, SKUs,
addresses, payment methods and sources, the wallet, coupons, promotions, line items."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.request import Request
from rest_framework.response import Response

from api.relations import ToMany, ToOne
from api.resources.tags import TAG_FIELDS, TaggableSerializer, TaggableViewSet, tags_write
from api.serializers import COMMON_FIELDS, ResourceSerializer
from api.triggers import Trigger, triggers_run
from api.views import ResourceViewSet, actor_of
from orders import checkout, customers, selectors, services
from orders.exceptions import OrderInvalid
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
)
from orders.money import cents_as_float, format_cents

AMOUNTS = (
    "subtotal_amount",
    "discount_amount",
    "shipping_amount",
    "total_tax_amount",
    "total_amount",
)


def order_action(service: Any) -> Trigger:
    """A trigger that runs `service(order=..., actor=...)`."""
    return Trigger(lambda view, order, value: service(order=order, actor=actor_of(view.request)))


def _place(view: Any, order: Order, value: Any) -> Order:
    # A sales channel places only an order paid with a source it created (see the service).
    return services.order_place(
        order=order, actor=actor_of(view.request), sales_channel=view.sales_channel
    )


def _clone(field: str) -> Trigger:
    """`_<field>_clone_id`: a copy of that address (in the caller's mode) as the order's."""

    def clone(view: Any, order: Order, address_id: Any) -> Order:
        address = Address.objects.filter(pk=address_id, mode=order.mode).first()
        if address is None:
            raise OrderInvalid({f"_{field}_clone_id": [f"address {address_id} does not exist"]})
        return checkout.order_address_clone(
            order=order, field=field, address=address, actor=actor_of(view.request)
        )

    return Trigger(clone, kind="id")


def _same_as(field: str, other: str) -> Trigger:
    """`_<field>_same_as_<other>`: a copy of the order's other address as this one."""

    def same(view: Any, order: Order, value: Any) -> Order:
        address = getattr(order, other)
        if address is None:
            raise OrderInvalid({other: [f"the order has no {other.replace('_', ' ')} to copy"]})
        return checkout.order_address_clone(
            order=order, field=field, address=address, actor=actor_of(view.request)
        )

    return Trigger(same)


def _pay_with_wallet(view: Any, order: Order, entry_id: Any) -> Order:
    return checkout.order_pay_with_wallet(
        order=order,
        wallet_entry_id=str(entry_id),
        actor=actor_of(view.request),
        sales_channel=view.sales_channel,
    )


def _save_address(field: str) -> Trigger:
    return Trigger(
        lambda view, order, value: checkout.order_save_address_to_book(
            order=order, field=field, actor=actor_of(view.request)
        )
    )


ORDER_TRIGGERS = {
    "_pending": order_action(checkout.order_make_pending),
    "_refresh": order_action(checkout.order_refresh_prices),
    "_refresh_prices": order_action(checkout.order_refresh_prices),
    "_billing_address_clone_id": _clone("billing_address"),
    "_shipping_address_clone_id": _clone("shipping_address"),
    "_billing_address_same_as_shipping": _same_as("billing_address", "shipping_address"),
    "_shipping_address_same_as_billing": _same_as("shipping_address", "billing_address"),
    "_customer_payment_source_id": Trigger(_pay_with_wallet, kind="id"),
    "_save_payment_source_to_customer_wallet": order_action(
        checkout.order_save_payment_source_to_wallet
    ),
    "_save_billing_address_to_customer_address_book": _save_address("billing_address"),
    "_save_shipping_address_to_customer_address_book": _save_address("shipping_address"),
    "_validate": order_action(checkout.order_validate),
    "_place": Trigger(_place),
    "_cancel": order_action(services.order_cancel),
    "_approve": order_action(services.order_approve),
    "_archive": order_action(services.order_archive),
    "_unarchive": order_action(services.order_unarchive),
}


@extend_schema_field(OpenApiTypes.STR)
class FormattedAmount(serializers.Field):  # type: ignore[type-arg]
    """`<name>_formatted` or `<name>_float` of `<name>_cents`, in the resource's currency."""

    def __init__(self, *, cents: str, kind: str = "formatted", **kwargs: Any) -> None:
        self.cents, self.kind = cents, kind
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        cents = getattr(value, self.cents)
        if self.kind == "float":
            return cents_as_float(cents)
        currency = getattr(value, "currency_code", None) or value.order.currency_code
        return format_cents(cents, currency)


@extend_schema_field(OpenApiTypes.NUMBER)
class FloatAmount(FormattedAmount):
    def __init__(self, *, cents: str, **kwargs: Any) -> None:
        super().__init__(cents=cents, kind="float", **kwargs)


def amount_fields(names: tuple[str, ...]) -> dict[str, FormattedAmount]:
    fields = {}
    for name in names:
        fields[f"formatted_{name}"] = FormattedAmount(cents=f"{name}_cents")
        fields[f"{name}_float"] = FloatAmount(cents=f"{name}_cents")
    return fields


# Payment source types of Commerce Layer's SDK this API keeps (PaymentSource.payment_source_type):
# an order or a wallet entry takes a source under its own type or as `payment_sources`.
CARD_TYPES = ("stripe_payments", "adyen_payments")


class PaymentSourceLinkage(ToOne):
    """A to-one payment source sent as `payment_sources` or under its SDK type
    (`stripe_payments`...), which must then be the source's type."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(resource_type="payment_sources", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        sent = data.get("type") if isinstance(data, dict) else None
        if sent not in CARD_TYPES:
            return super().to_internal_value(data)
        source = super().to_internal_value({**data, "type": "payment_sources"})
        if source.payment_source_type != sent:
            self.fail("does_not_exist", pk_value=data.get("id"))
        return source


class MarketSerializer(ResourceSerializer):
    class Meta:
        model = Market
        resource_name = "markets"
        fields = [*COMMON_FIELDS, "code", "name", "currency_code", "shipping_amount_cents"]


class CustomerSerializer(TaggableSerializer):
    related_serializers = {
        "orders": "api.resources.orders.OrderSerializer",
        "customer_payment_sources": "api.resources.orders.CustomerPaymentSourceSerializer",
        "order_subscriptions": "api.resources.subscriptions.OrderSubscriptionSerializer",
        "events": "api.resources.events.EventSerializer",
    }

    orders = ToMany(resource_type="orders")
    customer_payment_sources = ToMany(resource_type="customer_payment_sources")
    order_subscriptions = ToMany(resource_type="order_subscriptions")
    events = ToMany(resource_type="events")

    class Meta:
        model = Customer
        resource_name = "customers"
        fields = [
            *COMMON_FIELDS,
            "email",
            "orders",
            "customer_payment_sources",
            "order_subscriptions",
            "events",
            *TAG_FIELDS,
        ]


class SkuSerializer(ResourceSerializer):
    class Meta:
        model = Sku
        resource_name = "skus"
        fields = [*COMMON_FIELDS, "code", "name", "stock_quantity", "do_not_ship", "enabled"]


class AddressSerializer(ResourceSerializer):
    class Meta:
        model = Address
        resource_name = "addresses"
        fields = [*COMMON_FIELDS, *Address.COPIED_FIELDS[1:]]


class PaymentMethodSerializer(ResourceSerializer):
    market = ToOne(resource_type="markets", read_only=True)

    class Meta:
        model = PaymentMethod
        resource_name = "payment_methods"
        fields = [*COMMON_FIELDS, "name", "payment_source_type", "enabled", "market"]


class PaymentSourceSerializer(ResourceSerializer):
    customer = ToOne(resource_type="customers", read_only=True)
    token = serializers.CharField(write_only=True, required=False, max_length=120)

    class Meta:
        model = PaymentSource
        resource_name = "payment_sources"
        fields = [*COMMON_FIELDS, "payment_source_type", "details", "token", "customer"]

    def validate_details(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("details must be an object")
        return value


class CustomerPaymentSourceSerializer(ResourceSerializer):
    customer = ToOne(resource_type="customers", queryset=Customer.objects.all())
    payment_source = PaymentSourceLinkage(queryset=PaymentSource.objects.all())

    class Meta:
        model = CustomerPaymentSource
        resource_name = "customer_payment_sources"
        fields = [*COMMON_FIELDS, "customer", "payment_source"]


class PromotionSerializer(ResourceSerializer):
    market = ToOne(resource_type="markets", read_only=True)

    class Meta:
        model = Promotion
        resource_name = "promotions"
        fields = [
            *COMMON_FIELDS,
            "name",
            "kind",
            "percentage",
            "amount_cents",
            "starts_at",
            "expires_at",
            "requires_coupon",
            "market",
        ]


class CouponSerializer(ResourceSerializer):
    promotion = ToOne(resource_type="promotions", read_only=True)

    class Meta:
        model = Coupon
        resource_name = "coupons"
        fields = [*COMMON_FIELDS, "code", "usage_limit", "usage_count", "expires_at", "promotion"]


class LineItemSerializer(TaggableSerializer):
    included_serializers = {"order": "api.resources.orders.OrderSerializer", "sku": SkuSerializer}

    order = ToOne(resource_type="orders", queryset=Order.objects.all())
    sku = ToOne(resource_type="skus", queryset=Sku.objects.all(), required=False)
    # Commerce Layer's SDK names the line's SKU `item` (a polymorphic relationship elsewhere).
    item = ToOne(resource_type="skus", queryset=Sku.objects.all(), required=False, source="sku")
    formatted_unit_amount = FormattedAmount(cents="unit_amount_cents")
    formatted_total_amount = FormattedAmount(cents="total_amount_cents")

    class Meta:
        model = LineItem
        resource_name = "line_items"
        fields = [
            *COMMON_FIELDS,
            "item_type",
            "sku_code",
            "name",
            "quantity",
            "unit_amount_cents",
            "total_amount_cents",
            "formatted_unit_amount",
            "formatted_total_amount",
            "order",
            "sku",
            "item",
            *TAG_FIELDS,
        ]
        read_only_fields = ["item_type", "name", "unit_amount_cents", "total_amount_cents"]
        extra_kwargs = {"sku_code": {"required": False}, "quantity": {"min_value": 1}}


class SubscriptionOfOrder(ToOne):
    """`orders.order_subscription`: the subscription whose run made the order, read from the
    `order_subscription_id` annotation of the order selectors (orders does not import
    subscriptions)."""

    def get_attribute(self, instance: Any) -> Any:
        if not hasattr(instance, "order_subscription_id"):
            raise SkipField()  # not loaded with it (an included order): links only
        return PKOnlyObject(pk=instance.order_subscription_id)


# The formatted and float twins of the amounts, declared once for the order serializer.
OrderAmounts = type(
    "OrderAmounts", (ResourceSerializer,), {**amount_fields(AMOUNTS), "__module__": __name__}
)


class OrderSerializer(TaggableSerializer, OrderAmounts):  # type: ignore[valid-type, misc]
    included_serializers = {
        "market": MarketSerializer,
        "customer": CustomerSerializer,
        "shipping_address": AddressSerializer,
        "billing_address": AddressSerializer,
        "payment_method": PaymentMethodSerializer,
        "payment_source": PaymentSourceSerializer,
        "line_items": LineItemSerializer,
        "order_copies": "api.resources.ordercopies.OrderCopySerializer",
        "order_subscriptions": "api.resources.subscriptions.OrderSubscriptionSerializer",
    }
    related_serializers = {
        "events": "api.resources.events.EventSerializer",
        "order_subscription": "api.resources.subscriptions.OrderSubscriptionSerializer",
    }

    market = ToOne(resource_type="markets", queryset=Market.objects.all(), required=False)
    customer = ToOne(resource_type="customers", read_only=True)
    shipping_address = ToOne(
        resource_type="addresses", queryset=Address.objects.all(), required=False, allow_null=True
    )
    billing_address = ToOne(
        resource_type="addresses", queryset=Address.objects.all(), required=False, allow_null=True
    )
    payment_method = ToOne(
        resource_type="payment_methods",
        queryset=PaymentMethod.objects.all(),
        required=False,
        allow_null=True,
    )
    payment_source = PaymentSourceLinkage(
        queryset=PaymentSource.objects.all(), required=False, allow_null=True
    )
    line_items = ToMany(resource_type="line_items")
    order_copies = ToMany(resource_type="order_copies")
    order_subscriptions = ToMany(resource_type="order_subscriptions")
    order_subscription = SubscriptionOfOrder(resource_type="order_subscriptions", read_only=True)
    events = ToMany(resource_type="events")

    class Meta:
        model = Order
        resource_name = "orders"
        fields = [
            *COMMON_FIELDS,
            "number",
            "status",
            "payment_status",
            "fulfillment_status",
            "customer_email",
            "language_code",
            "currency_code",
            "country_code",
            "coupon_code",
            "gift_card_code",
            *(f"{name}_cents" for name in AMOUNTS),
            *(f"formatted_{name}" for name in AMOUNTS),
            *(f"{name}_float" for name in AMOUNTS),
            "skus_count",
            "placed_at",
            "approved_at",
            "cancelled_at",
            "archived_at",
            "market",
            "customer",
            "shipping_address",
            "billing_address",
            "payment_method",
            "payment_source",
            "line_items",
            "order_copies",
            "order_subscriptions",
            "order_subscription",
            "events",
            *TAG_FIELDS,
        ]
        read_only_fields = ["number", "status", "payment_status", "fulfillment_status"]

    trigger_table = ORDER_TRIGGERS
    triggers_noun = "orders"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "market" in attrs:
            raise serializers.ValidationError({"market": ["cannot be changed"]})
        self.triggers_sent(attrs)
        return attrs


ORDER_FIELDS: tuple[str, ...] = (
    "status",
    "payment_status",
    "fulfillment_status",
    "number",
    "customer_email",
)
ORDER_FIELDS += ("coupon_code", "currency_code", "language_code", "country_code", "skus_count")
ORDER_FIELDS += tuple(f"{name}_cents" for name in AMOUNTS)
ORDER_FIELDS += ("placed_at", "approved_at", "cancelled_at", "archived_at", "metadata")
ORDER_FIELDS += ("id", "created_at", "updated_at", "reference", "reference_origin")


class OrderViewSet(TaggableViewSet):
    serializer_class = OrderSerializer
    filter_fields = {
        **{name: name for name in ORDER_FIELDS},
        "market_code": "market__code",
        "market_id": "market__id",
        "customer_id": "customer__id",
        "customer_email_address": "customer__email",
    }
    sort_fields = {name: name for name in ORDER_FIELDS if name != "metadata"}
    select_for_includes = {
        name: [name]
        for name in (
            "market",
            "customer",
            "shipping_address",
            "billing_address",
            "payment_method",
            "payment_source",
        )
    }

    def base_queryset(self, *, mode: str) -> QuerySet[Order]:
        return selectors.order_list(mode=mode)

    @property
    def sales_channel(self) -> str | None:
        """The sales channel calling, restricted to the payment sources it created itself."""
        return self.grant.client_pk if self.grant.is_sales_channel else None

    def related_object(self, instance: Any, name: str) -> Any:
        if name == "order_subscription":
            # Through the reverse relation's model: orders does not import subscriptions.
            subscriptions = instance.order_subscriptions.model.objects
            return subscriptions.filter(order_copies__target_order=instance).first()
        return super().related_object(instance, name)

    def perform_create(self, serializer: OrderSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        market = data.pop("market", None) or self._scope_market()
        if self.grant.is_sales_channel and market.code not in self.grant.markets:
            raise serializers.ValidationError({"market": ["is not a market of your scope"]})
        order = services.order_create(
            market=market,
            customer_email=data.pop("customer_email", ""),
            language_code=data.pop("language_code", "en"),
            country_code=data.pop("country_code", ""),
            reference=data.pop("reference", ""),
            reference_origin=data.pop("reference_origin", ""),
            metadata=data.pop("metadata", None),
            actor=actor_of(self.request),
        )
        changes = {k: v for k, v in data.items() if k in services.EDITABLE_FIELDS}
        if changes:
            order = services.order_update(
                order=order,
                actor=actor_of(self.request),
                sales_channel=self.sales_channel,
                **changes,
            )
        serializer.instance = order
        tags_write(serializer, actor=actor_of(self.request))

    def _scope_market(self) -> Market:
        market = Market.objects.filter(mode=self.grant.mode, code__in=self.grant.markets).first()
        if market is None:
            raise serializers.ValidationError({"market": ["a market is required"]})
        return market

    def perform_update(self, serializer: OrderSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        order, actor = serializer.instance, actor_of(self.request)
        changes = {
            k: v
            for k, v in data.items()
            if k in services.EDITABLE_FIELDS | services.ALWAYS_EDITABLE_FIELDS
        }
        if changes:
            order = services.order_update(
                order=order, actor=actor, sales_channel=self.sales_channel, **changes
            )
        serializer.instance = triggers_run(view=self, instance=order, data=data)
        tags_write(serializer, actor=actor)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.order_delete(order=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LineItemViewSet(TaggableViewSet):
    serializer_class = LineItemSerializer
    filter_fields = {
        **{n: n for n in ("id", "item_type", "sku_code", "name", "quantity", "created_at")},
        "order_id": "order__id",
        "order_number": "order__number",
    }
    sort_fields = {n: n for n in ("created_at", "quantity", "sku_code", "total_amount_cents")}
    select_for_includes = {"order": ["order"], "sku": ["sku"]}

    def base_queryset(self, *, mode: str) -> QuerySet[LineItem]:
        return LineItem.objects.filter(mode=mode).select_related("order")

    def perform_create(self, serializer: LineItemSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        sku = data.get("sku") or self._sku_by_code(data.get("sku_code", ""))
        order = data["order"]
        if self.grant.is_sales_channel and order.market.code not in self.grant.markets:
            raise serializers.ValidationError({"order": ["the order is not in your market"]})
        serializer.instance = services.order_line_item_add(
            order=order, sku=sku, quantity=data.get("quantity", 1), actor=actor_of(self.request)
        )
        tags_write(serializer, actor=actor_of(self.request))

    def _sku_by_code(self, code: str) -> Sku:
        sku = Sku.objects.filter(mode=self.grant.mode, code=code).first() if code else None
        if sku is None:
            raise serializers.ValidationError(
                {"sku": ["a SKU (relationship or sku_code) is required"]}
            )
        return sku

    def perform_update(self, serializer: LineItemSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        fixed = sorted(set(data) - {"quantity"} - services.ALWAYS_EDITABLE_FIELDS)
        if fixed:
            raise serializers.ValidationError({name: ["cannot be changed"] for name in fixed})
        actor = actor_of(self.request)
        notes = {k: data[k] for k in services.ALWAYS_EDITABLE_FIELDS if k in data}
        if notes:
            serializer.instance = checkout.line_item_annotate(
                line_item=serializer.instance, actor=actor, **notes
            )
        if "quantity" in data:
            serializer.instance = services.order_line_item_update(
                line_item=serializer.instance, quantity=data["quantity"], actor=actor
            )
        tags_write(serializer, actor=actor_of(self.request))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.order_line_item_delete(line_item=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadOnlyResourceViewSet(ResourceViewSet):
    """A catalogue or supporting resource: read, in the caller's mode."""

    http_method_names = ["get", "head", "options"]
    model: type[Any]

    def base_queryset(self, *, mode: str) -> QuerySet[Any]:
        return self.model.objects.filter(mode=mode)  # type: ignore[no-any-return]


def read_only_viewset(
    model: type[Any],
    serializer: type[ResourceSerializer],
    *,
    fields: tuple[str, ...],
) -> type[ReadOnlyResourceViewSet]:
    names = {name: name for name in ("id", "created_at", "updated_at", "reference", *fields)}
    return type(
        f"{model.__name__}ViewSet",
        (ReadOnlyResourceViewSet,),
        {
            "model": model,
            "serializer_class": serializer,
            "filter_fields": names,
            "sort_fields": names,
        },
    )


MarketViewSet = read_only_viewset(Market, MarketSerializer, fields=("code", "name"))


class CustomerViewSet(TaggableViewSet):
    """Customers: created, their email, reference and metadata changed, deleted while they
    have no orders; their orders, wallet and subscriptions as relationships."""

    serializer_class = CustomerSerializer
    filter_fields = {n: n for n in ("id", "created_at", "updated_at", "reference", "email")}
    sort_fields = filter_fields

    def base_queryset(self, *, mode: str) -> QuerySet[Customer]:
        return Customer.objects.filter(mode=mode)

    def related_queryset(self, instance: Any, name: str) -> QuerySet[Any]:
        if name == "customer_payment_sources":
            return instance.wallet.filter(mode=self.grant.mode)  # type: ignore[no-any-return]
        return super().related_queryset(instance, name)

    def perform_create(self, serializer: CustomerSerializer) -> None:  # type: ignore[override]
        serializer.instance = customers.customer_create(
            mode=self.grant.mode, actor=actor_of(self.request), **serializer.validated_data
        )
        tags_write(serializer, actor=actor_of(self.request))

    def perform_update(self, serializer: CustomerSerializer) -> None:  # type: ignore[override]
        serializer.instance = customers.customer_update(
            customer=serializer.instance, actor=actor_of(self.request), **serializer.validated_data
        )
        tags_write(serializer, actor=actor_of(self.request))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customers.customer_delete(customer=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


SkuViewSet = read_only_viewset(Sku, SkuSerializer, fields=("code", "name", "stock_quantity"))
PaymentMethodViewSet = read_only_viewset(
    PaymentMethod,
    PaymentMethodSerializer,
    fields=("name", "payment_source_type"),
)


class PaymentSourceViewSet(ReadOnlyResourceViewSet):
    """Payment sources are read, and created (a gateway's token) to be set on an order."""

    model = PaymentSource
    serializer_class = PaymentSourceSerializer
    http_method_names = ["get", "post", "head", "options"]
    filter_fields = {n: n for n in ("id", "created_at", "reference", "payment_source_type")}
    sort_fields = filter_fields

    def perform_create(self, serializer: PaymentSourceSerializer) -> None:  # type: ignore[override]
        # Recorded so that a sales channel sets on its orders only the sources it created.
        serializer.instance = services.payment_source_create(
            mode=self.grant.mode,
            actor=actor_of(self.request),
            created_by_client=self.grant.client_pk,
            **serializer.validated_data,
        )


class CustomerPaymentSourceViewSet(ResourceViewSet):
    """Wallet entries: a customer's saved payment source, the only kind a copy reuses."""

    serializer_class = CustomerPaymentSourceSerializer
    filter_fields = {
        **{n: n for n in ("id", "created_at", "updated_at", "reference")},
        "customer_id": "customer__id",
    }
    sort_fields = {n: n for n in ("id", "created_at", "updated_at", "reference")}

    def base_queryset(self, *, mode: str) -> QuerySet[CustomerPaymentSource]:
        return CustomerPaymentSource.objects.filter(mode=mode)

    def perform_create(self, serializer: CustomerPaymentSourceSerializer) -> None:  # type: ignore[override]
        serializer.instance = customers.customer_payment_source_create(
            actor=actor_of(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: CustomerPaymentSourceSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        fixed = sorted({"customer", "payment_source"} & set(data))
        if fixed:
            raise serializers.ValidationError({name: ["cannot be changed"] for name in fixed})
        serializer.instance = customers.customer_payment_source_update(
            entry=serializer.instance, actor=actor_of(self.request), **data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customers.customer_payment_source_delete(entry=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


CouponViewSet = read_only_viewset(
    Coupon,
    CouponSerializer,
    fields=("code", "usage_count"),
)
PromotionViewSet = read_only_viewset(Promotion, PromotionSerializer, fields=("name", "kind"))


class AddressViewSet(ResourceViewSet):
    """Addresses are created to be set on an order (then copied with it), changed while no
    placed order uses them, deleted while no order does."""

    serializer_class = AddressSerializer
    filter_fields = {n: n for n in ("id", "city", "country_code", "zip_code", "created_at")}
    sort_fields = {n: n for n in ("created_at", "city")}

    def base_queryset(self, *, mode: str) -> QuerySet[Address]:
        return Address.objects.filter(mode=mode)

    def perform_create(self, serializer: AddressSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.address_create(
            mode=self.grant.mode, actor=actor_of(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: AddressSerializer) -> None:  # type: ignore[override]
        serializer.instance = customers.address_update(
            address=serializer.instance, actor=actor_of(self.request), **serializer.validated_data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        customers.address_delete(address=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StripePaymentSerializer(ResourceSerializer):
    """A card payment source as Commerce Layer's SDK creates it: for an order, which it pays."""

    order = ToOne(resource_type="orders", queryset=Order.objects.all(), write_only=True)
    stripe_id = serializers.CharField(
        source="token", write_only=True, required=False, max_length=120
    )

    class Meta:
        model = PaymentSource
        resource_name = "stripe_payments"
        fields = [*COMMON_FIELDS, "stripe_id", "details", "order"]
        read_only_fields = ["details"]


class StripePaymentViewSet(ResourceViewSet):
    serializer_class = StripePaymentSerializer
    http_method_names = ["get", "post", "head", "options"]
    filter_fields = {n: n for n in ("id", "created_at", "reference")}
    sort_fields = filter_fields

    def base_queryset(self, *, mode: str) -> QuerySet[PaymentSource]:
        return PaymentSource.objects.filter(mode=mode, payment_source_type=self.resource_name)

    def related_object(self, instance: Any, name: str) -> Any:
        if name == "order":  # the order it pays (the first, for a wallet's source)
            return Order.objects.filter(payment_source=instance).order_by("created_at").first()
        return super().related_object(instance, name)

    def perform_create(self, serializer: StripePaymentSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        order, actor = data.pop("order"), actor_of(self.request)
        client = self.grant.client_pk
        source = services.payment_source_create(
            mode=self.grant.mode,
            payment_source_type=self.resource_name,
            actor=actor,
            created_by_client=client,
            **data,
        )
        # Commerce Layer's flow: the new source pays the order it was created for.
        sales_channel = client if self.grant.is_sales_channel else None
        services.order_update(
            order=order, actor=actor, sales_channel=sales_channel, payment_source=source
        )
        serializer.instance = source
