"""Every predicate form of Commerce Layer (`_eq` … `_not_in_or_null`, the `_any` / `_all`
forms), `_or_` between attributes, relationship paths two levels deep and sorts on relationship
attributes, each checked against a Python statement of its rule, on PostgreSQL and SQLite; and
the access policy on every relationship path a filter or a sort may cross."""

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.filters import paths
from api.filters.predicates import LISTED, PREDICATES
from api.urls import RESOURCES
from orders.models import Order
from tests import factories
from tests.api.conftest import assert_error
from tests.api.test_filters import ids, matches_reference

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def stamp(when):
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def rows(db, market):
    """Bare orders whose attributes cover what the predicates tell apart: text with LIKE
    wildcards and case, empty text, NULL through a missing customer, numbers and NULL times."""
    specs = [
        ("alpha", "ann@shop.io", 1, T0),
        ("Alpha-2", "bob@mail.com", 2, T0 + dt.timedelta(days=1)),
        ("beta_1", None, 3, None),
        ("a%b", "c%d@x.io", 1, T0 + dt.timedelta(days=2)),
        ("", "eve@shop.io", 0, None),
        ("gamma", None, 5, T0),
    ]
    made = {}
    for reference, email, skus, placed in specs:
        customer = factories.CustomerFactory(email=email) if email else None
        order = factories.OrderFactory(
            market=market, reference=reference, customer=customer, skus_count=skus
        )
        Order.objects.filter(pk=order.pk).update(placed_at=placed)
        made[order.pk] = {
            "reference": reference,
            "customer_email_address": email,
            "skus_count": skus,
            "placed_at": placed,
        }
    return made


def like(pattern, value):
    return matches_reference(pattern, value)


SCALAR_RULES = {
    "eq": lambda v, x: v == x,
    "not_eq": lambda v, x: v != x,
    "lt": lambda v, x: v < x,
    "lteq": lambda v, x: v <= x,
    "gt": lambda v, x: v > x,
    "gteq": lambda v, x: v >= x,
    "matches": lambda v, x: like(x, v),
    "does_not_match": lambda v, x: not like(x, v),
    "cont": lambda v, x: x.lower() in v.lower(),
    "not_cont": lambda v, x: x.lower() not in v.lower(),
    "start": lambda v, x: v.lower().startswith(x.lower()),
    "not_start": lambda v, x: not v.lower().startswith(x.lower()),
    "end": lambda v, x: v.lower().endswith(x.lower()),
    "not_end": lambda v, x: not v.lower().endswith(x.lower()),
}
FLAG_RULES = {
    "null": lambda v: v is None,
    "not_null": lambda v: v is not None,
    "present": lambda v: v is not None and v != "",
    "blank": lambda v: v is None or v == "",
}


def holds(predicate, value, raw, parse):
    """Commerce Layer's (SQL's) rule for `predicate` with `raw` on an attribute of `value`."""
    if predicate in FLAG_RULES:
        return FLAG_RULES[predicate](value) == (raw == "true")
    items = [parse(item) for item in raw.split(",")]
    if predicate.endswith("_or_null") and value is None:
        return True
    if value is None:
        return False
    base = predicate.removesuffix("_or_null")
    if base in ("in", "not_in"):
        return (value in items) == (base == "in")
    if base in SCALAR_RULES:
        return SCALAR_RULES[base](value, parse(raw))
    base, _, combine = predicate.rpartition("_")
    results = [SCALAR_RULES[base](value, item) for item in items]
    return any(results) if combine == "any" else all(results)


# attribute → (values to try, parser of a raw value); text is compared with LIKE and equality
# only: the order of text depends on the database's collation.
TEXT = (["alpha", "Alpha", "a%", "%a%", "_", "b", "alpha,gamma", "", "%"], str)
ATTRIBUTES = {
    "reference": TEXT,
    "customer_email_address": (["ann@shop.io", "%shop%", "@", "IO", "x,bob@mail.com"], str),
    "skus_count": (["1", "2", "0,5", "3,1"], int),
    "placed_at": ([stamp(T0), f"{stamp(T0)},{stamp(T0 + dt.timedelta(days=2))}"], None),
}
LIKE_FAMILY = ("matches", "does_not_match", "cont", "not_cont", "start", "not_start", "end")
ORDERING = ("lt", "lteq", "gt", "gteq")


