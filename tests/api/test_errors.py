"""Every kind of error in Commerce Layer's format (SPEC.md §5), and malformed input that must
never be a 5xx."""

import json
import time

import jwt
import pytest

from api import tokens
from api.services import api_client_revoke
from events.models import Event
from ordercopies.models import OrderCopy
from tests.api.conftest import (
    MEDIA,
    ApiCaller,
    assert_error,
    copy_document,
    patch_document,
    untraced,
)

# Authentication ---------------------------------------------------------------------------------


def test_no_token_is_401_unauthorized(anonymous, db):
    response = anonymous.get("/api/order_copies")
    assert response.status_code == 401
    assert untraced(response) == {
        "errors": [
            {
                "title": "Access denied",
                "detail": "Authentication credentials were not provided.",
                "code": "UNAUTHORIZED",
                "status": "401",
            }
        ]
    }
    assert response["Content-Type"] == MEDIA


def test_a_401_says_how_to_authenticate(anonymous, db):
    response = anonymous.get("/api/order_copies")
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "path", ["/api/order_copies", "/api/orders/abc", "/api/events", "/api/orders/x/line_items"]
)
def test_every_endpoint_needs_a_token(anonymous, db, path):
    assert_error(anonymous.get(path), 401, "UNAUTHORIZED")


def test_no_token_on_a_write_is_401_too(anonymous, db):
    assert_error(anonymous.post("/api/order_copies", copy_document("x")), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJIUzUxMiJ9.e30.sig", "x" * 5000],
)
def test_a_garbage_token_is_401_invalid_token(client, db, token):
    response = ApiCaller(client, token).get("/api/order_copies")
    assert untraced(response) == {
        "errors": [
            {
                "title": "Invalid token",
                "detail": "the access token is not valid",
                "code": "INVALID_TOKEN",
                "status": "401",
            }
        ]
    }
    assert_error(response, 401, "INVALID_TOKEN")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer  "])
def test_an_authorization_header_that_is_not_a_bearer_token_is_401(client, db, header):
    response = client.get("/api/order_copies", HTTP_ACCEPT=MEDIA, HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "INVALID_TOKEN")


def claims_of(caller: ApiCaller) -> dict:
    return jwt.decode(caller.token, options={"verify_signature": False})


def forge(claims: dict, *, key: bytes | None = None, algorithm: str = "HS512") -> str:
    return jwt.encode(claims, key or tokens._signing_key(), algorithm=algorithm)


def test_an_expired_token_is_401_invalid_token(api, client):
    claims = claims_of(api)
    claims.update(iat=int(time.time()) - 8000, exp=int(time.time()) - 60)
    response = ApiCaller(client, forge(claims)).get("/api/order_copies")
    error = assert_error(response, 401, "INVALID_TOKEN")
    assert error["detail"] == "the access token has expired"


def test_a_token_issued_in_the_past_expires(api, client, monkeypatch):
    issued_at = time.time() - tokens.LIFETIMES["integration"] - 1
    monkeypatch.setattr(tokens.time, "time", lambda: issued_at)
    token = tokens.token_issue(client=api.api_client)["access_token"]
    monkeypatch.undo()
    response = ApiCaller(client, str(token)).get("/api/order_copies")
    assert assert_error(response, 401, "INVALID_TOKEN")["detail"] == "the access token has expired"


def test_a_token_signed_with_another_key_is_401(api, client):
    token = forge(claims_of(api), key=b"k" * 64)
    assert_error(ApiCaller(client, token).get("/api/order_copies"), 401, "INVALID_TOKEN")


def test_an_unsigned_token_is_401(api, client):
    token = jwt.encode(claims_of(api), None, algorithm="none")
    assert_error(ApiCaller(client, token).get("/api/order_copies"), 401, "INVALID_TOKEN")


