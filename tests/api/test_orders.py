"""The orders resource and building an order through the API (SPEC.md §2): create with market,
customer email, addresses and payment; line items; triggers; delete."""

import pytest

from events.models import Event
from ordercopies.models import OrderCopy
from orders.models import Address, LineItem, Order, Sku
from orders.services import order_create, order_update
from tests import factories
from tests.api.conftest import assert_error, linkage, patch_document


def url(order) -> str:
    return f"/api/orders/{order.pk if hasattr(order, 'pk') else order}"


def fresh(order) -> Order:
    return Order.objects.get(pk=order.pk if hasattr(order, "pk") else order)


@pytest.fixture
def payment(market):
    method = factories.PaymentMethodFactory(market=market, mode="test")
    source = factories.PaymentSourceFactory(mode="test")
    return method, source


def address_document(**changes):
    attributes = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "line_1": "1 Main Street",
        "city": "Milan",
        "zip_code": "20100",
        "country_code": "IT",
        **changes,
    }
    return {"data": {"type": "addresses", "attributes": attributes}}


def order_document(market, *, attributes=None, **relationships):
    rels = {"market": linkage("markets", market.pk)} if market is not None else {}
    types = {
        "shipping_address": "addresses",
        "billing_address": "addresses",
        "payment_method": "payment_methods",
        "payment_source": "payment_sources",
        "market": "markets",
    }
    for name, pk in relationships.items():
        rels[name] = linkage(types[name], pk)
    return {"data": {"type": "orders", "attributes": attributes or {}, "relationships": rels}}


def line_document(order_id, *, sku_id=None, **attributes):
    relationships = {"order": linkage("orders", order_id)}
    if sku_id is not None:
        relationships["sku"] = linkage("skus", sku_id)
    return {
        "data": {"type": "line_items", "attributes": attributes, "relationships": relationships}
    }


def trigger(api, order, name):
    return api.patch(url(order), patch_document("orders", order.pk, **{name: True}))


# Create -------------------------------------------------------------------------------------------


def test_an_address_is_created_in_the_caller_s_mode(api):
    response = api.post("/api/addresses", address_document(company="ACME"))
    assert response.status_code == 201, response.content
    resource = response.json()["data"]
    assert resource["type"] == "addresses"
    assert resource["attributes"]["company"] == "ACME"
    assert resource["meta"]["mode"] == "test"
    assert Address.objects.get(pk=resource["id"]).mode == "test"


def test_an_address_without_its_required_fields_is_422(api):
    document = {"data": {"type": "addresses", "attributes": {"city": "Milan"}}}
    response = api.post("/api/addresses", document)
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert response.status_code == 422
    assert pointers == {"/data/attributes/line_1", "/data/attributes/country_code"}


def test_create_an_order_with_market_customer_addresses_and_payment(api, market, payment):
    method, source = payment
    shipping = api.post("/api/addresses", address_document()).json()["data"]["id"]
    billing = api.post("/api/addresses", address_document(line_1="2 Side St")).json()["data"]["id"]
    document = order_document(
        market,
        attributes={
            "customer_email": "Buyer@Example.com",
            "language_code": "it",
            "country_code": "IT",
            "reference": "web-1",
            "metadata": {"cart": 9},
        },
        shipping_address=shipping,
        billing_address=billing,
        payment_method=method.pk,
        payment_source=source.pk,
    )
    response = api.post("/api/orders", document)
    assert response.status_code == 201, response.content
    resource = response.json()["data"]
    attributes = resource["attributes"]
    assert attributes["status"] == "draft"
    assert attributes["customer_email"] == "buyer@example.com"
    assert (attributes["language_code"], attributes["country_code"]) == ("it", "IT")
    assert attributes["currency_code"] == "EUR"
    assert (attributes["reference"], attributes["metadata"]) == ("web-1", {"cart": 9})
    assert attributes["number"]
    relationships = resource["relationships"]
    assert relationships["market"]["data"] == {"type": "markets", "id": market.pk}
    assert relationships["shipping_address"]["data"] == {"type": "addresses", "id": shipping}
    assert relationships["billing_address"]["data"] == {"type": "addresses", "id": billing}
    assert relationships["payment_method"]["data"]["id"] == method.pk
    assert relationships["payment_source"]["data"]["id"] == source.pk
    order = fresh(resource["id"])
    assert order.customer.email == "buyer@example.com"
    assert relationships["customer"]["data"] == {"type": "customers", "id": order.customer_id}
    assert order.mode == "test"
    create = Event.objects.get(resource_id=order.pk, name="orders.create")
    assert (create.actor_kind, create.actor_id) == ("api_client", api.api_client.pk)


def test_an_order_without_a_market_is_422(api):
    response = api.post(
        "/api/orders", order_document(None, attributes={"customer_email": "buyer@example.com"})
    )
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/market")
    assert not Order.objects.exists()


