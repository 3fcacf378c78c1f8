from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework_json_api.parsers import JSONParser


class JsonApiParser(JSONParser):
    """DJA's parser, with the document's shape checked first: a malformed document (attributes
    or relationships of the wrong shape) is a 400, never an AttributeError deep inside."""

    def parse_data(self, result: Any, parser_context: Any) -> Any:
        if not isinstance(result, dict) or not isinstance(result.get("data"), dict):
            raise ParseError("the document must be an object with a `data` resource object")
        data = result["data"]
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
