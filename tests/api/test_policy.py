"""The access policy (api/policy.py) through every route: what a sales channel may do is exactly
the table, whatever the route (the resource itself, include at any segment of any path, related
and relationship endpoints, includes on POST and PATCH responses); it reaches only the rows of
its markets; it changes only orders it can build; and it pays only with payment sources it
created for the order (never another customer's wallet, whichever route sets the source)."""

import pytest

from api import policy
from api.urls import RESOURCES
from orders import services as order_services
from orders.models import LineItem, Order, PaymentSource
from tests import factories
from tests.api.conftest import assert_error, linkage, patch_document
from tests.api.test_includes import include_paths

pytestmark = pytest.mark.usefixtures("unthrottled")


@pytest.fixture
def shop(make_api, market):
    """A sales-channel token for market eu (test mode)."""
    return make_api(kind="sales_channel", markets=("eu",))


def sc(resource_type: str) -> policy.Access:
    return policy.SALES_CHANNEL.get(resource_type, policy.NOTHING)


def forbidden_segment(root: str, path: str) -> str | None:
    """The first segment of `path` (from resource `root`) a sales channel may not follow."""
    serializer_class = RESOURCES[root].serializer_class
    for name in path.split("."):
        if not sc(serializer_class.resource_type()).may_follow(name):
            return name
        serializer_class = serializer_class.included_serializers[name]
    return None


READABLE_TYPES = {t for t in RESOURCES if sc(t).may(policy.READ)}
# Roots a sales channel reads that have includes: every path of theirs is tried.
ROOTS = sorted(t for t in READABLE_TYPES if RESOURCES[t].serializer_class.included_serializers)
PATHS = [
    (root, path) for root in ROOTS for path in include_paths(RESOURCES[root].serializer_class, 3)
]
FORBIDDEN_PATHS = [(root, path) for root, path in PATHS if forbidden_segment(root, path)]
FORBIDDEN_LINKS = [
    (t, rel.name)
    for t in sorted(READABLE_TYPES)
    for rel in RESOURCES[t].serializer_class.relationships()
    if not sc(t).may_follow(rel.name)
]


def test_the_generated_routes_reach_forbidden_relationships_deep_in_paths():
    assert ROOTS == ["line_items", "orders"]
    deep = [path for _, path in FORBIDDEN_PATHS if path.count(".") == 2]
    assert "line_items.order.order_copies" in deep
    assert ("orders", "events") in FORBIDDEN_LINKS and ("orders", "order_copies") in FORBIDDEN_LINKS


def _included_types(response):
    return {r["type"] for r in response.json().get("included", [])}


ALLOWED_TYPES = READABLE_TYPES | {"customers"}


@pytest.mark.parametrize("root", ROOTS)
def test_every_include_path_on_a_read_follows_the_table_at_every_segment(world, shop, root):
    record = world[root]
    for path in include_paths(RESOURCES[root].serializer_class, 3):
        response = shop.get(f"/api/{root}/{record.pk}", {"include": path})
        if forbidden_segment(root, path):
            assert_error(response, 401, "UNAUTHORIZED")
        else:
            assert response.status_code == 200, (path, response.content)
            assert _included_types(response) <= ALLOWED_TYPES, path


@pytest.mark.parametrize(
    ("resource_type", "related", "target"),
    [("orders", "line_items", "line_items"), ("line_items", "order", "orders")],
)
def test_every_include_path_on_a_related_endpoint_follows_the_table(
    world, shop, resource_type, related, target
):
    path = f"/api/{resource_type}/{world[resource_type].pk}/{related}"
    for include in include_paths(RESOURCES[target].serializer_class, 3):
        response = shop.get(path, {"include": include})
        if forbidden_segment(target, include):
            assert_error(response, 401, "UNAUTHORIZED")
        else:
            assert response.status_code == 200, (include, response.content)
            assert _included_types(response) <= ALLOWED_TYPES, include


@pytest.mark.parametrize(("resource_type", "name"), FORBIDDEN_LINKS)
@pytest.mark.parametrize("kind", ["", "relationships/"])
def test_every_forbidden_relationship_is_refused_on_related_and_relationship_endpoints(
    world, shop, resource_type, name, kind
):
    response = shop.get(f"/api/{resource_type}/{world[resource_type].pk}/{kind}{name}")
    assert_error(response, 401, "UNAUTHORIZED")