def _parse(attribute):
    parser = ATTRIBUTES[attribute][1]
    if parser is None:
        return lambda raw: dt.datetime.fromisoformat(raw)
    return parser


def _applies(predicate, attribute):
    text = ATTRIBUTES[attribute][1] is str
    base = predicate.rpartition("_")[0] if predicate.endswith(("_any", "_all")) else predicate
    if base.startswith(LIKE_FAMILY) or base == "not_end":
        return text
    if base in ORDERING:
        return not text
    return predicate not in ("true", "false", "jcont")


CASES = [
    (predicate, attribute, raw)
    for predicate in PREDICATES
    for attribute in ATTRIBUTES
    if _applies(predicate, attribute)
    for raw in (
        ["true", "false"]
        if predicate in ("null", "not_null", "present", "blank")
        else ATTRIBUTES[attribute][0]
    )
    if predicate in LISTED or "," not in raw
]


def test_the_cases_cover_every_predicate_form():
    covered = {predicate for predicate, _, _ in CASES}
    assert covered | {"true", "false", "jcont"} == set(PREDICATES)
    assert len(PREDICATES) == 55


@pytest.mark.usefixtures("unthrottled")
@pytest.mark.parametrize("predicate", sorted({p for p, _, _ in CASES}))
def test_each_predicate_form_agrees_with_its_rule(api, rows, predicate):
    for _, attribute, raw in (case for case in CASES if case[0] == predicate):
        parse = _parse(attribute)
        expected = {
            pk for pk, values in rows.items() if holds(predicate, values[attribute], raw, parse)
        }
        found = ids(api, "/api/orders", **{f"{attribute}_{predicate}": raw})
        assert found == expected, (attribute, predicate, raw)


def test_true_and_false_on_booleans(api, make_order, make_copy):
    order = make_order()
    placing, plain = make_copy(order, place_target_order=True), make_copy(order)
    assert ids(api, place_target_order_true="true") == {placing.pk}
    assert ids(api, place_target_order_true="false") == {plain.pk}
    assert ids(api, place_target_order_false="true") == {plain.pk}
    assert ids(api, place_target_order_false="false") == {placing.pk}


def test_or_between_attributes(api, rows):
    found = ids(api, "/api/orders", reference_or_customer_email_address_cont="shop")
    expected = {
        pk
        for pk, v in rows.items()
        if "shop" in v["reference"].lower() or "shop" in (v["customer_email_address"] or "")
    }
    assert found == expected and len(expected) == 2
    nulls = ids(api, "/api/orders", customer_email_address_or_placed_at_null="true")
    assert nulls == {
        pk
        for pk, v in rows.items()
        if v["customer_email_address"] is None or v["placed_at"] is None
    }


@pytest.mark.parametrize(
    "key",
    [
        "reference_or_nope_eq",
        "reference_or__eq",
        "_or_reference_eq",
        "reference_or_reference_or_reference_or_reference_or_reference_eq",
    ],
)
def test_or_of_unknown_or_too_many_attributes_is_400(api, rows, key):
    assert_error(api.get("/api/orders", {f"filter[q][{key}]": "x"}), 400, "FILTER_NOT_ALLOWED")


# Relationship paths ---------------------------------------------------------------------------


@pytest.fixture
def linked(make_order, make_order_in, other_market, make_copy):
    here, abroad = make_order(lines=2), make_order_in(other_market, lines=1)
    return SimpleNamespace(
        here=here,
        abroad=abroad,
        copy_here=make_copy(here),
        copy_abroad=make_copy(abroad),
        sku=here.line_items.first().sku_code,
    )


def test_paths_two_relationships_deep(api, linked):
    assert ids(api, source_order_market_code_eq="us") == {linked.copy_abroad.pk}
    email = linked.here.customer.email
    assert ids(api, source_order_customer_email_eq=email) == {linked.copy_here.pk}
    line_items = ids(api, "/api/line_items", order_market_code_in="us")
    assert line_items == set(linked.abroad.line_items.values_list("pk", flat=True))
    assert ids(api, "/api/orders", order_copies_status_eq="pending") == {
        linked.here.pk,
        linked.abroad.pk,
    }
    assert ids(api, "/api/order_copies", source_order_line_items_sku_code_eq=linked.sku) == {
        linked.copy_here.pk
    }


