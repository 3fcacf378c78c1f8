"""The loop behind bulk admin actions: one service call (and transaction) per object, so a
refusal leaves the others done. Each admin words its own messages."""

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest

from core.actors import Actor


def service_each[T](
    request: HttpRequest,
    objects: Iterable[T],
    *,
    call: Callable[[T, Actor], Any],
    refused: type[Exception],
) -> tuple[list[T], list[tuple[T, Any]]]:
    """Call `call(obj, actor)` for each object as the staff user; returns the objects done and
    the (object, error) pairs of the refusals of type `refused`."""
    actor = Actor.user(request.user)
    done: list[T] = []
    refusals: list[tuple[T, Any]] = []
    for obj in objects:
        try:
            call(obj, actor)
        except refused as error:
            refusals.append((obj, error))
        else:
            done.append(obj)
    return done, refusals