def test_every_forbidden_include_on_a_patch_is_refused_and_changes_nothing(world, shop):
    order = world["orders"]
    for root, include in FORBIDDEN_PATHS:
        if root != "orders":
            continue
        document = patch_document("orders", order.pk, reference=f"changed {include}")
        response = shop.patch(f"/api/orders/{order.pk}?include={include}", document)
        assert_error(response, 401, "UNAUTHORIZED")
    assert Order.objects.get(pk=order.pk).reference == ""


def test_every_forbidden_include_on_a_post_is_refused_and_creates_nothing(world, shop):
    order, sku = world["orders"], world["skus"]
    document = {
        "data": {
            "type": "line_items",
            "attributes": {"sku_code": sku.code, "quantity": 1},
            "relationships": {"order": linkage("orders", order.pk)},
        }
    }
    lines = LineItem.objects.count()
    for root, include in FORBIDDEN_PATHS:
        if root != "line_items":
            continue
        response = shop.post(f"/api/line_items?include={include}", document)
        assert_error(response, 401, "UNAUTHORIZED")
    assert LineItem.objects.count() == lines
    orders = Order.objects.count()
    created = shop.post(
        "/api/orders?include=order_copies", {"data": {"type": "orders", "attributes": {}}}
    )
    assert_error(created, 401, "UNAUTHORIZED")
    assert Order.objects.count() == orders


# The verbs of the table ---------------------------------------------------------------------


def _verb_request(caller, verb, resource_type, pk):
    empty = {"data": {"type": resource_type, "attributes": {}}}
    if verb == policy.LIST:
        return caller.get(f"/api/{resource_type}")
    if verb == policy.READ:
        return caller.get(f"/api/{resource_type}/{pk}")
    if verb == policy.CREATE:
        return caller.post(f"/api/{resource_type}", empty)
    if verb == policy.UPDATE:
        return caller.patch(f"/api/{resource_type}/{pk}", patch_document(resource_type, pk))
    return caller.delete(f"/api/{resource_type}/{pk}")


@pytest.mark.parametrize("resource_type", sorted(RESOURCES))
@pytest.mark.parametrize(
    "verb", [policy.LIST, policy.READ, policy.CREATE, policy.UPDATE, policy.DELETE]
)
def test_a_sales_channel_may_use_exactly_the_verbs_of_the_table(world, shop, resource_type, verb):
    response = _verb_request(shop, verb, resource_type, world[resource_type].pk)
    assert response.status_code < 500, response.content
    if sc(resource_type).may(verb):
        assert response.status_code != 401, response.content
    elif response.status_code != 405:  # a route the resource does not have at all
        assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("trigger", ["_cancel", "_approve", "_archive", "_unarchive"])
def test_a_sales_channel_sends_no_trigger_but_place(shop, make_order, trigger):
    order = make_order(place=True)
    response = shop.patch(
        f"/api/orders/{order.pk}", patch_document("orders", order.pk, **{trigger: True})
    )
    assert_error(response, 401, "UNAUTHORIZED")
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.archived_at) == ("placed", None)


# Rows of its markets only ---------------------------------------------------------------------


def test_a_sales_channel_reads_no_address_or_payment_source_of_another_market(
    shop, make_order_in, other_market
):
    order = make_order_in(other_market)
    for path in (
        f"/api/addresses/{order.shipping_address_id}",
        f"/api/addresses/{order.billing_address_id}",
        f"/api/payment_sources/{order.payment_source_id}",
    ):
        assert_error(shop.get(path), 404, "RECORD_NOT_FOUND")


