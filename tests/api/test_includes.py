"""`include`: every relationship path of every resource, generated from the serializers'
`included_serializers`, up to and beyond the depth limit. Within the limits every path answers
with each included resource once and a bounded number of queries; beyond them a 400 before
anything is read. The order → line_items → order cycle costs one query, whatever its length."""

from itertools import islice

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api import policy
from api.urls import RESOURCES
from tests.api.conftest import assert_error

pytestmark = pytest.mark.usefixtures("unthrottled")


def include_paths(serializer_class, depth: int) -> list[str]:
    found = []
    for name, included in serializer_class.included_serializers.items():
        found.append(name)
        if depth > 1:
            found += [f"{name}.{path}" for path in include_paths(included, depth - 1)]
    return found


INCLUDING = sorted(t for t, v in RESOURCES.items() if v.serializer_class.included_serializers)
WITHIN = {
    t: include_paths(RESOURCES[t].serializer_class, policy.MAX_INCLUDE_DEPTH) for t in INCLUDING
}
BEYOND = {
    t: [
        path
        for path in include_paths(RESOURCES[t].serializer_class, policy.MAX_INCLUDE_DEPTH + 1)
        if path.count(".") == policy.MAX_INCLUDE_DEPTH
    ]
    for t in INCLUDING
}


def chunks(items: list[str], size: int) -> list[list[str]]:
    iterator = iter(items)
    return list(iter(lambda: list(islice(iterator, size)), []))


def prefixes(paths: list[str]) -> set[str]:
    return {".".join(p.split(".")[: i + 1]) for p in paths for i in range(p.count(".") + 1)}


def get_counted(api, path, params=None):
    with CaptureQueriesContext(connection) as context:
        response = api.get(path, params)
    return response, context.captured_queries


def test_the_generated_paths_cover_every_resource_and_the_cycle():
    assert set(INCLUDING) == {
        "order_copies",
        "order_factories",
        "orders",
        "line_items",
        "order_subscriptions",
        "event_callbacks",
    }
    assert "line_items.order.line_items" in WITHIN["orders"]
    # event_callbacks include only their webhook, which includes nothing: no path goes beyond.
    assert all(BEYOND[t] for t in INCLUDING if t != "event_callbacks")
    assert BEYOND["event_callbacks"] == []
    assert sum(len(p) for p in WITHIN.values()) > 150


@pytest.mark.parametrize("resource_type", INCLUDING)
def test_every_path_within_the_limits_includes_each_resource_once_in_bounded_queries(
    api, world, resource_type
):
    path = f"/api/{resource_type}/{world[resource_type].pk}"
    baseline, base_queries = get_counted(api, path)
    assert baseline.status_code == 200
    for chunk in chunks(WITHIN[resource_type], policy.MAX_INCLUDE_PATHS):
        response, queries = get_counted(api, path, {"include": ",".join(chunk)})
        assert response.status_code == 200, (chunk, response.content)
        body = response.json()
        keys = [(r["type"], r["id"]) for r in body["included"]]
        assert len(keys) == len(set(keys)), chunk
        assert (resource_type, world[resource_type].pk) not in keys
        # At most one query per node of the include tree, none per row.
        assert len(queries) <= len(base_queries) + len(prefixes(chunk)), chunk


@pytest.mark.parametrize("resource_type", INCLUDING)
def test_every_path_beyond_the_depth_limit_is_400_before_anything_is_read(
    api, world, resource_type
):
    path = f"/api/{resource_type}/{world[resource_type].pk}"
    _, base_queries = get_counted(api, path)
    for include in BEYOND[resource_type]:
        response, queries = get_counted(api, path, {"include": include})
        error = assert_error(response, 400, "INVALID_RESOURCE")
        assert f"at most {policy.MAX_INCLUDE_DEPTH}" in error["detail"]
        assert len(queries) < len(base_queries), include


@pytest.mark.parametrize("count", [policy.MAX_INCLUDE_PATHS + 1, 50])
def test_more_include_paths_than_the_limit_are_400(api, world, count):
    paths = (["market", "customer"] * count)[:count]
    response = api.get(f"/api/orders/{world['orders'].pk}", {"include": ",".join(paths)})
    error = assert_error(response, 400, "INVALID_RESOURCE")
    assert f"at most {policy.MAX_INCLUDE_PATHS}" in error["detail"]


@pytest.mark.parametrize("levels", [4, 9, 30])
def test_the_long_order_line_items_cycle_is_400_without_reading_a_line(api, make_order, levels):
    order = make_order(lines=5)
    include = ".".join((["line_items", "order"] * levels)[:levels])
    response, queries = get_counted(api, f"/api/orders/{order.pk}", {"include": include})
    assert_error(response, 400, "INVALID_RESOURCE")
    assert not [q for q in queries if "orders_lineitem" in q["sql"]]


@pytest.mark.parametrize(
    "include",
    [
        "line_items.order.line_items",
        "line_items.order",
        "line_items,line_items.order,line_items.order.line_items",
    ],
)
def test_the_cycle_within_the_limit_reads_each_line_once(api, make_order, include):
    order = make_order(lines=5)
    path = f"/api/orders/{order.pk}"
    _, base_queries = get_counted(api, path)
    response, queries = get_counted(api, path, {"include": include})
    assert response.status_code == 200, response.content
    body = response.json()
    lines = sorted(r["id"] for r in body["included"] if r["type"] == "line_items")
    assert lines == sorted(order.line_items.values_list("pk", flat=True))
    assert not [r for r in body["included"] if r["type"] == "orders"]
    linkage = body["data"]["relationships"]["line_items"]["data"]
    assert sorted(item["id"] for item in linkage) == lines
    # One query for the lines; the order is the primary one, its lines are loaded already.
    assert len(queries) == len(base_queries) + 1


def test_a_list_with_the_cycle_reads_each_line_once(api, make_order):
    orders = [make_order(lines=3) for _ in range(4)]
    params = {"include": "line_items.order.line_items", "page[size]": "25"}
    _, base_queries = get_counted(api, "/api/orders", {"page[size]": "25"})
    response, queries = get_counted(api, "/api/orders", params)
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == len(orders)
    assert len([r for r in body["included"] if r["type"] == "line_items"]) == 12
    assert len(queries) == len(base_queries) + 1


@pytest.mark.parametrize(
    ("include", "detail"),
    [
        ("nope", "nope cannot be included"),
        ("line_items.nope", "nope cannot be included"),
        ("market.orders", "orders cannot be included"),
        ("line_items..order", "empty relationship name"),
    ],
)
def test_an_unknown_relationship_at_any_segment_is_400(api, world, include, detail):
    response = api.get(f"/api/orders/{world['orders'].pk}", {"include": include})
    error = assert_error(response, 400, "INVALID_RESOURCE")
    assert detail in error["detail"]
