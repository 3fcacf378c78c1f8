"""JSON:API documents from our serializers, in the shape Commerce Layer's clients read.

This replaces the document building of DJA's renderer (the parser, the serializer mixins for
sparse fieldsets and include validation stay DJA's). Ours knows each serializer class's type
and relationships once (`ResourceSerializer.relationships()`), formats no names, and serializes
every group of included resources with one serializer, not one per resource.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from rest_framework import renderers
from rest_framework.serializers import ListSerializer

from api.serializers import ResourceSerializer
from api.tracing import current_trace_id

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
        self.loader = IncludeLoader(self.mode)
        self.trace_id = current_trace_id()
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
        document["meta"] = {
            "mode": instance.mode,
            "organization_id": settings.API_ORGANIZATION_ID,
            "trace_id": self.trace_id,
        }
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
        the linkage of included to-many relationships to their parents. The loader hands out
        one instance per row, so `parents` never repeat a row whatever the path."""
        for name, subtree in tree.items():
            included_class = serializer_class.included_serializers[name]
            resource_type = included_class.resource_type()
            related = self.loader.related([instance for instance, _ in parents], name)
            found: dict[Any, Any] = {}
            for rows in related.values():
                for obj in rows:
                    found.setdefault(obj.pk, obj)
            fresh = [obj for obj in found.values() if (resource_type, str(obj.pk)) not in seen]
            for document in self.resources(included_class, fresh, context):
                seen[(document["type"], document["id"])] = document
            for instance, document in parents:
                if self.loader.is_many(instance, name) and name in document["relationships"]:
                    document["relationships"][name]["data"] = [
                        {"type": resource_type, "id": str(obj.pk)}
                        for obj in related.get(instance.pk, [])
                    ]
            if subtree:
                children = [(obj, seen[(resource_type, str(obj.pk))]) for obj in found.values()]
                self.included(included_class, children, subtree, context, seen)


class IncludeLoader:
    """The rows an include tree reaches, level by level: at most one query per relationship and
    level, none for a row or a to-many relation already loaded, and one instance per row. The
    cycle order → line_items → order costs nothing after its first turn (prefetch_related
    repeats every parent once per child at each level: rows multiply with the depth)."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self.rows: dict[type[Model], dict[Any, Model]] = {}
        self.children: dict[tuple[type[Model], str], dict[Any, list[Model]]] = {}

    def remember(self, instances: Iterable[Model]) -> list[Model]:
        """The known instance of each row (the first one seen wins)."""
        return [self.rows.setdefault(type(i), {}).setdefault(i.pk, i) for i in instances]

    def is_many(self, instance: Model, name: str) -> bool:
        return bool(instance._meta.get_field(name).one_to_many)

    def related(self, parents: Sequence[Model], name: str) -> dict[Any, list[Model]]:
        """Parent pk → its rows of `name`, in the caller's mode."""
        if not parents:
            return {}
        field: Any = parents[0]._meta.get_field(name)
        if field.one_to_many:
            return self._to_many(parents, name, field)
        return self._to_one(parents, field)

    def _query(self, model: type[Model]) -> QuerySet[Any]:
        rows = model._default_manager.all()
        if self.mode is not None and any(f.name == "mode" for f in model._meta.fields):
            rows = rows.filter(mode=self.mode)
        return rows

    def _to_one(self, parents: Sequence[Model], field: Any) -> dict[Any, list[Model]]:
        known = self.rows.setdefault(field.related_model, {})
        for parent in parents:  # joined by select_related: here already
            if field.is_cached(parent) and field.get_cached_value(parent) is not None:
                self.remember([field.get_cached_value(parent)])
        missing = {getattr(parent, field.attname) for parent in parents} - {None} - set(known)
        if missing:
            self.remember(self._query(field.related_model).filter(pk__in=missing))
        found: dict[Any, list[Model]] = {}
        for parent in parents:
            target = known.get(getattr(parent, field.attname))
            in_mode = target is not None and _in_mode(target, self.mode)
            found[parent.pk] = [target] if in_mode and target is not None else []
        return found

    def _to_many(self, parents: Sequence[Model], name: str, field: Any) -> dict[Any, list[Model]]:
        remote = field.field  # the foreign key on the child
        loaded = self.children.setdefault((type(parents[0]), name), {})
        todo = {parent.pk: parent for parent in parents if parent.pk not in loaded}
        if todo:
            known = self.rows.setdefault(field.related_model, {})
            for pk in todo:
                loaded[pk] = []
            already = [obj for obj in known.values() if getattr(obj, remote.attname) in todo]
            rows = self._query(field.related_model).filter(**{f"{remote.name}__in": list(todo)})
            if already:
                rows = rows.exclude(pk__in=[obj.pk for obj in already])
            for obj in [*already, *self.remember(rows)]:
                parent = todo[getattr(obj, remote.attname)]
                if not remote.is_cached(obj):
                    remote.set_cached_value(obj, parent)
                loaded[parent.pk].append(obj)
        return {parent.pk: loaded[parent.pk] for parent in parents}


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
        instances = builder.loader.remember(instances)
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
