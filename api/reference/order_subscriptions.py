from api.reference import Example, Operation, Refusal, Resource, Trigger
from api.reference.documents import TIMESTAMPS, document, linkage, resource, write
from api.reference.tags import TAG_TRIGGERS

SUBSCRIPTION = "5C7hNPD3on"


def subscription(status: str, **changes: object) -> dict[str, object]:
    attributes = {
        **TIMESTAMPS,
        "number": "9",
        "status": status,
        "frequency": "monthly",
        "activate_by_source_order": False,
        "place_target_order": True,
        "renewal_alert_period": None,
        "starts_at": "2026-12-01T08:00:00Z",
        "expires_at": None,
        "last_run_at": None,
        "next_run_at": None,
        "occurrencies": 0,
        "errors_count": 0,
        "succeeded_on_last_run": None,
        "customer_email": "ada@example.com",
        **changes,
    }
    return resource(
        "order_subscriptions",
        SUBSCRIPTION,
        attributes,
        to_one={
            "market": ("markets", "CJ1jBc2q8y"),
            "source_order": ("orders", "p4TGPOwK21"),
            "customer": ("customers", "sn3jCaXVoi"),
            "customer_payment_source": None,
        },
        to_many=("order_copies", "order_factories", "orders", "events"),
    )


REFERENCE = Resource(
    type="order_subscriptions",
    description="""A subscription repeats its source order at a `frequency` (`hourly`,
`daily`, `weekly`, `monthly`, `two-month`, `three-month`, `four-month`, `six-month`, `yearly`,
or a five-field cron expression in UTC, at most hourly): each run is an order copy of the
source order. Run times lie on a grid drawn from `starts_at`. Life: `draft` → `active`
(placing the source order with `activate_by_source_order`, or `_activate`) → `running` during
each run → `active` again (`inactive` once expired); `_deactivate` pauses, `_cancel` ends it
for good. Integrations only.""",
    operations={
        "GET /api/order_subscriptions": Operation(
            summary="List order subscriptions",
            description="""The subscriptions of the token's mode; filter by status, frequency,
market (`market_code_eq`), source order or customer (`customer_id_eq`), `next_run_at_lteq`.""",
        ),
        "POST /api/order_subscriptions": Operation(
            summary="Subscribe to an order",
            description="""A new `draft` subscription of `source_order` (its market and
customer are the order's). With `activate_by_source_order` (default true) placing the source
order activates it and counts as its first run (one made from a placed order is active at
once); otherwise give `starts_at` and send `_activate`.""",
            requests={
                "monthly": Example(
                    summary="Every month from 1 December",
                    value=write(
                        "order_subscriptions",
                        attributes={
                            "frequency": "monthly",
                            "activate_by_source_order": False,
                            "starts_at": "2026-12-01T08:00:00Z",
                        },
                        relationships={"source_order": linkage("orders", "p4TGPOwK21")},
                    ),
                )
            },
            responses={
                "draft": Example(summary="The draft", value=document(subscription("draft")))
            },
        ),
        "GET /api/order_subscriptions/{id}": Operation(
            summary="Read an order subscription",
            description="""One subscription: status, `next_run_at`, `last_run_at`,
`occurrencies` (runs so far), `succeeded_on_last_run`, `errors_count`. Its runs' copies are
`GET /api/order_subscriptions/{id}/order_copies`.""",
        ),
        "PATCH /api/order_subscriptions/{id}": Operation(
            summary="Activate, run, pause, cancel or change a subscription",
            description="""Sends one trigger (below), or changes the frequency, dates,
`place_target_order`, `renewal_alert_period`, the payment source, `reference` and `metadata`.
`source_order` and `market` cannot change; a cancelled subscription changes only its
reference and metadata.""",
            requests={
                "activate": Example(
                    summary="Activate a draft",
                    value=write(
                        "order_subscriptions", pk=SUBSCRIPTION, attributes={"_activate": True}
                    ),
                ),
                "run": Example(
                    summary="Run now",
                    value=write("order_subscriptions", pk=SUBSCRIPTION, attributes={"_run": True}),
                ),
                "cancel": Example(
                    summary="Cancel for good",
                    value=write(
                        "order_subscriptions", pk=SUBSCRIPTION, attributes={"_cancel": True}
                    ),
                ),
            },
            responses={
                "active": Example(
                    summary="Active, with its next run",
                    value=document(subscription("active", next_run_at="2026-12-01T08:00:00Z")),
                )
            },
        ),
        "DELETE /api/order_subscriptions/{id}": Operation(
            summary="Delete a draft subscription",
            description="Deletes a draft; a subscription that was ever active is cancelled "
            "instead (`_cancel`).",
            refusals=(Refusal(422, "VALIDATION_ERROR", "the subscription is not a draft"),),
        ),
    },
    triggers={
        **TAG_TRIGGERS,
        "_activate": Trigger(
            effect="a draft (with `starts_at`) or inactive subscription becomes `active`; its "
            "next run is the first grid time from now",
            refused_when="it is not draft or inactive, has no `starts_at`, or has expired (422)",
        ),
        "_deactivate": Trigger(
            effect="an active subscription becomes `inactive`: no runs until activated again",
            refused_when="it is not active, or a run is in progress (422)",
        ),
        "_cancel": Trigger(
            effect="cancels the subscription for good; a run in progress still ends and counts",
            refused_when="it is already cancelled (422)",
        ),
        "_run": Trigger(
            effect="starts a run now: an order copy of the source order, queued for a worker",
            refused_when="it is not active (or its run has not ended), or it has expired (422)",
        ),
    },
    attributes={
        "status": "`draft`, `active`, `running` (a run's copy is under way), `inactive` or "
        "`cancelled` (final)",
        "frequency": "`hourly`, `daily`, `weekly`, `monthly`, `two-month`, `three-month`, "
        "`four-month`, `six-month`, `yearly`, or a cron expression in UTC (minute field one value)",
        "activate_by_source_order": "placing the source order activates the subscription and "
        "counts as its first run (default true)",
        "place_target_order": "each run's copy places its new order (default true)",
        "renewal_alert_period": "hours before each run to record an "
        "`order_subscriptions.renewal_alert` event (1 to 720)",
        "starts_at": "where the grid of run times starts; changes only before activation",
        "expires_at": "after this the subscription runs no more and becomes `inactive`",
        "next_run_at": "the next time on the grid",
        "occurrencies": "runs so far (Commerce Layer's spelling)",
        "succeeded_on_last_run": "whether the last run's copy completed",
        "errors_count": "runs whose copy failed",
    },
)
