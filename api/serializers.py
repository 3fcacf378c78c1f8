from dataclasses import dataclass
from datetime import UTC
from functools import cache
from typing import Any, ClassVar

from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings
from rest_framework_json_api import serializers as jsonapi

from api import triggers as trigger_registry
from api.exceptions import ApiError, InvalidResource
from api.relations import ToMany, ToOne

COMMON_FIELDS = ["id", "created_at", "updated_at", "reference", "reference_origin", "metadata"]


# Resource type → its serializer (the first class declaring it), for related endpoints.
SERIALIZERS: dict[str, type["ResourceSerializer"]] = {}


def serializer_for(resource_type: str) -> type["ResourceSerializer"]:
    return SERIALIZERS[resource_type]


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
    # The triggers it carries out (`_place`, `_retry`, ...), registered in api/triggers.py:
    # write-only attributes, one a request, on updates only. Any other `_name` is refused there.
    trigger_table: ClassVar[dict[str, trigger_registry.Trigger]] = {}
    triggers: ClassVar[tuple[str, ...]] = ()
    triggers_noun: ClassVar[str] = "resources"
    # Triggers that combine with any other (`_add_tags`, `_remove_tags`): see resources/tags.py.
    tag_triggers: ClassVar[tuple[str, ...]] = ()
    # Members of a parsed document that are not attributes or relationships.
    DOCUMENT_MEMBERS: ClassVar[frozenset[str]] = frozenset({"id", "type", "_meta"})

    metadata = serializers.JSONField(required=False)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=255)
    reference_origin = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        resource_type = getattr(getattr(cls, "Meta", None), "resource_name", None)
        if resource_type is not None:
            SERIALIZERS.setdefault(resource_type, cls)
            trigger_registry.register(resource_type, cls.trigger_table)
        cls.triggers = tuple(cls.trigger_table)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        for name, trigger in self.trigger_table.items():
            kind = serializers.BooleanField if trigger.kind == "flag" else serializers.CharField
            fields[name] = kind(write_only=True, required=False)
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            self._refuse_unwritable(data)
        return super().to_internal_value(data)

    def _refuse_unwritable(self, data: dict[str, Any]) -> None:
        """The rule of every write: a member the API would not store is refused, naming it
        (never dropped). Client-generated ids are not supported (JSON:API: 403)."""
        resource_type = self.resource_type()
        if self.instance is None and data.get("id") not in (None, ""):
            raise ApiError(
                f"client-generated ids are not supported: leave out data.id, {resource_type} "
                "get theirs from the server",
                code="CLIENT_ID_NOT_SUPPORTED",
                status_code=403,
                title="Client-generated id",
                pointer="/data/id",
            )
        fields = self.fields
        relationships = self.relationship_names()
        for name in data:
            if name in self.DOCUMENT_MEMBERS:
                continue
            field = fields.get(name)
            if field is not None and not field.read_only:
                continue
            if name.startswith("_"):
                raise trigger_registry.TriggerNotSupported(resource_type=resource_type, name=name)
            section = "relationships" if name in relationships else "attributes"
            reason = "is read-only" if field is not None else f"is not a member of {resource_type}"
            raise InvalidResource(
                f"{name} {reason}: remove it from the document", pointer=f"/data/{section}/{name}"
            )

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
        """DRF's result, reading plain model columns directly (see `_reading_plan`)."""
        row = {}
        for name, attname, convert, field in self._reading_plan():
            if convert is not None:
                value = getattr(instance, attname)
                row[name] = None if value is None else convert(value)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            empty = attribute is None or (
                isinstance(attribute, PKOnlyObject) and attribute.pk is None
            )
            row[name] = None if empty else field.to_representation(attribute)
        return row

    def _reading_plan(self) -> list[tuple[str, str, Any, Any]]:
        """Per readable field: (name, model attribute, converter or None, field). A field that
        only reads one model column of a simple type gets the converter DRF would apply (the
        same output without DRF's per-value attribute lookup); any other goes through DRF."""
        plan = self.__dict__.get("_reading_plan_cache")
        if plan is None:
            plan = [_plan_entry(field) for field in self._readable_fields]
            self.__dict__["_reading_plan_cache"] = plan
        return plan

    def triggers_sent(self, attrs: dict[str, Any]) -> list[str]:
        """The triggers of this request; refused on create and when more than one."""
        sent = [name for name in self.triggers if attrs.get(name)]
        if self.instance is None and sent:
            raise serializers.ValidationError(
                {"base": [f"triggers apply to existing {self.triggers_noun}"]}
            )
        if len(sent) > 1:
            raise serializers.ValidationError({"base": ["send one trigger at a time"]})
        return sent

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

    @classmethod
    def relationship_names(cls) -> frozenset[str]:
        return _relationship_names_of(cls)  # type: ignore[arg-type]


def timestamp(value: Any) -> str:
    # UTC with milliseconds, as Commerce Layer writes them: 2026-01-02T03:04:05.678Z.
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


SIMPLE_CONVERTERS: list[tuple[type[Any], Any]] = [
    (serializers.DateTimeField, timestamp),
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
    (serializers.CharField, str),
]


def _plan_entry(field: Any) -> tuple[str, str, Any, Any]:
    if type(field) is ToOne and "." not in field.source:
        # The linkage from the foreign key column, as ToOne.to_representation gives it.
        resource_type = field.resource_type
        return (
            field.field_name,
            f"{field.source}_id",
            lambda pk: {"type": resource_type, "id": str(pk)},
            field,
        )
    return (field.field_name, field.source, _converter(field), field)


def _converter(field: Any) -> Any:
    """The plain conversion of a field reading one model column, or None (use DRF's)."""
    if "." in field.source or field.source == "*" or type(field).to_representation is None:
        return None
    if isinstance(field, serializers.JSONField) and not field.binary:
        return lambda value: value
    if isinstance(field, serializers.DateTimeField):
        if getattr(field, "format", api_settings.DATETIME_FORMAT) != ISO_8601:
            return None
    for kind, convert in SIMPLE_CONVERTERS:
        if type(field) is kind or (kind is serializers.CharField and type(field) in CHAR_FIELDS):
            return convert
    return None


CHAR_FIELDS = (serializers.CharField, serializers.EmailField, serializers.SlugField)


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


@cache
def _relationship_names_of(serializer_class: type[ResourceSerializer]) -> frozenset[str]:
    return frozenset(rel.name for rel in _relationships_of(serializer_class))  # type: ignore[arg-type]
