from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="event_callbacks",
    description="""Every call a webhook made: `callback_url`, `payload` (the body sent),
`response_code` (empty when nothing answered), `response_message`, `duration_ms`; relationship
`webhook`. Read-only; integrations only.""",
    operations=read_operations(
        "event_callbacks",
        one="an event callback",
        many="event callbacks",
        about="Filter by `webhook_id_eq` or `response_code_eq`; sort by `created_at`.",
    ),
)
