"""What a client needs to build and place an order through the API."""


def test_a_client_creates_a_payment_source_and_places_an_order_with_it(api, make_order):
    order = make_order(payment_source=None)
    created = api.post(
        "/api/payment_sources",
        {
            "data": {
                "type": "payment_sources",
                "attributes": {
                    "payment_source_type": "stripe_payments",
                    "token": "tok_visa",
                    "details": {"brand": "visa", "last4": "4242"},
                },
            }
        },
    )
    assert created.status_code == 201, created.content
    source_id = created.json()["data"]["id"]
    assert "token" not in created.json()["data"]["attributes"]

    relationships = {"payment_source": {"data": {"type": "payment_sources", "id": source_id}}}
    document = {"data": {"type": "orders", "id": order.pk, "relationships": relationships}}
    assert api.patch(f"/api/orders/{order.pk}", document).status_code == 200
    placed = api.patch(
        f"/api/orders/{order.pk}",
        {"data": {"type": "orders", "id": order.pk, "attributes": {"_place": True}}},
    )
    assert placed.json()["data"]["attributes"]["status"] == "placed"
