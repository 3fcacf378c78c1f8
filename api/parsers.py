from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework_json_api.parsers import JSONParser


def json_depth_exceeds(value: Any, *, limit: int) -> bool:
    """Whether `value` nests objects and arrays deeper than `limit` levels (`{}` is one level).
    Iterative: a deep document cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 a body nested deeper than API_MAX_JSON_DEPTH
    levels: deeper documents have no use here and exhaust the stack of whatever walks them
    (the decoder itself, serializers, JSON fields)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_JSON_DEPTH
        refusal = (
            f"the JSON body is nested deeper than {limit} levels of objects and arrays: "
            "flatten it (metadata included)"
        )
        try:
            result = super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError:
            raise ParseError(refusal) from None
        if isinstance(result, dict | list) and json_depth_exceeds(result, limit=limit):
            raise ParseError(refusal)
        return result


class JsonApiParser(JSONParser, BoundedJSONParser):
    """DJA's parser, on a bounded JSON parser, with the document's shape checked first: a
    malformed document (attributes or relationships of the wrong shape) is a 400, never an
    AttributeError deep inside."""

    def parse_data(self, result: Any, parser_context: Any) -> Any:
        if not isinstance(result, dict) or not isinstance(result.get("data"), dict):
            raise ParseError("the document must be an object with a `data` resource object")
        data = result["data"]
        if not isinstance(data.get("type"), str) or not data["type"]:
            # Malformed (400); a type that is not the endpoint's is a conflict (409, DJA's).
            raise ParseError("`data.type` must be the resource type, a non-empty string")
        attributes = data.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ParseError("`data.attributes` must be an object")
        relationships = data.get("relationships")
        if relationships is not None:
            _check_relationships(relationships)
        if "id" in data and not isinstance(data["id"], str | None):
            raise ParseError("`data.id` must be a string")
        return super().parse_data(result, parser_context)


def _check_relationships(relationships: Any) -> None:
    if not isinstance(relationships, dict):
        raise ParseError("`data.relationships` must be an object")
    for name, value in relationships.items():
        if not isinstance(value, dict) or "data" not in value:
            raise ParseError(f"relationship `{name}` must be an object with a `data` member")
        linkage = value["data"]
        items = linkage if isinstance(linkage, list) else [linkage]
        for item in items:
            if item is None and not isinstance(linkage, list):
                continue
            if not (isinstance(item, dict) and isinstance(item.get("type"), str)):
                raise ParseError(f"relationship `{name}` needs resource identifiers (type, id)")
            if not isinstance(item.get("id"), str):
                raise ParseError(f"relationship `{name}` needs a string `id`")