def test_a_to_many_path_lists_each_row_once(api, linked):
    body = api.get("/api/orders", {"filter[q][line_items_quantity_gteq]": "1"}).json()
    assert sorted(r["id"] for r in body["data"]) == sorted([linked.here.pk, linked.abroad.pk])
    assert body["meta"]["record_count"] == 2


def test_a_missing_related_row_is_a_null_attribute(api, linked, completed_copy):
    done = completed_copy
    assert ids(api, target_order_number_null="true") == {linked.copy_here.pk, linked.copy_abroad.pk}
    assert ids(api, target_order_number_not_null="true") == {done.pk}
    assert ids(api, target_order_number_eq_or_null=done.target_order.number) == {
        done.pk,
        linked.copy_here.pk,
        linked.copy_abroad.pk,
    }
    assert ids(api, target_order_number_not_eq=done.target_order.number) == set()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/order_copies", "source_order_line_items_sku_code_eq_x"),
        ("/api/order_copies", "source_order_line_items_order_number_eq"),  # three deep
        ("/api/orders", "line_items_sku_nope_eq"),
        ("/api/orders", "events_name_eq"),  # not a relation of the database
        ("/api/orders", "market_orders_number_eq"),  # markets list no orders relationship
    ],
)
def test_paths_beyond_the_relationships_are_400(api, linked, path, key):
    assert_error(api.get(path, {f"filter[q][{key}]": "1"}), 400, "FILTER_NOT_ALLOWED")


def test_a_relationship_filter_adds_no_query(api, linked, django_assert_num_queries):
    with CaptureQueriesContext(connection) as plain:
        api.get("/api/order_copies")
    with django_assert_num_queries(len(plain.captured_queries)):
        found = ids(api, source_order_market_code_eq="us")
    assert found == {linked.copy_abroad.pk}


# Sorting on relationship attributes -----------------------------------------------------------


def sorted_ids(api, path, sort):
    response = api.get(path, {"sort": sort, "page[size]": "25"})
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["data"]]


def test_sort_on_a_relationship_attribute_two_deep(api, linked):
    up = sorted_ids(api, "/api/order_copies", "source_order.market.code")
    assert up == [linked.copy_here.pk, linked.copy_abroad.pk]  # eu before us
    down = sorted_ids(api, "/api/order_copies", "-source_order.market.code")
    assert down == [linked.copy_abroad.pk, linked.copy_here.pk]
    orders = sorted_ids(api, "/api/orders", "-market.code,created_at")
    assert orders == [linked.abroad.pk, linked.here.pk]


def test_missing_related_rows_sort_last_ascending_on_every_database(api, rows):
    emails = [
        rows[pk]["customer_email_address"]
        for pk in sorted_ids(api, "/api/orders", "customer.email")
    ]
    present = sorted(e for e in emails if e)
    assert emails == [*present, None, None]
    down = [
        rows[pk]["customer_email_address"]
        for pk in sorted_ids(api, "/api/orders", "-customer.email")
    ]
    assert down == [None, None, *reversed(present)]


@pytest.mark.parametrize(
    "sort",
    ["line_items.quantity", "market.nope", "market.code.x", "a.b.c.d", "events.name", "market."],
)
def test_sorts_beyond_to_one_relationships_are_400(api, linked, sort):
    assert_error(api.get("/api/orders", {"sort": sort}), 400, "SORT_NOT_ALLOWED")


# The access policy on every path ---------------------------------------------------------------


def filter_paths(resource_type, depth=paths.MAX_DEPTH, prefix=()):
    """Every chain of relationships a filter may cross from `resource_type`."""
    found = []
    for hop in paths.relationships(resource_type).values():
        chain = (*prefix, hop)
        found.append(chain)
        if len(chain) < depth:
            found += filter_paths(hop.target, depth, chain)
    return found


@pytest.fixture
def both_modes(world, live_market, make_order_in, make_copy):
    """The test world and a live order with a copy, a subscription and a tag."""
    from subscriptions.services import order_subscription_create
    from tags.services import resource_tags_change

    live = make_order_in(live_market, lines=1)
    make_copy(live)
    order_subscription_create(source_order=live, mode="live", frequency="daily")
    test_tag, live_tag = factories.TagFactory(), factories.TagFactory(mode="live")
    resource_tags_change(resource=world["orders"], add=[test_tag])
    resource_tags_change(resource=live, add=[live_tag])
    return world


