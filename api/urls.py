"""Routes of every resource: /api/<type>, /api/<type>/<id>, /api/<type>/<id>/<relationship>
and /api/<type>/<id>/relationships/<relationship>, without trailing slashes (as the SDK asks)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from api.docs import ReferenceView, SchemaView, TryView
from api.exceptions import error_object
from api.resources import orders as orders_api
from api.resources.events import EventViewSet
from api.resources.ordercopies import OrderCopyViewSet, OrderFactoryViewSet
from api.resources.singletons import ApplicationView, OrganizationView
from api.resources.subscriptions import OrderSubscriptionViewSet
from api.resources.tags import TagViewSet
from api.resources.webhooks import EventCallbackViewSet, WebhookViewSet
from api.views import ResourceViewSet

RESOURCES: dict[str, type[ResourceViewSet]] = {
    "order_copies": OrderCopyViewSet,
    "order_factories": OrderFactoryViewSet,
    "orders": orders_api.OrderViewSet,
    "line_items": orders_api.LineItemViewSet,
    "markets": orders_api.MarketViewSet,
    "customers": orders_api.CustomerViewSet,
    "skus": orders_api.SkuViewSet,
    "addresses": orders_api.AddressViewSet,
    "payment_methods": orders_api.PaymentMethodViewSet,
    "payment_sources": orders_api.PaymentSourceViewSet,
    "stripe_payments": orders_api.StripePaymentViewSet,
    "customer_payment_sources": orders_api.CustomerPaymentSourceViewSet,
    "coupons": orders_api.CouponViewSet,
    "promotions": orders_api.PromotionViewSet,
    "order_subscriptions": OrderSubscriptionViewSet,
    "events": EventViewSet,
    "tags": TagViewSet,
    "webhooks": WebhookViewSet,
    "event_callbacks": EventCallbackViewSet,
}

router = SimpleRouter(trailing_slash=False)
related_routes = []
for prefix, viewset in RESOURCES.items():
    router.register(prefix, viewset, basename=prefix)
    related_routes += [
        path(
            f"{prefix}/<str:pk>/relationships/<str:related_field>",
            viewset.as_view({"get": "relationship"}),
            name=f"{prefix}-relationship",
        ),
        path(
            f"{prefix}/<str:pk>/<str:related_field>",
            viewset.as_view({"get": "related"}),
            name=f"{prefix}-related",
        ),
    ]


@csrf_exempt  # a write to a path that is no resource is a 404, not a CSRF page
def not_found(request: HttpRequest, path: str) -> JsonResponse:
    error = error_object(
        title="Record not found",
        detail=f"/api/{path} is not a resource of this API",
        code="RECORD_NOT_FOUND",
        status_code=404,
    )
    return JsonResponse({"errors": [error]}, status=404, content_type="application/vnd.api+json")


urlpatterns = [
    path("openapi.json", SchemaView.as_view(), name="openapi"),
    path("docs/", ReferenceView.as_view(), name="api-docs"),
    path("docs/try/", TryView.as_view(), name="api-docs-try"),
    path("organization", OrganizationView.as_view(), name="organization"),
    path("application", ApplicationView.as_view(), name="application"),
    *router.urls,
    *related_routes,
    re_path(r"^(?P<path>.*)$", not_found),
]