def test_a_token_without_exp_is_401(api, client):
    claims = claims_of(api)
    del claims["exp"]
    assert_error(ApiCaller(client, forge(claims)).get("/api/order_copies"), 401, "INVALID_TOKEN")


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("application", "x"),
        ("application", {"kind": "integration"}),
        ("application", None),
        ("test", None),
    ],
)
def test_a_signed_token_with_broken_claims_is_401(api, client, member, value):
    claims = claims_of(api)
    if value is None:
        del claims[member]
    else:
        claims[member] = value
    response = ApiCaller(client, forge(claims)).get("/api/order_copies")
    assert assert_error(response, 401, "INVALID_TOKEN")["detail"] == "the access token is not valid"


def test_a_revoked_client_s_tokens_stop_working(api):
    assert api.get("/api/order_copies").status_code == 200
    api_client_revoke(client=api.api_client)
    error = assert_error(api.get("/api/order_copies"), 401, "INVALID_TOKEN")
    assert "revoked" in error["detail"]


def test_a_token_that_claims_another_mode_than_its_client_is_refused(api, client):
    claims = {**claims_of(api), "test": False}
    assert_error(ApiCaller(client, forge(claims)).get("/api/order_copies"), 401, "INVALID_TOKEN")


# Not found, method not allowed, locked ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/order_copies/NoSuchId00", "/api/orders/NoSuchId00", "/api/events/x", "/api/skus/abc"],
)
def test_an_unknown_record_is_404_record_not_found(api, path):
    error = assert_error(api.get(path), 404, "RECORD_NOT_FOUND")
    assert set(error) == {"title", "detail", "code", "status", "meta"}
    assert error["title"] == "Record not found"


def test_writes_to_an_unknown_record_are_404(api):
    document = patch_document("order_copies", "NoSuchId00", reference="x")
    assert_error(api.patch("/api/order_copies/NoSuchId00", document), 404, "RECORD_NOT_FOUND")
    assert_error(api.delete("/api/order_copies/NoSuchId00"), 404, "RECORD_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/order_copies/{copy}"),
        ("patch", "/api/order_copies"),
        ("delete", "/api/order_copies"),
        ("post", "/api/order_copies/{copy}"),
        ("post", "/api/events"),
        ("put", "/api/events/{event}"),  # PATCH is offered: `_trigger`
        ("delete", "/api/events/{event}"),
        ("post", "/api/markets"),
        ("post", "/api/addresses/{address}"),
        ("post", "/api/order_copies/{copy}/source_order"),
        ("delete", "/api/order_copies/{copy}/relationships/source_order"),
        ("patch", "/api/orders/{order}/relationships/line_items"),
    ],
)
def test_a_method_not_offered_is_405(api, client, make_order, make_copy, method, path):
    order = make_order()
    order_copy = make_copy(order)
    event = Event.objects.first()
    url = path.format(
        copy=order_copy.pk, event=event.pk, order=order.pk, address=order.billing_address_id
    )
    response = getattr(client, method)(
        url, "{}", content_type=MEDIA, HTTP_ACCEPT=MEDIA, HTTP_AUTHORIZATION=f"Bearer {api.token}"
    )
    error = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert method.upper() in error["detail"]


def test_deleting_a_copy_in_progress_is_423_locked(api, in_progress_copy):
    response = api.delete(f"/api/order_copies/{in_progress_copy.pk}")
    assert untraced(response) == {
        "errors": [
            {
                "title": "a copy in progress cannot be deleted; wait for it to end",
                "detail": "status - a copy in progress cannot be deleted; wait for it to end",
                "code": "LOCKED",
                "status": "423",
                "source": {"pointer": "/data/attributes/status"},
                "meta": {"error": "invalid"},
            }
        ]
    }
    assert_error(response, 423, "LOCKED")
    assert OrderCopy.objects.filter(pk=in_progress_copy.pk).exists()


# Validation -----------------------------------------------------------------------------------


