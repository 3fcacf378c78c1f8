"""filter[q][<attribute>_<predicate>] (SPEC.md §5): every predicate on order copies and orders,
relationship paths, metadata_jcont, and a 400 FILTER_NOT_ALLOWED for anything not understood."""

import json
import random
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ordercopies.models import OrderCopy
from ordercopies.services import order_copy_abort
from tests import factories
from tests.api.conftest import assert_error


def ids(api, path="/api/order_copies", **params):
    query = {f"filter[q][{key}]": value for key, value in params.items()}
    response = api.get(path, {**query, "page[size]": "25"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["record_count"] == len(body["data"])
    return {resource["id"] for resource in body["data"]}


def stamp(order_copy):
    return OrderCopy.objects.get(pk=order_copy.pk).created_at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def varied(make_order, make_copy, failed_copy, completed_copy):
    """a: pending, b: aborted, c: failed, d: completed; each with its own source order."""
    a = make_copy(make_order(), place_target_order=True, metadata={"channel": "web", "n": 1})
    b = make_copy(make_order(), skip_errors=True, metadata={"channel": "pos"})
    b = order_copy_abort(order_copy=b)
    OrderCopy.objects.filter(pk=a.pk).update(reference="alpha-1")
    OrderCopy.objects.filter(pk=b.pk).update(reference="beta-2")
    OrderCopy.objects.filter(pk=completed_copy.pk).update(reference="Gamma_3")
    return SimpleNamespace(
        a=a.pk,
        b=b.pk,
        c=failed_copy.pk,
        d=completed_copy.pk,
        copies={"a": a, "b": b, "c": failed_copy, "d": completed_copy},
    )


def named(varied, letters):
    return {getattr(varied, letter) for letter in letters}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("status_eq", "pending", "a"),
        ("status_not_eq", "pending", "bcd"),
        ("status_in", "failed,completed", "cd"),
        ("status_not_in", "failed,completed", "ab"),
        ("errors_count_gt", "0", "c"),
        ("errors_count_gteq", "1", "c"),
        ("errors_count_lt", "1", "abd"),
        ("errors_count_lteq", "0", "abd"),
        ("attempts_eq", "1", "cd"),
        ("reference_cont", "et", "b"),
        ("reference_cont", "GAMMA", "d"),
        ("reference_not_cont", "a", "c"),
        ("reference_start", "AL", "a"),
        ("reference_end", "_3", "d"),
        ("reference_matches", "%a-_", "ab"),
        ("reference_matches", "gamma%", "d"),
        ("completed_at_null", "true", "abc"),
        ("completed_at_null", "false", "d"),
        ("completed_at_not_null", "true", "d"),
        ("failed_at_not_null", "1", "c"),
        ("reference_present", "true", "abd"),
        ("reference_blank", "true", "c"),
        ("reference_blank", "false", "abd"),
        ("place_target_order_true", "true", "a"),
        ("place_target_order_true", "false", "bcd"),
        ("skip_errors_false", "true", "acd"),
        ("skip_errors_eq", "true", "b"),
        ("target_order_id_null", "false", "d"),
    ],
)
def test_each_predicate_on_order_copies(api, varied, key, value, expected):
    assert ids(api, **{key: value}) == named(varied, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [('{"channel": "web"}', "a"), ('{"channel": "pos"}', "b"), ("{}", "abcd")],
)
def test_metadata_jcont_is_json_containment(api, varied, value, expected):
    assert ids(api, metadata_jcont=value) == named(varied, expected)


def test_filters_on_relationship_paths_of_order_copies(api, varied):
    a, d = varied.copies["a"], OrderCopy.objects.get(pk=varied.d)
    assert ids(api, source_order_number_eq=a.source_order.number) == {varied.a}
    assert ids(api, source_order_id_eq=a.source_order_id) == {varied.a}
    assert ids(api, target_order_number_eq=d.target_order.number) == {varied.d}
    assert ids(api, source_order_number_in=f"{a.source_order.number},nope") == {varied.a}


