"""The OpenAPI schema class (drf-spectacular with drf-spectacular-jsonapi), our bearer token
scheme, and the postprocessing hooks: resource objects as we send them, and the reference
(api/reference/) written into every operation. The views that serve it are in api/docs.py
(importing them here would be circular)."""

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular_jsonapi.schemas.openapi import JsonApiAutoSchema

from api import policy
from api.reference import (
    Example,
    Operation,
    Refusal,
    Resource,
    Trigger,
    operation_for,
    overview,
    references,
)


class AutoSchema(JsonApiAutoSchema):
    """JSON:API operations, with our `filter[q]` and `page[...]` parameters from the backends."""


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def relax_resource_objects(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Fit the generated resource objects to what we send: every resource object carries
    `links` and `meta`; sparse fieldsets may leave out any attribute or relationship of a
    response; a relationship's `type` is the related resource type (ours are explicit), not a
    model name. Request schemas keep their required members."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        properties = schema.get("properties", {})
        if (
            not {"type", "id", "attributes"} <= set(properties)
            and "relationships" not in properties
        ):
            continue
        schema["additionalProperties"] = True
        for member in ("attributes", "relationships"):
            part = properties.get(member)
            if part is None:
                continue
            if not name.endswith("Request"):
                part.pop("required", None)
                # A relationship object of an answer may carry links only (JSON:API: links,
                # data or meta), as a write-only relationship's does.
                for relationship in part.get("properties", {}).values():
                    relationship.pop("required", None)
            _relax_linkage(part.get("properties", {}))
    return result


def _relax_linkage(relationships: dict[str, Any]) -> None:
    for relationship in relationships.values():
        relationship["additionalProperties"] = True
        data = relationship.get("properties", {}).get("data", {})
        if data.get("type") == "object":
            data["nullable"] = True
        for linkage in [data, data.get("items", {}), *data.get("oneOf", [])]:
            linkage.get("properties", {}).get("type", {}).pop("enum", None)


# The reference (api/reference/) written into the schema -----------------------------------------

MEDIA = "application/vnd.api+json"
VERBS = {("get", False): "list", ("get", True): "read", ("post", False): "create"}
VERBS |= {("patch", True): "update", ("delete", True): "delete"}
# The resources a newcomer meets first, in this order; the others follow alphabetically.
FIRST = ("tokens", "order_copies", "orders", "line_items", "order_subscriptions")
# POST /oauth/token is no DRF resource (api/oauth.py): its operation is described here.
TOKEN_REQUEST = {
    "type": "object",
    "required": ["grant_type", "client_id"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "description": "integrations only"},
        "scope": {"type": "string", "description": "sales channels: `market:code:<code>`"},
    },
}
TOKEN_OPERATION = {
    "operationId": "oauth_token",
    "tags": ["tokens"],
    "security": [],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": TOKEN_REQUEST},
            "application/json": {"schema": TOKEN_REQUEST},
        },
    },
    "responses": {
        "200": {
            "description": "The token",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["access_token", "token_type", "expires_in", "scope"],
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"type": "string", "enum": ["bearer"]},
                            "expires_in": {"type": "integer", "description": "seconds"},
                            "scope": {"type": "string"},
                            "created_at": {"type": "integer", "description": "Unix time"},
                        },
                    }
                }
            },
        }
    },
}
ERRORS_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["title", "detail", "code", "status"],
                "properties": {
                    "title": {"type": "string"},
                    "detail": {"type": "string"},
                    "code": {"type": "string", "description": "stable: test this, not the text"},
                    "status": {"type": "string", "description": "the HTTP status"},
                    "source": {"type": "object", "properties": {"pointer": {"type": "string"}}},
                    "meta": {"type": "object"},
                },
            },
        }
    },
}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": """Integrations only (a sales channel's key is a 400). Any string of your
own (a UUID): the first request with it is carried
out and its answer stored for `IDEMPOTENCY_KEY_TTL`; a repeat gets that answer again with
`Idempotent-Replayed: true`, the same key with another request is a 422
`IDEMPOTENCY_KEY_REUSED`, a repeat while the first still runs a 409 `IDEMPOTENCY_KEY_IN_USE`.""",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def apply_reference(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation's summary, description, examples and errors, every trigger's and
    attribute's text, from api/reference/. An operation without an entry keeps no description
    (docstrings are for maintainers) and no summary: tests/api/test_schema.py names it."""
    refs = references()
    result["info"]["description"] = overview.introduction()
    order = [*[t for t in FIRST if t in refs], *sorted(set(refs) - set(FIRST))]
    result["tags"] = [{"name": t, "description": _clean(refs[t].description)} for t in order]
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Errors"] = ERRORS_SCHEMA
    result["paths"] = {"/oauth/token": {"post": copy.deepcopy(TOKEN_OPERATION)}, **result["paths"]}
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            _document_operation(operation, method=method, path=path)
    for name, schema in schemas.items():
        _document_attributes(schema, schemas, refs, partial=name.startswith("Patched"))
    return result


def _document_operation(operation: dict[str, Any], *, method: str, path: str) -> None:
    operation.pop("description", None)
    entry = operation_for(f"{method.upper()} {path}")
    if entry is None:
        return
    resource_type = path.split("/")[2]
    token = path.startswith("/oauth/")
    verb = "token" if token else VERBS.get((method, path.endswith("}")), "read")
    media = "application/json" if token else MEDIA
    reference = references().get(resource_type)
    parts = [
        _clean(entry.description),
        _who(resource_type, verb),
        *_parameters(resource_type, verb),
    ]
    if verb == "update" and reference is not None and reference.triggers:
        parts.append(_trigger_table(resource_type, reference.triggers))
    refusals = (*overview.VERB_ERRORS[verb], *entry.refusals)
    operation["summary"] = entry.summary
    operation["description"] = "\n\n".join(parts)
    if method in ("post", "patch", "delete") and not token:
        operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    for status, found in sorted(_by_status(refusals).items()):
        operation["responses"][str(status)] = {
            "description": _codes_and_causes(found),
            "content": {media: {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
    _examples(operation, entry, media=media)


def _by_status(refusals: tuple[Refusal, ...]) -> dict[int, list[Refusal]]:
    found: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        if refusal not in found.setdefault(refusal.status, []):
            found[refusal.status].append(refusal)
    return found


def _codes_and_causes(refusals: list[Refusal]) -> str:
    """ "`A`: why, or why; `B`: why" for the refusals of one status."""
    causes: dict[str, list[str]] = {}
    for refusal in refusals:
        causes.setdefault(refusal.code, []).append(refusal.when)
    return "; ".join(f"`{code}`: {', or '.join(whens)}" for code, whens in causes.items())


def _examples(operation: dict[str, Any], entry: Operation, *, media: str) -> None:
    """Request examples on the body; response examples on the success or error response
    their document is (an error document goes under its status)."""
    body = operation.get("requestBody", {}).get("content", {}).get(media)
    if body is not None and entry.requests:
        body["examples"] = _openapi_examples(entry.requests)
    success = next(code for code in sorted(operation["responses"]) if code.startswith("2"))
    for key, example in entry.responses.items():
        status = example.value["errors"][0]["status"] if "errors" in example.value else success
        content = operation["responses"][status].setdefault("content", {}).setdefault(media, {})
        content.setdefault("examples", {}).update(_openapi_examples({key: example}))


def _openapi_examples(examples: dict[str, Example]) -> dict[str, Any]:
    found = {}
    for key, example in examples.items():
        found[key] = {"summary": example.summary, "value": example.value}
        if example.description:
            found[key]["description"] = example.description
    return found


def _sales_channel_access(resource_type: str) -> policy.Access:
    kind = "sales_channel"
    return policy.POLICY[kind].get(resource_type, policy.DEFAULT_ACCESS[kind])


def _who(resource_type: str, verb: str) -> str:
    if verb == "token":
        return "**Who may call it**: any API client (no bearer token)."
    if _sales_channel_access(resource_type).may(verb):
        scope = "" if resource_type == "skus" else ", on the rows of its market"
        return f"**Who may call it**: an integration; a sales channel too{scope}."
    return (
        "**Who may call it**: an integration only (a sales-channel token gets 401 `UNAUTHORIZED`)."
    )


def _parameters(resource_type: str, verb: str) -> list[str]:
    """What a list filters and sorts on, what a read may include: from the viewset itself."""
    from api.urls import RESOURCES  # the URLconf imports every viewset, and this module

    viewset = RESOURCES.get(resource_type)
    if viewset is None:
        return []
    found = []
    if verb == "list":
        names = ", ".join(f"`{name}`" for name in sorted(viewset.filter_fields))
        found.append(f"**Filters** (`filter[q][<attribute>_<predicate>]`) on: {names}.")
        found.append(f"**Sort** on: {', '.join(f'`{n}`' for n in sorted(viewset.sort_fields))}.")
    included = sorted(viewset.serializer_class.included_serializers)
    if included and verb in ("list", "read", "create", "update"):
        line = f"**Include**: {', '.join(f'`{name}`' for name in included)}"
        access = _sales_channel_access(resource_type)
        if access.may(verb):
            followed = [f"`{name}`" for name in included if access.may_follow(name)]
            line += f" (a sales channel: {', '.join(followed) or 'none'})"
        found.append(f"{line}.")
    return found


def _trigger_line(resource_type: str, name: str, trigger: Trigger) -> str:
    who = "" if _sales_channel_access(resource_type).may_trigger(name) else " Integrations only."
    return f"Send `true` to trigger: {trigger.effect}. Refused when {trigger.refused_when}.{who}"


def _trigger_table(resource_type: str, triggers: dict[str, Trigger]) -> str:
    rows = [
        f"| `{name}` | {t.effect} | {t.refused_when} | "
        f"{'yes' if _sales_channel_access(resource_type).may_trigger(name) else 'no'} |"
        for name, t in triggers.items()
    ]
    header = "| trigger | effect | refused when | sales channel |\n|---|---|---|---|"
    return "**Triggers** (send one, `true`, in `data.attributes`):\n\n" + "\n".join([header, *rows])


def _document_attributes(
    schema: dict[str, Any],
    schemas: dict[str, Any],
    refs: dict[str, Resource],
    *,
    partial: bool,
) -> None:
    """Triggers and attributes described; a PATCH (partial) requires no attribute."""
    data = schema.get("properties", {}).get("data", schema)
    properties = data.get("properties", {})
    type_schema = properties.get("type", {})
    wrapped: list[dict[str, Any]] = type_schema.get("allOf", [{}])
    ref = type_schema.get("$ref") or wrapped[0].get("$ref")
    if ref:  # the type's enum as its own component
        type_schema = schemas.get(ref.split("/")[-1], {})
    enum = type_schema.get("enum") or [None]
    reference = refs.get(str(enum[0]))
    part = properties.get("attributes", {})
    if partial:
        part.pop("required", None)
    if reference is None:
        return
    for name, attribute in part.get("properties", {}).items():
        if name in reference.triggers:
            attribute.pop("title", None)
            attribute["description"] = _trigger_line(reference.type, name, reference.triggers[name])
        elif name in reference.attributes:
            attribute["description"] = reference.attributes[name]


def _clean(text: str) -> str:
    """Paragraphs of the reference's text as one line each (Markdown renders them alike)."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))