def test_a_sales_channel_reads_the_addresses_and_sources_of_its_orders_and_its_own(
    shop, make_order
):
    order = make_order()
    for path in (
        f"/api/addresses/{order.shipping_address_id}",
        f"/api/payment_sources/{order.payment_source_id}",
    ):
        assert shop.get(path).status_code == 200, path
    address = shop.post(
        "/api/addresses",
        {
            "data": {
                "type": "addresses",
                "attributes": {"line_1": "1 Rue", "city": "Lyon", "country_code": "FR"},
            }
        },
    )
    source = shop.post(
        "/api/payment_sources",
        {
            "data": {
                "type": "payment_sources",
                "attributes": {"payment_source_type": "stripe_payments", "token": "tok"},
            }
        },
    )
    for created, resource_type in ((address, "addresses"), (source, "payment_sources")):
        assert created.status_code == 201, created.content
        pk = created.json()["data"]["id"]
        assert shop.get(f"/api/{resource_type}/{pk}").status_code == 200


@pytest.mark.parametrize("relationship", ["shipping_address", "billing_address", "payment_method"])
def test_a_sales_channel_cannot_link_its_order_to_a_record_of_another_market(
    shop, market, make_order_in, other_market, relationship
):
    foreign = make_order_in(other_market)
    own = order_services.order_create(market=market, customer_email="me@example.com")
    target = getattr(foreign, relationship)
    document = patch_document("orders", own.pk)
    document["data"]["relationships"] = {relationship: linkage(target.resource_type, target.pk)}
    response = shop.patch(f"/api/orders/{own.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer=f"/data/relationships/{relationship}")
    assert getattr(Order.objects.get(pk=own.pk), f"{relationship}_id") is None


def test_a_sales_channel_lists_and_reads_no_coupon(shop, world):
    assert_error(shop.get("/api/coupons"), 401, "UNAUTHORIZED")
    assert_error(shop.get(f"/api/coupons/{world['coupons'].pk}"), 401, "UNAUTHORIZED")
    assert_error(shop.get(f"/api/coupons/{world['coupons'].pk}/promotion"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("status", ["placed", "approved", "cancelled"])
@pytest.mark.parametrize("attribute", ["reference", "reference_origin", "metadata"])
def test_a_sales_channel_cannot_rewrite_an_order_it_cannot_build(
    shop, make_order, status, attribute
):
    order = make_order(place=True)
    if status == "approved":
        order_services.order_approve(order=order)
    if status == "cancelled":
        order_services.order_cancel(order=order)
    value = {"by": "attacker"} if attribute == "metadata" else "attacker"
    response = shop.patch(
        f"/api/orders/{order.pk}", patch_document("orders", order.pk, **{attribute: value})
    )
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert status in error["detail"]
    fresh = Order.objects.get(pk=order.pk)
    assert getattr(fresh, attribute) in ("", {})
    line = order.line_items.first()
    response = shop.patch(
        f"/api/line_items/{line.pk}", patch_document("line_items", line.pk, quantity=5)
    )
    assert_error(response, 401, "UNAUTHORIZED")
    assert LineItem.objects.get(pk=line.pk).quantity == line.quantity


def test_a_sales_channel_still_edits_a_pending_order(shop, make_order):
    order = make_order()
    response = shop.patch(
        f"/api/orders/{order.pk}", patch_document("orders", order.pk, reference="r1")
    )
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order.pk).reference == "r1"


# Payment sources: the wallet attack ------------------------------------------------------------


@pytest.fixture
def victim(make_order):
    """A placed order of a customer whose wallet holds a saved card."""
    return make_order(place=True)


@pytest.fixture
def foreign_sources(victim, shop, make_api, market):
    """Every kind of payment source the shop did not create for the order it pays."""
    other_shop = make_api(kind="sales_channel", markets=("eu",))
    integration = make_api()
    document = {
        "data": {
            "type": "payment_sources",
            "attributes": {"payment_source_type": "stripe_payments", "token": "t"},
        }
    }
    other = other_shop.post("/api/payment_sources", document).json()["data"]["id"]
    by_integration = integration.post("/api/payment_sources", document).json()["data"]["id"]
    own = shop.post("/api/payment_sources", document).json()["data"]["id"]
    first = order_services.order_create(market=market, customer_email="first@example.com")
    order_services.order_update(
        order=first,
        payment_source=PaymentSource.objects.get(pk=own),
        sales_channel=shop.api_client.pk,
    )
    return {
        "victim_wallet": victim.payment_source_id,
        "another_shop_s": other,
        "integration_s": by_integration,
        "own_on_another_order": own,
        "unowned": factories.PaymentSourceFactory(mode="test").pk,
    }


SOURCES = ["victim_wallet", "another_shop_s", "integration_s", "own_on_another_order", "unowned"]


def placeable_order(market, make_sku, *, email, **fields):
    order = order_services.order_create(market=market, customer_email=email)
    order_services.order_line_item_add(order=order, sku=make_sku(), quantity=1)
    address = factories.AddressFactory(mode="test")
    method = factories.PaymentMethodFactory(market=market, mode="test")
    return order_services.order_update(
        order=order,
        shipping_address=address,
        billing_address=address,
        payment_method=method,
        **fields,
    )


def _with_source(document, source_id):
    document["data"]["relationships"] = {"payment_source": linkage("payment_sources", source_id)}
    return document


@pytest.mark.parametrize("source", SOURCES)
def test_creating_an_order_with_a_foreign_source_is_refused(shop, victim, foreign_sources, source):
    orders = Order.objects.count()
    email = victim.customer_email  # binding to the victim by email grants nothing
    document = _with_source(
        {"data": {"type": "orders", "attributes": {"customer_email": email}}},
        foreign_sources[source],
    )
    response = shop.post("/api/orders", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_source")
    assert Order.objects.count() == orders


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("place", [False, True])
def test_setting_a_foreign_source_on_an_order_is_refused(
    shop, victim, market, make_sku, foreign_sources, source, place
):
    order = placeable_order(market, make_sku, email=victim.customer_email)
    attributes = {"_place": True} if place else {}
    document = _with_source(
        patch_document("orders", order.pk, **attributes), foreign_sources[source]
    )
    response = shop.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_source")
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.payment_source_id) == ("pending", None)


@pytest.mark.parametrize("source", SOURCES)
def test_placing_an_order_someone_else_gave_a_foreign_source_is_refused(
    shop, victim, market, make_sku, foreign_sources, source
):
    """The source was set by a trusted caller (an integration, staff): a sales channel still
    may not place with it, so a guessed or learnt order id pays nothing."""
    payment_source = PaymentSource.objects.get(pk=foreign_sources[source])
    if payment_source.customer_id is not None:
        email = payment_source.customer.email
    else:
        email = victim.customer_email
    order = placeable_order(market, make_sku, email=email)
    if source != "own_on_another_order":
        order = order_services.order_update(order=order, payment_source=payment_source)
    else:
        Order.objects.filter(pk=order.pk).update(payment_source=payment_source)
    response = shop.patch(
        f"/api/orders/{order.pk}", patch_document("orders", order.pk, _place=True)
    )
    assert_error(response, 422, "ORDER_NOT_PLACEABLE")
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_a_sales_channel_places_an_order_with_the_source_it_created_for_it(shop, market, make_sku):
    order = placeable_order(market, make_sku, email="shopper@example.com")
    created = shop.post(
        "/api/payment_sources",
        {
            "data": {
                "type": "payment_sources",
                "attributes": {"payment_source_type": "stripe_payments", "token": "tok"},
            }
        },
    )
    assert created.status_code == 201, created.content
    source_id = created.json()["data"]["id"]
    assert PaymentSource.objects.get(pk=source_id).created_by_client == shop.api_client.pk
    document = _with_source(patch_document("orders", order.pk, _place=True), source_id)
    response = shop.patch(f"/api/orders/{order.pk}", document)
    assert response.status_code == 200, response.content
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.payment_status, fresh.payment_source_id) == (
        "placed",
        "authorized",
        source_id,
    )


def test_an_integration_places_an_order_with_its_customer_s_wallet(api, victim, market, make_sku):
    order = placeable_order(market, make_sku, email=victim.customer_email)
    document = _with_source(
        patch_document("orders", order.pk, _place=True), victim.payment_source_id
    )
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order.pk).status == "placed"


def test_an_integration_cannot_pay_with_another_customer_s_wallet(api, victim, market, make_sku):
    order = placeable_order(market, make_sku, email="someone.else@example.com")
    document = _with_source(
        patch_document("orders", order.pk, _place=True), victim.payment_source_id
    )
    response = api.patch(f"/api/orders/{order.pk}", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/payment_source")
    assert Order.objects.get(pk=order.pk).status == "pending"
