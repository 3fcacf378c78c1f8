from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.relations import ToMany, ToOne
from api.resources.tags import TAG_FIELDS, TaggableSerializer, TaggableViewSet, tags_write
from api.serializers import COMMON_FIELDS, ResourceSerializer
from api.triggers import Trigger, triggers_run
from api.views import ResourceViewSet, actor_of
from ordercopies import selectors, services
from ordercopies.models import OrderCopy
from ordercopies.options import CopyOptions
from orders.models import Order


def copy_action(service: Any) -> Trigger:
    """A trigger that runs `service(order_copy=..., actor=...)`."""
    return Trigger(
        lambda view, order_copy, value: service(order_copy=order_copy, actor=actor_of(view.request))
    )


TRIGGERS = {
    "_retry": copy_action(services.order_copy_retry),
    "_abort": copy_action(services.order_copy_abort),
}


# What a copy's run sets: shown by order_copies and order_factories, written by neither.
COPY_STATE = ["status", "started_at", "completed_at", "failed_at", "errors_log", "errors_count"]


class OrderCopySerializer(TaggableSerializer):
    included_serializers = {
        "source_order": "api.resources.orders.OrderSerializer",
        "target_order": "api.resources.orders.OrderSerializer",
        "order_subscription": "api.resources.subscriptions.OrderSubscriptionSerializer",
    }
    related_serializers = {"events": "api.resources.events.EventSerializer"}

    source_order = ToOne(resource_type="orders", queryset=Order.objects.all())
    target_order = ToOne(resource_type="orders", read_only=True)
    order_subscription = ToOne(resource_type="order_subscriptions", read_only=True)
    events = ToMany(resource_type="events")
    # On create: answer the copy's plan (what it would do now) and create nothing.
    _plan = serializers.BooleanField(write_only=True, required=False)

    class Meta:
        model = OrderCopy
        resource_name = "order_copies"
        fields = [
            *COMMON_FIELDS,
            *COPY_STATE,
            "attempts",
            *OrderCopy.OPTIONS,
            "source_order",
            "target_order",
            "order_subscription",
            "events",
            *TAG_FIELDS,
            "_plan",
        ]
        read_only_fields = [*COPY_STATE, "attempts"]

    trigger_table = TRIGGERS
    triggers_noun = "copies"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted({"source_order", *OrderCopy.OPTIONS} & set(attrs))
        if self.instance is not None and fixed:
            raise serializers.ValidationError(
                {name: ["cannot be changed once the copy exists"] for name in fixed}
            )
        self.triggers_sent(attrs)
        return attrs


class OrderCopyViewSet(TaggableViewSet):
    serializer_class = OrderCopySerializer
    filter_fields = {
        **{name: name for name in ("id", "status", "errors_count", "attempts", "metadata")},
        **{name: name for name in ("started_at", "completed_at", "failed_at")},
        **{name: name for name in ("created_at", "updated_at", "reference", "reference_origin")},
        **{name: name for name in OrderCopy.OPTIONS},
        "source_order_id": "source_order__id",
        "source_order_number": "source_order__number",
        "target_order_id": "target_order__id",
        "target_order_number": "target_order__number",
        "order_subscription_id": "order_subscription__id",
    }
    sort_fields = {
        name: name
        for name in (
            "id",
            "status",
            "started_at",
            "completed_at",
            "failed_at",
            "errors_count",
            "attempts",
            "created_at",
            "updated_at",
            "reference",
            "reference_origin",
        )
    }
    select_for_includes = {
        "source_order": ["source_order"],
        "target_order": ["target_order"],
        "order_subscription": ["order_subscription"],
    }

    def base_queryset(self, *, mode: str) -> QuerySet[OrderCopy]:
        return selectors.order_copy_list(mode=mode)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """With `_plan: true`, the copy's plan in `meta.plan` (200) and nothing written."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not data.get("_plan"):
            return super().create(request, *args, **kwargs)
        plan = services.order_copy_plan(
            source_order=data["source_order"],
            mode=self.grant.mode,
            options=CopyOptions(**{name: data[name] for name in OrderCopy.OPTIONS if name in data}),
        )
        return Response({"data": None, "meta": {"plan": plan}}, status=status.HTTP_200_OK)

    def perform_create(self, serializer: OrderCopySerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = services.order_copy_create(
            source_order=data["source_order"],
            mode=self.grant.mode,
            actor=actor_of(self.request),
            reference=data.get("reference", ""),
            reference_origin=data.get("reference_origin", ""),
            metadata=data.get("metadata"),
            **{name: data[name] for name in OrderCopy.OPTIONS if name in data},
        )
        tags_write(serializer, actor=actor_of(self.request))

    def perform_update(self, serializer: OrderCopySerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        order_copy = serializer.instance
        actor = actor_of(self.request)
        changes = {k: data[k] for k in ("reference", "reference_origin", "metadata") if k in data}
        if changes:
            order_copy = services.order_copy_update(order_copy=order_copy, actor=actor, **changes)
        serializer.instance = triggers_run(view=self, instance=order_copy, data=data)
        tags_write(serializer, actor=actor)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.order_copy_delete(order_copy=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderFactorySerializer(ResourceSerializer):
    """Commerce Layer's `order_factories`: the read-only view of the copies that make orders
    (here only order copies), as the SDK reads a subscription's `order_factories`."""

    included_serializers = {
        "source_order": "api.resources.orders.OrderSerializer",
        "target_order": "api.resources.orders.OrderSerializer",
    }
    related_serializers = {"events": "api.resources.events.EventSerializer"}

    source_order = ToOne(resource_type="orders", read_only=True)
    target_order = ToOne(resource_type="orders", read_only=True)
    events = ToMany(resource_type="events")

    class Meta:
        model = OrderCopy
        resource_name = "order_factories"
        fields = [
            *COMMON_FIELDS,
            *COPY_STATE,
            "place_target_order",
            "reuse_wallet",
            "source_order",
            "target_order",
            "events",
        ]
        read_only_fields = fields


class OrderFactoryViewSet(ResourceViewSet):
    serializer_class = OrderFactorySerializer
    http_method_names = ["get", "head", "options"]
    filter_fields = {n: n for n in ("id", "status", "created_at", "updated_at", "reference")}
    sort_fields = filter_fields
    select_for_includes = OrderCopyViewSet.select_for_includes

    def base_queryset(self, *, mode: str) -> QuerySet[OrderCopy]:
        return selectors.order_copy_list(mode=mode)
