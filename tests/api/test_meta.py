"""Commerce Layer's resource `meta` (mode, organization_id, trace_id), the trace id in errors
and logs, and timestamps with milliseconds (issue 12)."""

import logging
import re

from api.tracing import TraceIdFilter
from tests.api.conftest import assert_error

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_resource_says_its_mode_organization_and_the_request_s_trace_id(
    api, make_order, settings
):
    order = make_order()
    response = api.get(f"/api/orders/{order.pk}", {"include": "line_items,market"})
    body = response.json()
    trace = response["X-Trace-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace)
    for resource in [body["data"], *body["included"]]:
        assert resource["meta"] == {
            "mode": "test",
            "organization_id": settings.API_ORGANIZATION_ID,
            "trace_id": trace,
        }
    assert api.get(f"/api/orders/{order.pk}")["X-Trace-Id"] != trace


def test_a_caller_s_plain_request_id_is_the_trace_id(api, make_order):
    order = make_order()
    response = api.client.get(
        f"/api/orders/{order.pk}", HTTP_X_REQUEST_ID="edge-1234abcd", **api._headers()
    )
    assert response["X-Trace-Id"] == "edge-1234abcd"
    assert response.json()["data"]["meta"]["trace_id"] == "edge-1234abcd"
    odd = api.client.get(f"/api/orders/{order.pk}", HTTP_X_REQUEST_ID="x y\n", **api._headers())
    assert odd["X-Trace-Id"] != "x y\n"


def test_an_error_carries_the_trace_id_and_the_log_line_too(api, caplog):
    caplog.handler.addFilter(TraceIdFilter())  # as settings.LOGGING's console handler has it
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = api.get("/api/orders/NoSuchId00")
    error = assert_error(response, 404, "RECORD_NOT_FOUND")
    assert error["meta"]["trace_id"] == response["X-Trace-Id"]
    assert [r.trace_id for r in caplog.records if "Not Found" in r.getMessage()] == [
        response["X-Trace-Id"]
    ]


def test_timestamps_have_milliseconds(api, make_order, make_copy):
    order = make_order(place=True)
    make_copy(order)
    body = api.get("/api/order_copies", {"include": "source_order"}).json()
    stamps = [
        value
        for resource in [*body["data"], *body["included"]]
        for name, value in resource["attributes"].items()
        if name.endswith("_at") and value is not None
    ]
    assert len(stamps) >= 4
    assert all(TIMESTAMP.match(stamp) for stamp in stamps), stamps


def test_the_organization_singleton_the_cli_reads_when_it_logs_in(api, settings):
    response = api.get("/api/organization")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["type"], data["id"]) == ("organizations", settings.API_ORGANIZATION_ID)
    assert data["attributes"]["slug"] == settings.API_ORGANIZATION_SLUG
    assert data["attributes"]["name"] == settings.API_ORGANIZATION_NAME
    assert data["meta"]["trace_id"] == response["X-Trace-Id"]
    application = api.get("/api/application").json()["data"]
    assert (application["type"], application["id"]) == ("applications", api.api_client.pk)
    assert application["attributes"]["kind"] == "integration"


def test_the_singletons_need_a_token_and_take_no_write(api, anonymous):
    assert_error(anonymous.get("/api/organization"), 401, "UNAUTHORIZED")
    assert_error(api.patch("/api/organization", {"data": {}}), 405, "METHOD_NOT_ALLOWED")
