from collections.abc import Iterable
from typing import Any

from django.db import models

from core.actors import SYSTEM, Actor
from events.models import Event


def resource_type_of(resource: models.Model) -> str:
    """The JSON:API type of a model instance (each resource model declares `resource_type`)."""
    return str(getattr(resource, "resource_type", resource._meta.db_table))


def event_build(
    *,
    name: str,
    resource: models.Model,
    payload: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> Event:
    return Event(
        name=name,
        resource_type=resource_type_of(resource),
        resource_id=str(resource.pk),
        mode=getattr(resource, "mode", "test"),
        payload=payload or {},
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
    )


def event_record(
    *,
    name: str,
    resource: models.Model,
    payload: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> Event:
    """Record `name` (`<type>.<action>`) on the resource's timeline, in the caller's transaction."""
    event = event_build(name=name, resource=resource, payload=payload, actor=actor)
    event.save(force_insert=True)
    return event


def event_record_many(events: Iterable[Event]) -> list[Event]:
    """Record events built with `event_build` in one query."""
    return Event.objects.bulk_create(list(events))
