"""Idempotency-Key on the API's writes: a repeat is answered from the stored answer, never
carried out twice; per API client and mode; refused with another body; gone after expiry."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from api.models import ApiClient
from api.services import api_client_create
from api.tokens import token_issue
from idempotency.models import IdempotencyKey
from ordercopies.models import OrderCopy
from orders import services as order_services
from orders.models import Market, Order
from tests import factories

MEDIA = "application/vnd.api+json"


def copy_document(source_id: str, **attributes: Any) -> str:
    return json.dumps(
        {
            "data": {
                "type": "order_copies",
                "attributes": attributes,
                "relationships": {"source_order": {"data": {"type": "orders", "id": source_id}}},
            }
        }
    )


class Caller:
    """One API client's token on the Django test client."""

    def __init__(self, client: Client, api_client: ApiClient) -> None:
        self.client, self.api_client = client, api_client
        self.token = str(token_issue(client=api_client)["access_token"])

    def send(self, method: str, path: str, body: str = "", *, key: str | None = None) -> Any:
        headers: dict[str, Any] = {
            "HTTP_ACCEPT": MEDIA,
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
        }
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.generic(method, path, body, content_type=MEDIA, **headers)


@pytest.fixture
def make_caller(db: None, client: Client) -> Callable[..., Caller]:
    def make(mode: str = "test") -> Caller:
        api_client, _ = api_client_create(name=f"erp {mode}", kind="integration", mode=mode)
        return Caller(client, api_client)

    return make


@pytest.fixture
def erp(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller()


def test_two_identical_posts_with_one_key_make_one_copy(erp, make_order):
    source = make_order(place=True)
    first = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    second = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first.get("Location") == second.get("Location")
    assert first["Content-Type"] == second["Content-Type"] == MEDIA
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert OrderCopy.objects.count() == 1


def test_the_same_body_written_differently_is_the_same_request(erp, make_order):
    source = make_order(place=True)
    document = json.loads(copy_document(source.pk, reference="r"))
    erp.send("POST", "/api/order_copies", json.dumps(document), key="k-1")
    spaced = erp.send("POST", "/api/order_copies", json.dumps(document, indent=4), key="k-1")
    assert spaced.status_code == 201 and spaced["Idempotent-Replayed"] == "true"
    assert OrderCopy.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(erp, make_order):
    source = make_order(place=True)
    erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    other = erp.send(
        "POST", "/api/order_copies", copy_document(source.pk, reference="x"), key="k-1"
    )
    assert other.status_code == 422
    error = other.json()["errors"][0]
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert "k-1" in error["detail"]
    elsewhere = erp.send("PATCH", f"/api/orders/{source.pk}", "{}", key="k-1")
    assert elsewhere.status_code == 422  # another path is another request
    assert OrderCopy.objects.count() == 1


def test_a_key_after_expiry_makes_a_new_copy_and_is_pruned(erp, make_order, settings):
    source = make_order(place=True)
    erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1)
    IdempotencyKey.objects.update(created_at=expired)
    again = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert OrderCopy.objects.count() == 2
    assert IdempotencyKey.objects.get().created_at > expired
    IdempotencyKey.objects.update(created_at=expired)
    call_command("prune_idempotency_keys")
    assert IdempotencyKey.objects.count() == 0


def test_keys_are_per_client_and_mode(erp, make_caller, make_order):
    source = make_order(place=True)
    other = make_caller()
    erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    theirs = other.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert OrderCopy.objects.count() == 2
    # The same client in the other mode: its keys start afresh (a body that would be "reused").
    factories.MarketFactory(mode="live", code="eu-live", currency_code="EUR")
    live_market = Market.objects.get(code="eu-live")
    live_source = order_services.order_create(market=live_market, customer_email="a@example.com")
    ApiClient.objects.filter(pk=erp.api_client.pk).update(mode="live")
    erp_live = Caller(erp.client, ApiClient.objects.get(pk=erp.api_client.pk))
    live = erp_live.send("POST", "/api/order_copies", copy_document(live_source.pk), key="k-1")
    assert live.status_code == 201, live.content
    assert OrderCopy.objects.filter(mode="live").count() == 1
    assert sorted(IdempotencyKey.objects.values_list("mode", flat=True)) == ["live", "test", "test"]


def test_a_refused_request_leaves_no_key(erp, make_order):
    refused = erp.send("POST", "/api/order_copies", copy_document("nosuchid00"), key="k-1")
    assert refused.status_code in (404, 422)
    assert IdempotencyKey.objects.count() == 0
    source = make_order(place=True)
    fixed = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert fixed.status_code == 201  # nothing was carried out: the key is free for the fix


def test_a_repeated_delete_answers_as_the_first_did(erp, make_order):
    source = make_order(place=True)
    created = erp.send("POST", "/api/order_copies", copy_document(source.pk)).json()["data"]["id"]
    path = f"/api/order_copies/{created}"
    first = erp.send("DELETE", path, key="d-1")
    second = erp.send("DELETE", path, key="d-1")
    assert first.status_code == second.status_code == 204
    assert second["Idempotent-Replayed"] == "true"
    assert erp.send("DELETE", path).status_code == 404  # without the key: really gone


