from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from tags.models import Tag, TaggedItem


def tag_list(*, mode: str) -> QuerySet[Tag]:
    return Tag.objects.filter(mode=mode)


def tag_list_for(*, resource: Model) -> QuerySet[Tag]:
    """The tags on `resource`, by name."""
    content_type = ContentType.objects.get_for_model(type(resource))
    return Tag.objects.filter(
        mode=getattr(resource, "mode", None),
        items__content_type=content_type,
        items__object_id=str(resource.pk),
    ).order_by("name")


def tagged_ids(*, model: type[Model], tags: QuerySet[Tag]) -> QuerySet[Any]:
    """The ids of the `model` rows that carry one of `tags` (a subquery)."""
    content_type = ContentType.objects.get_for_model(model)
    return TaggedItem.objects.filter(content_type=content_type, tag__in=tags).values("object_id")
