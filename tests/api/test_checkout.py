"""The order triggers and writes a copy service's users rely on (issue 12): refresh, validate,
pending, address clones, wallet and address book, Stripe payment sources, `item` on line
items, writes on addresses, customers and wallet entries."""

import pytest

from events.models import Event
from orders.models import (
    Address,
    Customer,
    CustomerAddress,
    CustomerPaymentSource,
    LineItem,
    Order,
    PaymentSource,
    SkuPrice,
)
from orders.services import order_create, order_line_item_add
from tests import factories
from tests.api.conftest import assert_error, linkage, patch_document


def trigger(api, order, name, value=True):
    return api.patch(f"/api/orders/{order.pk}", patch_document("orders", order.pk, **{name: value}))


def fresh(order):
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize("name", ["_refresh", "_refresh_prices"])
def test_refresh_reprices_from_the_market_and_reruns_promotions(api, make_order, name):
    order = make_order(lines=1)
    line = order.line_items.get()
    SkuPrice.objects.filter(sku_id=line.sku_id).update(amount_cents=2500)
    factories.PromotionFactory(market=order.market, mode="test", kind="percentage", percentage=10)
    response = trigger(api, order, name)
    assert response.status_code == 200, response.content
    attributes = response.json()["data"]["attributes"]
    assert LineItem.objects.get(pk=line.pk).unit_amount_cents == 2500
    assert attributes["subtotal_amount_cents"] == 2500
    assert attributes["discount_amount_cents"] == -250
    assert Event.objects.filter(name="orders.refresh", resource_id=order.pk).exists()


def test_refresh_of_a_placed_order_is_refused(api, make_order):
    order = make_order(place=True)
    assert_error(trigger(api, order, "_refresh"), 422, "ORDER_NOT_EDITABLE")


def test_validate_says_every_rule_an_order_breaks_or_records_that_it_passed(api, make_order):
    order = make_order()
    assert trigger(api, order, "_validate").status_code == 200
    assert Event.objects.filter(name="orders.validate", resource_id=order.pk).exists()
    Order.objects.filter(pk=order.pk).update(billing_address=None)
    response = trigger(api, order, "_validate")
    assert_error(
        response, 422, "ORDER_NOT_PLACEABLE", pointer="/data/relationships/billing_address"
    )
    assert fresh(order).status == "pending"


def test_pending_moves_a_draft_with_line_items(api, market, make_sku):
    order = order_create(market=market)
    assert_error(trigger(api, order, "_pending"), 422, "ORDER_TRANSITION_REFUSED")
    order_line_item_add(order=order, sku=make_sku())
    assert fresh(order).status == "draft"  # no customer: refresh alone leaves it a draft
    response = trigger(api, order, "_pending")
    assert response.json()["data"]["attributes"]["status"] == "pending"
    assert_error(trigger(api, order, "_pending"), 422, "ORDER_TRANSITION_REFUSED")


@pytest.mark.parametrize("field", ["billing_address", "shipping_address"])
def test_an_address_clone_gives_the_order_its_own_copy(api, make_order, field):
    order = make_order()
    source = factories.AddressFactory(mode="test", city="Lisbon")
    response = trigger(api, order, f"_{field}_clone_id", source.pk)
    assert response.status_code == 200, response.content
    clone = getattr(fresh(order), field)
    assert clone.pk != source.pk and clone.city == "Lisbon"
    missing = trigger(api, order, f"_{field}_clone_id", "NoSuchId00")
    pointer = f"/data/attributes/_{field}_clone_id"
    assert_error(missing, 422, "VALIDATION_ERROR", pointer=pointer)


def test_same_as_billing_copies_the_billing_address(api, make_order):
    order = make_order()
    response = trigger(api, order, "_shipping_address_same_as_billing")
    assert response.status_code == 200, response.content
    order = fresh(order)
    assert order.shipping_address_id != order.billing_address_id
    assert order.shipping_address.line_1 == order.billing_address.line_1


