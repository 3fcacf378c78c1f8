"""A delivery's body: the event's resource as `GET /api/<type>/<id>?include=…` renders it.

The API's own viewset reads the row (its joins and mode) and its serializer and renderer write
the document, so a receiver parses a webhook body with the code it parses API answers with.
"""

import json
from types import SimpleNamespace
from typing import Any

from django.conf import settings

from events.models import Event


class _PayloadRequest:
    """What the serializers and the document builder read of a request."""

    def __init__(self, *, include: str, mode: str) -> None:
        self.query_params = {"include": include} if include else {}
        self.auth = SimpleNamespace(mode=mode)

    def build_absolute_uri(self, path: str) -> str:
        return f"{settings.WEBHOOKS_API_BASE_URL.rstrip('/')}{path}"


def payload_render(*, event: Event, include_resources: list[str]) -> dict[str, Any]:
    """The document of `event`'s resource now; a resource deleted since is sent as its
    identifier and the event's payload (its `destroy` event has nothing else to show)."""
    from api.renderers import JsonApiRenderer
    from api.urls import RESOURCES

    viewset = RESOURCES.get(event.resource_type)
    instance = None
    if viewset is not None:
        rows = viewset().base_queryset(mode=event.mode)
        instance = rows.filter(pk=event.resource_id).first()
    if viewset is None or instance is None:
        return {
            "data": {
                "id": event.resource_id,
                "type": event.resource_type,
                "attributes": {},
                "meta": {"mode": event.mode, "event": event.name, "payload": event.payload},
            }
        }
    request = _PayloadRequest(include=",".join(include_resources), mode=event.mode)
    context = {"request": request, "mode": event.mode, "grant": None, "view": None}
    data = viewset.serializer_class(instance, context=context).data
    return JsonApiRenderer().document(data, request)


def body_of(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=False, default=str)
