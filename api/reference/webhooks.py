from api.reference import Example, Operation, Refusal, Resource, Trigger
from api.reference.documents import write

REFERENCE = Resource(
    type="webhooks",
    description="""A webhook POSTs the resource of every event of its `topic`
(`order_copies.complete`, `orders.place`, …: `<resource type>.<event>`, the names events carry)
to its `callback_url` once the event is committed, rendered as the API renders it with
`include_resources`. Each call is signed: `X-CommerceLayer-Signature` is
Base64(HMAC-SHA256(`shared_secret`, raw body)); `X-CommerceLayer-Delivery-Id` stays the same on
every retry (de-duplicate on it). A failed call is retried with growing delays; after too many
consecutive failures the circuit opens and calls stop until `_reset_circuit`. One mode:
a test webhook never hears a live event. Integrations only.""",
    operations={
        "GET /api/webhooks": Operation(
            summary="List webhooks",
            description="The webhooks of the token's mode; filter by `topic_eq`, `name_eq`, ….",
        ),
        "POST /api/webhooks": Operation(
            summary="Create a webhook",
            description="""Starts calling `callback_url` for every new event of `topic`. The
answer carries the generated `shared_secret` to verify signatures with (shown only to the
integration that created it). A live webhook's URL must be https; hosts that resolve to
private, loopback or link-local addresses are refused.""",
            requests={
                "webhook": Example(
                    summary="Hear every completed copy, with its new order",
                    value=write(
                        "webhooks",
                        attributes={
                            "name": "erp copies",
                            "topic": "order_copies.complete",
                            "callback_url": "https://erp.example.com/hooks/copies",
                            "include_resources": ["target_order"],
                        },
                    ),
                )
            },
            refusals=(
                Refusal(
                    422,
                    "VALIDATION_ERROR",
                    "an unknown topic, an include the API cannot make, or an unsafe URL",
                ),
            ),
        ),
        "GET /api/webhooks/{id}": Operation(
            summary="Read a webhook",
            description="One webhook, with its circuit state and consecutive failures.",
        ),
        "PATCH /api/webhooks/{id}": Operation(
            summary="Change a webhook, or disable, enable or reset it",
            description="Changes its name, topic, URL or includes, or sends one trigger.",
        ),
        "DELETE /api/webhooks/{id}": Operation(
            summary="Delete a webhook",
            description="Deletes the webhook; its waiting deliveries are never sent.",
        ),
    },
    triggers={
        "_disable": Trigger(
            effect="sets `disabled_at` (kept if already set): new events write no delivery for "
            "it, and those already written wait until it is enabled",
            refused_when="never (a sales channel's token is refused the whole resource)",
        ),
        "_enable": Trigger(
            effect="clears `disabled_at`: new events are delivered again, and those that waited",
            refused_when="never (a sales channel's token is refused the whole resource)",
        ),
        "_reset_circuit": Trigger(
            effect="closes the circuit and sets the failure count to 0; waiting deliveries go "
            "out at once",
            refused_when="never (a sales channel's token is refused the whole resource)",
        ),
    },
)
