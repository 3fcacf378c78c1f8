"""Relationship fields that know their resource type: nothing is inferred per value.

DJA's ResourceRelatedField works out the related type again for every value it renders (with
the `inflection` library's regexes) and, without an included serializer, loads each related
object to learn it. Our types are fixed per field, so these take it once, as an argument.
"""

from types import SimpleNamespace
from typing import Any

from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework_json_api.relations import ResourceRelatedField

from api.policy import visible
from api.tokens import AccessToken


class ToOne(ResourceRelatedField):
    """A to-one relationship: its linkage comes from the foreign key column, no query."""

    def __init__(self, *, resource_type: str, **kwargs: Any) -> None:
        self.resource_type = resource_type
        # DJA (and the OpenAPI generator on top of it) read a relation's type from its Meta.
        self.Meta = SimpleNamespace(resource_name=resource_type)
        super().__init__(**kwargs)

    def use_pk_only_optimization(self) -> bool:
        return True

    def get_queryset(self) -> Any:
        # A record of the other mode, or one the access policy keeps from the caller, does not
        # exist for it: linkage sent in a write reaches only what the caller may read.
        queryset = super().get_queryset()
        mode = self.context.get("mode")
        if queryset is not None and mode is not None and hasattr(queryset.model, "mode"):
            queryset = queryset.filter(mode=mode)
        grant = self.context.get("grant")
        if queryset is not None and isinstance(grant, AccessToken):
            queryset = visible(queryset, resource_type=self.resource_type, grant=grant)
        return queryset

    def get_resource_type_from_included_serializer(self) -> str:
        return self.resource_type

    def to_representation(self, value: Any) -> dict[str, str]:
        pk = value.pk if isinstance(value, PKOnlyObject) else value.pk
        return {"type": self.resource_type, "id": str(pk)}


class ToMany(Field):  # type: ignore[type-arg]
    """A to-many relationship: rendered as links (and in `included` when asked), never loaded
    to render the parent."""

    def __init__(self, *, resource_type: str, **kwargs: Any) -> None:
        self.resource_type = resource_type
        self.Meta = SimpleNamespace(resource_name=resource_type)
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        raise SkipField()

    def to_representation(self, value: Any) -> Any:  # pragma: no cover (never reached)
        raise SkipField()