def test_filters_on_ids_and_timestamps(api, varied):
    assert ids(api, id_in=f"{varied.a},{varied.b}") == {varied.a, varied.b}
    assert ids(api, id_not_eq=varied.a) == named(varied, "bcd")
    first = min(varied.copies.values(), key=lambda c: OrderCopy.objects.get(pk=c.pk).created_at)
    last = max(varied.copies.values(), key=lambda c: OrderCopy.objects.get(pk=c.pk).created_at)
    assert ids(api, created_at_gteq=stamp(first)) == named(varied, "abcd")
    assert ids(api, created_at_gt=stamp(last)) == set()
    assert ids(api, created_at_lteq=stamp(first)) == {first.pk}
    assert ids(api, created_at_lt=stamp(first)) == set()
    assert ids(api, created_at_eq=stamp(last)) == {last.pk}
    assert ids(api, created_at_gt="2000-01-01") == named(varied, "abcd")


def test_filters_combine_with_and(api, varied):
    assert ids(api, status_in="pending,aborted", metadata_jcont='{"channel": "pos"}') == {varied.b}
    assert ids(api, status_eq="pending", reference_start="beta") == set()


def test_a_filter_counts_and_pages_the_filtered_records(api, make_order, make_copy):
    source = make_order()
    for n in range(13):
        make_copy(source, reference="keep" if n % 2 else "drop")
    body = api.get("/api/order_copies", {"filter[q][reference_eq]": "keep"}).json()
    assert body["meta"] == {"record_count": 6, "page_count": 1}
    assert {r["attributes"]["reference"] for r in body["data"]} == {"keep"}


# Orders ----------------------------------------------------------------------------------------


@pytest.fixture
def orders(make_order, make_order_in, other_market):
    placed = make_order(place=True, reference="first")
    pending = make_order(lines=3, metadata={"vip": True})
    abroad = make_order_in(other_market)
    return SimpleNamespace(placed=placed, pending=pending, abroad=abroad)


def test_orders_by_market_code_through_the_relationship_path(api, orders):
    everyone = {orders.placed.pk, orders.pending.pk, orders.abroad.pk}
    assert ids(api, "/api/orders", market_code_in="eu,us") == everyone
    assert ids(api, "/api/orders", market_code_eq="us") == {orders.abroad.pk}
    assert ids(api, "/api/orders", market_code_not_in="us") == {orders.placed.pk, orders.pending.pk}
    assert ids(api, "/api/orders", market_id_eq=orders.abroad.market_id) == {orders.abroad.pk}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("status_eq", "placed", {"placed"}),
        ("status_not_eq", "placed", {"pending", "abroad"}),
        ("placed_at_null", "true", {"pending", "abroad"}),
        ("placed_at_not_null", "true", {"placed"}),
        ("skus_count_gteq", "3", {"pending"}),
        ("skus_count_lt", "3", {"placed", "abroad"}),
        ("currency_code_eq", "USD", {"abroad"}),
        ("customer_email_end", "@example.com", {"placed", "pending", "abroad"}),
        ("customer_email_cont", "NOBODY", set()),
        ("reference_present", "true", {"placed"}),
        ("payment_status_in", "authorized,paid", {"placed"}),
        ("archived_at_null", "true", {"placed", "pending", "abroad"}),
    ],
)
def test_each_kind_of_order_attribute_filters(api, orders, key, value, expected):
    wanted = {getattr(orders, name).pk for name in expected}
    assert ids(api, "/api/orders", **{key: value}) == wanted


def test_orders_by_metadata_containment(api, orders):
    assert ids(api, "/api/orders", metadata_jcont='{"vip": true}') == {orders.pending.pk}
    assert ids(api, "/api/orders", metadata_jcont='{"vip": false}') == set()


def test_orders_by_number_and_customer_email(api, orders):
    number = orders.pending.number
    assert ids(api, "/api/orders", number_eq=number) == {orders.pending.pk}
    email = orders.placed.customer_email
    assert ids(api, "/api/orders", customer_email_address_eq=email) == {orders.placed.pk}
    assert ids(api, "/api/orders", customer_email_eq=email.upper()) == set()


