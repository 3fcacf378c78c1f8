from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api import policy
from api.exceptions import FilterNotAllowed
from api.serializers import Relationship, ResourceSerializer, serializer_for
from api.tokens import AccessToken
from core.actors import Actor
from events.selectors import event_list_for


def actor_of(request: Request) -> Actor:
    client = getattr(request.user, "client", None)
    if client is None:
        return Actor(kind="api_client")
    return Actor(kind="api_client", id=client.pk, label=client.name)


class ResourceViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """What every resource's viewset shares: the caller's mode (`base_queryset`) and the access
    policy (`api/policy.py`) applied to every query and every action, `filter[q]`/`sort` on
    listed fields, to-one includes joined, related (`/<id>/<rel>`) and relationship
    (`/<id>/relationships/<rel>`) endpoints."""

    serializer_class: type[ResourceSerializer]
    permission_classes = [policy.PolicyPermission]
    filter_fields: ClassVar[dict[str, str]] = {}
    sort_fields: ClassVar[dict[str, str]] = {}
    # First-level to-one includes joined to the page; deeper ones are loaded by the renderer.
    select_for_includes: ClassVar[dict[str, list[str]]] = {}
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
        assert isinstance(self.request.auth, AccessToken)  # noqa: S101 (PolicyPermission)
        return self.request.auth

    def base_queryset(self, *, mode: str) -> QuerySet[Any]:
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return  # a method the route does not offer: 405, before reading the body
        include_root: Any = self.serializer_class
        if "related_field" in self.kwargs:
            rel = self._relationship(self.kwargs["related_field"])
            policy.check_relationship(self.resource_name, rel.name, grant=self.grant)
            include_root = serializer_for(rel.resource_type)
        policy.check_request(
            request, self.serializer_class, include_root=include_root, grant=self.grant
        )

    def get_queryset(self) -> QuerySet[Any]:
        queryset = policy.visible(
            self.base_queryset(mode=self.grant.mode),
            resource_type=self.resource_name,
            grant=self.grant,
        )
        if self.action != "list" and self.action != "retrieve":
            return queryset
        for names in policy.include_paths(self.request.query_params.get("include")):
            if names[0] in self.select_for_includes:
                queryset = queryset.select_related(*self.select_for_includes[names[0]])
        return queryset

    def get_object(self) -> Any:
        instance = super().get_object()
        if self.action in ("update", "partial_update", "destroy"):
            policy.check_writable(instance, resource_type=self.resource_name, grant=self.grant)
        return instance

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
        return {**super().get_serializer_context(), "mode": mode, "grant": grant}

    def _relationship(self, name: str) -> Relationship:
        for rel in self.serializer_class.relationships():
            if rel.name == name:
                return rel
        raise Http404

    def get_related_serializer_class(self) -> type[ResourceSerializer]:
        """For DJA's include validation on related endpoints."""
        return serializer_for(self._relationship(self.kwargs["related_field"]).resource_type)

    def related_object(self, instance: Model, name: str) -> Any:
        """The to-one relation `name` of `instance` (or None), read where its field reads it."""
        field = self.serializer_class._declared_fields.get(name)
        return getattr(instance, getattr(field, "source", None) or name)

    def related_queryset(self, instance: Model, name: str) -> QuerySet[Any]:
        """The to-many relation `name` of `instance`, in the caller's mode."""
        if name == "events":
            return event_list_for(resource_type=self.resource_name, resource_id=str(instance.pk))
        return getattr(instance, name).filter(mode=self.grant.mode)  # type: ignore[no-any-return]

    def _related_rows(self, instance: Model, rel: Relationship) -> QuerySet[Any]:
        rows = self.related_queryset(instance, rel.name)
        return policy.visible(rows, resource_type=rel.resource_type, grant=self.grant)

    def _reachable(self, target: Any, rel: Relationship) -> bool:
        if target is None or getattr(target, "mode", self.grant.mode) != self.grant.mode:
            return False
        if not self.grant.is_sales_channel:
            return True
        rows = type(target)._default_manager.filter(pk=target.pk)
        return policy.visible(rows, resource_type=rel.resource_type, grant=self.grant).exists()

    @extend_schema(exclude=True)
    def related(self, request: Request, *args: Any, related_field: str, **kwargs: Any) -> Response:
        _refuse_filters(request)
        rel = self._relationship(related_field)
        instance = self.get_object()
        serializer_class = serializer_for(rel.resource_type)
        context = self.get_serializer_context()
        if rel.many:
            page = self.paginate_queryset(self._related_rows(instance, rel))
            rows = serializer_class(page, many=True, context=context).data
            return self.get_paginated_response(rows)
        target = self.related_object(instance, rel.name)
        if not self._reachable(target, rel):
            return Response({"data": None})
        return Response(serializer_class(target, context=context).data)

    @extend_schema(exclude=True)
    def relationship(
        self, request: Request, *args: Any, related_field: str, **kwargs: Any
    ) -> Response:
        rel = self._relationship(related_field)
        instance = self.get_object()
        base = request.build_absolute_uri(f"/api/{self.resource_name}/{instance.pk}")
        links = {"self": f"{base}/relationships/{rel.name}", "related": f"{base}/{rel.name}"}
        if rel.many:
            related = self._related_rows(instance, rel).values_list("pk", flat=True)
            page = self.paginate_queryset(related) or []
            data: Any = [{"type": rel.resource_type, "id": str(pk)} for pk in page]
            paginated = self.get_paginated_response(data).data
            links |= paginated["links"]
            return Response({"data": data, "meta": paginated["meta"], "links": links})
        target = self.related_object(instance, rel.name)
        pk = target.pk if self._reachable(target, rel) else None
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
