"""JSON:API documents from our serializers, in the shape Commerce Layer's clients read.

This replaces the document building of DJA's renderer (the parser, the serializer mixins for
sparse fieldsets and include validation stay DJA's). Ours knows each serializer class's type
and relationships once (`ResourceSerializer.relationships()`), formats no names, and serializes
every group of included resources with one serializer, not one per resource.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import Manager
from rest_framework import renderers
from rest_framework.serializers import ListSerializer

from api.serializers import ResourceSerializer

IncludeTree = dict[str, "IncludeTree"]


def include_tree(raw: str | None) -> IncludeTree:
    """`a,b.c` → {"a": {}, "b": {"c": {}}}."""
    tree: IncludeTree = {}
    for path in (raw or "").split(","):
        node = tree
        for name in filter(None, path.strip().split(".")):
            node = node.setdefault(name, {})
    return tree


class DocumentBuilder:
    def __init__(self, request: Any) -> None:
        self.base = request.build_absolute_uri("/api").rstrip("/") if request else "/api"
        self.query = request.query_params if request else {}
        self.mode = getattr(getattr(request, "auth", None), "mode", None)
        self._sparse: dict[str, set[str] | None] = {}

    def sparse(self, resource_type: str) -> set[str] | None:
        if resource_type not in self._sparse:
            raw = self.query.get(f"fields[{resource_type}]")
            self._sparse[resource_type] = None if raw is None else set(raw.split(","))
        return self._sparse[resource_type]

    def resource(
        self, serializer_class: type[ResourceSerializer], instance: Any, row: dict[str, Any]
    ) -> dict[str, Any]:
        resource_type = serializer_class.resource_type()
        pk = str(instance.pk)
        url = f"{self.base}/{resource_type}/{pk}"
        relationships = serializer_class.relationships()
        related_names = serializer_class.relationship_names()
        sparse = self.sparse(resource_type)
        document: dict[str, Any] = {
            "id": pk,
            "type": resource_type,
            "links": {"self": url},
            "attributes": {k: v for k, v in row.items() if k != "id" and k not in related_names},
        }
        links = {}
        for rel in relationships:
            if sparse is not None and rel.name not in sparse:
                continue
            entry: dict[str, Any] = {
                "links": {
                    "self": f"{url}/relationships/{rel.name}",
                    "related": f"{url}/{rel.name}",
                }
            }
            if rel.name in row:
                entry["data"] = row[rel.name]
            links[rel.name] = entry
        document["relationships"] = links
        document["meta"] = {"mode": instance.mode}
        return document

    def resources(
        self,
        serializer_class: type[ResourceSerializer],
        instances: Sequence[Any],
        context: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """One serializer for the whole group (DJA builds one per included resource)."""
        if not instances:
            return []
        rows = serializer_class(instances, many=True, context=context).data
        return [self.resource(serializer_class, i, r) for i, r in zip(instances, rows, strict=True)]

    def included(
        self,
        serializer_class: type[ResourceSerializer],
        parents: Sequence[tuple[Any, dict[str, Any]]],
        tree: IncludeTree,
        context: dict[str, Any],
        seen: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        """Add the resources `tree` asks for, once each, to `seen` (keyed by type and id), and
        the linkage of included to-many relationships to their parents."""
        for name, subtree in tree.items():
            included_class = serializer_class.included_serializers[name]
            resource_type = included_class.resource_type()
            related = _related_instances([instance for instance, _ in parents], name, self.mode)
            fresh = [obj for obj in related.values() if (resource_type, str(obj.pk)) not in seen]
            for document in self.resources(included_class, fresh, context):
                seen[(document["type"], document["id"])] = document
            for instance, document in parents:
                value = getattr(instance, name)
                if isinstance(value, Manager) and name in document["relationships"]:
                    document["relationships"][name]["data"] = [
                        {"type": resource_type, "id": str(obj.pk)}
                        for obj in value.all()
                        if _in_mode(obj, self.mode)
                    ]
            if subtree:
                children = [(obj, seen[(resource_type, str(obj.pk))]) for obj in related.values()]
                self.included(included_class, children, subtree, context, seen)


def _related_instances(instances: Iterable[Any], name: str, mode: str | None) -> dict[Any, Any]:
    """The related rows of `name`, once each; a row of another mode is never included."""
    found: dict[Any, Any] = {}
    for instance in instances:
        value = getattr(instance, name)
        related = value.all() if isinstance(value, Manager) else [value]
        for obj in related:
            if obj is not None and _in_mode(obj, mode):
                found.setdefault(obj.pk, obj)
    return found


def _in_mode(obj: Any, mode: str | None) -> bool:
    return mode is None or getattr(obj, "mode", mode) == mode


class JsonApiRenderer(renderers.JSONRenderer):
    media_type = "application/vnd.api+json"
    format = "vnd.api+json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        if data is None or (response is not None and response.status_code == 204):
            return b""
        if isinstance(data, dict) and ("errors" in data or "data" in data):
            return super().render(data, accepted_media_type, context)
        rows = data["results"] if isinstance(data, dict) and "results" in data else data
        if not hasattr(rows, "serializer"):
            # Not a resource (OPTIONS metadata): plain JSON.
            return super().render(data, accepted_media_type, context)
        document = self.document(data, context.get("request"))
        return super().render(document, accepted_media_type, context)

    def document(self, data: Any, request: Any) -> dict[str, Any]:
        paginated = isinstance(data, dict) and "results" in data
        rows = data["results"] if paginated else data
        serializer = rows.serializer
        many = isinstance(serializer, ListSerializer)
        serializer_class = type(serializer.child if many else serializer)
        instances = list(serializer.instance) if many else [serializer.instance]
        builder = DocumentBuilder(request)
        primary = [
            builder.resource(serializer_class, instance, row)
            for instance, row in zip(instances, rows if many else [rows], strict=True)
        ]
        seen = {(d["type"], d["id"]): d for d in primary}
        tree = include_tree(request.query_params.get("include") if request else None)
        builder.included(
            serializer_class,
            list(zip(instances, primary, strict=True)),
            tree,
            serializer.context,
            seen,
        )
        document: dict[str, Any] = {"data": primary if many else primary[0]}
        primary_ids = {id(d) for d in primary}
        included = [d for d in seen.values() if id(d) not in primary_ids]
        if tree:
            document["included"] = included
        if paginated:
            document["meta"] = data["meta"]
            document["links"] = data["links"]
        return document
