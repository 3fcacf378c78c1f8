"""order_subscriptions over the API, and the subscription relationships of orders and copies."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ordercopies import services as copy_services
from subscriptions.models import OrderSubscription


def _create(api, order, **attributes):
    document = {
        "data": {
            "type": "order_subscriptions",
            "attributes": {"frequency": "monthly", **attributes},
            "relationships": {"source_order": {"data": {"type": "orders", "id": order.pk}}},
        }
    }
    return api.post("/api/order_subscriptions", document)


def _patch(api, subscription_id, **attributes):
    document = {
        "data": {"type": "order_subscriptions", "id": subscription_id, "attributes": attributes}
    }
    return api.patch(f"/api/order_subscriptions/{subscription_id}", document)


def test_a_subscription_of_a_pending_order_waits_for_its_placement(api, make_order):
    response = _create(api, make_order(), renewal_alert_period=24)

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["attributes"]["status"] == "draft"
    assert data["attributes"]["renewal_alert_period"] == 24
    assert data["attributes"]["customer_email"]
    assert data["relationships"]["market"]["data"]["type"] == "markets"
    assert data["meta"]["mode"] == "test"


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"frequency": "fortnightly"}, "/data/attributes/frequency"),
        ({"frequency": "*/5 * * * *"}, "/data/attributes/frequency"),
        ({"renewal_alert_period": 721}, "/data/attributes/renewal_alert_period"),
    ],
)
def test_invalid_settings_are_422_with_a_pointer(api, make_order, attributes, pointer):
    response = _create(api, make_order(place=True), **attributes)

    assert response.status_code == 422, response.content
    assert pointer in {error["source"]["pointer"] for error in response.json()["errors"]}
    assert not OrderSubscription.objects.exists()


def test_triggers_and_their_refusals(api, make_order):
    subscription_id = _create(api, make_order(place=True)).json()["data"]["id"]

    assert (
        _patch(api, subscription_id, _deactivate=True).json()["data"]["attributes"]["status"]
        == "inactive"
    )
    refused = _patch(api, subscription_id, _run=True)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["source"]["pointer"] == "/data/attributes/status"
    assert (
        _patch(api, subscription_id, _activate=True).json()["data"]["attributes"]["status"]
        == "active"
    )
    running = _patch(api, subscription_id, _run=True).json()["data"]
    assert running["attributes"]["status"] == "running"
    copies = api.get(f"/api/order_subscriptions/{subscription_id}/order_copies").json()
    assert copies["meta"]["record_count"] == 1
    assert copies["data"][0]["relationships"]["order_subscription"]["data"] == {
        "type": "order_subscriptions",
        "id": subscription_id,
    }
    assert (
        _patch(api, subscription_id, _cancel=True).json()["data"]["attributes"]["status"]
        == "cancelled"
    )
    assert api.delete(f"/api/order_subscriptions/{subscription_id}").status_code == 422


def test_a_draft_can_be_deleted(api, make_order):
    subscription_id = _create(api, make_order()).json()["data"]["id"]

    assert api.delete(f"/api/order_subscriptions/{subscription_id}").status_code == 204
    assert not OrderSubscription.objects.exists()


def test_the_order_a_run_made_links_to_its_subscription(api, make_order):
    source = make_order(place=True)
    subscription_id = _create(api, source).json()["data"]["id"]
    _patch(api, subscription_id, _run=True)
    copy = OrderSubscription.objects.get(pk=subscription_id).order_copies.get()
    copy_services.order_copy_execute(order_copy_id=copy.pk)
    copy.refresh_from_db()

    target = api.get(f"/api/orders/{copy.target_order_id}").json()["data"]
    source_doc = api.get(f"/api/orders/{source.pk}").json()["data"]
    related = api.get(f"/api/orders/{copy.target_order_id}/order_subscription").json()["data"]
    subscriptions = api.get(f"/api/orders/{source.pk}/order_subscriptions").json()

    expected = {"type": "order_subscriptions", "id": subscription_id}
    assert target["relationships"]["order_subscription"]["data"] == expected
    assert source_doc["relationships"]["order_subscription"]["data"] is None
    assert related["id"] == subscription_id
    assert [s["id"] for s in subscriptions["data"]] == [subscription_id]


def test_a_live_token_does_not_see_test_subscriptions(api, make_api, make_order):
    subscription_id = _create(api, make_order(place=True)).json()["data"]["id"]
    live = make_api(mode="live")

    assert live.get(f"/api/order_subscriptions/{subscription_id}").status_code == 404
    assert live.get("/api/order_subscriptions").json()["meta"]["record_count"] == 0


def test_the_subscription_list_makes_the_same_queries_for_1_and_10(api, make_order):
    def count(n):
        while OrderSubscription.objects.count() < n:
            _create(api, make_order(place=True))
        with CaptureQueriesContext(connection) as context:
            response = api.get(
                "/api/order_subscriptions", {"include": "source_order,market", "page[size]": 25}
            )
        assert response.status_code == 200
        return len(context.captured_queries)

    assert count(1) == count(10)
