"""POST /oauth/token, the token's claims, `manage.py create_api_client`, and what a sales-channel
token may do (SPEC.md §5, issue 4 §5)."""

import io
import json
import time
from urllib.parse import urlencode

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import CommandError, call_command

from api.models import ApiClient
from api.ratelimit import rate_parse
from api.services import api_client_create, api_client_revoke
from ordercopies.models import OrderCopy
from orders.models import LineItem, Order
from tests import factories
from tests.api.conftest import ApiCaller, assert_error, copy_document, linkage, patch_document

TOKEN_KEYS = {"access_token", "token_type", "expires_in", "scope", "created_at"}


@pytest.fixture
def integration(db):
    client, secret = api_client_create(name="ERP", kind="integration", mode="test")
    return client, secret


@pytest.fixture
def sales_channel(db):
    client, secret = api_client_create(
        name="Shop", kind="sales_channel", mode="live", market_codes=["eu", "us"]
    )
    assert secret is None
    return client


def post_json(client, body):
    return client.post("/oauth/token", json.dumps(body), content_type="application/json")


def post_form(client, body):
    return client.post(
        "/oauth/token", urlencode(body), content_type="application/x-www-form-urlencoded"
    )


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# /oauth/token -----------------------------------------------------------------------------------


@pytest.mark.parametrize("post", [post_json, post_form], ids=["json", "form"])
def test_an_integration_gets_a_token_with_its_secret(client, integration, post):
    api_client, secret = integration
    before = int(time.time())
    response = post(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    assert body["scope"] == "market:all"
    assert before <= body["created_at"] <= int(time.time())
    caller = ApiCaller(client, body["access_token"])
    assert caller.get("/api/order_copies").status_code == 200


def test_the_token_carries_the_claims_a_commerce_layer_client_reads(client, integration):
    api_client, secret = integration
    body = post_json(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": secret,
        },
    ).json()
    decoded = claims(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS512"
    assert decoded["application"] == {
        "id": api_client.pk,
        "client_id": api_client.client_id,
        "kind": "integration",
        "public": False,
        "confidential": True,
    }
    assert decoded["organization"]["slug"] == settings.API_ORGANIZATION_SLUG
    assert decoded["organization"]["id"] == settings.API_ORGANIZATION_ID
    assert decoded["test"] is True
    assert decoded["market"] is None
    assert decoded["exp"] == decoded["iat"] + 7200 == body["created_at"] + body["expires_in"]


@pytest.mark.parametrize("post", [post_json, post_form], ids=["json", "form"])
def test_a_sales_channel_gets_a_token_for_one_of_its_markets(client, sales_channel, post):
    response = post(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": sales_channel.client_id,
            "scope": "market:code:eu",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert (body["scope"], body["expires_in"]) == ("market:code:eu", 14400)
    decoded = claims(body["access_token"])
    assert decoded["application"]["kind"] == "sales_channel"
    assert decoded["application"]["public"] is True
    assert decoded["market"] == {"code": ["eu"]}
    assert decoded["test"] is False
    assert decoded["exp"] > time.time()


def token_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert set(error) == {"title", "detail", "code", "status", "meta"}
    assert error["meta"] == {"trace_id": response["X-Trace-Id"]}
    assert (error["code"], error["status"]) == (code, str(status))
    return error


def test_an_integration_with_a_wrong_secret_is_401(client, integration):
    api_client, secret = integration
    for wrong in ("", "nope", secret + "x"):
        response = post_json(
            client,
            {
                "grant_type": "client_credentials",
                "client_id": api_client.client_id,
                "client_secret": wrong,
            },
        )
        token_error(response, 401, "INVALID_CLIENT")


def test_an_unknown_or_revoked_client_is_401(client, integration):
    api_client, secret = integration
    body = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": secret}
    token_error(post_json(client, body), 401, "INVALID_CLIENT")
    api_client_revoke(client=api_client)
    body["client_id"] = api_client.client_id
    token_error(post_json(client, body), 401, "INVALID_CLIENT")


@pytest.mark.parametrize("scope", ["", "market:code:eu market:code:us", "market:id:x", "eu"])
def test_a_sales_channel_without_one_market_scope_is_400(client, sales_channel, scope):
    body = {
        "grant_type": "client_credentials",
        "client_id": sales_channel.client_id,
        "scope": scope,
    }
    error = token_error(post_json(client, body), 400, "INVALID_SCOPE")
    assert "market:code:" in error["detail"]


def test_a_sales_channel_asking_for_a_market_it_does_not_have_is_refused(client, sales_channel):
    body = {
        "grant_type": "client_credentials",
        "client_id": sales_channel.client_id,
        "scope": "market:code:asia",
    }
    token_error(post_json(client, body), 401, "INVALID_SCOPE")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "", "CLIENT_CREDENTIALS"])
