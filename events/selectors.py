from django.db.models import QuerySet

from events.models import Event


def event_list_for(*, resource_type: str, resource_id: str) -> QuerySet[Event]:
    return Event.objects.filter(resource_type=resource_type, resource_id=resource_id).order_by(
        "created_at", "id"
    )