def test_an_order_with_an_unknown_address_is_422(api, market):
    response = api.post("/api/orders", order_document(market, billing_address="NoSuchId00"))
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/billing_address")
    assert not Order.objects.exists()


def test_a_refused_create_leaves_no_order_behind(api, market, other_market):
    method = factories.PaymentMethodFactory(market=other_market, mode="test")
    response = api.post("/api/orders", order_document(market, payment_method=method.pk))
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_method")
    assert not Order.objects.exists()


def test_an_invalid_coupon_on_create_is_422(api, market):
    response = api.post("/api/orders", order_document(market, attributes={"coupon_code": "NOPE"}))
    error = assert_error(response, 422, "COUPON_INVALID", pointer="/data/attributes/coupon_code")
    assert "NOPE" in error["detail"]


# Line items ---------------------------------------------------------------------------------------


@pytest.fixture
def draft(market, payment):
    method, source = payment
    order = order_create(market=market, customer_email="buyer@example.com")
    return order_update(
        order=order,
        shipping_address=factories.AddressFactory(mode="test"),
        billing_address=factories.AddressFactory(mode="test"),
        payment_method=method,
        payment_source=source,
    )


def test_a_line_item_by_sku_relationship(api, draft, make_sku):
    sku = make_sku(price_cents=1250)
    response = api.post("/api/line_items", line_document(draft.pk, sku_id=sku.pk, quantity=2))
    assert response.status_code == 201, response.content
    resource = response.json()["data"]
    attributes = resource["attributes"]
    assert (attributes["sku_code"], attributes["quantity"]) == (sku.code, 2)
    assert (attributes["unit_amount_cents"], attributes["total_amount_cents"]) == (1250, 2500)
    assert attributes["formatted_total_amount"] == "€25.00"
    assert attributes["item_type"] == "skus"
    assert resource["relationships"]["order"]["data"] == {"type": "orders", "id": draft.pk}
    assert resource["relationships"]["sku"]["data"] == {"type": "skus", "id": sku.pk}
    order = fresh(draft)
    assert order.status == "pending"
    assert (order.subtotal_amount_cents, order.skus_count) == (2500, 2)


def test_a_line_item_by_sku_code_and_again_merges(api, draft, make_sku):
    sku = make_sku()
    first = api.post("/api/line_items", line_document(draft.pk, sku_code=sku.code, quantity=1))
    second = api.post("/api/line_items", line_document(draft.pk, sku_code=sku.code, quantity=2))
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    assert second.json()["data"]["attributes"]["quantity"] == 3
    assert LineItem.objects.filter(order=draft).count() == 1


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"sku_code": "NOPE"}, "/data/relationships/sku"),
        ({}, "/data/relationships/sku"),
        ({"sku_code": "{sku}", "quantity": 0}, "/data/attributes/quantity"),
        ({"sku_code": "{sku}", "quantity": "many"}, "/data/attributes/quantity"),
    ],
)
def test_a_line_item_that_cannot_be_added_is_422(api, draft, make_sku, attributes, pointer):
    sku = make_sku()
    attributes = {
        k: v.format(sku=sku.code) if isinstance(v, str) else v for k, v in attributes.items()
    }
    response = api.post("/api/line_items", line_document(draft.pk, **attributes))
    assert_error(response, 422, "VALIDATION_ERROR", pointer=pointer)
    assert not LineItem.objects.filter(order=draft).exists()


def test_a_sku_without_a_price_in_the_market_is_422(api, draft):
    sku = factories.SkuFactory(mode="test")
    response = api.post("/api/line_items", line_document(draft.pk, sku_id=sku.pk))
    error = assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/sku")
    assert "has no price in market eu" in error["detail"]


def test_update_a_line_item_s_quantity(api, draft, make_sku):
    sku = make_sku(price_cents=1000)
    line_id = api.post("/api/line_items", line_document(draft.pk, sku_id=sku.pk)).json()["data"][
        "id"
    ]
    document = patch_document("line_items", line_id, quantity=4)
    response = api.patch(f"/api/line_items/{line_id}", document)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["attributes"]["quantity"] == 4
    assert response.json()["data"]["attributes"]["total_amount_cents"] == 4000
    assert fresh(draft).subtotal_amount_cents == 4000


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"quantity": 0}, "/data/attributes/quantity"),
        ({"sku_code": "OTHER"}, "/data/attributes/sku_code"),
    ],
)
def test_a_line_item_update_other_than_a_positive_quantity_is_422(
    api, draft, make_sku, attributes, pointer
):
    sku = make_sku()
    line = api.post("/api/line_items", line_document(draft.pk, sku_id=sku.pk)).json()["data"]
    response = api.patch(
        f"/api/line_items/{line['id']}", patch_document("line_items", line["id"], **attributes)
    )
    assert_error(response, 422, "VALIDATION_ERROR", pointer=pointer)
    assert LineItem.objects.get(pk=line["id"]).quantity == 1


