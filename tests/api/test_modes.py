"""Test and live modes (SPEC.md §3, §5): a token sees, changes and links to records of its own
mode only; to it the others do not exist. Records made through a token take its mode."""

from types import SimpleNamespace

import pytest
from django_tasks_db.models import DBTaskResult

from events.models import Event
from ordercopies.models import OrderCopy
from orders.models import Address, LineItem, Order
from tests import factories
from tests.api.conftest import assert_error, copy_document, linkage, patch_document


@pytest.fixture
def world(make_order, make_copy, live_market, make_order_in):
    """The same things in both modes: an order (with lines, addresses, payment) and a copy."""
    test_order = make_order()
    live_order = make_order_in(live_market, lines=2)
    return SimpleNamespace(
        test_order=test_order,
        live_order=live_order,
        test_copy=make_copy(test_order),
        live_copy=make_copy(live_order),
    )


def listed(caller, path, **params):
    body = caller.get(path, {"page[size]": "25", **params}).json()
    return {resource["id"] for resource in body["data"]}, body


@pytest.mark.parametrize(
    ("caller", "mode"), [("api", "test"), ("live_api", "live")], ids=["test", "live"]
)
def test_a_token_lists_only_its_mode(request, world, caller, mode):
    caller = request.getfixturevalue(caller)
    mine = SimpleNamespace(
        order=getattr(world, f"{mode}_order"), copy=getattr(world, f"{mode}_copy")
    )
    ids, body = listed(caller, "/api/order_copies")
    assert ids == {mine.copy.pk}
    assert body["meta"]["record_count"] == 1
    ids, _ = listed(caller, "/api/orders")
    assert ids == {mine.order.pk}
    ids, _ = listed(caller, "/api/line_items")
    assert ids == set(mine.order.line_items.values_list("pk", flat=True))
    ids, _ = listed(caller, "/api/events")
    assert ids == set(Event.objects.filter(mode=mode).values_list("pk", flat=True))
    for path in ("/api/markets", "/api/skus", "/api/addresses", "/api/customers"):
        _, body = listed(caller, path)
        assert body["data"], path
        assert {r["meta"]["mode"] for r in body["data"]} == {mode}, path


@pytest.mark.parametrize(
    ("caller", "other"), [("api", "live"), ("live_api", "test")], ids=["test", "live"]
)
def test_a_record_of_the_other_mode_is_404(request, world, caller, other):
    caller = request.getfixturevalue(caller)
    order, order_copy = getattr(world, f"{other}_order"), getattr(world, f"{other}_copy")
    paths = [
        f"/api/order_copies/{order_copy.pk}",
        f"/api/orders/{order.pk}",
        f"/api/markets/{order.market_id}",
        f"/api/customers/{order.customer_id}",
        f"/api/addresses/{order.billing_address_id}",
        f"/api/payment_methods/{order.payment_method_id}",
        f"/api/payment_sources/{order.payment_source_id}",
        f"/api/line_items/{order.line_items.first().pk}",
        f"/api/skus/{order.line_items.first().sku_id}",
        f"/api/events/{Event.objects.filter(resource_id=order.pk).first().pk}",
    ]
    for path in paths:
        assert_error(caller.get(path), 404, "RECORD_NOT_FOUND")


def test_related_and_relationship_endpoints_of_the_other_mode_are_404(api, world):
    live_copy, live_order = world.live_copy, world.live_order
    for path in (
        f"/api/order_copies/{live_copy.pk}/source_order",
        f"/api/order_copies/{live_copy.pk}/relationships/source_order",
        f"/api/order_copies/{live_copy.pk}/events",
        f"/api/orders/{live_order.pk}/line_items",
        f"/api/orders/{live_order.pk}/relationships/line_items",
        f"/api/orders/{live_order.pk}/market",
        f"/api/orders/{live_order.pk}/order_copies",
    ):
        assert_error(api.get(path), 404, "RECORD_NOT_FOUND")


