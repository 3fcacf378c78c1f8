"""Tags (Commerce Layer's `tags`): the resource, the `tags` relationship of orders, order copies,
order subscriptions, line items and customers, `_add_tags` / `_remove_tags`, `tags_name_in`."""

from types import SimpleNamespace

import pytest

from events.models import Event
from subscriptions.services import order_subscription_create
from tags.exceptions import TagInvalid
from tags.models import Tag, TaggedItem
from tags.services import resource_tags_change
from tests import factories
from tests.api.conftest import assert_error, patch_document


def tag_document(**attributes):
    return {"data": {"type": "tags", "attributes": attributes}}


def tag_names(api, path):
    response = api.get(f"{path}/tags")
    assert response.status_code == 200, response.content
    assert all(r["type"] == "tags" for r in response.json()["data"])
    return [r["attributes"]["name"] for r in response.json()["data"]]


@pytest.fixture
def tags(db):
    return SimpleNamespace(
        **{name: factories.TagFactory(name=name) for name in ("vip", "gift", "b2b", "late")}
    )


@pytest.fixture
def taggables(make_order, make_copy):
    """One resource of each taggable type that can be written, by type."""
    order = make_order(lines=2)
    return {
        "orders": order,
        "line_items": order.line_items.first(),
        "order_copies": make_copy(order),
        "order_subscriptions": order_subscription_create(
            source_order=order, mode="test", frequency="daily"
        ),
    }


# The tags resource ----------------------------------------------------------------------------


def test_a_tag_is_created_in_lower_case_listed_renamed_and_deleted(api):
    response = api.post("/api/tags", tag_document(name="Summer-Sale:2026"))
    assert response.status_code == 201, response.content
    tag = response.json()["data"]
    assert tag["type"] == "tags"
    assert tag["attributes"]["name"] == "summer-sale:2026"
    listed = api.get("/api/tags", {"filter[q][name_start]": "summer"}).json()
    assert [t["id"] for t in listed["data"]] == [tag["id"]]
    renamed = api.patch(f"/api/tags/{tag['id']}", patch_document("tags", tag["id"], name="fall"))
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["data"]["attributes"]["name"] == "fall"
    assert api.delete(f"/api/tags/{tag['id']}").status_code == 204
    assert not Tag.objects.filter(pk=tag["id"]).exists()
    names = list(Event.objects.filter(resource_id=tag["id"]).values_list("name", flat=True))
    assert names == ["tags.create", "tags.update", "tags.destroy"]


@pytest.mark.parametrize("name", ["two words", "x" * 26, "é", "semi;colon", ""])
def test_a_tag_name_breaking_the_rules_is_422(api, name):
    response = api.post("/api/tags", tag_document(name=name))
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/attributes/name")
    assert not Tag.objects.exists()


def test_a_tag_name_is_unique_in_its_mode(api, live_api, tags):
    response = api.post("/api/tags", tag_document(name="VIP"))
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/attributes/name")
    assert live_api.post("/api/tags", tag_document(name="vip")).status_code == 201
    assert Tag.objects.filter(name="vip").count() == 2


def test_tags_of_the_other_mode_are_not_found(live_api, tags):
    assert live_api.get("/api/tags").json()["data"] == []
    assert_error(live_api.get(f"/api/tags/{tags.vip.pk}"), 404, "RECORD_NOT_FOUND")


def test_listing_tags_costs_the_same_queries_for_any_number(api, tags, django_assert_num_queries):
    with django_assert_num_queries(4):
        first = api.get("/api/tags")
    factories.TagFactory.create_batch(6)
    with django_assert_num_queries(4):
        again = api.get("/api/tags")
    assert len(first.json()["data"]) == 4
    assert len(again.json()["data"]) == 10


# Tagging every taggable resource -------------------------------------------------------------

TAGGABLE_WRITABLE = ["orders", "line_items", "order_copies", "order_subscriptions"]