def test_delete_a_line_item(api, draft, make_sku):
    sku = make_sku()
    line_id = api.post("/api/line_items", line_document(draft.pk, sku_id=sku.pk)).json()["data"][
        "id"
    ]
    response = api.delete(f"/api/line_items/{line_id}")
    assert response.status_code == 204
    assert not LineItem.objects.filter(pk=line_id).exists()
    assert fresh(draft).subtotal_amount_cents == 0


def test_line_items_of_a_placed_order_cannot_change(api, make_order):
    order = make_order(place=True)
    line = order.line_items.first()
    sku = Sku.objects.filter(mode="test").exclude(pk=line.sku_id).first()
    add = api.post("/api/line_items", line_document(order.pk, sku_id=sku.pk))
    assert_error(add, 422, "ORDER_NOT_EDITABLE", pointer="/data/attributes/status")
    change = api.patch(
        f"/api/line_items/{line.pk}", patch_document("line_items", line.pk, quantity=5)
    )
    assert_error(change, 422, "ORDER_NOT_EDITABLE", pointer="/data/attributes/status")
    assert_error(api.delete(f"/api/line_items/{line.pk}"), 422, "ORDER_NOT_EDITABLE")
    assert LineItem.objects.get(pk=line.pk).quantity == 1


# Triggers -----------------------------------------------------------------------------------------


def test_build_and_place_an_order_entirely_through_the_api(api, market, payment, make_sku):
    method, source = payment
    sku = make_sku(price_cents=2000)
    stock = sku.stock_quantity
    address = api.post("/api/addresses", address_document()).json()["data"]["id"]
    document = order_document(
        market,
        attributes={"customer_email": "buyer@example.com"},
        shipping_address=address,
        billing_address=address,
        payment_method=method.pk,
        payment_source=source.pk,
    )
    order_id = api.post("/api/orders", document).json()["data"]["id"]
    api.post("/api/line_items", line_document(order_id, sku_id=sku.pk, quantity=3))
    response = trigger(api, fresh(order_id), "_place")
    assert response.status_code == 200, response.content
    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "placed"
    assert attributes["placed_at"].endswith("Z")
    assert attributes["payment_status"] == "authorized"
    assert attributes["subtotal_amount_cents"] == 6000
    assert "_place" not in attributes
    assert Sku.objects.get(pk=sku.pk).stock_quantity == stock - 3
    place = Event.objects.get(resource_id=order_id, name="orders.place")
    assert (place.actor_kind, place.actor_id) == ("api_client", api.api_client.pk)


def test_a_refused_placement_is_422_naming_each_rule(api, market, make_sku):
    order = order_create(market=market, customer_email="buyer@example.com")
    api.post("/api/line_items", line_document(order.pk, sku_id=make_sku().pk))
    response = trigger(api, order, "_place")
    assert response.status_code == 422
    errors = {e["source"]["pointer"]: e["detail"] for e in response.json()["errors"]}
    assert errors == {
        "/data/relationships/billing_address": "billing_address - a billing address is required",
        "/data/relationships/shipping_address": (
            "shipping_address - a shipping address is required to ship the order"
        ),
        "/data/relationships/payment_method": "payment_method - a payment method is required",
        "/data/relationships/payment_source": "payment_source - a payment source is required",
    }
    assert all(e["code"] == "ORDER_NOT_PLACEABLE" for e in response.json()["errors"])
    order = fresh(order)
    assert (order.status, order.placed_at) == ("pending", None)


def test_placing_an_out_of_stock_order_is_422(api, make_order):
    order = make_order(lines=1)
    Sku.objects.filter(line_items__order=order).update(stock_quantity=0)
    response = trigger(api, order, "_place")
    error = assert_error(
        response, 422, "ORDER_NOT_PLACEABLE", pointer="/data/relationships/line_items"
    )
    assert "out of stock (0 available, 1 wanted)" in error["detail"]
    assert fresh(order).status == "pending"


def test_placing_a_draft_is_422_on_the_status(api, market):
    order = order_create(market=market)
    response = trigger(api, order, "_place")
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert response.status_code == 422
    assert "/data/attributes/status" in pointers
    assert "/data/relationships/line_items" in pointers


def test_cancel_a_placed_order(api, make_order):
    order = make_order(place=True)
    response = trigger(api, order, "_cancel")
    assert response.status_code == 200, response.content
    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "cancelled"
    assert attributes["payment_status"] == "voided"
    assert attributes["cancelled_at"].endswith("Z")


