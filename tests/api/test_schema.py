"""The OpenAPI schema and its reference pages (schemathesis fuzzes the schema in bin/api-fuzz).

Every operation, trigger and example comes from api/reference/: these tests fail, naming what
is missing, when an operation or a trigger is added without its entry there."""

import inspect
import json
import re
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator

from api.reference import references
from api.serializers import SERIALIZERS
from api.services import api_client_create
from api.urls import RESOURCES

# Words of maintainers' docstrings that an integrator's text never needs.
INTERNAL = re.compile(
    r"\.py\b|(?<![/\w])api/\w|base_queryset|selector|services?\.|viewset|serializer|queryset|"
    r"\bself\.|\bpk\b|docstring",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def maintainers_text() -> set[str]:
    """Every line of the docstrings of the viewsets, their bases and their methods."""
    lines = set()
    for viewset in RESOURCES.values():
        for owner in viewset.__mro__:
            members = [owner, *vars(owner).values()]
            for doc in filter(None, (inspect.getdoc(m) for m in members if callable(m))):
                lines |= {line.strip() for line in doc.splitlines() if len(line.strip()) > 20}
    return lines


def undocumented(schema: dict[str, Any]) -> list[str]:
    """What the reference lacks, one message per operation."""
    docstrings = maintainers_text()
    problems = []
    for key, operation in operations(schema):
        resource_type = key.split("/")[2]
        where = f"add its entry to api/reference/{resource_type}.py (Operation(summary=..., ...))"
        description = operation.get("description", "")
        if not operation.get("summary") or not description:
            problems.append(f"{key} has no summary or description: {where}")
        elif any(line in description for line in docstrings) or INTERNAL.search(description):
            problems.append(f"{key} reads like a maintainer's docstring: {description[:80]!r}")
    return problems


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
    assert [tag["name"] for tag in schema["tags"][:3]] == ["tokens", "order_copies", "orders"]


def test_every_operation_has_a_summary_and_a_description_for_integrators(schema):
    assert len(operations(schema)) >= 40
    assert undocumented(schema) == []
    for key, operation in operations(schema):
        assert "**Who may call it**" in operation["description"], key


def test_who_may_call_each_operation_is_read_from_the_access_policy(schema):
    paths = schema["paths"]
    sales_channel_too = "an integration; a sales channel too"

    assert sales_channel_too in paths["/api/orders"]["post"]["description"]
    assert sales_channel_too in paths["/api/skus"]["get"]["description"]
    for key, operation in operations(schema):
        if key.split("/")[2] in ("order_copies", "order_subscriptions", "events", "customers"):
            assert "an integration only" in operation["description"], key
    place = "| `_place` |"
    orders_patch = paths["/api/orders/{id}"]["patch"]["description"]
    assert [line for line in orders_patch.splitlines() if line.startswith(place)][0].endswith(
        "| yes |"
    )
    # Sales channels may send only `_place` of the orders' 18 triggers (api/policy.py).
    assert "| `_cancel` |" in orders_patch and orders_patch.count("| no |") == 18


def test_an_operation_added_without_an_entry_is_named(schema):
    grown = json.loads(json.dumps(schema))
    docstring = inspect.getdoc(RESOURCES["orders"]).splitlines()[0]  # type: ignore[union-attr]
    grown["paths"]["/api/webhooks"] = {"get": {"responses": {}}}
    grown["paths"]["/api/orders"]["get"]["description"] = docstring

    assert undocumented(grown) == [
        "GET /api/orders reads like a maintainer's docstring: " + repr(docstring[:80]),
        "GET /api/webhooks has no summary or description: add its entry to "
        "api/reference/webhooks.py (Operation(summary=..., ...))",
    ]


def test_every_reference_entry_is_an_operation_of_the_schema(schema):
    keys = {key for key, _ in operations(schema)}
    tags = {tag for _, operation in operations(schema) for tag in operation["tags"]}
    for reference in references().values():
        assert set(reference.operations) <= keys, reference.type
        assert reference.type in tags


def serializer_triggers() -> dict[str, set[str]]:
    """Trigger attributes (named `_...`) of every resource serializer, by resource type."""
    found: dict[str, set[str]] = {}
    for resource_type, serializer_class in SERIALIZERS.items():
        names = {name for name in serializer_class().fields if name.startswith("_")}
        if names:
            found[resource_type] = names
    return found


def test_every_trigger_is_documented_with_its_effect_and_refusals(schema):
    triggers = serializer_triggers()
    assert triggers["order_copies"] >= {"_retry", "_abort"}
    assert triggers["orders"] >= {"_place", "_cancel"}
    for resource_type, names in triggers.items():
        documented = references()[resource_type].triggers
        missing = names - set(documented)
        assert not missing, f"document {missing} in api/reference/{resource_type}.py triggers"
        patch = schema["paths"][f"/api/{resource_type}/{{id}}"].get("patch")
        if patch is None:  # a read-only resource's serializer fields take no trigger
            continue
        request = patch["requestBody"]["content"]["application/vnd.api+json"]["schema"]
        component = schema["components"]["schemas"][request["$ref"].split("/")[-1]]
        attributes = component["properties"]["data"]["properties"]["attributes"]["properties"]
        for name in names:
            assert f"| `{name}` | {documented[name].effect} |" in patch["description"]
            assert attributes[name]["description"].startswith("Send `true` to trigger")
            assert documented[name].refused_when in attributes[name]["description"]


def test_the_lists_name_the_filters_sorts_and_includes_their_viewset_takes(schema):
    for resource_type, viewset in RESOURCES.items():
        description = schema["paths"][f"/api/{resource_type}"]["get"]["description"]
        for name in viewset.filter_fields:
            assert f"`{name}`" in description.split("**Filters**")[1], (resource_type, name)
        for name in viewset.sort_fields:
            assert f"`{name}`" in description.split("**Sort**")[1], (resource_type, name)
    orders = schema["paths"]["/api/orders/{id}"]["get"]["description"]
    assert "`order_copies`" in orders and "(a sales channel: `billing_address`," in orders


def test_the_reference_describes_attributes_of_responses_and_requests(schema):
    components = schema["components"]["schemas"]
    for name in ("OrderCopy", "OrderCopyRequest"):
        attributes = components[name]["properties"]
        attributes = attributes.get("data", {}).get("properties", attributes)["attributes"]
        assert "default true" in attributes["properties"]["reuse_wallet"]["description"], name
    order = components["Order"]["properties"]["attributes"]["properties"]
    assert order["payment_status"]["description"].startswith("`unpaid` until placed")


def test_the_operations_list_the_errors_they_answer(schema):
    delete_copy = schema["paths"]["/api/order_copies/{id}"]["delete"]["responses"]
    list_orders = schema["paths"]["/api/orders"]["get"]["responses"]
    create_copy = schema["paths"]["/api/order_copies"]["post"]["responses"]

    assert "`LOCKED`" in delete_copy["423"]["description"]
    assert "`FILTER_NOT_ALLOWED`" in list_orders["400"]["description"]
    assert "at most 25" not in list_orders["400"]["description"]
    assert "1 to 25" in list_orders["400"]["description"]
    for status in ("401", "422", "413", "415", "429"):
        assert create_copy[status]["content"]["application/vnd.api+json"]["schema"] == {
            "$ref": "#/components/schemas/Errors"
        }


def nullable_as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's null type, for jsonschema."""
    if isinstance(node, list):
        return [nullable_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: nullable_as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def examples(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for key, operation in operations(schema):
        media = [operation.get("requestBody", {}).get("content", {})]
        media += [response.get("content", {}) for response in operation["responses"].values()]
        for content in media:
            for body in content.values():
                for name, example in body.get("examples", {}).items():
                    found.append((f"{key} {name}", body["schema"], example["value"]))
    return found


def test_the_examples_are_valid_documents_of_their_operation(schema):
    found = examples(schema)
    names = [name for name, _, _ in found]
    for expected in ("POST /api/order_copies copy and place", "POST /api/order_copies queued"):
        assert expected in names
    assert {"PATCH /api/order_copies/{id} retry", "PATCH /api/orders/{id} place"} <= set(names)
    assert "PATCH /api/order_subscriptions/{id} run" in names
    root = nullable_as_json_schema({"components": schema["components"]})
    for name, media_schema, value in found:
        validator = jsonschema.Draft7Validator({**root, **nullable_as_json_schema(media_schema)})
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
        assert errors == [], name


def attribute_names(schema: dict[str, Any], media_schema: dict[str, Any]) -> set[str]:
    """The attributes a document of this media schema may carry."""

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
        return node

    data = resolve(resolve(media_schema)["properties"]["data"])
    if data.get("type") == "array":
        data = resolve(data["items"])
    return set(data["properties"]["attributes"]["properties"])


def test_the_examples_name_only_attributes_the_resource_has(schema):
    """jsonschema lets unknown attributes through: an example must not invent one."""
    for name, media_schema, value in examples(schema):
        if "data" not in value:
            continue  # an error document, a token
        rows = value["data"] if isinstance(value["data"], list) else [value["data"]]
        known = attribute_names(schema, media_schema)
        for row in rows:
            assert set(row.get("attributes", {})) <= known, (name, set(row["attributes"]) - known)


def test_the_token_operation_answers_what_its_example_shows(schema, client, db):
    integration, secret = api_client_create(name="ERP", kind="integration", mode="test")
    operation = schema["paths"]["/oauth/token"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]
    shown = operation["responses"]["200"]["content"]["application/json"]["examples"]
    body = {**example["integration"]["value"], "client_id": integration.client_id}

    answer = client.post("/oauth/token", {**body, "client_secret": secret}, "application/json")
    refused = client.post("/oauth/token", body, "application/json")

    assert answer.status_code == 200
    assert set(answer.json()) == set(shown["integration"]["value"])
    assert answer.json()["expires_in"] == shown["integration"]["value"]["expires_in"]
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] in operation["responses"]["401"]["description"]


def test_the_introduction_states_the_figures_the_code_enforces(settings):
    settings.API_RATE_READ = "7/min"
    settings.API_RATE_WRITE_BURST = "3/10s"

    intro = SchemaGenerator().get_schema(request=None, public=True)["info"]["description"]

    assert "| reads (GET, HEAD, OPTIONS) | 7 / min | 50 / 10 s |" in intro
    assert "| writes (POST, PATCH, DELETE) | 200 / min | 3 / 10 s |" in intro
    assert "(10 by default, at\n  most 25)" in intro or "most 25" in intro
    assert "3 levels and 10 paths" in " ".join(intro.split())
    assert "Predicates: `eq`, `not_eq`, `in`, `not_in`, `lt`," in intro
    for predicate in ("`matches`", "`metadata_jcont`"):
        assert predicate in intro


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v and tag != "a"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/try/"])
def test_the_reference_pages_load_nothing_from_the_internet(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    parser = Assets()
    parser.feed(response.content.decode())
    scripts = [url for url in parser.urls if url.endswith(".js")]
    assert scripts, "the page loads its UI"
    for url in parser.urls:
        assert url.startswith("/"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
