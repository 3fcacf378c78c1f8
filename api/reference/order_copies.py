from api.reference import Example, Operation, Refusal, Resource, Trigger
from api.reference.documents import (
    TIMESTAMPS,
    document,
    error,
    errors,
    linkage,
    page,
    resource,
    write,
)
from api.reference.tags import TAG_TRIGGERS

COPY, SOURCE, TARGET = "36v87uDSqG", "p4TGPOwK21", "Wk5GzQm2Lp"
OPTIONS = {
    "place_target_order": True,
    "reuse_wallet": True,
    "cancel_source_order": False,
    "apply_promotions": False,
    "skip_errors": False,
    "ignore_invalid_coupon": False,
}


def copy(status: str, **changes: object) -> dict[str, object]:
    attributes = {
        **TIMESTAMPS,
        "reference": "erp-4711",
        "status": status,
        "started_at": None,
        "completed_at": None,
        "failed_at": None,
        "errors_log": {},
        "errors_count": 0,
        "attempts": 0,
        **OPTIONS,
        **changes,
    }
    target = ("orders", TARGET) if status == "completed" else None
    return resource(
        "order_copies",
        COPY,
        attributes,
        to_one={"source_order": ("orders", SOURCE), "target_order": target,
                "order_subscription": None},
        to_many=("events",),
    )  # fmt: skip


FAILED = copy(
    "failed",
    started_at="2026-11-30T09:15:03.020871Z",
    failed_at="2026-11-30T09:15:03.301142Z",
    attempts=1,
    errors_log={"line_items": ["SKU TSHIRT-M is out of stock (0 available, 2 wanted)"]},
    errors_count=1,
)