def test_approve_a_placed_order_then_cancel_it(api, make_order):
    order = make_order(place=True)
    approved = trigger(api, order, "_approve").json()["data"]["attributes"]
    assert approved["status"] == "approved"
    assert approved["approved_at"].endswith("Z")
    assert trigger(api, order, "_cancel").json()["data"]["attributes"]["status"] == "cancelled"


@pytest.mark.parametrize(
    ("trigger_name", "target"), [("_cancel", "cancelled"), ("_approve", "approved")]
)
def test_a_transition_the_status_does_not_allow_is_422(api, make_order, trigger_name, target):
    order = make_order()
    response = trigger(api, order, trigger_name)
    error = assert_error(
        response, 422, "ORDER_TRANSITION_REFUSED", pointer="/data/attributes/status"
    )
    assert error["detail"] == f"status - cannot transition from pending to {target}"
    assert fresh(order).status == "pending"


def test_archive_and_unarchive(api, make_order):
    order = make_order(place=True)
    archived = trigger(api, order, "_archive")
    assert archived.status_code == 200
    assert archived.json()["data"]["attributes"]["archived_at"].endswith("Z")
    again = trigger(api, order, "_archive")
    assert_error(again, 422, "ORDER_TRANSITION_REFUSED", pointer="/data/attributes/archived_at")
    unarchived = trigger(api, order, "_unarchive")
    assert unarchived.json()["data"]["attributes"]["archived_at"] is None
    assert fresh(order).archived_at is None
    not_archived = trigger(api, order, "_unarchive")
    assert_error(
        not_archived, 422, "ORDER_TRANSITION_REFUSED", pointer="/data/attributes/archived_at"
    )


def test_two_order_triggers_at_once_are_422(api, make_order):
    order = make_order(place=True)
    document = patch_document("orders", order.pk, _approve=True, _cancel=True)
    error = assert_error(api.patch(url(order), document), 422, "VALIDATION_ERROR", pointer="/data")
    assert "one trigger at a time" in error["detail"]
    assert fresh(order).status == "placed"


def test_a_trigger_on_create_is_422(api, market):
    response = api.post("/api/orders", order_document(market, attributes={"_place": True}))
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data")
    assert not Order.objects.exists()


# Update and delete --------------------------------------------------------------------------------


def test_a_placed_order_keeps_its_customer_but_takes_a_reference(api, make_order):
    order = make_order(place=True)
    email = order.customer_email
    refused = api.patch(
        url(order), patch_document("orders", order.pk, customer_email="new@example.com")
    )
    error = assert_error(refused, 422, "ORDER_NOT_EDITABLE", pointer="/data/attributes/status")
    assert "a placed order cannot be edited" in error["detail"]
    assert fresh(order).customer_email == email
    accepted = api.patch(url(order), patch_document("orders", order.pk, reference="crm-9"))
    assert accepted.status_code == 200
    assert fresh(order).reference == "crm-9"


def test_the_market_of_an_order_cannot_change(api, make_order, other_market):
    order = make_order()
    document = patch_document("orders", order.pk)
    document["data"]["relationships"] = {"market": linkage("markets", other_market.pk)}
    response = api.patch(url(order), document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/market")
    assert fresh(order).market_id != other_market.pk


def test_a_refused_trigger_leaves_the_changes_sent_with_it_unsaved(api, make_order):
    order = make_order()
    document = patch_document("orders", order.pk, reference="changed", _approve=True)
    assert_error(api.patch(url(order), document), 422, "ORDER_TRANSITION_REFUSED")
    assert fresh(order).reference == ""


def test_delete_a_draft_order(api, market):
    order = order_create(market=market)
    response = api.delete(url(order))
    assert response.status_code == 204
    assert response.content == b""
    assert not Order.objects.filter(pk=order.pk).exists()
    assert Event.objects.filter(resource_id=order.pk, name="orders.destroy").exists()


def test_delete_a_pending_order_with_its_line_items(api, make_order):
    order = make_order(lines=2)
    assert api.delete(url(order)).status_code == 204
    assert not LineItem.objects.filter(order_id=order.pk).exists()


def test_delete_of_a_placed_order_is_422(api, make_order):
    order = make_order(place=True)
    error = assert_error(
        api.delete(url(order)), 422, "ORDER_NOT_EDITABLE", pointer="/data/attributes/status"
    )
    assert error["detail"] == "status - a placed order cannot be deleted; archive it instead"
    assert Order.objects.filter(pk=order.pk).exists()


def test_an_order_with_copies_cannot_be_deleted_without_a_500(api, no_raise, make_order, make_copy):
    order = make_order()
    make_copy(order)
    response = api.delete(url(order))
    assert response.status_code < 500, response.content
    assert_error(response, 422, "ORDER_NOT_EDITABLE")
    assert Order.objects.filter(pk=order.pk).exists()
    assert OrderCopy.objects.filter(source_order_id=order.pk).exists()