@pytest.mark.parametrize("resource_type", TAGGABLE_WRITABLE)
def test_add_tags_and_remove_tags_on_each_taggable_resource(api, tags, taggables, resource_type):
    resource = taggables[resource_type]
    path = f"/api/{resource_type}/{resource.pk}"
    document = patch_document(resource_type, resource.pk, _add_tags="vip,GIFT,vip")
    response = api.patch(path, document)
    assert response.status_code == 200, response.content
    assert "tags" in response.json()["data"]["relationships"]
    assert tag_names(api, path) == ["gift", "vip"]
    both = patch_document(resource_type, resource.pk, _add_tags="late", _remove_tags="vip,late")
    assert api.patch(path, both).status_code == 200
    assert tag_names(api, path) == ["gift"], "removal comes after addition"
    linkage = api.get(f"{path}/relationships/tags").json()["data"]
    assert linkage == [{"type": "tags", "id": tags.gift.pk}]
    tagged = Event.objects.filter(name=f"{resource_type}.tagged", resource_id=resource.pk)
    assert tagged.count() == 2


@pytest.mark.parametrize("resource_type", TAGGABLE_WRITABLE)
def test_filter_by_tag_names_on_each_taggable_resource(api, tags, taggables, resource_type):
    resource = taggables[resource_type]
    resource_tags_change(resource=resource, add=[tags.vip, tags.b2b])
    found = api.get(f"/api/{resource_type}", {"filter[q][tags_name_in]": "vip,nope"}).json()
    assert [r["id"] for r in found["data"]] == [resource.pk]
    none = api.get(f"/api/{resource_type}", {"filter[q][tags_name_in]": "gift"}).json()
    assert none["data"] == []
    untagged = api.get(f"/api/{resource_type}", {"filter[q][tags_id_null]": "true"}).json()
    assert resource.pk not in {r["id"] for r in untagged["data"]}


def test_customers_carry_tags_read_and_filtered(api, tags, make_order):
    customer = make_order().customer
    resource_tags_change(resource=customer, add=[tags.b2b])
    assert tag_names(api, f"/api/customers/{customer.pk}") == ["b2b"]
    found = api.get("/api/customers", {"filter[q][tags_name_eq]": "b2b"}).json()
    assert [r["id"] for r in found["data"]] == [customer.pk]
    orders = api.get("/api/orders", {"filter[q][customer_tags_name_in]": "b2b"}).json()
    assert {r["id"] for r in orders["data"]} == set(customer.orders.values_list("pk", flat=True))


def test_the_tags_relationship_replaces_the_list(api, tags, taggables):
    order = taggables["orders"]
    resource_tags_change(resource=order, add=[tags.vip, tags.late])
    document = patch_document("orders", order.pk)
    document["data"]["relationships"] = {
        "tags": {"data": [{"type": "tags", "id": tag.pk} for tag in (tags.gift, tags.b2b)]}
    }
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert response.status_code == 200, response.content
    assert tag_names(api, f"/api/orders/{order.pk}") == ["b2b", "gift"]
    document["data"]["relationships"] = {"tags": {"data": []}}
    assert api.patch(f"/api/orders/{order.pk}", document).status_code == 200
    assert tag_names(api, f"/api/orders/{order.pk}") == []


def test_an_order_is_created_with_tags(api, tags, market):
    document = {
        "data": {
            "type": "orders",
            "attributes": {"customer_email": "t@example.com", "_add_tags": "vip"},
            "relationships": {
                "market": {"data": {"type": "markets", "id": market.pk}},
                "tags": {"data": [{"type": "tags", "id": tags.gift.pk}]},
            },
        }
    }
    response = api.post("/api/orders", document)
    assert response.status_code == 201, response.content
    assert tag_names(api, f"/api/orders/{response.json()['data']['id']}") == ["gift", "vip"]


