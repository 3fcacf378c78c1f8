"""JSON:API conventions shared by every resource (SPEC.md §5): media types, pagination, include,
sparse fieldsets, sort, links, meta.mode, related and relationship endpoints."""

from urllib.parse import parse_qs, urlsplit

import pytest

from ordercopies.services import order_copy_abort
from orders.services import order_create
from tests.api.conftest import MEDIA, assert_error

BASE = "http://testserver/api"
COPY_ATTRIBUTES = {
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
    "status",
    "started_at",
    "completed_at",
    "failed_at",
    "errors_log",
    "errors_count",
    "attempts",
    "place_target_order",
    "reuse_wallet",
    "cancel_source_order",
    "apply_promotions",
    "skip_errors",
    "ignore_invalid_coupon",
}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def copies(make_order, make_copy):
    """Twelve pending copies of one order, newest first as the list orders them."""
    source = make_order()
    made = [make_copy(source, reference=f"ref-{n:02d}") for n in range(12)]
    return made


# Media types ------------------------------------------------------------------------------------


def test_responses_carry_the_json_api_media_type(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    for path in ("/api/order_copies", f"/api/order_copies/{order_copy.pk}"):
        response = api.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == MEDIA


def test_a_get_with_the_json_api_content_type_is_accepted(api, client, make_order, make_copy):
    order_copy = make_copy(make_order())
    response = client.get(
        f"/api/order_copies/{order_copy.pk}",
        CONTENT_TYPE=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 200
    assert response.json()["data"]["id"] == order_copy.pk


def test_a_delete_with_the_json_api_content_type_is_accepted(api, client, make_order, make_copy):
    order_copy = make_copy(make_order())
    response = client.delete(
        f"/api/order_copies/{order_copy.pk}",
        content_type=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml"])
def test_a_post_with_another_content_type_is_415(api, client, make_order, content_type):
    order = make_order()
    body = f'{{"data": {{"type": "order_copies", "relationships": {{"source_order": {{"data": {{"type": "orders", "id": "{order.pk}"}}}}}}}}}}'  # noqa: E501
    response = client.post(
        "/api/order_copies",
        body,
        content_type=content_type,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    error = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert content_type in error["detail"]


def test_accepting_only_plain_json_is_406(api, client):
    response = client.get(
        "/api/order_copies",
        HTTP_ACCEPT="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert_error(response, 406, "NOT_ACCEPTABLE")


def test_accepting_anything_gets_json_api(api, client):
    response = client.get(
        "/api/order_copies", HTTP_ACCEPT="*/*", HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == MEDIA


# Pagination -------------------------------------------------------------------------------------


def test_lists_have_ten_per_page_by_default_with_counts_and_links(api, copies):
    body = api.get("/api/order_copies").json()
    assert len(body["data"]) == 10
    assert body["meta"] == {"record_count": 12, "page_count": 2}
    assert set(body["links"]) == {"first", "next", "last"}
    assert body["links"]["first"] == f"{BASE}/order_copies"
    assert query_of(body["links"]["next"]) == {"page[number]": ["2"]}
    assert query_of(body["links"]["last"]) == {"page[number]": ["2"]}
    assert body["links"]["next"].startswith(f"{BASE}/order_copies?")


def test_the_last_page_has_a_prev_link_and_no_next(api, copies):
    body = api.get("/api/order_copies", {"page[number]": "2"}).json()
    assert len(body["data"]) == 2
    assert set(body["links"]) == {"first", "prev", "last"}
    assert body["links"]["prev"] == f"{BASE}/order_copies"
    assert body["meta"] == {"record_count": 12, "page_count": 2}


def test_pages_cover_every_record_once(api, copies):
    first = api.get("/api/order_copies", {"page[size]": "5"}).json()
    ids = []
    for number in (1, 2, 3):
        page = api.get("/api/order_copies", {"page[size]": "5", "page[number]": str(number)})
        ids += [resource["id"] for resource in page.json()["data"]]
    assert first["meta"] == {"record_count": 12, "page_count": 3}
    assert sorted(ids) == sorted(c.pk for c in copies)


def test_page_links_keep_the_other_parameters(api, copies):
    params = {"page[size]": "5", "sort": "reference", "filter[q][status_eq]": "pending"}
    links = api.get("/api/order_copies", params).json()["links"]
    assert query_of(links["next"]) == {
        "page[size]": ["5"],
        "page[number]": ["2"],
        "sort": ["reference"],
        "filter[q][status_eq]": ["pending"],
    }


def test_page_size_may_be_25(api, copies):
    body = api.get("/api/order_copies", {"page[size]": "25"}).json()
    assert len(body["data"]) == 12
    assert body["meta"] == {"record_count": 12, "page_count": 1}


@pytest.mark.parametrize("size", ["26", "0", "-1", "ten", "1.5"])
def test_a_page_size_over_25_or_not_positive_is_400(api, size):
    error = assert_error(api.get("/api/order_copies", {"page[size]": size}), 400, "INVALID_PAGE")
    assert "page[size]" in error["detail"]


@pytest.mark.parametrize("number", ["0", "-3", "first"])
def test_a_page_number_that_is_not_positive_is_400(api, number):
    assert_error(api.get("/api/order_copies", {"page[number]": number}), 400, "INVALID_PAGE")


def test_a_page_past_the_end_is_empty(api, copies):
    body = api.get("/api/order_copies", {"page[number]": "9"}).json()
    assert body["data"] == []
    assert body["meta"] == {"record_count": 12, "page_count": 2}
    assert query_of(body["links"]["last"]) == {"page[number]": ["2"]}
    assert "next" not in body["links"]


def test_an_empty_list_has_one_empty_page(api):
    body = api.get("/api/order_copies").json()
    assert body == {
        "data": [],
        "meta": {"record_count": 0, "page_count": 1},
        "links": {"first": f"{BASE}/order_copies", "last": f"{BASE}/order_copies"},
    }


# Resource objects -------------------------------------------------------------------------------


def test_a_resource_object_has_the_commerce_layer_shape(api, make_order, make_copy):
    source = make_order()
    order_copy = make_copy(source)
    body = api.get(f"/api/order_copies/{order_copy.pk}").json()
    assert set(body) == {"data"}
    resource = body["data"]
    assert set(resource) == {"id", "type", "links", "attributes", "relationships", "meta"}
    assert resource["id"] == order_copy.pk
    assert resource["type"] == "order_copies"
    assert resource["links"] == {"self": f"{BASE}/order_copies/{order_copy.pk}"}
    assert resource["meta"]["mode"] == "test"
    assert set(resource["attributes"]) == COPY_ATTRIBUTES
    assert resource["attributes"]["created_at"].endswith("Z")
    url = f"{BASE}/order_copies/{order_copy.pk}"
    assert resource["relationships"]["source_order"] == {
        "links": {
            "self": f"{url}/relationships/source_order",
            "related": f"{url}/source_order",
        },
        "data": {"type": "orders", "id": source.pk},
    }
    assert resource["relationships"]["target_order"]["data"] is None
    assert resource["relationships"]["events"] == {
        "links": {"self": f"{url}/relationships/events", "related": f"{url}/events"}
    }


def test_an_order_copy_has_its_order_subscription_relationship(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    resource = api.get(f"/api/order_copies/{order_copy.pk}").json()["data"]
    assert resource["relationships"]["order_subscription"]["data"] is None
    related = api.get(f"/api/order_copies/{order_copy.pk}/order_subscription")
    assert related.status_code == 200
    assert related.json() == {"data": None}
    relationship = api.get(f"/api/order_copies/{order_copy.pk}/relationships/order_subscription")
    assert relationship.json()["data"] is None


def test_an_order_s_subscription_relationships_when_it_has_none(api, make_order):
    order = make_order()
    resource = api.get(f"/api/orders/{order.pk}").json()["data"]
    assert resource["relationships"]["order_subscription"]["data"] is None
    assert "data" not in resource["relationships"]["order_subscriptions"]
    assert api.get(f"/api/orders/{order.pk}/order_subscription").json() == {"data": None}
    relationship = api.get(f"/api/orders/{order.pk}/relationships/order_subscription").json()
    assert relationship["data"] is None
    many = api.get(f"/api/orders/{order.pk}/order_subscriptions").json()
    assert (many["data"], many["meta"]["record_count"]) == ([], 0)
    linkage = api.get(f"/api/orders/{order.pk}/relationships/order_subscriptions").json()
    assert linkage["data"] == []


def test_every_resource_of_a_list_and_of_included_carries_meta_mode(api, make_order, make_copy):
    make_copy(make_order())
    make_copy(make_order())
    body = api.get("/api/order_copies", {"include": "source_order.line_items"}).json()
    resources = body["data"] + body["included"]
    assert {r["type"] for r in resources} == {"order_copies", "orders", "line_items"}
    assert all(r["meta"]["mode"] == "test" for r in resources)
    assert all(r["links"]["self"] == f"{BASE}/{r['type']}/{r['id']}" for r in resources)


@pytest.mark.parametrize(
    "path",
    [
        "/api/orders",
        "/api/line_items",
        "/api/markets",
        "/api/customers",
        "/api/skus",
        "/api/addresses",
        "/api/payment_methods",
        "/api/payment_sources",
        "/api/customer_payment_sources",
        "/api/events",
    ],
)
def test_every_resource_type_lists_with_links_and_meta_mode(api, make_order, path):
    make_order()
    body = api.get(path).json()
    assert body["data"], path
    resource_type = path.removeprefix("/api/")
    for resource in body["data"]:
        assert resource["type"] == resource_type
        assert resource["links"]["self"] == f"{BASE}/{resource_type}/{resource['id']}"
        assert resource["meta"]["mode"] == "test"
        assert len(resource["id"]) == 10 and resource["id"].isalnum()


# Include ----------------------------------------------------------------------------------------


def test_include_adds_the_related_resources_once(api, make_order, make_copy):
    source = make_order()
    make_copy(source)
    make_copy(source)
    body = api.get("/api/order_copies", {"include": "source_order,target_order"}).json()
    assert [(r["type"], r["id"]) for r in body["included"]] == [("orders", source.pk)]
    assert body["included"][0]["attributes"]["number"] == source.number


def test_include_of_a_nested_path_includes_each_level_with_linkage(api, make_order, make_copy):
    source = make_order(lines=2)
    order_copy = make_copy(source)
    body = api.get(
        f"/api/order_copies/{order_copy.pk}", {"include": "source_order.line_items"}
    ).json()
    line_ids = sorted(source.line_items.values_list("pk", flat=True))
    included = {(r["type"], r["id"]) for r in body["included"]}
    assert included == {("orders", source.pk)} | {("line_items", pk) for pk in line_ids}
    order = next(r for r in body["included"] if r["type"] == "orders")
    linked = order["relationships"]["line_items"]["data"]
    assert sorted(item["id"] for item in linked) == line_ids
    assert {item["type"] for item in linked} == {"line_items"}


def test_no_include_means_no_included_member(api, make_order, make_copy):
    make_copy(make_order())
    assert "included" not in api.get("/api/order_copies").json()


def test_an_include_with_nothing_to_include_is_an_empty_list(api, make_order, make_copy):
    make_copy(make_order())
    body = api.get("/api/order_copies", {"include": "target_order"}).json()
    assert body["included"] == []


@pytest.mark.parametrize(
    "include", ["bogus", "source_order.bogus", "events", "source_order..line_items", "market"]
)
def test_an_include_that_is_not_offered_is_400(api, make_order, make_copy, include):
    make_copy(make_order())
    error = assert_error(
        api.get("/api/order_copies", {"include": include}), 400, "INVALID_RESOURCE"
    )
    assert "include" in error["detail"]


def test_orders_include_their_line_items_and_market(api, make_order, market):
    order = make_order(lines=3)
    body = api.get(f"/api/orders/{order.pk}", {"include": "line_items,market"}).json()
    types = sorted(r["type"] for r in body["included"])
    assert types == ["line_items", "line_items", "line_items", "markets"]
    market_doc = next(r for r in body["included"] if r["type"] == "markets")
    assert market_doc["id"] == market.pk
    assert market_doc["attributes"]["code"] == "eu"


# Sparse fieldsets -------------------------------------------------------------------------------


def test_fields_limits_attributes_and_relationships(api, make_order, make_copy):
    make_copy(make_order())
    body = api.get("/api/order_copies", {"fields[order_copies]": "status,source_order"}).json()
    resource = body["data"][0]
    assert resource["attributes"] == {"status": "pending"}
    assert set(resource["relationships"]) == {"source_order"}


def test_fields_of_an_included_type_limit_the_included_resources(api, make_order, make_copy):
    source = make_order()
    make_copy(source)
    body = api.get(
        "/api/order_copies",
        {"include": "source_order", "fields[orders]": "number,market", "fields[order_copies]": ""},
    ).json()
    assert body["data"][0]["attributes"] == {}
    assert body["data"][0]["relationships"] == {}
    included = body["included"][0]
    assert included["attributes"] == {"number": source.number}
    assert set(included["relationships"]) == {"market"}


# Sort -------------------------------------------------------------------------------------------


def references(body):
    return [resource["attributes"]["reference"] for resource in body["data"]]


def test_sort_ascending_and_descending(api, copies):
    ascending = references(api.get("/api/order_copies", {"sort": "reference"}).json())
    descending = references(api.get("/api/order_copies", {"sort": "-reference"}).json())
    assert ascending == [f"ref-{n:02d}" for n in range(10)]
    assert descending == [f"ref-{n:02d}" for n in range(11, 1, -1)]


def test_sort_by_several_keys(api, make_order, make_copy):
    source = make_order()
    for status, reference in [("pending", "b"), ("aborted", "a"), ("pending", "a")]:
        order_copy = make_copy(source, reference=reference)
        if status == "aborted":
            order_copy_abort(order_copy=order_copy)
    body = api.get("/api/order_copies", {"sort": "-status,reference"}).json()
    assert [(r["attributes"]["status"], r["attributes"]["reference"]) for r in body["data"]] == [
        ("pending", "a"),
        ("pending", "b"),
        ("aborted", "a"),
    ]


@pytest.mark.parametrize(
    "sort", ["bogus", "-bogus", "status,bogus", "metadata", "", "source_order"]
)
def test_sort_by_an_unlisted_attribute_is_400(api, sort):
    error = assert_error(api.get("/api/order_copies", {"sort": sort}), 400, "SORT_NOT_ALLOWED")
    assert "sort" in error["detail"]


# Related and relationship endpoints -------------------------------------------------------------

ORDER_TO_ONE = {
    "market": "markets",
    "customer": "customers",
    "shipping_address": "addresses",
    "billing_address": "addresses",
    "payment_method": "payment_methods",
    "payment_source": "payment_sources",
}


def test_a_copy_s_source_order_related_and_relationship(api, make_order, make_copy):
    source = make_order()
    order_copy = make_copy(source)
    url = f"{BASE}/order_copies/{order_copy.pk}"
    related = api.get(f"/api/order_copies/{order_copy.pk}/source_order").json()
    assert set(related) == {"data"}
    assert related["data"]["type"] == "orders"
    assert related["data"]["id"] == source.pk
    assert related["data"]["meta"]["mode"] == "test"
    assert related["data"]["attributes"]["number"] == source.number
    relationship = api.get(f"/api/order_copies/{order_copy.pk}/relationships/source_order").json()
    assert relationship == {
        "data": {"type": "orders", "id": source.pk},
        "links": {"self": f"{url}/relationships/source_order", "related": f"{url}/source_order"},
    }


def test_a_pending_copy_s_target_order_is_null(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    assert api.get(f"/api/order_copies/{order_copy.pk}/target_order").json() == {"data": None}
    relationship = api.get(f"/api/order_copies/{order_copy.pk}/relationships/target_order").json()
    assert relationship["data"] is None
    assert set(relationship["links"]) == {"self", "related"}


def test_a_completed_copy_s_target_order(api, completed_copy):
    target_id = completed_copy.target_order_id
    related = api.get(f"/api/order_copies/{completed_copy.pk}/target_order").json()
    assert (related["data"]["type"], related["data"]["id"]) == ("orders", target_id)
    relationship = api.get(f"/api/order_copies/{completed_copy.pk}/relationships/target_order")
    assert relationship.json()["data"] == {"type": "orders", "id": target_id}


def test_a_copy_s_events_are_a_paginated_list(api, completed_copy):
    body = api.get(f"/api/order_copies/{completed_copy.pk}/events").json()
    names = [event["attributes"]["name"] for event in body["data"]]
    assert names == ["order_copies.create", "order_copies.start", "order_copies.complete"]
    assert body["meta"] == {"record_count": 3, "page_count": 1}
    assert set(body["links"]) == {"first", "last"}
    assert all(event["type"] == "events" for event in body["data"])
    relationship = api.get(f"/api/order_copies/{completed_copy.pk}/relationships/events").json()
    assert [item["type"] for item in relationship["data"]] == ["events"] * 3
    assert [item["id"] for item in relationship["data"]] == [e["id"] for e in body["data"]]


def test_a_to_many_relationship_endpoint_is_paginated(api, make_order):
    order = make_order(lines=12)
    url = f"/api/orders/{order.pk}/relationships/line_items"
    first = api.get(url).json()
    assert len(first["data"]) == 10
    assert first["meta"] == {"record_count": 12, "page_count": 2}
    second = api.get(url, {"page[number]": "2"}).json()
    assert len(second["data"]) == 2
    ids = {i["id"] for i in first["data"] + second["data"]}
    assert ids == set(order.line_items.values_list("pk", flat=True))
    assert api.get(url, {"page[size]": "26"}).status_code == 400


def test_a_to_many_relationship_endpoint_has_pagination_links(api, make_order):
    order = make_order(lines=12)
    body = api.get(f"/api/orders/{order.pk}/relationships/line_items").json()
    assert {"self", "related", "first", "next", "last"} <= set(body["links"])


@pytest.mark.parametrize("name", sorted(ORDER_TO_ONE))
def test_every_to_one_relationship_of_an_order(api, make_order, name):
    order = make_order()
    target_id = getattr(order, f"{name}_id")
    assert target_id is not None
    related = api.get(f"/api/orders/{order.pk}/{name}").json()
    assert related["data"]["type"] == ORDER_TO_ONE[name]
    assert related["data"]["id"] == target_id
    assert related["data"]["meta"]["mode"] == "test"
    relationship = api.get(f"/api/orders/{order.pk}/relationships/{name}").json()
    assert relationship["data"] == {"type": ORDER_TO_ONE[name], "id": target_id}
    url = f"{BASE}/orders/{order.pk}"
    assert relationship["links"] == {
        "self": f"{url}/relationships/{name}",
        "related": f"{url}/{name}",
    }


@pytest.mark.parametrize("name", ["payment_source", "payment_method", "billing_address"])
def test_an_unset_to_one_relationship_of_an_order_is_null(api, market, name):
    order = order_create(market=market)
    assert api.get(f"/api/orders/{order.pk}/{name}").json() == {"data": None}
    assert api.get(f"/api/orders/{order.pk}/relationships/{name}").json()["data"] is None


def test_an_order_s_line_items_related_and_relationship(api, make_order):
    order = make_order(lines=3)
    body = api.get(f"/api/orders/{order.pk}/line_items").json()
    assert [r["type"] for r in body["data"]] == ["line_items"] * 3
    assert body["meta"] == {"record_count": 3, "page_count": 1}
    assert {r["relationships"]["order"]["data"]["id"] for r in body["data"]} == {order.pk}
    relationship = api.get(f"/api/orders/{order.pk}/relationships/line_items").json()
    assert sorted(i["id"] for i in relationship["data"]) == sorted(r["id"] for r in body["data"])


def test_an_order_s_order_copies_related_and_relationship(api, make_order, make_copy):
    order = make_order()
    made = {make_copy(order).pk, make_copy(order).pk}
    make_copy(make_order())
    body = api.get(f"/api/orders/{order.pk}/order_copies").json()
    assert {r["id"] for r in body["data"]} == made
    assert body["meta"] == {"record_count": 2, "page_count": 1}
    relationship = api.get(f"/api/orders/{order.pk}/relationships/order_copies").json()
    assert {i["id"] for i in relationship["data"]} == made
    assert {i["type"] for i in relationship["data"]} == {"order_copies"}


def test_an_order_s_events(api, make_order):
    order = make_order(place=True)
    body = api.get(f"/api/orders/{order.pk}/events").json()
    names = [event["attributes"]["name"] for event in body["data"]]
    assert names[0] == "orders.create"
    assert names[-1] == "orders.place"
    assert body["meta"]["record_count"] == len(names)
    relationship = api.get(f"/api/orders/{order.pk}/relationships/events").json()
    assert len(relationship["data"]) == len(names)


def test_a_to_many_related_endpoint_is_paginated(api, make_order):
    order = make_order(lines=12)
    body = api.get(f"/api/orders/{order.pk}/line_items", {"page[size]": "5"}).json()
    assert len(body["data"]) == 5
    assert body["meta"] == {"record_count": 12, "page_count": 3}
    assert query_of(body["links"]["next"])["page[number]"] == ["2"]
    assert body["links"]["first"] == f"{BASE}/orders/{order.pk}/line_items?page%5Bsize%5D=5"


@pytest.mark.parametrize("kind", ["", "relationships/"])
def test_an_unknown_relationship_is_404(api, make_order, make_copy, kind):
    order_copy = make_copy(make_order())
    response = api.get(f"/api/order_copies/{order_copy.pk}/{kind}bogus")
    assert_error(response, 404, "RECORD_NOT_FOUND")


@pytest.mark.parametrize("kind", ["", "relationships/"])
def test_the_related_endpoints_of_an_unknown_record_are_404(api, kind):
    assert_error(api.get(f"/api/orders/NoSuchId00/{kind}market"), 404, "RECORD_NOT_FOUND")


@pytest.mark.parametrize("include", ["market", "bogus"])
def test_include_on_a_related_endpoint_never_fails(api, no_raise, make_order, make_copy, include):
    order_copy = make_copy(make_order())
    response = api.get(f"/api/order_copies/{order_copy.pk}/source_order", {"include": include})
    if include == "market":
        assert response.status_code == 200
        assert [r["type"] for r in response.json()["included"]] == ["markets"]
    else:
        assert_error(response, 400, "INVALID_RESOURCE")


@pytest.mark.parametrize(
    "params", [{"filter[q][bogus_eq]": "1"}, {"filter[q][sku_code_eq]": "X"}, {"sort": "quantity"}]
)
def test_a_filter_or_sort_on_a_related_endpoint_is_refused_not_ignored(api, make_order, params):
    order = make_order(lines=2)
    response = api.get(f"/api/orders/{order.pk}/line_items", params)
    assert_error(response, 400, "FILTER_NOT_ALLOWED")


@pytest.mark.parametrize("path", ["/api/order_copies/abc-def", "/api/no_such_type"])
def test_an_unrouted_api_path_is_a_json_api_404(api, path):
    assert_error(api.get(path), 404, "RECORD_NOT_FOUND")