def test_a_patch_trigger_runs_once(erp, make_order):
    order = make_order()
    body = json.dumps({"data": {"type": "orders", "id": order.pk, "attributes": {"_place": True}}})
    first = erp.send("PATCH", f"/api/orders/{order.pk}", body, key="p-1")
    second = erp.send("PATCH", f"/api/orders/{order.pk}", body, key="p-1")
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.get(pk=order.pk).status == Order.Status.PLACED
    assert first.content == second.content


def test_a_key_without_a_valid_token_is_not_recorded(client, make_order):
    source = make_order(place=True)
    response = client.post(
        "/api/order_copies",
        copy_document(source.pk),
        content_type=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 401
    assert IdempotencyKey.objects.count() == 0


def test_a_key_too_long_is_a_400(erp, make_order):
    source = make_order(place=True)
    response = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"][0]["detail"]
    assert OrderCopy.objects.count() == 0


@pytest.mark.parametrize("key", ["a\x00b", "a\nb", "\x7f"])
def test_a_key_with_control_characters_is_a_400(erp, make_order, key):
    source = make_order(place=True)
    erp.client.raise_request_exception = False  # a 500 as a server answers it
    response = erp.send("POST", "/api/order_copies", copy_document(source.pk), key=key)
    assert response.status_code == 400, response.content
    assert "Idempotency-Key" in response.json()["errors"][0]["detail"]
    assert OrderCopy.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0


def test_reads_and_paths_outside_the_api_ignore_the_header(erp, make_order):
    source = make_order(place=True)
    response = erp.send("GET", f"/api/orders/{source.pk}", key="k-1")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert IdempotencyKey.objects.count() == 0


# PostgreSQL: concurrent repeats -------------------------------------------------------------


def _post(url: str, token: str, body: str, key: str) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(  # noqa: S310 (the live server, on loopback)
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": MEDIA,
            "Content-Type": MEDIA,
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return (
                response.status,
                json.loads(response.read()),
                response.headers.get("Idempotent-Replayed", ""),
            )
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), ""


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_with_one_key_make_one_copy(
    postgres, live_server, make_order, settings
):
    settings.IDEMPOTENCY_WAIT = 30  # a loaded machine: the first may take a while
    source = make_order(place=True)
    api_client, _ = api_client_create(name="erp", kind="integration", mode="test")
    token = str(token_issue(client=api_client)["access_token"])
    body = copy_document(source.pk)
    start = threading.Barrier(20)

    def post(_: int) -> tuple[int, dict[str, Any], str]:
        start.wait()
        return _post(f"{live_server.url}/api/order_copies", token, body, "same-key")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))
    assert [status for status, _, _ in answers] == [201] * 20, answers
    assert len({document["data"]["id"] for _, document, _ in answers}) == 1
    assert sorted(replayed for _, _, replayed in answers) == [""] + ["true"] * 19
    assert OrderCopy.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_first_still_runs_waits_then_is_a_409(
    postgres, client, make_order, settings
):
    settings.IDEMPOTENCY_WAIT = 1
    source = make_order(place=True)
    api_client, _ = api_client_create(name="erp", kind="integration", mode="test")
    caller = Caller(client, api_client)
    holding, release = threading.Event(), threading.Event()

    def first_request_running() -> None:
        # Another connection holds the key in an open transaction, as a running request does.
        with transaction.atomic():
            IdempotencyKey.objects.create(
                client=api_client,
                mode="test",
                key="k-1",
                fingerprint="f",
                created_at=timezone.now(),
            )
            holding.set()
            release.wait(30)
            transaction.set_rollback(True)

    holder = threading.Thread(target=first_request_running)
    holder.start()
    try:
        assert holding.wait(30)
        busy = caller.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    finally:
        release.set()
        holder.join()
    assert busy.status_code == 409
    assert busy.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert busy["Retry-After"] == "1"
    assert OrderCopy.objects.count() == 0
    # The first rolled back: the key is free and the repeat is carried out.
    again = caller.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert again.status_code == 201


def test_a_replay_reads_the_key_and_writes_nothing_but_the_rate_counter(
    erp, make_order, django_assert_num_queries
):
    source = make_order(place=True)
    erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    # The rate counters' statement, the token's client, the stored answer, and the request's
    # transaction (a savepoint inside the test's): never the view.
    with django_assert_num_queries(5):
        replay = erp.send("POST", "/api/order_copies", copy_document(source.pk), key="k-1")
    assert replay["Idempotent-Replayed"] == "true"


def test_a_sales_channel_key_is_refused_and_nothing_is_written(client, db, make_order):
    """A sales channel's client is public and shared by every shopper: a key of its would let
    one shopper replay another's answer (their order and address), so it is refused."""
    factories.MarketFactory(code="eu", mode="test")
    shop_client, _ = api_client_create(
        name="shop", kind="sales_channel", mode="test", market_codes=["eu"]
    )
    token = str(token_issue(client=shop_client, markets=("eu",))["access_token"])
    orders = Order.objects.count()
    body = json.dumps({"data": {"type": "orders", "attributes": {"customer_email": "a@b.co"}}})
    response = client.post(
        "/api/orders",
        body,
        content_type=MEDIA,
        HTTP_ACCEPT=MEDIA,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY="checkout-1",
    )
    assert response.status_code == 400, response.content
    assert "for integrations" in response.json()["errors"][0]["detail"]
    assert Order.objects.count() == orders
    assert not IdempotencyKey.objects.exists()