def test_a_copy_without_a_source_order_is_422_on_the_relationship(api):
    response = api.post("/api/order_copies", {"data": {"type": "order_copies", "attributes": {}}})
    assert untraced(response) == {
        "errors": [
            {
                "title": "This field is required.",
                "detail": "source_order - This field is required.",
                "code": "VALIDATION_ERROR",
                "status": "422",
                "source": {"pointer": "/data/relationships/source_order"},
                "meta": {"error": "required"},
            }
        ]
    }


@pytest.mark.parametrize("source_id", ["NoSuchId00", "", "x" * 300])
def test_a_copy_of_an_unknown_order_is_422_on_the_relationship(api, source_id):
    response = api.post("/api/order_copies", copy_document(source_id))
    error = assert_error(
        response, 422, "VALIDATION_ERROR", pointer="/data/relationships/source_order"
    )
    assert error["detail"].startswith("source_order - ")
    assert not OrderCopy.objects.exists()


def test_a_null_source_order_is_422(api):
    document = copy_document("x")
    document["data"]["relationships"]["source_order"] = {"data": None}
    response = api.post("/api/order_copies", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/source_order")


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"metadata": "text"}, "/data/attributes/metadata"),
        ({"metadata": [1, 2]}, "/data/attributes/metadata"),
        ({"reference": "r" * 256}, "/data/attributes/reference"),
        ({"reference": 12}, None),
        ({"place_target_order": "perhaps"}, "/data/attributes/place_target_order"),
        ({"skip_errors": None}, "/data/attributes/skip_errors"),
        ({"_retry": True}, "/data"),
    ],
)
def test_bad_attributes_are_422_on_the_attribute(api, make_order, attributes, pointer):
    order = make_order()
    response = api.post("/api/order_copies", copy_document(order.pk, **attributes))
    if pointer is None:
        # DRF's CharField takes a number as its string: accepted.
        assert response.status_code == 201
        return
    error = assert_error(response, 422, "VALIDATION_ERROR", pointer=pointer)
    assert error["meta"]["error"]
    assert not OrderCopy.objects.exists()


def test_each_invalid_member_gets_its_own_error(api, make_order):
    order = make_order()
    response = api.post(
        "/api/order_copies",
        copy_document(order.pk, metadata="x", reference_origin="o" * 300, reuse_wallet="?"),
    )
    assert response.status_code == 422
    pointers = sorted(e["source"]["pointer"] for e in response.json()["errors"])
    assert pointers == [
        "/data/attributes/metadata",
        "/data/attributes/reference_origin",
        "/data/attributes/reuse_wallet",
    ]


# Malformed documents ------------------------------------------------------------------------------


def source_relationship(order_id):
    return {"source_order": {"data": {"type": "orders", "id": order_id}}}


