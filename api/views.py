from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import FilterNotAllowed
from api.serializers import Relationship, ResourceSerializer
from api.tokens import AccessToken
from core.actors import Actor
from events.selectors import event_list_for


def actor_of(request: Request) -> Actor:
    client = getattr(request.user, "client", None)
    if client is None:
        return Actor(kind="api_client")
    return Actor(kind="api_client", id=client.pk, label=client.name)


class ResourceViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """What every resource's viewset shares: the caller's mode applied to every query (through
    `base_queryset`, the one place), `filter[q]`/`sort` on listed fields, select/prefetch for
    includes, related (`/<id>/<rel>`) and relationship (`/<id>/relationships/<rel>`) endpoints."""

    serializer_class: type[ResourceSerializer]
    filter_fields: ClassVar[dict[str, str]] = {}
    sort_fields: ClassVar[dict[str, str]] = {}
    select_for_includes: ClassVar[dict[str, list[str]]] = {}
    prefetch_for_includes: ClassVar[dict[str, list[str]]] = {}
    sales_channel_actions: ClassVar[tuple[str, ...]] = ()
    # Relationships a sales channel may read (related endpoints, include); none by default.
    sales_channel_relationships: ClassVar[frozenset[str]] = frozenset()
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[A-Za-z0-9]+"

    @property
    def resource_name(self) -> str:
        return self.serializer_class.resource_type()

    @property
    def relationship_names(self) -> frozenset[str]:
        return self.serializer_class.relationship_names()

    @property
    def grant(self) -> AccessToken:
        assert isinstance(self.request.auth, AccessToken)  # noqa: S101 (HasAccessToken)
        return self.request.auth

    def base_queryset(self, *, mode: str) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        queryset = self.base_queryset(mode=self.grant.mode)
        if self.action != "list" and self.action != "retrieve":
            return queryset
        for path in filter(None, (self.request.query_params.get("include") or "").split(",")):
            self._check_include(path)
            if path in self.select_for_includes:
                queryset = queryset.select_related(*self.select_for_includes[path])
            if path in self.prefetch_for_includes:
                queryset = queryset.prefetch_related(*self.prefetch_for_includes[path])
            elif "." in path:
                # A nested include: one query per level, not one per parent.
                queryset = queryset.prefetch_related(path.replace(".", "__"))
        return queryset

    def _check_include(self, path: str) -> None:
        """Before anything is fetched for it: a path of includable relationships."""
        self._check_sales_channel_relationship(path.split(".")[0])
        serializer_class: Any = self.serializer_class
        for name in path.split("."):
            if name not in serializer_class.included_serializers:
                raise ParseError(f"include={path}: {name} cannot be included here")
            serializer_class = serializer_class.included_serializers[name]

    def _check_sales_channel_relationship(self, name: str) -> None:
        if self.grant.is_sales_channel and name not in self.sales_channel_relationships:
            raise PermissionDenied(f"a sales channel may not read {name} of {self.resource_name}")

    # Writes are all or nothing: a refused trigger leaves the attributes sent with it unsaved.

    @transaction.atomic
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().update(request, *args, **kwargs)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        grant = getattr(self.request, "auth", None)
        mode = grant.mode if isinstance(grant, AccessToken) else None
        return {**super().get_serializer_context(), "mode": mode}

    def _relationship(self, name: str) -> Relationship:
        for rel in self.serializer_class.relationships():
            if rel.name == name:
                return rel
        raise Http404

    def _related_class(self, name: str) -> type[ResourceSerializer]:
        related = getattr(self.serializer_class, "related_serializers", {})
        if name in related:
            return related[name]  # type: ignore[no-any-return]
        return self.serializer_class.included_serializers[name]  # type: ignore[no-any-return]

    def get_related_serializer_class(self) -> type[ResourceSerializer]:
        """For DJA's include validation on related endpoints."""
        return self._related_class(self._relationship(self.kwargs["related_field"]).name)

    def related_object(self, instance: Model, name: str) -> Any:
        """The to-one relation `name` of `instance` (or None)."""
        return getattr(instance, name)

    def related_queryset(self, instance: Model, name: str) -> QuerySet[Any]:
        """The to-many relation `name` of `instance`, in the caller's mode."""
        if name == "events":
            return event_list_for(resource_type=self.resource_name, resource_id=str(instance.pk))
        return getattr(instance, name).filter(mode=self.grant.mode)  # type: ignore[no-any-return]

    @extend_schema(exclude=True)
    def related(self, request: Request, *args: Any, related_field: str, **kwargs: Any) -> Response:
        _refuse_filters(request)
        rel = self._relationship(related_field)
        self._check_sales_channel_relationship(rel.name)
        instance = self.get_object()
        serializer_class = self._related_class(rel.name)
        context = self.get_serializer_context()
        if rel.many:
            page = self.paginate_queryset(self.related_queryset(instance, rel.name))
            rows = serializer_class(page, many=True, context=context).data
            return self.get_paginated_response(rows)
        target = self.related_object(instance, rel.name)
        if target is None or getattr(target, "mode", self.grant.mode) != self.grant.mode:
            return Response({"data": None})
        return Response(serializer_class(target, context=context).data)

    @extend_schema(exclude=True)
    def relationship(
        self, request: Request, *args: Any, related_field: str, **kwargs: Any
    ) -> Response:
        rel = self._relationship(related_field)
        self._check_sales_channel_relationship(rel.name)
        instance = self.get_object()
        base = request.build_absolute_uri(f"/api/{self.resource_name}/{instance.pk}")
        links = {"self": f"{base}/relationships/{rel.name}", "related": f"{base}/{rel.name}"}
        if rel.many:
            related = self.related_queryset(instance, rel.name).values_list("pk", flat=True)
            page = self.paginate_queryset(related) or []
            data: Any = [{"type": rel.resource_type, "id": str(pk)} for pk in page]
            paginated = self.get_paginated_response(data).data
            links |= paginated["links"]
            return Response({"data": data, "meta": paginated["meta"], "links": links})
        pk = getattr(instance, f"{rel.name}_id")
        data = None if pk is None else {"type": rel.resource_type, "id": str(pk)}
        return Response({"data": data, "links": links})


def _refuse_filters(request: Request) -> None:
    """Related endpoints take no filter or sort: refused, never silently ignored."""
    for param in request.query_params:
        if param.startswith("filter") or param == "sort":
            raise FilterNotAllowed(
                f"{param} is not supported on a related endpoint: list the related resource "
                "with a filter on its relationship instead, e.g. filter[q][order_id_eq]=..."
            )
