from api.reference import Operation, Resource, read_operations

REFERENCE = Resource(
    type="payment_sources",
    description="""Payment sources (a card or account token from the payment gateway), set on
an order as `payment_source`. A sales channel may create them and pay its orders only with a
source it created (not one saved in a wallet, nor one on another order).""",
    operations={
        **read_operations(
            "payment_sources",
            one="a payment source",
            many="payment sources",
            about="Filter by `payment_source_type_eq`.",
        ),
        "POST /api/payment_sources": Operation(
            summary="Create a payment source",
            description="""Records the gateway's `token` with its `payment_source_type` and
`details`, to set on an order with PATCH `/api/orders/{id}`.""",
        ),
    },
)
