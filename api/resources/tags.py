"""The tags resource, and what makes another resource taggable: its `tags` relationship (read
at /<type>/<id>/tags, filtered as `tags_name_in`, replaced by sending its linkage in a write) and
the `_add_tags` / `_remove_tags` triggers (comma-separated names of existing tags; removal after
addition, as Commerce Layer). Sales channels may do none of it (`api/policy.py`)."""

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.relations import ToMany
from api.serializers import COMMON_FIELDS, ResourceSerializer
from api.views import ResourceViewSet, actor_of
from core.actors import Actor
from tags import selectors, services
from tags.exceptions import TagsNotFound
from tags.models import NAME_MAX_LENGTH, Tag

TAG_TRIGGERS = ("_add_tags", "_remove_tags")
TAG_FIELDS = ("tags", *TAG_TRIGGERS)
# Room for MAX_TAGS_PER_RESOURCE names and more, bounded.
TAG_LIST_MAX_LENGTH = 1000


class TagSerializer(ResourceSerializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)

    class Meta:
        model = Tag
        resource_name = "tags"
        fields = [*COMMON_FIELDS, "name"]


class TagViewSet(ResourceViewSet):
    serializer_class = TagSerializer
    filter_fields = {
        n: n for n in ("id", "name", "created_at", "updated_at", "reference", "reference_origin")
    } | {"metadata": "metadata"}
    sort_fields = {
        n: n for n in ("id", "name", "created_at", "updated_at", "reference", "reference_origin")
    }

    def base_queryset(self, *, mode: str) -> QuerySet[Tag]:
        return selectors.tag_list(mode=mode)

    def perform_create(self, serializer: TagSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.tag_create(
            mode=self.grant.mode, actor=actor_of(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: TagSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.tag_update(
            tag=serializer.instance, actor=actor_of(self.request), **serializer.validated_data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.tag_delete(tag=self.get_object(), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaggableSerializer(ResourceSerializer):
    """The `tags` relationship and the tag triggers. The changes a write asks for are taken out
    of the validated data (`tag_changes`) and applied by `tags_write` after the resource's own
    write, in its transaction."""

    tag_triggers: ClassVar[tuple[str, ...]] = TAG_TRIGGERS
    # The `tags` linkage of a write is read by to_internal_value, not by a field.
    DOCUMENT_MEMBERS = ResourceSerializer.DOCUMENT_MEMBERS | {"tags"}

    tags = ToMany(resource_type="tags")
    _add_tags = serializers.CharField(
        write_only=True, required=False, max_length=TAG_LIST_MAX_LENGTH
    )
    _remove_tags = serializers.CharField(
        write_only=True, required=False, max_length=TAG_LIST_MAX_LENGTH
    )

    def to_internal_value(self, data: Any) -> Any:
        attrs = super().to_internal_value(data)
        mode = self.context["mode"]
        changes: dict[str, Any] = {}
        for trigger, change in (("_add_tags", "add"), ("_remove_tags", "remove")):
            if trigger in attrs:
                names = attrs.pop(trigger)
                changes[change] = services.tags_by_names(names=names, mode=mode, key=trigger)
        if isinstance(data, dict) and "tags" in data:
            changes["replace"] = _linked_tags(data["tags"], mode=mode)
        self.tag_changes = changes
        return attrs


def _linked_tags(linkage: Any, *, mode: str) -> list[Tag]:
    """The tags of a `tags` relationship sent in a write: a list of `{type: tags, id}`."""
    if not isinstance(linkage, list) or not all(
        isinstance(item, dict) and item.get("type") == "tags" and isinstance(item.get("id"), str)
        for item in linkage
    ):
        raise TagsNotFound({"tags": ['must be a list of {"type": "tags", "id": …}']})
    wanted = {item["id"] for item in linkage}
    found = list(selectors.tag_list(mode=mode).filter(pk__in=wanted))
    missing = sorted(wanted - {tag.pk for tag in found})
    if missing:
        raise TagsNotFound({"tags": [f"no tag with id {', '.join(missing)}"]})
    return found


def tags_write(serializer: Any, *, actor: Actor) -> None:
    """Applies the tag changes of a write to the resource it made or changed."""
    changes = getattr(serializer, "tag_changes", None)
    if changes:
        services.resource_tags_change(resource=serializer.instance, actor=actor, **changes)


class TaggableViewSet(ResourceViewSet):
    """Serves a taggable resource's tags as its related endpoint and relationship."""

    def related_queryset(self, instance: Model, name: str) -> QuerySet[Any]:
        if name == "tags":
            return selectors.tag_list_for(resource=instance)
        return super().related_queryset(instance, name)
