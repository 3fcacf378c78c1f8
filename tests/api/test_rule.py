"""The rule of every write: what the API would not carry out is refused, naming it (issue 12).

Unknown and read-only members are a 400 INVALID_RESOURCE, triggers the API does not carry out
a 400 TRIGGER_NOT_SUPPORTED, client-generated ids a 403, paths and methods the API does not
have a JSON:API 404 / 405 (never an HTML page, a CSRF page included)."""

import json

import pytest
from django.test import Client

from api import triggers
from api.urls import RESOURCES
from ordercopies.models import OrderCopy
from orders.models import Address, Order
from tests.api.conftest import MEDIA, assert_error, copy_document, linkage, patch_document

CREATABLE = sorted(
    name for name, viewset in RESOURCES.items() if "post" in viewset.http_method_names
)


def _create_document(resource_type, *, order, sku=None, **attributes):
    """A document the resource would accept, plus `attributes`."""
    documents = {
        "orders": {"attributes": {"customer_email": "new@example.com"}},
        "line_items": {
            "attributes": {"quantity": 1},
            "relationships": {
                "order": linkage("orders", order.pk),
                "sku": linkage("skus", sku.pk if sku else None),
            },
        },
        "addresses": {"attributes": {"line_1": "Via Roma 1", "city": "Rome", "country_code": "IT"}},
        "payment_sources": {"attributes": {"payment_source_type": "stripe_payments"}},
        "stripe_payments": {"relationships": {"order": linkage("orders", order.pk)}},
        "customers": {"attributes": {"email": "someone-new@example.com"}},
        "customer_payment_sources": {
            "relationships": {
                "customer": linkage("customers", order.customer_id),
                "payment_source": linkage("payment_sources", order.payment_source_id),
            }
        },
        "order_copies": copy_document(order.pk)["data"],
        "order_subscriptions": {
            "attributes": {"frequency": "monthly"},
            "relationships": {"source_order": linkage("orders", order.pk)},
        },
        "tags": {"attributes": {"name": "rule"}},
        "webhooks": {
            "attributes": {
                "topic": "orders.place",
                "callback_url": "https://hooks.example.invalid/rule",
            }
        },
    }
    data = {"type": resource_type, **documents[resource_type]}
    data["attributes"] = {**data.get("attributes", {}), **attributes}
    return {"data": data}


@pytest.mark.parametrize("resource_type", CREATABLE)
def test_an_unknown_attribute_on_create_is_400_naming_it(api, make_order, make_sku, resource_type):
    order = make_order()
    document = _create_document(resource_type, order=order, sku=make_sku(), no_such_thing=1)
    response = api.post(f"/api/{resource_type}", document)
    error = assert_error(
        response, 400, "INVALID_RESOURCE", pointer="/data/attributes/no_such_thing"
    )
    assert "no_such_thing is not a member" in error["detail"]


@pytest.mark.parametrize("resource_type", CREATABLE)
def test_a_client_generated_id_is_403(api, make_order, make_sku, resource_type):
    order = make_order()
    document = _create_document(resource_type, order=order, sku=make_sku())
    document["data"]["id"] = "ClientId01"
    response = api.post(f"/api/{resource_type}", document)
    assert_error(response, 403, "CLIENT_ID_NOT_SUPPORTED", pointer="/data/id")


@pytest.mark.parametrize("name", ["guest", "cart_url", "return_url", "affiliate_code"])
def test_commerce_layer_order_attributes_we_do_not_keep_are_refused(api, name):
    orders = Order.objects.count()
    document = {"data": {"type": "orders", "attributes": {name: "x"}}}
    assert_error(
        api.post("/api/orders", document),
        400,
        "INVALID_RESOURCE",
        pointer=f"/data/attributes/{name}",
    )
    assert Order.objects.count() == orders


@pytest.mark.parametrize("name", ["business", "notes", "lat", "lng", "billing_info"])
def test_address_attributes_we_do_not_keep_are_refused(api, make_order, name):
    document = _create_document("addresses", order=make_order(), **{name: "x"})
    assert_error(
        api.post("/api/addresses", document),
        400,
        "INVALID_RESOURCE",
        pointer=f"/data/attributes/{name}",
    )
    assert not Address.objects.filter(line_1="Via Roma 1").exists()


def test_an_unknown_attribute_on_update_changes_nothing(api, make_order):
    order = make_order()
    document = patch_document("orders", order.pk, reference="kept out", no_such_thing=True)
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 400, "INVALID_RESOURCE", pointer="/data/attributes/no_such_thing")
    assert Order.objects.get(pk=order.pk).reference == ""


@pytest.mark.parametrize(
    ("resource_type", "name"),
    sorted((rt, name) for rt, names in triggers.REFUSED.items() for name in names),
)
def test_every_refused_trigger_is_400_naming_it_and_why(
    api, make_order, make_copy, resource_type, name
):
    order = make_order()
    targets = {
        "orders": lambda: order.pk,
        "line_items": lambda: order.line_items.first().pk,
        "customers": lambda: order.customer_id,
        "order_copies": lambda: make_copy(order).pk,
        "order_subscriptions": lambda: api.post(
            "/api/order_subscriptions", _create_document("order_subscriptions", order=order)
        ).json()["data"]["id"],
    }
    pk = targets[resource_type]()
    response = api.patch(
        f"/api/{resource_type}/{pk}", patch_document(resource_type, pk, **{name: True})
    )
    error = assert_error(response, 400, "TRIGGER_NOT_SUPPORTED", pointer=f"/data/attributes/{name}")
    assert name in error["detail"]
    assert triggers.REFUSED[resource_type][name] in error["detail"]


def test_a_trigger_nobody_heard_of_is_refused_too(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    response = api.patch(
        f"/api/order_copies/{order_copy.pk}",
        patch_document("order_copies", order_copy.pk, _frobnicate=True),
    )
    error = assert_error(response, 400, "TRIGGER_NOT_SUPPORTED")
    assert "_frobnicate" in error["detail"]
    assert OrderCopy.objects.get(pk=order_copy.pk).status == "pending"


# Paths and methods ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "patch", "put", "delete"])
@pytest.mark.parametrize("path", ["/api/wallets", "/api/wallets/abc", "/api/orders/x/y/z/w"])
def test_a_path_that_is_no_resource_is_a_json_404_for_every_method(api, method, path):
    # Django's CSRF check would answer a POST to a plain view with an HTML 403 page.
    client = Client(enforce_csrf_checks=True)
    response = client.generic(
        method.upper(),
        path,
        json.dumps({"data": {"type": "wallets"}}),
        content_type=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert_error(response, 404, "RECORD_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/markets"),
        ("patch", "/api/skus/{sku}"),
        ("delete", "/api/events/{sku}"),
        ("put", "/api/orders/{order}"),
        ("post", "/api/orders/{order}"),
        ("post", "/api/orders/{order}/line_items"),
    ],
)
def test_a_method_a_route_does_not_take_is_a_json_405(api, make_order, make_sku, method, path):
    order, sku = make_order(), make_sku()
    client = Client(enforce_csrf_checks=True)
    response = client.generic(
        method.upper(),
        path.format(order=order.pk, sku=sku.pk),
        "{}",
        content_type=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
