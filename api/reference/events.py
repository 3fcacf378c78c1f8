from api.reference import Operation, Resource, Trigger, read_operations

REFERENCE = Resource(
    type="events",
    description="""What happened to each resource, and who did it: `order_copies.create`,
`order_copies.fail`, `orders.place`, `order_subscriptions.run`, … with a payload (a failed
copy's errors, a retry's previous errors). Read-only but for `_trigger`; integrations only. A
resource's own timeline is `GET /api/<type>/<id>/events`; an event's `webhooks` and
`last_event_callbacks` show who heard it.""",
    operations={
        **read_operations(
            "events",
            one="an event",
            many="events",
            about="Filter by `name_eq`, `resource_type_eq`, `resource_id_eq` or `created_at_gteq`.",
        ),
        "PATCH /api/events/{id}": Operation(
            summary="Fire an event again",
            description="""With `_trigger`, every webhook of the event's topic (in its mode)
gets a new delivery of it; nothing else of an event can change.""",
        ),
    },
    triggers={
        "_trigger": Trigger(
            effect="delivers the event again to each webhook listening to its topic (a new "
            "delivery id, the same event id)",
            refused_when="no enabled webhook listens to the event (422: nothing to deliver); a "
            "PATCH without it (422: events are read-only otherwise)",
        ),
    },
)
