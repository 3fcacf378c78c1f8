import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction

from core.actors import SYSTEM, Actor
from core.bulk import instance_build, rows_insert
from events.models import Event

# Called with every batch of recorded events, in the transaction that records them (the
# webhooks app writes its outbox rows here). A listener's database error rolls the change back.
event_listeners: list[Callable[[list[Event]], object]] = []


def _notify(events: list[Event]) -> None:
    for listener in event_listeners:
        listener(events)


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
    return instance_build(
        Event,
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
    with _atomic_unless_in_one():
        event.save(force_insert=True)
        _notify([event])
    return event


def event_record_many(events: Iterable[Event]) -> list[Event]:
    """Record events built with `event_build` in one query."""
    with _atomic_unless_in_one():
        recorded = list(events)
        rows_insert(recorded)
        _notify(recorded)
    return recorded


def _atomic_unless_in_one() -> Any:
    """The event and what its listeners write commit together: the caller's transaction, or
    one of their own when called outside any (no savepoint inside a transaction)."""
    if transaction.get_connection().in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic()
