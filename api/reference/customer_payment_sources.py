from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="customer_payment_sources",
    description="""A customer's wallet: the payment sources an order copy may reuse
(`reuse_wallet`). Read-only; integrations only.""",
    operations=read_operations(
        "customer_payment_sources",
        one="a wallet entry",
        many="wallet entries",
        about="Each links a customer to a saved payment source.",
    ),
)