# Refused filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("filter[q][nope_eq]", "1"),
        ("filter[q][lost_runs_eq]", "0"),
        ("filter[q][source_order_eq]", "x"),
        ("filter[q][status_like]", "pending"),
        ("filter[q][status]", "pending"),
        ("filter[q][_eq]", "pending"),
        ("filter[status]", "pending"),
        ("filter[q]", "status_eq"),
        ("filter", "status_eq=pending"),
        ("filter[q][status_eq][x]", "pending"),
        ("filter[q][STATUS_EQ]", "pending"),
        ("filters[q][status_eq]", "pending"),
        ("filter[q][created_at_gt]", "yesterday"),
        ("filter[q][created_at_eq]", "2026-13-45"),
        ("filter[q][created_at_eq]", ""),
        ("filter[q][created_at_in]", "2026-01-01,notadate"),
        ("filter[q][errors_count_gt]", "many"),
        ("filter[q][errors_count_in]", "1,x"),
        ("filter[q][metadata_jcont]", "{bad"),
        ("filter[q][metadata_jcont]", "[1]"),
        ("filter[q][metadata_jcont]", '"text"'),
        ("filter[q][status_jcont]", '{"a": 1}'),
        ("filter[q][status_true]", "true"),
        ("filter[q][completed_at_null]", "maybe"),
        ("filter[q][reference_blank]", ""),
        ("filter[q][place_target_order_eq]", "maybe"),
    ],
)
def test_a_filter_that_is_not_understood_is_400(api, make_order, make_copy, param, value):
    make_copy(make_order())
    error = assert_error(api.get("/api/order_copies", {param: value}), 400, "FILTER_NOT_ALLOWED")
    assert error["title"] == "Invalid filter"


def test_the_refusal_names_the_filter_and_what_is_allowed(api):
    error = assert_error(
        api.get("/api/order_copies", {"filter[q][nope_eq]": "1"}), 400, "FILTER_NOT_ALLOWED"
    )
    assert "filter[q][nope_eq]" in error["detail"]
    assert "source_order_number" in error["detail"]
    assert "not_eq" in error["detail"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/orders", "filter[q][market_currency_code_eq]"),
        ("/api/orders", "filter[q][market_payment_methods_name_eq]"),
        ("/api/orders", "filter[q][total_amount_cents_like]"),
        ("/api/line_items", "filter[q][unit_amount_cents_eq]"),
        ("/api/events", "filter[q][payload_jcont]"),
        ("/api/markets", "filter[q][currency_code_eq]"),
    ],
)
def test_every_list_refuses_unlisted_filters(api, path, param):
    assert_error(api.get(path, {param: "1"}), 400, "FILTER_NOT_ALLOWED")


# _matches: Commerce Layer's wildcards, as SQL LIKE ---------------------------------------------

PATTERN_ALPHABET = "aAbB%_\\.*+?()[]^$|{}-x"
NAME_ALPHABET = "aAbB%_\\.*+?()[]x-"


def matches_reference(pattern: str, value: str) -> bool:
    """Ransack's `_matches` in Python: `%` any run, `_` any one character, the rest literal,
    ASCII letters in any case. Dynamic programming, not a regex: linear in each of them."""
    pattern, value = pattern.lower(), value.lower()
    reachable = [True] + [False] * len(value)  # value prefixes the pattern so far matches
    for c in pattern:
        if c == "%":
            for i in range(1, len(value) + 1):
                reachable[i] = reachable[i] or reachable[i - 1]
        else:
            for i in range(len(value), 0, -1):
                reachable[i] = reachable[i - 1] and (c == "_" or c == value[i - 1])
            reachable[0] = False
    return reachable[-1]


@pytest.fixture
def named_skus(db):
    rng = random.Random(9)
    names = ["a%b", "a_b", "a\\b", "A.B", "(a)*", "[ab]+", "ab", "aXb", "a\\\\b", "%", "_"]
    while len(names) < 25:
        names.append("".join(rng.choice(NAME_ALPHABET) for _ in range(rng.randint(1, 7))))
    return {factories.SkuFactory(mode="test", name=name).pk: name for name in names}


def sku_ids(api, pattern):
    return ids(api, "/api/skus", name_matches=pattern)