@pytest.mark.usefixtures("unthrottled")
def test_no_filter_path_reaches_rows_of_the_other_mode(api, both_modes):
    """For every resource and every relationship path, `<path>_id_in=<ids of the other
    mode's rows>` matches nothing, while the same mode's ids match (the test is not vacuous)."""
    reached = 0
    for resource_type, chain in ((r, chain) for r in RESOURCES for chain in filter_paths(r)):
        target = paths.model_of(chain[-1].target)
        name = "_".join(hop.name for hop in chain) + "_id_in"
        live = ",".join(target.objects.filter(mode="live").values_list("pk", flat=True)[:50])
        same = ",".join(target.objects.filter(mode="test").values_list("pk", flat=True)[:50])
        if live:
            assert ids(api, f"/api/{resource_type}", **{name: live}) == set(), name
        if same:
            reached += bool(ids(api, f"/api/{resource_type}", **{name: same}))
    assert reached > 30


@pytest.fixture
def shop(db, make_api):
    return make_api(kind="sales_channel", markets=("eu",))


@pytest.mark.usefixtures("unthrottled")
def test_no_filter_path_reaches_rows_a_sales_channel_cannot_read(shop, world, other_market):
    """The same with a sales channel's token (market eu) and the rows of market us: every path
    of every resource it may list matches none of them, or is refused."""
    factories.PaymentMethodFactory(market=other_market, mode="test")
    factories.PromotionFactory(market=other_market, mode="test")
    listable = [r for r in RESOURCES if shop.get(f"/api/{r}").status_code == 200]
    assert {"markets", "skus", "payment_methods", "promotions"} <= set(listable)
    hidden: dict[str, set[str]] = {}
    checked = 0
    for resource_type in listable:
        for chain in filter_paths(resource_type):
            target = chain[-1].target
            if target not in hidden:
                hidden[target] = _unreadable_ids(target, shop)
            name = "_".join(hop.name for hop in chain) + "_id_in"
            value = ",".join(sorted(hidden[target])[:50])
            response = shop.get(f"/api/{resource_type}", {f"filter[q][{name}]": value})
            if response.status_code == 401:
                continue
            assert response.status_code == 200, (name, response.content)
            assert response.json()["data"] == [], name
            checked += bool(hidden[target])
    assert checked >= 2


def _unreadable_ids(resource_type, caller):
    """The rows the caller cannot read, by asking the API for each one."""
    every = paths.model_of(resource_type).objects.values_list("pk", flat=True)
    return {pk for pk in every if caller.get(f"/api/{resource_type}/{pk}").status_code != 200}


def test_a_path_the_policy_does_not_let_a_sales_channel_follow_is_refused(shop, world, monkeypatch):
    from api import policy

    rules = policy.SALES_CHANNEL["payment_methods"]
    monkeypatch.setitem(
        policy.SALES_CHANNEL, "payment_methods", policy.access("list read", relationships="")
    )
    assert rules.may_follow("market")
    filtered = shop.get("/api/payment_methods", {"filter[q][market_code_eq]": "eu"})
    assert_error(filtered, 401, "UNAUTHORIZED")
    assert_error(shop.get("/api/payment_methods", {"sort": "market.code"}), 401, "UNAUTHORIZED")


def test_a_sales_channel_sorts_on_what_it_may_follow(shop, world):
    response = shop.get("/api/payment_methods", {"sort": "-market.name"})
    assert response.status_code == 200, response.content
    assert [r["id"] for r in response.json()["data"]] == [world["payment_methods"].pk]


# No input makes a 500 --------------------------------------------------------------------------

NASTY = ["", ",", ",,", "%", "\\", "null", "9" * 40, "-1", "2026-99-99", "{", "é", "a" * 300]


@pytest.mark.usefixtures("unthrottled")
def test_no_predicate_with_any_value_is_a_server_error(api, no_raise, rows):
    keys = [
        f"{attribute}_{predicate}"
        for predicate, attribute in itertools.product(PREDICATES, [*ATTRIBUTES, "metadata"])
    ]
    for key, raw in itertools.product(keys, NASTY):
        response = api.get("/api/orders", {f"filter[q][{key}]": raw})
        assert response.status_code in (200, 400), (key, raw, response.content[:300])
