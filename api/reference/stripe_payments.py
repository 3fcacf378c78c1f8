from api.reference import Example, Operation, Resource, read_operations
from api.reference.documents import linkage, write

REFERENCE = Resource(
    type="stripe_payments",
    description="""Card payment sources under the type the SDK's typed calls use: creating one
for an `order` makes it that order's payment source (`stripe_id` is the gateway's token, kept
write-only). The same rows as `payment_sources`. A sales channel may create them for its
market's orders and read those it created.""",
    operations={
        **read_operations(
            "stripe_payments",
            one="a Stripe payment",
            many="Stripe payments",
            about="The same sources as `payment_sources`, typed as the SDK expects.",
        ),
        "POST /api/stripe_payments": Operation(
            summary="Pay an order with a card",
            description="""Creates a card source from `stripe_id` and sets it as the `order`'s
payment source; then `_place` the order.""",
            requests={
                "card": Example(
                    summary="A card for an order",
                    value=write(
                        "stripe_payments",
                        attributes={"stripe_id": "pi_3Nxyz"},
                        relationships={"order": linkage("orders", "p4TGPOwK21")},
                    ),
                )
            },
        ),
    },
)