def test_paying_with_a_wallet_entry_of_the_customer(api, make_order):
    order = make_order()
    entry = factories.CustomerPaymentSourceFactory(customer=order.customer, mode="test")
    response = trigger(api, order, "_customer_payment_source_id", entry.pk)
    assert response.status_code == 200, response.content
    assert fresh(order).payment_source_id == entry.payment_source_id
    stranger = factories.CustomerPaymentSourceFactory(mode="test")
    refused = trigger(api, order, "_customer_payment_source_id", stranger.pk)
    assert_error(refused, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_source")
    assert fresh(order).payment_source_id == entry.payment_source_id


def test_saving_the_payment_source_to_the_wallet(api, make_order):
    order = make_order()
    source = factories.PaymentSourceFactory(mode="test")
    Order.objects.filter(pk=order.pk).update(payment_source=source)
    response = trigger(api, order, "_save_payment_source_to_customer_wallet")
    assert response.status_code == 200, response.content
    entry = CustomerPaymentSource.objects.get(payment_source=source)
    assert entry.customer_id == order.customer_id
    again = trigger(api, order, "_save_payment_source_to_customer_wallet")
    assert_error(again, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("field", ["billing_address", "shipping_address"])
def test_saving_an_address_to_the_address_book(api, make_order, field):
    order = make_order()
    response = trigger(api, order, f"_save_{field}_to_customer_address_book")
    assert response.status_code == 200, response.content
    entry = CustomerAddress.objects.get(customer=order.customer)
    assert entry.address.line_1 == getattr(order, field).line_1
    assert entry.address_id != getattr(order, field).pk


# Stripe payment sources: the SDK's typed flow ----------------------------------------------------


def test_a_stripe_payment_created_for_an_order_pays_it_and_it_places(api, make_order):
    order = make_order()
    document = {
        "data": {
            "type": "stripe_payments",
            "attributes": {"stripe_id": "pi_123"},
            "relationships": {"order": linkage("orders", order.pk)},
        }
    }
    response = api.post("/api/stripe_payments", document)
    assert response.status_code == 201, response.content
    source = PaymentSource.objects.get(pk=response.json()["data"]["id"])
    assert (source.payment_source_type, source.token) == ("stripe_payments", "pi_123")
    assert fresh(order).payment_source_id == source.pk
    assert api.get(f"/api/stripe_payments/{source.pk}/order").json()["data"]["id"] == order.pk
    assert trigger(api, order, "_place").json()["data"]["attributes"]["status"] == "placed"


def test_an_order_takes_a_source_under_its_sdk_type_and_only_that_type(api, make_order):
    order = make_order()
    source = factories.PaymentSourceFactory(mode="test", customer=order.customer)
    document = patch_document("orders", order.pk)
    document["data"]["relationships"] = {"payment_source": linkage("stripe_payments", source.pk)}
    assert api.patch(f"/api/orders/{order.pk}", document).status_code == 200
    assert fresh(order).payment_source_id == source.pk
    PaymentSource.objects.filter(pk=source.pk).update(payment_source_type="paypal_payments")
    document["data"]["relationships"]["payment_source"] = linkage("stripe_payments", source.pk)
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_source")


def test_a_line_item_created_with_the_sdk_s_item_relationship(api, make_order, make_sku):
    order, sku = make_order(lines=1), make_sku()
    document = {
        "data": {
            "type": "line_items",
            "attributes": {"quantity": 2},
            "relationships": {
                "order": linkage("orders", order.pk),
                "item": linkage("skus", sku.pk),
            },
        }
    }
    response = api.post("/api/line_items", document)
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["relationships"]["item"]["data"] == {"type": "skus", "id": sku.pk}
    assert LineItem.objects.get(pk=data["id"]).sku_id == sku.pk


def test_a_line_item_takes_a_reference_and_metadata_even_on_a_placed_order(api, make_order):
    order = make_order(place=True)
    line = order.line_items.first()
    document = patch_document("line_items", line.pk, reference="r-1", metadata={"gift": True})
    response = api.patch(f"/api/line_items/{line.pk}", document)
    assert response.status_code == 200, response.content
    line.refresh_from_db()
    assert (line.reference, line.metadata) == ("r-1", {"gift": True})


# Addresses, customers, wallet entries ------------------------------------------------------------


def test_an_address_changes_until_a_placed_order_uses_it(api, make_order):
    order = make_order()
    address = order.shipping_address
    document = patch_document("addresses", address.pk, city="Porto")
    assert api.patch(f"/api/addresses/{address.pk}", document).status_code == 200
    assert Address.objects.get(pk=address.pk).city == "Porto"
    order = make_order(place=True)
    address = order.shipping_address
    refused = api.patch(f"/api/addresses/{address.pk}", patch_document("addresses", address.pk))
    assert_error(refused, 423, "ADDRESS_IN_USE")


def test_an_address_is_deleted_only_when_no_order_uses_it(api, make_order):
    order = make_order()
    assert_error(api.delete(f"/api/addresses/{order.billing_address_id}"), 423, "ADDRESS_IN_USE")
    loose = factories.AddressFactory(mode="test")
    assert api.delete(f"/api/addresses/{loose.pk}").status_code == 204
    assert not Address.objects.filter(pk=loose.pk).exists()


def test_customers_are_created_changed_and_deleted_without_orders(api, make_order):
    created = api.post(
        "/api/customers",
        {
            "data": {
                "type": "customers",
                "attributes": {"email": "New@Example.com", "reference": "crm-1"},
            }
        },
    )
    assert created.status_code == 201, created.content
    pk = created.json()["data"]["id"]
    assert Customer.objects.get(pk=pk).email == "new@example.com"
    taken = api.post(
        "/api/customers",
        {"data": {"type": "customers", "attributes": {"email": "new@example.com"}}},
    )
    assert_error(taken, 422, "VALIDATION_ERROR", pointer="/data/attributes/email")
    changed = api.patch(f"/api/customers/{pk}", patch_document("customers", pk, metadata={"a": 1}))
    assert changed.json()["data"]["attributes"]["metadata"] == {"a": 1}
    assert api.delete(f"/api/customers/{pk}").status_code == 204
    order = make_order()
    assert_error(api.delete(f"/api/customers/{order.customer_id}"), 422, "CUSTOMER_HAS_ORDERS")


@pytest.mark.parametrize(
    ("relationship", "resource_type"),
    [("orders", "orders"), ("customer_payment_sources", "customer_payment_sources")],
)
def test_a_customer_s_relationships(api, make_order, relationship, resource_type):
    order = make_order()
    body = api.get(f"/api/customers/{order.customer_id}/{relationship}").json()
    assert body["data"] and all(r["type"] == resource_type for r in body["data"])


def test_wallet_entries_are_created_and_deleted(api, make_order):
    order = make_order()
    source = factories.PaymentSourceFactory(mode="test")
    document = {
        "data": {
            "type": "customer_payment_sources",
            "relationships": {
                "customer": linkage("customers", order.customer_id),
                "payment_source": linkage("stripe_payments", source.pk),
            },
        }
    }
    response = api.post("/api/customer_payment_sources", document)
    assert response.status_code == 201, response.content
    pk = response.json()["data"]["id"]
    assert CustomerPaymentSource.objects.get(pk=pk).payment_source_id == source.pk
    assert api.delete(f"/api/customer_payment_sources/{pk}").status_code == 204
    assert PaymentSource.objects.filter(pk=source.pk).exists()