@pytest.mark.usefixtures("unthrottled")
def test_generated_matches_patterns_agree_with_the_reference(api, named_skus):
    rng = random.Random(2026)
    patterns = ["%", "_", "\\", "a\\b", "a%b", "a_b", "%\\%", "[ab]+", "(a)*", "%.%", "A%"]
    patterns += [
        "".join(rng.choice(PATTERN_ALPHABET) for _ in range(rng.randint(1, 10))) for _ in range(80)
    ]
    for pattern in patterns:
        expected = {pk for pk, name in named_skus.items() if matches_reference(pattern, name)}
        assert sku_ids(api, pattern) == expected, pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "%" * 255,
        "%a" * 127,
        "_%" * 127,
        "%" * 120 + "b" + "%" * 120,
        "(" * 100 + "%" + "*" * 100,
        "\\" * 255,
    ],
)
def test_long_matches_patterns_are_answered_with_like_not_a_regex(api, named_skus, pattern):
    with CaptureQueriesContext(connection) as context:
        found = sku_ids(api, pattern)
    expected = {pk for pk, name in named_skus.items() if matches_reference(pattern, name)}
    assert found == expected
    sql = " ".join(q["sql"] for q in context.captured_queries).upper()
    assert "LIKE" in sql
    assert "REGEXP" not in sql and "~*" not in sql


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name_matches", "%" * 256),
        ("name_matches", "%" * 1200),
        ("name_eq", "x" * 1001),
        ("name_cont", "x" * 5000),
        ("code_in", ",".join(f"c{i}" for i in range(101))),
    ],
)
def test_filter_values_beyond_their_bounds_are_400(api, named_skus, key, value):
    response = api.get("/api/skus", {f"filter[q][{key}]": value})
    error = assert_error(response, 400, "FILTER_NOT_ALLOWED")
    assert f"filter[q][{key}]" in error["detail"]


def test_matches_needs_a_text_attribute(api, named_skus):
    response = api.get("/api/skus", {"filter[q][stock_quantity_matches]": "1%"})
    assert_error(response, 400, "FILTER_NOT_ALLOWED")


# metadata_jcont on every database ------------------------------------------------------------

SCALARS = ["web", "pos", 1, 2, 1.5, True, False, None, "1", "true"]


def contains(document, wanted) -> bool:
    """PostgreSQL's `@>` for objects (of objects) of scalars."""
    if isinstance(wanted, dict):
        return isinstance(document, dict) and all(
            key in document and contains(document[key], value) for key, value in wanted.items()
        )
    return type(document) is type(wanted) and document == wanted


def random_object(rng, depth=2):
    result = {}
    for key in rng.sample(["a", "b", "c", "k y", "é"], rng.randint(1, 3)):
        nested = depth > 0 and rng.random() < 0.3
        result[key] = random_object(rng, depth - 1) if nested else rng.choice(SCALARS)
    return result


def sub_object(rng, document):
    picked = {}
    for key in rng.sample(sorted(document), rng.randint(1, len(document))):
        value = document[key]
        picked[key] = sub_object(rng, value) if isinstance(value, dict) else value
    return picked


@pytest.fixture
def metadata_orders(db):
    rng = random.Random(42)
    market = factories.MarketFactory(mode="test")
    return {
        factories.OrderFactory(market=market, metadata=metadata).pk: metadata
        for metadata in [random_object(rng) for _ in range(20)]
    }


@pytest.mark.usefixtures("unthrottled")
def test_generated_metadata_jcont_agrees_with_json_containment(api, metadata_orders):
    rng = random.Random(7)
    documents = list(metadata_orders.values())
    queries = [sub_object(rng, rng.choice(documents)) for _ in range(30)]
    queries += [random_object(rng) for _ in range(20)]
    for wanted in queries:
        expected = {pk for pk, document in metadata_orders.items() if contains(document, wanted)}
        found = ids(api, "/api/orders", metadata_jcont=json.dumps(wanted))
        assert found == expected, wanted


@pytest.mark.parametrize(
    "value", ['{"tags": ["x"]}', '{"zz": {}}', '{"0": 1}', '{"q\\"t": 1}', '{"a__b": 1}']
)
def test_jcont_with_arrays_or_empty_objects_is_refused_on_sqlite_only(api, metadata_orders, value):
    factories.OrderFactory(
        market=factories.MarketFactory(mode="test"),
        metadata={"tags": ["x", "y"], "zz": {"z": 1}, "0": 1, 'q"t': 1, "a__b": 1},
    )
    response = api.get("/api/orders", {"filter[q][metadata_jcont]": value})
    if connection.vendor == "postgresql":
        assert response.status_code == 200
        assert len(response.json()["data"]) == 1
    else:
        error = assert_error(response, 400, "FILTER_NOT_ALLOWED")
        assert "PostgreSQL" in error["detail"]