def test_an_unknown_grant_type_is_400(client, integration, grant_type):
    api_client, secret = integration
    body = {"grant_type": grant_type, "client_id": api_client.client_id, "client_secret": secret}
    error = token_error(post_json(client, body), 400, "UNSUPPORTED_GRANT_TYPE")
    assert "client_credentials" in error["detail"]


@pytest.mark.parametrize(
    "body", ["{nope", "[]", '"x"', '{"grant_type": ["client_credentials"]}', "null"]
)
def test_a_malformed_token_request_is_a_4xx(client, no_raise, db, body):
    response = client.post("/oauth/token", body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["errors"][0]["status"] == str(response.status_code)


def test_oauth_token_is_throttled(client, integration, settings):
    # A limit per hour: however slow the requests, they all fall in one window.
    settings.OAUTH_RATE = "5/hour"
    api_client, _ = integration
    allowed = rate_parse(settings.OAUTH_RATE, setting="OAUTH_RATE").limit
    body = {"grant_type": "client_credentials", "client_id": api_client.client_id}
    statuses = [post_json(client, body).status_code for _ in range(allowed + 1)]
    assert statuses[:allowed] == [401] * allowed
    assert statuses[allowed] == 429
    throttled = post_json(client, body)
    assert throttled.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert int(throttled["Retry-After"]) > 0


# create_api_client ------------------------------------------------------------------------------


def test_create_api_client_prints_the_secret_once_as_json(client, db):
    out = io.StringIO()
    call_command(
        "create_api_client",
        "--name",
        "ERP",
        "--kind",
        "integration",
        "--mode",
        "test",
        "--json",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert {"id", "client_id", "client_secret"} <= set(printed)
    stored = ApiClient.objects.get(pk=printed["id"])
    assert (stored.name, stored.kind, stored.mode) == ("ERP", "integration", "test")
    assert stored.client_id == printed["client_id"]
    assert printed["client_secret"] not in stored.secret_hash
    assert stored.check_secret(printed["client_secret"])
    response = post_json(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": printed["client_id"],
            "client_secret": printed["client_secret"],
        },
    )
    assert response.status_code == 200


def test_create_api_client_for_a_sales_channel_with_markets(db):
    out = io.StringIO()
    call_command(
        "create_api_client",
        *("--name", "Shop", "--kind", "sales_channel", "--mode", "live"),
        *("--market", "eu", "--market", "us", "--json"),
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["client_secret"] is None
    assert printed["markets"] == ["eu", "us"]
    assert ApiClient.objects.get(pk=printed["id"]).market_codes == ["eu", "us"]


def test_a_sales_channel_without_a_market_is_a_command_error(db):
    with pytest.raises(CommandError, match="--market"):
        call_command(
            "create_api_client", "--name", "Shop", "--kind", "sales_channel", "--mode", "test"
        )
    assert not ApiClient.objects.exists()


# What a sales channel may do --------------------------------------------------------------------


@pytest.fixture
def shop(make_api, market):
    """A sales-channel token for market eu (test mode)."""
    return make_api(kind="sales_channel", markets=("eu",))


def test_a_sales_channel_retrieves_an_order_of_its_market_by_id(shop, make_order):
    order = make_order()
    response = shop.get(f"/api/orders/{order.pk}")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == order.pk
    assert shop.get(f"/api/orders/{order.pk}/line_items").status_code == 200


def test_a_sales_channel_builds_and_places_an_order(shop, market, make_sku):
    sku = make_sku(price_cents=1500)
    address = shop.post(
        "/api/addresses",
        {
            "data": {
                "type": "addresses",
                "attributes": {"line_1": "1 Via Roma", "city": "Rome", "country_code": "IT"},
            }
        },
    )
    assert address.status_code == 201, address.content
    address_id = address.json()["data"]["id"]
    created = shop.post(
        "/api/orders",
        {"data": {"type": "orders", "attributes": {"customer_email": "shopper@example.com"}}},
    )
    assert created.status_code == 201, created.content
    order = created.json()["data"]
    assert order["relationships"]["market"]["data"]["id"] == market.pk
    line = shop.post(
        "/api/line_items",
        {
            "data": {
                "type": "line_items",
                "attributes": {"sku_code": sku.code, "quantity": 2},
                "relationships": {"order": linkage("orders", order["id"])},
            }
        },
    )
    assert line.status_code == 201, line.content
    method = factories.PaymentMethodFactory(market=market, mode="test")
    # A sales channel pays with a payment source it created for the order (api/policy.py).
    source = shop.post(
        "/api/payment_sources",
        {
            "data": {
                "type": "payment_sources",
                "attributes": {"payment_source_type": "stripe_payments", "token": "tok_1"},
            }
        },
    )
    assert source.status_code == 201, source.content
    source_id = source.json()["data"]["id"]
    document = patch_document("orders", order["id"], _place=True)
    document["data"]["relationships"] = {
        "shipping_address": linkage("addresses", address_id),
        "billing_address": linkage("addresses", address_id),
        "payment_method": linkage("payment_methods", method.pk),
        "payment_source": linkage("payment_sources", source_id),
    }
    placed = shop.patch(f"/api/orders/{order['id']}", document)
    assert placed.status_code == 200, placed.content
    assert placed.json()["data"]["attributes"]["status"] == "placed"
    assert placed.json()["data"]["attributes"]["total_amount_cents"] > 3000


def test_a_sales_channel_changes_and_removes_line_items(shop, make_order):
    order = make_order(lines=2)
    line = order.line_items.first()
    changed = shop.patch(
        f"/api/line_items/{line.pk}", patch_document("line_items", line.pk, quantity=2)
    )
    assert changed.status_code == 200
    assert shop.delete(f"/api/line_items/{line.pk}").status_code == 204
    assert not LineItem.objects.filter(pk=line.pk).exists()


@pytest.mark.parametrize(
    "path", ["/api/orders", "/api/order_copies", "/api/line_items", "/api/events"]
)
def test_a_sales_channel_may_not_list_orders_copies_or_events(shop, make_order, path):
    make_order()
    error = assert_error(shop.get(path), 401, "UNAUTHORIZED")
    assert error["detail"] == (
        "You are not authorized to perform this action on the requested resource."
    )


def test_a_sales_channel_may_not_touch_order_copies(shop, make_order, make_copy):
    order = make_order()
    order_copy = make_copy(order)
    base = f"/api/order_copies/{order_copy.pk}"
    assert_error(shop.get(base), 401, "UNAUTHORIZED")
    assert_error(shop.get(f"{base}/source_order"), 401, "UNAUTHORIZED")
    assert_error(shop.post("/api/order_copies", copy_document(order.pk)), 401, "UNAUTHORIZED")
    document = patch_document("order_copies", order_copy.pk, _abort=True)
    assert_error(shop.patch(base, document), 401, "UNAUTHORIZED")
    assert_error(shop.delete(base), 401, "UNAUTHORIZED")
    assert OrderCopy.objects.get(pk=order_copy.pk).status == "pending"


def test_a_sales_channel_may_not_delete_orders(shop, make_order):
    order = make_order()
    assert_error(shop.delete(f"/api/orders/{order.pk}"), 401, "UNAUTHORIZED")
    assert Order.objects.filter(pk=order.pk).exists()


def test_an_order_of_another_market_does_not_exist_for_a_sales_channel(
    shop, make_order_in, other_market
):
    order = make_order_in(other_market)
    line = order.line_items.first()
    assert_error(shop.get(f"/api/orders/{order.pk}"), 404, "RECORD_NOT_FOUND")
    assert_error(shop.get(f"/api/orders/{order.pk}/line_items"), 404, "RECORD_NOT_FOUND")
    patch = patch_document("orders", order.pk, _place=True)
    assert_error(shop.patch(f"/api/orders/{order.pk}", patch), 404, "RECORD_NOT_FOUND")
    assert_error(shop.get(f"/api/line_items/{line.pk}"), 404, "RECORD_NOT_FOUND")
    line_patch = patch_document("line_items", line.pk, quantity=9)
    assert_error(shop.patch(f"/api/line_items/{line.pk}", line_patch), 404, "RECORD_NOT_FOUND")
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_a_sales_channel_cannot_add_lines_to_an_order_of_another_market(
    shop, make_order_in, other_market
):
    order = make_order_in(other_market)
    sku = order.line_items.first().sku
    document = {
        "data": {
            "type": "line_items",
            "attributes": {"sku_code": sku.code},
            "relationships": {"order": linkage("orders", order.pk)},
        }
    }
    response = shop.post("/api/line_items", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/order")
    assert order.line_items.count() == 1


def test_a_sales_channel_cannot_create_an_order_in_another_market(shop, other_market):
    document = {
        "data": {
            "type": "orders",
            "attributes": {},
            "relationships": {"market": linkage("markets", other_market.pk)},
        }
    }
    response = shop.post("/api/orders", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/market")
    assert not Order.objects.filter(market=other_market).exists()


@pytest.mark.parametrize("kind", ["", "relationships/"])
def test_a_sales_channel_cannot_read_copies_through_an_order(shop, make_order, make_copy, kind):
    order = make_order()
    make_copy(order)
    assert_error(shop.get(f"/api/orders/{order.pk}/{kind}order_copies"), 401, "UNAUTHORIZED")


def test_a_sales_channel_cannot_include_order_copies(shop, no_raise, make_order, make_copy):
    order = make_order()
    make_copy(order)
    response = shop.get(f"/api/orders/{order.pk}", {"include": "order_copies"})
    included = response.json().get("included", []) if response.status_code == 200 else []
    assert not [r for r in included if r["type"] == "order_copies"]
    assert response.status_code in (200, 400, 401)


@pytest.mark.parametrize(
    "path", ["/api/customers", "/api/payment_sources", "/api/customer_payment_sources"]
)
def test_a_sales_channel_cannot_list_customers_or_wallets(shop, make_order_in, other_market, path):
    make_order_in(other_market)
    assert_error(shop.get(path), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("path", ["markets", "payment_methods", "promotions", "coupons"])
def test_a_sales_channel_sees_only_its_market_s_catalogue(shop, other_market, path):
    promotion = factories.PromotionFactory(market=other_market, mode="test", requires_coupon=True)
    records = {
        "markets": other_market,
        "payment_methods": factories.PaymentMethodFactory(market=other_market, mode="test"),
        "promotions": promotion,
        "coupons": factories.CouponFactory(promotion=promotion, mode="test"),
    }
    response = shop.get(f"/api/{path}")
    listed = (
        {r["id"] for r in response.json().get("data", [])} if response.status_code == 200 else set()
    )
    assert records[path].pk not in listed
    assert shop.get(f"/api/{path}/{records[path].pk}").status_code in (401, 404)


# Tokens follow their client (issue 9, finding 8) -----------------------------------------------


def shop_routes(order: Order) -> list[str]:
    return [
        f"/api/orders/{order.pk}",
        f"/api/orders/{order.pk}/line_items",
        f"/api/line_items/{order.line_items.first().pk}",
        "/api/skus",
    ]


@pytest.mark.parametrize("route", range(4))
def test_a_token_stops_granting_a_market_its_client_no_longer_has(shop, make_order, route):
    path = shop_routes(make_order())[route]
    assert shop.get(path).status_code == 200
    ApiClient.objects.filter(pk=shop.api_client.pk).update(market_codes=["us"])
    error = assert_error(shop.get(path), 401, "INVALID_TOKEN")
    assert "market eu of this token is no longer allowed" in error["detail"]


def test_a_token_keeps_a_market_its_client_still_has(make_api, market, make_order):
    shop = make_api(kind="sales_channel", markets=("eu",))
    ApiClient.objects.filter(pk=shop.api_client.pk).update(market_codes=["eu", "us"])
    order = make_order()
    ApiClient.objects.filter(pk=shop.api_client.pk).update(market_codes=["eu"])
    assert [shop.get(path).status_code for path in shop_routes(order)] == [200] * 4


@pytest.mark.parametrize(
    "path", ["/api/order_copies", "/api/orders", "/api/customers", "/api/events", "/api/skus"]
)
def test_an_integration_token_ends_when_its_client_becomes_a_sales_channel(api, path):
    assert api.get(path).status_code == 200
    ApiClient.objects.filter(pk=api.api_client.pk).update(kind="sales_channel", market_codes=["eu"])
    error = assert_error(api.get(path), 401, "INVALID_TOKEN")
    assert "now a sales_channel" in error["detail"]


@pytest.mark.parametrize("route", range(4))
def test_a_sales_channel_token_never_becomes_an_integration_s(shop, make_order, route):
    order = make_order()
    path = shop_routes(order)[route]
    assert shop.get(path).status_code == 200
    assert shop.get("/api/order_copies").status_code == 401
    ApiClient.objects.filter(pk=shop.api_client.pk).update(kind="integration")
    for refused in (path, "/api/order_copies", "/api/customers"):
        error = assert_error(shop.get(refused), 401, "INVALID_TOKEN")
        assert "now a integration" in error["detail"]


def test_a_secret_is_stored_as_a_digest_and_checked_in_constant_time(db):
    client, secret = api_client_create(name="digest", kind="integration", mode="test")
    stored = ApiClient.objects.get(pk=client.pk)
    assert stored.secret_hash.startswith("sha256$") and secret not in stored.secret_hash
    assert stored.check_secret(secret)
    assert not stored.check_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not stored.check_secret("")


def test_a_secret_stored_before_digests_still_works(db):
    client, _ = api_client_create(name="old", kind="integration", mode="test")
    ApiClient.objects.filter(pk=client.pk).update(secret_hash=make_password("old-secret"))
    stored = ApiClient.objects.get(pk=client.pk)
    assert stored.check_secret("old-secret")
    assert not stored.check_secret("other")
