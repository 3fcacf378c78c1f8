from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework_json_api import serializers as jsonapi

from api.relations import ToMany, ToOne

COMMON_FIELDS = ["id", "created_at", "updated_at", "reference", "reference_origin", "metadata"]


@dataclass(frozen=True)
class Relationship:
    name: str
    resource_type: str
    many: bool


class ResourceSerializer(jsonapi.ModelSerializer):
    """A resource of ours: explicit type (`Meta.resource_name`), the common attributes, and
    relationships declared with ToOne/ToMany. `included_serializers` names what `include` may
    ask for."""

    included_serializers: ClassVar[dict[str, Any]] = {}

    metadata = serializers.JSONField(required=False)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=255)
    reference_origin = serializers.CharField(required=False, allow_blank=True, max_length=255)

    @property
    def _readable_fields(self) -> list[Any]:  # type: ignore[override]
        # DJA works out the sparse fieldset again for every row; it is the same for all rows
        # of one serializer (a list's child is reused), so it is worked out once.
        cached = self.__dict__.get("_readable_fields_cache")
        if cached is None:
            cached = list(super()._readable_fields)
            self.__dict__["_readable_fields_cache"] = cached
        return cached

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """DRF's, without the per-field checks our fields do not need."""
        row = {}
        for field in self._readable_fields:
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            empty = attribute is None or (
                isinstance(attribute, PKOnlyObject) and attribute.pk is None
            )
            row[field.field_name] = None if empty else field.to_representation(attribute)
        return row

    def validate_metadata(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be an object")
        return value

    @classmethod
    def resource_type(cls) -> str:
        return str(cls.Meta.resource_name)  # type: ignore[attr-defined]

    @classmethod
    def relationships(cls) -> tuple[Relationship, ...]:
        return _relationships_of(cls)  # type: ignore[arg-type]


@cache
def _relationships_of(serializer_class: type[ResourceSerializer]) -> tuple[Relationship, ...]:
    """Computed once per class: the renderer reads it for every resource."""
    found = []
    for name, field in serializer_class._declared_fields.items():
        if isinstance(field, ToOne):
            found.append(Relationship(name, field.resource_type, many=False))
        elif isinstance(field, ToMany):
            found.append(Relationship(name, field.resource_type, many=True))
    return tuple(found)
