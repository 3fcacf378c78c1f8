"""The OpenAPI schema class (drf-spectacular with drf-spectacular-jsonapi) and our bearer token
scheme. The views that serve it are in api/docs.py (importing them here would be circular)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular_jsonapi.schemas.openapi import JsonApiAutoSchema


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