REFERENCE = Resource(
    type="order_copies",
    description="""A copy of an order, run in the background: a worker builds a new draft order
from the source (customer, addresses, lines at today's prices, discounts, coupon, payment),
then places it and cancels the source when asked. Statuses: `pending` → `in_progress` →
`completed` (with `target_order`) or `failed` (with `errors_log`, and nothing of the attempt
left); `aborted` when stopped while pending or after too many lost runs. Integrations only: a
sales-channel token is refused on every route.""",
    operations={
        "GET /api/order_copies": Operation(
            summary="List order copies",
            description="""The copies of the token's mode, oldest first unless `sort` says
otherwise (`sort=-created_at`). Filter by status (`filter[q][status_in]=failed,aborted`), by
source or target order (`source_order_id_eq`, `source_order_number_eq`, `target_order_id_eq`),
by subscription (`order_subscription_id_eq`), by option or by time (`created_at_gteq`).
`include=source_order` adds the orders in the same answer.""",
            responses={
                "failed copies": Example(
                    summary="Failed copies (filter[q][status_eq]=failed)",
                    value=page(
                        [FAILED],
                        url="http://localhost:8000/api/order_copies?filter%5Bq%5D%5Bstatus_eq%5D=failed",
                        record_count=1,
                    ),
                )
            },
        ),
        "POST /api/order_copies": Operation(
            summary="Copy an order",
            description="""Creates a copy of `source_order` (an order in any status) and queues
it: the answer is the copy, `pending`. A worker then runs it; follow it with
`GET /api/order_copies/{id}` until its status is `completed` or `failed`. The options are chosen
now and cannot change: `place_target_order` (place the new order), `cancel_source_order`,
`reuse_wallet` (default true: the source's payment source, only if it is in the customer's
wallet), `apply_promotions` (recompute discounts instead of copying them),
`ignore_invalid_coupon` (drop an expired or used-up coupon silently), `skip_errors` (complete
as long as the new order could be created, logging the rest).""",
            requests={
                "copy and place": Example(
                    summary="Copy an order and place the new one",
                    value=write(
                        "order_copies",
                        attributes={"place_target_order": True, "reference": "erp-4711"},
                        relationships={"source_order": linkage("orders", SOURCE)},
                    ),
                )
            },
            responses={
                "queued": Example(summary="The copy, queued", value=document(copy("pending")))
            },
            refusals=(
                Refusal(
                    422,
                    "VALIDATION_ERROR",
                    "`source_order` is missing, unknown, or of the other mode",
                ),
            ),  # fmt: skip
        ),
        "GET /api/order_copies/{id}": Operation(
            summary="Follow an order copy",
            description="""One copy: its status, attempts, timestamps, `errors_log` when it
failed (attribute → messages, e.g. `{"line_items": ["SKU TSHIRT-M is out of stock"]}`) and
`target_order` once completed. Poll it every second or so while it is `pending` or
`in_progress`; `include=target_order` returns the new order with it.""",
            responses={
                "completed": Example(
                    summary="A completed copy",
                    value=document(
                        copy(
                            "completed",
                            started_at="2026-11-30T09:15:03.020871Z",
                            completed_at="2026-11-30T09:15:03.412006Z",
                            attempts=1,
                        )
                    ),
                ),
                "failed": Example(summary="A failed copy", value=document(FAILED)),
            },
        ),
        "PATCH /api/order_copies/{id}": Operation(
            summary="Retry, abort, or update an order copy",
            description="""Sends a trigger (`_retry` or `_abort`, below), or changes
`reference`, `reference_origin` and `metadata`. The source order and the options cannot
change (422). A retry clears `errors_log` and queues the copy again; the earlier errors stay
in its events (`GET /api/order_copies/{id}/events`).""",
            requests={
                "retry": Example(
                    summary="Retry a failed copy",
                    value=write("order_copies", pk=COPY, attributes={"_retry": True}),
                ),
                "abort": Example(
                    summary="Abort a pending copy",
                    value=write("order_copies", pk=COPY, attributes={"_abort": True}),
                ),
            },
            responses={
                "queued again": Example(
                    summary="The retried copy, queued again",
                    value=document(copy("pending", attempts=1)),
                ),
                "refused": Example(
                    summary="A retry refused (422)",
                    value=errors(
                        error(
                            "VALIDATION_ERROR",
                            422,
                            "only failed or aborted copies can be retried; this one is pending",
                            "status - only failed or aborted copies can be retried; this one "
                            "is pending",
                            pointer="/data/attributes/status",
                        )
                    ),
                ),
            },
        ),
        "DELETE /api/order_copies/{id}": Operation(
            summary="Delete an order copy",
            description="""Deletes the copy (its target order, if any, stays). A copy in
progress cannot be deleted: wait for it to end.""",
            refusals=(Refusal(423, "LOCKED", "the copy is in progress"),),
        ),
    },
    triggers={
        **TAG_TRIGGERS,
        "_plan": Trigger(
            effect="on create only: answers 200 with the copy's plan in `meta.plan` (each line "
            "copied, repriced or left out and why, the coupon, payment, totals, placement and "
            "cancellation, every error the copy would record) and creates nothing",
            refused_when="the source order does not exist in the token's mode (422)",
        ),
        "_retry": Trigger(
            effect="queues a failed or aborted copy again (`pending`); its earlier errors stay "
            "in its events",
            refused_when="the copy is not failed or aborted (422)",
        ),
        "_abort": Trigger(
            effect="stops a pending copy before a worker takes it (`aborted`)",
            refused_when="the copy is not pending, or a worker holds it now (422)",
        ),
    },
    attributes={
        "status": "`pending`, `in_progress`, `completed`, `failed` or `aborted`",
        "errors_log": "what went wrong: attribute (`line_items`, `coupon_code`, "
        "`payment_method`, `status`, `source_order`, `base`) → list of messages",
        "errors_count": "the number of messages in `errors_log`",
        "attempts": "how many times a worker started the copy",
        "place_target_order": "place the new order once built (default false)",
        "cancel_source_order": "cancel the source order as part of the copy (default false)",
        "reuse_wallet": "give the new order the source's payment source when it is in the "
        "customer's wallet (default true)",
        "apply_promotions": "recompute promotions and coupon discounts now instead of copying "
        "the discount lines (default false)",
        "ignore_invalid_coupon": "drop a missing, expired or used-up coupon instead of "
        "failing (default false)",
        "skip_errors": "complete as long as the new order could be created; other problems "
        "are only logged (default false)",
    },
)
