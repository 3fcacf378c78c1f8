"""Query counts (STYLE.md): a list costs the same number of queries for 1 record as for 25,
includes too; the detail is pinned."""

import warnings

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.deprecation import RemovedInDjango2028Warning

from ordercopies.services import order_copy_execute
from tests import factories

# Rate-limit counters (1), token's API client (1), count (1), the page with its to-one includes
# joined (1).
LIST_QUERIES = 4
# Rate-limit counters (1), token's API client (1), the record with its to-one includes joined (1).
DETAIL_QUERIES = 3


def queries_of(api, path, params=None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = api.get(path, params)
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


@pytest.fixture
def add_copies(make_order, make_copy):
    """`n` copies, each of its own source order; every other one completed (it has a target)."""

    def add(n: int) -> list:
        made = []
        for index in range(n):
            order_copy = make_copy(make_order(lines=1))
            if index % 2 == 0:
                order_copy_execute(order_copy_id=order_copy.pk)
            made.append(order_copy)
        return made

    return add


@pytest.fixture
def add_orders(make_order_in):
    """`n` orders of two lines each, in markets of their own."""

    def add(n: int) -> list:
        return [
            make_order_in(factories.MarketFactory(mode="test"), lines=2, reference=f"o{i}")
            for i in range(n)
        ]

    return add


COPY_LIST = {"include": "source_order,target_order", "page[size]": "25"}
ORDER_LIST = {"include": "line_items,market", "page[size]": "25"}


def test_a_list_of_copies_with_its_includes_costs_the_same_for_1_and_25(
    api, add_copies, django_assert_num_queries
):
    add_copies(1)
    with django_assert_num_queries(LIST_QUERIES):
        one = api.get("/api/order_copies", COPY_LIST).json()
    assert len(one["data"]) == 1
    add_copies(24)
    with django_assert_num_queries(LIST_QUERIES):
        body = api.get("/api/order_copies", COPY_LIST).json()
    assert len(body["data"]) == 25
    # The includes are really there: 25 sources and 13 targets, each once.
    assert sum(r["type"] == "orders" for r in body["included"]) == 25 + 13


def test_a_list_of_copies_without_includes_costs_the_same_for_1_and_25(api, add_copies):
    add_copies(1)
    one = queries_of(api, "/api/order_copies", {"page[size]": "25"})
    add_copies(24)
    assert queries_of(api, "/api/order_copies", {"page[size]": "25"}) == one == LIST_QUERIES


def test_a_list_of_orders_with_line_items_and_market_costs_the_same_for_1_and_25(
    api, add_orders, django_assert_num_queries
):
    add_orders(1)
    # ... and one prefetch of the line items of the whole page.
    with django_assert_num_queries(LIST_QUERIES + 1):
        one = api.get("/api/orders", ORDER_LIST).json()
    assert len(one["data"]) == 1
    add_orders(24)
    with django_assert_num_queries(LIST_QUERIES + 1):
        body = api.get("/api/orders", ORDER_LIST).json()
    assert len(body["data"]) == 25
    kinds = [r["type"] for r in body["included"]]
    assert (kinds.count("line_items"), kinds.count("markets")) == (50, 25)


def test_the_detail_of_a_copy_is_pinned(api, add_copies, django_assert_num_queries):
    [order_copy] = add_copies(1)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = api.get(f"/api/order_copies/{order_copy.pk}")
    assert response.json()["data"]["id"] == order_copy.pk
    with django_assert_num_queries(DETAIL_QUERIES):
        body = api.get(
            f"/api/order_copies/{order_copy.pk}", {"include": "source_order,target_order"}
        ).json()
    assert {r["type"] for r in body["included"]} == {"orders"}


def test_the_detail_of_an_order_with_its_lines_is_pinned(
    api, add_orders, django_assert_num_queries
):
    [order] = add_orders(1)
    with django_assert_num_queries(DETAIL_QUERIES + 1):
        body = api.get(f"/api/orders/{order.pk}", {"include": "line_items,market"}).json()
    assert len(body["included"]) == 3


def test_a_related_list_costs_the_same_for_1_and_25_lines(api, make_order):
    small, large = make_order(lines=1), make_order(lines=25)
    params = {"page[size]": "25"}
    assert queries_of(api, f"/api/orders/{small.pk}/line_items", params) == queries_of(
        api, f"/api/orders/{large.pk}/line_items", params
    )


def test_a_nested_include_costs_the_same_for_1_and_25(api, add_copies):
    params = {"include": "source_order.line_items", "page[size]": "25"}
    add_copies(1)
    one = queries_of(api, "/api/order_copies", params)
    add_copies(24)
    assert queries_of(api, "/api/order_copies", params) == one


def test_a_plain_list_uses_no_deprecated_select_related(api, add_copies):
    add_copies(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with CaptureQueriesContext(connection) as context:
            api.get("/api/order_copies")
    deprecations = [w for w in caught if issubclass(w.category, RemovedInDjango2028Warning)]
    assert not deprecations, deprecations[0].message
    page_query = context.captured_queries[-1]["sql"]
    assert '"orders_market"' not in page_query
