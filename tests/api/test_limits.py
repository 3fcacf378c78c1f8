"""Bounded requests (issue 9, findings 9 and Build 2, 5): a JSON body nested too deep is a 400
and a body too large a 413 on every write route and on /oauth/token, and nothing under /api/ or
/oauth/ ever answers one of Django's HTML pages, 500 included."""

import json
from typing import Any

import pytest
from django.conf import settings as django_settings

from api.parsers import json_depth_exceeds
from api.urls import RESOURCES
from subscriptions import services as subscription_services
from tests import factories
from tests.api.conftest import MEDIA, assert_error
from webhooks import services as webhook_services

LIMIT = django_settings.API_MAX_JSON_DEPTH


def nested(depth: int) -> Any:
    """A value of `depth` levels of arrays and objects, alternating."""
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"x": value}
    return value


def assert_oauth_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """/oauth/token answers application/json (as Commerce Layer's): the same error document."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert set(error) == {"title", "detail", "code", "status", "meta"}
    assert error["meta"] == {"trace_id": response["X-Trace-Id"]}
    assert (error["code"], error["status"]) == (code, str(status))
    return error


def write_routes() -> list[tuple[str, str]]:
    """(method, resource) of every route that takes a body, from the routes themselves."""
    routes = []
    for prefix, viewset in RESOURCES.items():
        for method in ("post", "patch"):
            if method in viewset.http_method_names:
                routes.append((method.upper(), prefix))
    return routes


WRITE_ROUTES = write_routes()


@pytest.fixture
def records(make_order, make_copy, market):
    """One record of every resource, in test mode."""
    placed = make_order(place=True)
    make_order()
    make_copy(placed)
    subscription_services.order_subscription_create(
        source_order=placed, mode="test", frequency="daily"
    )
    factories.CouponFactory(promotion__market=market)
    factories.TagFactory()
    webhook_services.webhook_create(
        mode="test", topic="orders.place", callback_url="https://hooks.example.invalid/x"
    )


def first_id(api, prefix: str) -> str:
    body = api.get(f"/api/{prefix}", {"page[size]": "1"}).json()
    assert body["data"], f"no {prefix} record to write to"
    return str(body["data"][0]["id"])


def state_of(api, method: str, prefix: str, pk: str | None) -> Any:
    """What a refused write must leave as it was: the record, or the number of records."""
    if method == "PATCH":
        data = api.get(f"/api/{prefix}/{pk}").json()["data"]
        return {**data, "meta": data["meta"]["mode"]}  # the trace id is the request's
    return api.get(f"/api/{prefix}").json()["meta"]["record_count"]


def send(api, method: str, prefix: str, pk: str | None, body: str | bytes) -> Any:
    if method == "PATCH":
        return api.patch(f"/api/{prefix}/{pk}", body)
    return api.post(f"/api/{prefix}", body)


def document(prefix: str, pk: str | None, metadata: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": prefix, "attributes": {"reference": "x", "metadata": metadata}}
    if pk is not None:
        data["id"] = pk
    return {"data": data}


# Nesting ---------------------------------------------------------------------------------------


def test_write_routes_are_found():
    # The class of inputs below is every write route: make sure the list is not empty by mistake.
    assert {("POST", "order_copies"), ("PATCH", "orders"), ("POST", "line_items")} <= set(
        WRITE_ROUTES
    )


@pytest.mark.parametrize("depth", [LIMIT + 1, 100_000])
@pytest.mark.parametrize(("method", "prefix"), WRITE_ROUTES)
def test_a_body_nested_too_deep_is_400_on_every_write_and_changes_nothing(
    api, no_raise, records, method, prefix, depth
):
    pk = first_id(api, prefix) if method == "PATCH" else None
    before = state_of(api, method, prefix, pk)
    if depth < 1000:
        # A real document whose metadata is too deep: root, data, attributes, metadata = 3 + n.
        body = json.dumps(document(prefix, pk, nested(depth - 3)))
    else:
        body = "[" * depth + "]" * depth
    error = assert_error(send(api, method, prefix, pk, body), 400, "INVALID_RESOURCE")
    assert f"nested deeper than {LIMIT} levels" in error["detail"]
    assert state_of(api, method, prefix, pk) == before


@pytest.mark.parametrize("depth", [LIMIT + 1, 100_000])
def test_a_token_request_nested_too_deep_is_400(client, no_raise, db, depth):
    if depth < 1000:
        body = json.dumps({"grant_type": "client_credentials", "client_id": nested(depth - 1)})
    else:
        body = "{" + '"a":{' * depth + "}" * (depth + 1)
    response = client.post("/oauth/token", body, content_type="application/json")
    error = assert_oauth_error(response, 400, "INVALID_RESOURCE")
    assert f"nested deeper than {LIMIT} levels" in error["detail"]


def test_a_body_nested_exactly_to_the_limit_is_accepted(api, make_order):
    order = make_order(place=True)
    body = {
        "data": {
            "type": "order_copies",
            "attributes": {"metadata": nested(LIMIT - 3)},
            "relationships": {"source_order": {"data": {"type": "orders", "id": order.pk}}},
        }
    }
    response = api.post("/api/order_copies", body)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["attributes"]["metadata"] == nested(LIMIT - 3)


@pytest.mark.parametrize("depth", [1, 2, 5, LIMIT - 1, LIMIT])
def test_depth_is_counted_in_levels_of_objects_and_arrays(depth):
    assert not json_depth_exceeds(nested(depth), limit=LIMIT)
    assert json_depth_exceeds(nested(depth), limit=depth - 1)
    # Wide is not deep.
    assert not json_depth_exceeds([nested(depth)] * 1000, limit=depth + 1)


# Size ------------------------------------------------------------------------------------------


@pytest.fixture
def small_bodies(settings):
    settings.API_MAX_BODY_BYTES = 4096
    return settings.API_MAX_BODY_BYTES


def padded(prefix: str, pk: str | None, size: int) -> bytes:
    """A valid document of exactly `size` bytes (a long reference)."""
    empty = json.dumps(document(prefix, pk, {})).encode()
    body = json.dumps(document(prefix, pk, {"pad": "p" * (size - len(empty) - 9)})).encode()
    assert len(body) == size
    return body


@pytest.mark.parametrize(("method", "prefix"), WRITE_ROUTES)
def test_a_body_over_the_limit_is_413_on_every_write_and_changes_nothing(
    api, no_raise, records, small_bodies, method, prefix
):
    pk = first_id(api, prefix) if method == "PATCH" else None
    before = state_of(api, method, prefix, pk)
    response = send(api, method, prefix, pk, padded(prefix, pk, small_bodies + 1))
    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert f"larger than {small_bodies} bytes" in error["detail"]
    assert state_of(api, method, prefix, pk) == before
    # At the limit, the body is read (and judged on what it says).
    at_limit = send(api, method, prefix, pk, padded(prefix, pk, small_bodies))
    assert at_limit.status_code not in (413, 500), at_limit.content


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_token_request_over_the_limit_is_413(client, no_raise, db, small_bodies, content_type):
    body = "client_id=" + "x" * small_bodies
    response = client.post("/oauth/token", body, content_type=content_type)
    assert_oauth_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_the_default_limit_is_one_megabyte(api, no_raise, db):
    assert django_settings.API_MAX_BODY_BYTES == 1024 * 1024
    body = padded("order_copies", None, 1024 * 1024 + 1)
    assert_error(api.post("/api/order_copies", body), 413, "PAYLOAD_TOO_LARGE")


# No HTML -------------------------------------------------------------------------------------


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("an unexpected bug")


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_an_unexpected_error_in_the_api_is_a_json_api_500(
    api, no_raise, monkeypatch, settings, debug
):
    settings.DEBUG = debug
    # Fault injection: no route of the API is known to fail, which is the point of the test.
    monkeypatch.setattr(RESOURCES["order_copies"], "list", boom)
    error = assert_error(api.get("/api/order_copies"), 500, "INTERNAL_SERVER_ERROR")
    assert f"trace id {error['meta']['trace_id']}" in error["detail"]
    assert "RuntimeError" not in json.dumps(error)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_an_unexpected_error_of_oauth_token_is_a_json_api_500(
    client, no_raise, db, monkeypatch, settings, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr("api.oauth.access_token_grant", boom)
    response = client.post(
        "/oauth/token", json.dumps({"grant_type": "client_credentials"}), "application/json"
    )
    error = assert_oauth_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert f"trace id {error['meta']['trace_id']}" in error["detail"]


@pytest.mark.parametrize("path", ["/oauth/", "/oauth/nope", "/oauth/token/x"])
def test_an_unknown_oauth_path_is_a_json_api_404(client, db, path):
    assert_oauth_error(client.get(path), 404, "RECORD_NOT_FOUND")


def test_a_request_for_a_host_not_allowed_is_a_json_api_400(client, no_raise, db):
    response = client.get("/api/order_copies", HTTP_HOST="evil.example", HTTP_ACCEPT=MEDIA)
    assert_error(response, 400, "BAD_REQUEST")
    response = client.post("/oauth/token", "{}", "application/json", HTTP_HOST="evil.example")
    assert_oauth_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("path", ["/no/such/page", "/admin/login/?next=/x"])
def test_pages_outside_the_api_are_left_to_django(client, db, path):
    response = client.get(path)
    assert response["Content-Type"].startswith("text/html")
    assert "X-Ratelimit-Limit" not in response
