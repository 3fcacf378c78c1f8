from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="events",
    description="""What happened to each resource, and who did it: `order_copies.create`,
`order_copies.fail`, `orders.place`, `order_subscriptions.run`, … with a payload (a failed
copy's errors, a retry's previous errors). Read-only; integrations only. A resource's own
timeline is `GET /api/<type>/<id>/events`.""",
    operations=read_operations(
        "events",
        one="an event",
        many="events",
        about="Filter by `name_eq`, `resource_type_eq`, `resource_id_eq` or `created_at_gteq`.",
    ),
)
