from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.relations import ToMany, ToOne
from api.resources.tags import TAG_FIELDS, TaggableSerializer, TaggableViewSet, tags_write
from api.serializers import COMMON_FIELDS
from api.triggers import Trigger, triggers_run
from api.views import actor_of
from orders.models import CustomerPaymentSource, Market, Order
from subscriptions import selectors, services
from subscriptions.models import OrderSubscription
from subscriptions.services.lifecycle import ALWAYS_UPDATABLE, UPDATABLE


def subscription_action(service: Any) -> Trigger:
    """A trigger that runs `service(subscription=..., actor=...)`."""
    return Trigger(
        lambda view, subscription, value: service(
            subscription=subscription, actor=actor_of(view.request)
        )
    )


def _run(view: Any, subscription: OrderSubscription, value: Any) -> OrderSubscription:
    services.order_subscription_run(subscription=subscription, actor=actor_of(view.request))
    return view.base_queryset(mode=view.grant.mode).get(pk=subscription.pk)


TRIGGERS = {
    "_activate": subscription_action(services.order_subscription_activate),
    "_deactivate": subscription_action(services.order_subscription_deactivate),
    "_cancel": subscription_action(services.order_subscription_cancel),
    "_run": Trigger(_run),
}
ATTRIBUTES = [
    "number",
    "status",
    "frequency",
    "activate_by_source_order",
    "place_target_order",
    "renewal_alert_period",
    "starts_at",
    "expires_at",
    "last_run_at",
    "next_run_at",
    "occurrencies",
    "errors_count",
    "succeeded_on_last_run",
    "customer_email",
]
READ_ONLY = [
    "number",
    "status",
    "last_run_at",
    "occurrencies",
    "errors_count",
    "succeeded_on_last_run",
    "customer_email",
]


class OrderSubscriptionSerializer(TaggableSerializer):
    included_serializers = {
        "market": "api.resources.orders.MarketSerializer",
        "source_order": "api.resources.orders.OrderSerializer",
        "customer": "api.resources.orders.CustomerSerializer",
        "customer_payment_source": "api.resources.orders.CustomerPaymentSourceSerializer",
        "order_copies": "api.resources.ordercopies.OrderCopySerializer",
    }
    related_serializers = {
        # Commerce Layer's SDK 7 asks for the copies as `order_factories`, typed so.
        "order_factories": "api.resources.ordercopies.OrderFactorySerializer",
        "orders": "api.resources.orders.OrderSerializer",
        "events": "api.resources.events.EventSerializer",
    }

    market = ToOne(resource_type="markets", queryset=Market.objects.all(), required=False)
    source_order = ToOne(resource_type="orders", queryset=Order.objects.all())
    customer = ToOne(resource_type="customers", read_only=True)
    customer_payment_source = ToOne(
        resource_type="customer_payment_sources",
        queryset=CustomerPaymentSource.objects.all(),
        required=False,
        allow_null=True,
    )
    order_copies = ToMany(resource_type="order_copies")
    order_factories = ToMany(resource_type="order_factories")
    orders = ToMany(resource_type="orders")
    events = ToMany(resource_type="events")

    class Meta:
        model = OrderSubscription
        resource_name = "order_subscriptions"
        fields = [
            *COMMON_FIELDS,
            *ATTRIBUTES,
            "market",
            "source_order",
            "customer",
            "customer_payment_source",
            "order_copies",
            "order_factories",
            "orders",
            "events",
            *TAG_FIELDS,
        ]
        read_only_fields = READ_ONLY
        extra_kwargs = {"frequency": {"required": True}}

    trigger_table = TRIGGERS
    triggers_noun = "subscriptions"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.triggers_sent(attrs)
        if self.instance is None:
            market, source = attrs.get("market"), attrs["source_order"]
            if market is not None and market.pk != source.market_id:
                raise serializers.ValidationError({"market": ["must be the source order's"]})
        elif {"source_order", "market"} & set(attrs):
            raise serializers.ValidationError(
                {name: ["cannot be changed"] for name in {"source_order", "market"} & set(attrs)}
            )
        return attrs


class OrderSubscriptionViewSet(TaggableViewSet):
    serializer_class = OrderSubscriptionSerializer
    filter_fields = {
        **{name: name for name in (*ATTRIBUTES, "id", "created_at", "updated_at", "metadata")},
        **{name: name for name in ("reference", "reference_origin")},
        "market_code": "market__code",
        "source_order_id": "source_order__id",
        "source_order_number": "source_order__number",
        "customer_id": "customer__id",
    }
    sort_fields = {
        name: name
        for name in (*ATTRIBUTES, "id", "created_at", "updated_at", "reference")
        if name != "customer_email"
    }
    select_for_includes = {
        name: [name] for name in ("market", "source_order", "customer", "customer_payment_source")
    }

    def base_queryset(self, *, mode: str) -> QuerySet[OrderSubscription]:
        return selectors.order_subscription_list(mode=mode)

    def related_queryset(self, instance: Model, name: str) -> QuerySet[Any]:
        assert isinstance(instance, OrderSubscription)  # noqa: S101
        if name in ("order_copies", "order_factories"):
            return selectors.order_subscription_order_copies(subscription=instance)
        if name == "orders":
            return selectors.order_subscription_orders(subscription=instance)
        return super().related_queryset(instance, name)

    def perform_create(self, serializer: OrderSubscriptionSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        data.pop("market", None)
        serializer.instance = services.order_subscription_create(
            mode=self.grant.mode, actor=actor_of(self.request), **data
        )
        tags_write(serializer, actor=actor_of(self.request))

    def perform_update(self, serializer: OrderSubscriptionSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        subscription, actor = serializer.instance, actor_of(self.request)
        allowed = UPDATABLE | ALWAYS_UPDATABLE
        changes = {k: v for k, v in data.items() if k in allowed}
        if changes:
            subscription = services.order_subscription_update(
                subscription=subscription, actor=actor, **changes
            )
        serializer.instance = triggers_run(view=self, instance=subscription, data=data)
        tags_write(serializer, actor=actor)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.order_subscription_delete(subscription=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
