from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="payment_methods",
    description="""The payment methods of each market. Read-only; sales channels may list and
read their market's.""",
    operations=read_operations(
        "payment_methods",
        one="a payment method",
        many="payment methods",
        about="A sales channel sees its market's only.",
    ),
)
