"""Every write on tags: the tags themselves, and which resources carry them. Each records an
event on the resource it changed (`tags.create`, `<type>.tagged`…), in the caller's transaction."""

from collections.abc import Sequence

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model

from core.actors import SYSTEM, Actor
from events.services import event_record, resource_type_of
from tags.exceptions import TagInvalid, TagsNotFound, TooManyTags
from tags.models import MAX_TAGS_PER_RESOURCE, Tag, TaggedItem
from tags.selectors import tag_list_for


def _clean_name(name: str) -> str:
    name = name.strip().lower()
    try:
        Tag._meta.get_field("name").run_validators(name)
        if not name:
            raise ValidationError("a tag needs a name")
        if len(name) > Tag._meta.get_field("name").max_length:  # type: ignore[operator]
            raise ValidationError("at most 25 characters")
    except ValidationError as error:
        raise TagInvalid({"name": list(error.messages)}) from None
    return name


@transaction.atomic
def tag_create(
    *,
    name: str,
    mode: str,
    actor: Actor = SYSTEM,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict[str, object] | None = None,
) -> Tag:
    """A new tag; its name is stored in lower case and unique in the mode."""
    tag = Tag(
        name=_clean_name(name),
        mode=mode,
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata or {},
    )
    _save_unique(tag, force_insert=True)
    event_record(name="tags.create", resource=tag, payload={"name": tag.name}, actor=actor)
    return tag


@transaction.atomic
def tag_update(*, tag: Tag, actor: Actor = SYSTEM, **changes: object) -> Tag:
    """Renames a tag (or changes its reference and metadata): every tagged resource follows."""
    if "name" in changes:
        changes["name"] = _clean_name(str(changes["name"]))
    for name, value in changes.items():
        setattr(tag, name, value)
    _save_unique(tag, update_fields=[*changes, "updated_at"])
    event_record(
        name="tags.update", resource=tag, payload={"changed": sorted(changes)}, actor=actor
    )
    return tag


def _save_unique(tag: Tag, **options: object) -> None:
    try:
        with transaction.atomic():
            tag.save(**options)  # type: ignore[arg-type]
    except IntegrityError:
        raise TagInvalid({"name": [f"a tag named {tag.name!r} exists already"]}) from None


@transaction.atomic
def tag_delete(*, tag: Tag, actor: Actor = SYSTEM) -> None:
    """Deletes the tag and takes it off every resource that carried it."""
    event_record(name="tags.destroy", resource=tag, payload={"name": tag.name}, actor=actor)
    tag.delete()


def tags_by_names(*, names: str, mode: str, key: str) -> list[Tag]:
    """The existing tags named in a comma-separated list (Commerce Layer's `_add_tags` value);
    unknown names are refused, never ignored and never created."""
    wanted = {part.strip().lower() for part in names.split(",") if part.strip()}
    found = list(Tag.objects.filter(mode=mode, name__in=wanted))
    missing = sorted(wanted - {tag.name for tag in found})
    if missing:
        raise TagsNotFound({key: [f"no tag named {', '.join(missing)}: create it first"]})
    if not wanted:
        raise TagsNotFound({key: ["name at least one tag (comma-separated names)"]})
    return found


@transaction.atomic
def resource_tags_change(
    *,
    resource: Model,
    add: Sequence[Tag] = (),
    remove: Sequence[Tag] = (),
    replace: Sequence[Tag] | None = None,
    actor: Actor = SYSTEM,
) -> list[Tag]:
    """Tags `resource`: `replace` sets the whole list (the `tags` relationship); otherwise
    `add`, then `remove` (Commerce Layer's order for `_add_tags` with `_remove_tags`). Records
    `<type>.tagged` when the list changed. Returns the tags it carries now."""
    mode = getattr(resource, "mode", None)
    if any(tag.mode != mode for tag in [*add, *remove, *(replace or [])]):
        raise TagInvalid({"tags": [f"a resource in {mode} mode carries only {mode} tags"]})
    # The resource's row lock makes concurrent changes of its tags wait for one another, so
    # that each counts the tags the other added (MAX_TAGS_PER_RESOURCE) and none inserts a
    # link the other just inserted.
    list(type(resource)._default_manager.select_for_update().filter(pk=resource.pk).values("pk"))
    before = {tag.pk: tag for tag in tag_list_for(resource=resource)}
    after = dict(before) if replace is None else {tag.pk: tag for tag in replace}
    after |= {tag.pk: tag for tag in add}
    for tag in remove:
        after.pop(tag.pk, None)
    if len(after) > MAX_TAGS_PER_RESOURCE:
        raise TooManyTags(f"at most {MAX_TAGS_PER_RESOURCE} tags on one resource")
    if after.keys() != before.keys():
        content_type = ContentType.objects.get_for_model(type(resource))
        links = TaggedItem.objects.filter(content_type=content_type, object_id=str(resource.pk))
        links.filter(tag_id__in=before.keys() - after.keys()).delete()
        TaggedItem.objects.bulk_create(
            TaggedItem(tag=after[pk], content_type=content_type, object_id=str(resource.pk))
            for pk in after.keys() - before.keys()
        )
        names = sorted(tag.name for tag in after.values())
        name = f"{resource_type_of(resource)}.tagged"
        event_record(name=name, resource=resource, payload={"tags": names}, actor=actor)
    return sorted(after.values(), key=lambda tag: tag.name)
