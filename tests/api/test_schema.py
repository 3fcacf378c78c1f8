"""The OpenAPI schema and its documentation page (schemathesis runs against it in .ci/run)."""

import json


def test_the_openapi_schema_describes_every_resource(client, db):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    for resource in ("order_copies", "orders", "order_subscriptions", "line_items", "events"):
        assert f"/api/{resource}" in schema["paths"]
    copy = schema["components"]["schemas"]["OrderCopy"]["properties"]
    assert {"attributes", "relationships", "type", "id"} <= set(copy)
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_the_documentation_page_works_offline(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/order_copies" in page
    assert "<script" not in page and "https://" not in page.split("</head>")[0]