def test_writes_to_the_other_mode_are_404_and_change_nothing(api, world):
    live_copy, live_order = world.live_copy, world.live_order
    document = patch_document("order_copies", live_copy.pk, _abort=True)
    assert_error(api.patch(f"/api/order_copies/{live_copy.pk}", document), 404, "RECORD_NOT_FOUND")
    assert_error(api.delete(f"/api/order_copies/{live_copy.pk}"), 404, "RECORD_NOT_FOUND")
    document = patch_document("orders", live_order.pk, _place=True)
    assert_error(api.patch(f"/api/orders/{live_order.pk}", document), 404, "RECORD_NOT_FOUND")
    line = live_order.line_items.first()
    assert_error(api.delete(f"/api/line_items/{line.pk}"), 404, "RECORD_NOT_FOUND")
    assert OrderCopy.objects.get(pk=live_copy.pk).status == "pending"
    assert Order.objects.get(pk=live_order.pk).status == "pending"
    assert LineItem.objects.filter(pk=line.pk).exists()


def test_include_never_brings_records_of_the_other_mode(api, world):
    body = api.get("/api/order_copies", {"include": "source_order.line_items,target_order"}).json()
    assert {r["meta"]["mode"] for r in body["data"] + body["included"]} == {"test"}
    included_orders = {r["id"] for r in body["included"] if r["type"] == "orders"}
    assert included_orders == {world.test_order.pk}
    live_lines = set(world.live_order.line_items.values_list("pk", flat=True))
    assert not live_lines & {r["id"] for r in body["included"]}


def test_filters_never_find_records_of_the_other_mode(api, world):
    live_copy, live_order = world.live_copy, world.live_order
    assert listed(api, "/api/order_copies", **{"filter[q][id_eq]": live_copy.pk})[0] == set()
    number = {"filter[q][source_order_number_eq]": live_order.number}
    assert listed(api, "/api/order_copies", **number)[0] == set()
    assert listed(api, "/api/orders", **{"filter[q][number_eq]": live_order.number})[0] == set()
    everything = {"filter[q][created_at_gt]": "2000-01-01"}
    assert listed(api, "/api/orders", **everything)[0] == {world.test_order.pk}


def test_related_lists_hold_only_the_caller_s_mode(api, world):
    body = api.get(f"/api/orders/{world.test_order.pk}/order_copies").json()
    assert [r["id"] for r in body["data"]] == [world.test_copy.pk]
    events = api.get(f"/api/order_copies/{world.test_copy.pk}/events").json()["data"]
    assert {e["meta"]["mode"] for e in events} == {"test"}


# Linkage on create --------------------------------------------------------------------------------


def nothing_made_since(counts):
    assert OrderCopy.objects.count() == counts["copies"]
    assert Event.objects.filter(name="order_copies.create").count() == counts["events"]
    assert DBTaskResult.objects.count() == counts["jobs"]


@pytest.mark.parametrize(
    ("caller", "other"), [("api", "live"), ("live_api", "test")], ids=["test", "live"]
)
def test_a_copy_of_an_order_of_the_other_mode_is_422_and_makes_nothing(
    request, world, caller, other
):
    caller = request.getfixturevalue(caller)
    counts = {
        "copies": OrderCopy.objects.count(),
        "events": Event.objects.filter(name="order_copies.create").count(),
        "jobs": DBTaskResult.objects.count(),
    }
    source = getattr(world, f"{other}_order")
    response = caller.post("/api/order_copies", copy_document(source.pk))
    error = assert_error(
        response, 422, "VALIDATION_ERROR", pointer="/data/relationships/source_order"
    )
    assert source.pk in error["detail"] or "does not exist" in error["detail"]
    nothing_made_since(counts)


