from api.reference import Operation, Resource, read_operations

REFERENCE = Resource(
    type="customer_payment_sources",
    description="""A customer's wallet: the payment sources an order copy may reuse
(`reuse_wallet`) and `_customer_payment_source_id` pays with. Integrations only.""",
    operations={
        **read_operations(
            "customer_payment_sources",
            one="a wallet entry",
            many="wallet entries",
            about="Each links a customer to a saved payment source.",
        ),
        "POST /api/customer_payment_sources": Operation(
            summary="Save a payment source in a wallet",
            description="""Links a `customer` to a `payment_source` (typed `payment_sources`,
`stripe_payments` or `adyen_payments`) not yet in a wallet.""",
        ),
        "PATCH /api/customer_payment_sources/{id}": Operation(
            summary="Change a wallet entry",
            description="Changes its reference or metadata; the customer and source stay.",
        ),
        "DELETE /api/customer_payment_sources/{id}": Operation(
            summary="Remove a wallet entry",
            description="Takes the source out of the wallet; orders paid with it keep it.",
        ),
    },
)