MALFORMED = {
    "invalid json": "{not json",
    "truncated json": '{"data": {"type": "order_copies"',
    "array": "[]",
    "string": '"data"',
    "number": "42",
    "null": "null",
    "no data": '{"meta": {}}',
    "data null": '{"data": null}',
    "data a list": '{"data": [{"type": "order_copies"}]}',
    "data a string": '{"data": "order_copies"}',
    "attributes a list": '{"data": {"type": "order_copies", "attributes": []}}',
    "attributes a string": '{"data": {"type": "order_copies", "attributes": "x"}}',
    "relationships a list": '{"data": {"type": "order_copies", "relationships": []}}',
    "relationship not an object": (
        '{"data": {"type": "order_copies", "relationships": {"source_order": "abc"}}}'
    ),
    "relationship without data": (
        '{"data": {"type": "order_copies", "relationships": {"source_order": {"id": "x"}}}}'
    ),
    "linkage without id": (
        '{"data": {"type": "order_copies", "relationships": '
        '{"source_order": {"data": {"type": "orders"}}}}}'
    ),
    "linkage without type": (
        '{"data": {"type": "order_copies", "relationships": '
        '{"source_order": {"data": {"id": "abc"}}}}}'
    ),
    "linkage id a number": (
        '{"data": {"type": "order_copies", "relationships": '
        '{"source_order": {"data": {"type": "orders", "id": 7}}}}}'
    ),
    "linkage a string": (
        '{"data": {"type": "order_copies", "relationships": {"source_order": {"data": "x"}}}}'
    ),
    "linkage list of strings": (
        '{"data": {"type": "order_copies", "relationships": {"source_order": {"data": ["x"]}}}}'
    ),
    "data id a number": '{"data": {"type": "order_copies", "id": 5}}',
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_document_is_400_invalid_resource(api, no_raise, body):
    response = api.post("/api/order_copies", body)
    assert_error(response, 400, "INVALID_RESOURCE")
    assert not OrderCopy.objects.exists()


@pytest.mark.parametrize("resource_type", ["orders", "order_copy", "ORDER_COPIES"])
def test_a_document_of_another_type_is_409(api, make_order, resource_type):
    order = make_order()
    document = {"data": {"type": resource_type, "relationships": source_relationship(order.pk)}}
    error = assert_error(api.post("/api/order_copies", document), 409, "CONFLICT")
    assert resource_type in error["detail"]
    assert not OrderCopy.objects.exists()


@pytest.mark.parametrize("resource_type", ["", None, 3, ["order_copies"]])
def test_a_document_without_a_type_is_400(api, make_order, resource_type):
    order = make_order()
    document = {"data": {"type": resource_type, "relationships": source_relationship(order.pk)}}
    assert_error(api.post("/api/order_copies", document), 400, "INVALID_RESOURCE")
    document = {"data": {"relationships": source_relationship(order.pk)}}
    assert_error(api.post("/api/order_copies", document), 400, "INVALID_RESOURCE")
    assert not OrderCopy.objects.exists()


def test_a_linkage_of_the_wrong_type_is_409(api, make_order):
    order = make_order()
    document = {
        "data": {
            "type": "order_copies",
            "relationships": {"source_order": {"data": {"type": "markets", "id": order.pk}}},
        }
    }
    error = assert_error(api.post("/api/order_copies", document), 409, "CONFLICT")
    assert "Expected orders, received markets" in error["detail"]


def test_a_to_many_linkage_on_a_to_one_relationship_is_422(api, make_order):
    order = make_order()
    document = {
        "data": {
            "type": "order_copies",
            "relationships": {"source_order": {"data": [{"type": "orders", "id": order.pk}]}},
        }
    }
    response = api.post("/api/order_copies", document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/source_order")


def test_a_patch_without_an_id_is_400_and_with_another_id_or_type_409(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    url = f"/api/order_copies/{order_copy.pk}"
    without_id = {"data": {"type": "order_copies", "attributes": {"reference": "x"}}}
    assert_error(api.patch(url, without_id), 400, "INVALID_RESOURCE")
    other_id = patch_document("order_copies", "OtherId000", reference="x")
    assert_error(api.patch(url, other_id), 409, "CONFLICT")
    wrong_type = patch_document("orders", order_copy.pk, reference="x")
    assert_error(api.patch(url, wrong_type), 409, "CONFLICT")
    assert OrderCopy.objects.get(pk=order_copy.pk).reference == ""


# Fuzz: nothing malformed is a 5xx -------------------------------------------------------------

FUZZ_BODIES = [
    "",
    " ",
    "\x00",
    "{}",
    '{"data": {}}',
    '{"data": {"type": "order_copies"}}',
    '{"data": {"type": "order_copies", "attributes": null, "relationships": null}}',
    '{"data": {"type": "order_copies", "attributes": {"metadata": {"a": [1, {"c": null}]}}}}',
    '{"data": {"type": "order_copies", "attributes": {"place_target_order": [true]}}}',
    '{"data": {"type": "order_copies", "attributes": {"reference": {"a": 1}}}}',
    '{"data": {"type": "order_copies", "attributes": {"status": "completed", "id": "x"}}}',
    '{"data": {"type": "order_copies", "relationships": {"source_order": {"data": {}}}}}',
    '{"data": {"type": "order_copies", "relationships": {"source_order": {"data": null}}}}',
    '{"data": {"type": "order_copies", "relationships": {"target_order": {"data": null}}}}',
    '{"data": {"type": "order_copies", "relationships": {"events": {"data": [{"type": "events", "id": "x"}]}}}}',  # noqa: E501
    '{"data": {"type": "order_copies", "relationships": {"": {"data": null}}}}',
    '{"data": {"type": "order_copies", "id": null, "attributes": {"_abort": true}}}',
    '{"data": {"type": "order_copies", "attributes": {"reference": "\\ud800"}}}',
    '{"data": {"type": "order_copies", "attributes": {"reference": "a\\u0000b"}}}',
    '{"data": {"type": "order_copies", "attributes": {"errors_count": 1e400}}}',
    '{"data": {"type": "order_copies", "attributes": {"metadata": {"deep": '
    + "[" * 200
    + "]" * 200
    + "}}}}",  # noqa: E501
    '{"data": {"type": "order_copies", "attributes": {}}, "included": 5, "meta": "x"}',
    json.dumps({"data": {"type": "order_copies", "attributes": {"reference": "é" * 100}}}),
    '{"data": {"type": "order_copies", "attributes": {"metadata": {"a": "\\u0000"}}}}',
    '{"data": {"type": "order_copies", "attributes": {"metadata": {"\\u0000": 1}}}}',
]


@pytest.mark.parametrize("body", FUZZ_BODIES)
def test_a_fuzzed_body_is_never_a_5xx(api, no_raise, make_order, body):
    order = make_order()
    if body.startswith('{"data": {"type": "order_copies"') and '"relationships"' not in body:
        # Give it a valid source, so what is tested is the rest of the document.
        document = json.loads(body)
        document["data"]["relationships"] = source_relationship(order.pk)
        body = json.dumps(document)
    response = api.post("/api/order_copies", body)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.json()["errors"][0]["code"])


FUZZ_QUERIES = [
    {"page[number]": "99999999999999999999"},
    {"page[size]": "1e3"},
    {"page[number]": "1", "page[size]": ""},
    {"page": "1"},
    {"page[number][x]": "1"},
    {"sort": ",,,"},
    {"sort": "-"},
    {"sort": "--status"},
    {"include": ","},
    {"include": "."},
    {"include": "source_order." * 20},
    {"fields[order_copies]": ",,"},
    {"fields[nope]": "x"},
    {"fields": "status"},
    {"filter[q][errors_count_eq]": "99999999999999999999"},
    {"filter[q][errors_count_in]": "1,99999999999999999999"},
    {"filter[q][errors_count_lt]": "-99999999999999999999"},
    {"filter[q][created_at_gt]": "9999-12-31T23:59:59Z"},
    {"filter[q][created_at_lt]": "0001-01-01T00:00:00+14:00"},
    {"filter[q][reference_matches]": "((((["},
    {"filter[q][reference_cont]": "%_\\"},
    {"filter[q][metadata_jcont]": '{"a": ' * 50 + "1" + "}" * 50},
    {"filter[q][metadata_lt]": "5"},
    {"filter[q][metadata_start]": "x"},
    {"filter[q][id_in]": "," * 100},
    {"filter[q][status_eq]": "é" * 1000},
    {"filter[q][reference_eq]": "a\x00b"},
    {"filter[q][reference_in]": "a,\x00"},
    {"filter[q][metadata_jcont]": '{"a": "\\u0000"}'},
]


@pytest.mark.parametrize("params", FUZZ_QUERIES)
def test_a_fuzzed_query_is_never_a_5xx(api, postgres, no_raise, make_order, make_copy, params):
    make_copy(make_order())
    response = api.get("/api/order_copies", params)
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == MEDIA
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.json()["errors"][0]["code"])