def test_an_order_cannot_link_records_of_the_other_mode(api, world, market, live_market):
    live_address = factories.AddressFactory(mode="live")
    live_method = factories.PaymentMethodFactory(market=live_market, mode="live")
    live_source = factories.PaymentSourceFactory(mode="live")
    cases = {
        "market": ("markets", live_market.pk),
        "billing_address": ("addresses", live_address.pk),
        "payment_method": ("payment_methods", live_method.pk),
        "payment_source": ("payment_sources", live_source.pk),
    }
    before = Order.objects.count()
    for name, (resource_type, pk) in cases.items():
        relationships = {"market": linkage("markets", market.pk), name: linkage(resource_type, pk)}
        document = {"data": {"type": "orders", "relationships": relationships}}
        response = api.post("/api/orders", document)
        assert_error(response, 422, "VALIDATION_ERROR", pointer=f"/data/relationships/{name}")
    assert Order.objects.count() == before
    order = world.test_order
    document = patch_document("orders", order.pk)
    document["data"]["relationships"] = {"shipping_address": linkage("addresses", live_address.pk)}
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/shipping_address")
    assert Order.objects.get(pk=order.pk).shipping_address_id != live_address.pk


def test_a_line_item_cannot_link_an_order_or_sku_of_the_other_mode(api, world, market):
    live_line = world.live_order.line_items.first()
    live_sku = live_line.sku
    test_order = world.test_order
    on_live_order = {
        "data": {
            "type": "line_items",
            "relationships": {
                "order": linkage("orders", world.live_order.pk),
                "sku": linkage("skus", test_order.line_items.first().sku_id),
            },
        }
    }
    response = api.post("/api/line_items", on_live_order)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/order")
    live_sku_line = {
        "data": {
            "type": "line_items",
            "relationships": {
                "order": linkage("orders", test_order.pk),
                "sku": linkage("skus", live_sku.pk),
            },
        }
    }
    response = api.post("/api/line_items", live_sku_line)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/sku")
    by_code = {
        "data": {
            "type": "line_items",
            "attributes": {"sku_code": live_sku.code},
            "relationships": {"order": linkage("orders", test_order.pk)},
        }
    }
    assert_error(api.post("/api/line_items", by_code), 422, "VALIDATION_ERROR")
    assert LineItem.objects.filter(order=world.live_order).count() == 2
    assert not LineItem.objects.filter(order=test_order, sku=live_sku).exists()


# Records take the token's mode --------------------------------------------------------------------


def test_records_made_with_a_live_token_are_live(live_api, live_market, make_order_in):
    source = make_order_in(live_market)
    response = live_api.post("/api/order_copies", copy_document(source.pk))
    assert response.status_code == 201, response.content
    assert response.json()["data"]["meta"]["mode"] == "live"
    order_copy = OrderCopy.objects.get(pk=response.json()["data"]["id"])
    assert order_copy.mode == "live"
    assert Event.objects.get(resource_id=order_copy.pk).mode == "live"
    address = live_api.post(
        "/api/addresses",
        {
            "data": {
                "type": "addresses",
                "attributes": {"line_1": "x", "city": "y", "country_code": "IT"},
            }
        },
    )
    assert Address.objects.get(pk=address.json()["data"]["id"]).mode == "live"
    order = live_api.post(
        "/api/orders",
        {
            "data": {
                "type": "orders",
                "relationships": {"market": linkage("markets", live_market.pk)},
            }
        },
    )
    assert order.status_code == 201, order.content
    assert order.json()["data"]["meta"]["mode"] == "live"
    assert Order.objects.get(pk=order.json()["data"]["id"]).mode == "live"


def test_records_made_with_a_test_token_are_test(api, market):
    order = api.post(
        "/api/orders",
        {"data": {"type": "orders", "relationships": {"market": linkage("markets", market.pk)}}},
    )
    assert order.json()["data"]["meta"]["mode"] == "test"
    assert Order.objects.get(pk=order.json()["data"]["id"]).mode == "test"


def test_a_record_linked_across_modes_is_not_included(api, make_order):
    order = make_order()
    live_address = factories.AddressFactory(mode="live")
    Order.objects.filter(pk=order.pk).update(billing_address=live_address)
    assert api.get(f"/api/orders/{order.pk}/billing_address").json() == {"data": None}
    body = api.get(f"/api/orders/{order.pk}", {"include": "billing_address"}).json()
    assert body["included"] == []