def test_a_placed_order_can_still_be_tagged(api, tags, make_order):
    order = make_order(place=True)
    document = patch_document("orders", order.pk, _add_tags="vip")
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert response.status_code == 200, response.content
    assert tag_names(api, f"/api/orders/{order.pk}") == ["vip"]


# Refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["_add_tags", "_remove_tags"])
def test_unknown_tag_names_are_refused_and_nothing_changes(api, tags, taggables, trigger):
    order = taggables["orders"]
    document = patch_document("orders", order.pk, reference="changed", **{trigger: "vip,nope"})
    error = assert_error(
        api.patch(f"/api/orders/{order.pk}", document),
        422,
        "VALIDATION_ERROR",
        pointer=f"/data/attributes/{trigger}",
    )
    assert "nope" in error["detail"]
    order.refresh_from_db()
    assert order.reference != "changed"
    assert not TaggedItem.objects.exists()


def test_unknown_tag_ids_in_the_relationship_are_refused(api, tags, taggables, live_api):
    order = taggables["orders"]
    live_tag = factories.TagFactory(mode="live", name="vip")
    document = patch_document("orders", order.pk)
    document["data"]["relationships"] = {"tags": {"data": [{"type": "tags", "id": live_tag.pk}]}}
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR")
    assert not TaggedItem.objects.exists()


def test_at_most_ten_tags_on_a_resource(api, taggables):
    order = taggables["orders"]
    names = [factories.TagFactory().name for _ in range(11)]
    ten = patch_document("orders", order.pk, _add_tags=",".join(names[:10]))
    assert api.patch(f"/api/orders/{order.pk}", ten).status_code == 200
    eleventh = patch_document("orders", order.pk, _add_tags=names[10])
    assert_error(api.patch(f"/api/orders/{order.pk}", eleventh), 422, "VALIDATION_ERROR")
    assert TaggedItem.objects.count() == 10


def test_a_sales_channel_may_not_touch_tags(make_api, tags, make_order):
    shop = make_api(kind="sales_channel", markets=("eu",))
    order = make_order()
    document = patch_document("orders", order.pk, _add_tags="vip")
    assert_error(shop.patch(f"/api/orders/{order.pk}", document), 401, "UNAUTHORIZED")
    linkage = patch_document("orders", order.pk)
    linkage["data"]["relationships"] = {"tags": {"data": [{"type": "tags", "id": tags.vip.pk}]}}
    assert_error(shop.patch(f"/api/orders/{order.pk}", linkage), 401, "UNAUTHORIZED")
    assert_error(shop.get("/api/tags"), 401, "UNAUTHORIZED")
    assert_error(shop.get(f"/api/orders/{order.pk}/tags"), 401, "UNAUTHORIZED")
    assert not TaggedItem.objects.exists()


def test_deleting_a_tag_or_a_resource_removes_the_attachments(api, tags, taggables):
    copy = taggables["order_copies"]
    resource_tags_change(resource=copy, add=[tags.vip, tags.gift])
    assert api.delete(f"/api/tags/{tags.vip.pk}").status_code == 204
    assert tag_names(api, f"/api/order_copies/{copy.pk}") == ["gift"]
    assert api.delete(f"/api/order_copies/{copy.pk}").status_code == 204
    assert not TaggedItem.objects.exists()


def test_a_resource_carries_only_tags_of_its_mode(taggables):
    live_tag = factories.TagFactory(mode="live")
    with pytest.raises(TagInvalid):
        resource_tags_change(resource=taggables["orders"], add=[live_tag])
    assert not TaggedItem.objects.exists()


def test_including_tags_is_refused_saying_so(api, tags, taggables):
    # The include loader reads ORM relations; tags are read at /<type>/<id>/tags instead.
    order = taggables["orders"]
    response = api.get(f"/api/orders/{order.pk}", {"include": "tags"})
    error = assert_error(response, 400, "INVALID_RESOURCE")
    assert "tags cannot be included" in error["detail"]
