"""The app's URLs plus /bench/bare: the same 25-copy document as the API list, built by hand."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from api.resources.ordercopies import OrderCopySerializer
from api.resources.orders import OrderSerializer
from config.urls import urlpatterns as app_urlpatterns
from ordercopies.models import OrderCopy
from orders.money import cents_as_float, format_cents


def _value(instance: Any, name: str) -> Any:
    if name.startswith("formatted_"):
        return format_cents(getattr(instance, f"{name[10:]}_cents"), instance.currency_code)
    if name.endswith("_float"):
        return cents_as_float(getattr(instance, f"{name[:-6]}_cents"))
    value = getattr(instance, name)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _resource(instance: Any, serializer: Any, base: str) -> dict[str, Any]:
    resource_type = serializer.resource_type()
    url = f"{base}/{resource_type}/{instance.pk}"
    rels = serializer.relationships()
    names = {rel.name for rel in rels}
    fields = [
        f for f in serializer.Meta.fields if f != "id" and f not in names and not f.startswith("_")
    ]
    relationships = {}
    for rel in rels:
        entry: dict[str, Any] = {
            "links": {"self": f"{url}/relationships/{rel.name}", "related": f"{url}/{rel.name}"}
        }
        if not rel.many and hasattr(instance, f"{rel.name}_id"):
            pk = getattr(instance, f"{rel.name}_id")
            entry["data"] = None if pk is None else {"type": rel.resource_type, "id": str(pk)}
        relationships[rel.name] = entry
    return {
        "id": str(instance.pk),
        "type": resource_type,
        "links": {"self": url},
        "attributes": {name: _value(instance, name) for name in fields},
        "relationships": relationships,
        "meta": {"mode": instance.mode},
    }


def bare(request: HttpRequest) -> HttpResponse:
    base = request.build_absolute_uri("/api").rstrip("/")
    copies = list(
        OrderCopy.objects.filter(mode="test")
        .select_related("source_order", "target_order")
        .order_by("-created_at")[:25]
    )
    included: dict[tuple[str, str], Any] = {}
    for copy in copies:
        for order in (copy.source_order, copy.target_order):
            if order is not None:
                included.setdefault(("orders", order.pk), _resource(order, OrderSerializer, base))
    document = {
        "data": [_resource(copy, OrderCopySerializer, base) for copy in copies],
        "included": list(included.values()),
        "meta": {"record_count": OrderCopy.objects.filter(mode="test").count(), "page_count": 1},
    }
    return HttpResponse(json.dumps(document), content_type="application/vnd.api+json")


urlpatterns = [path("bench/bare", bare), *app_urlpatterns]
