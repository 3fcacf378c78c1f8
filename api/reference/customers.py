from api.reference import Example, Operation, Refusal, Resource, read_operations
from api.reference.documents import write
from api.reference.tags import TAG_TRIGGERS

REFERENCE = Resource(
    type="customers",
    description="""The customers orders belong to, by email, with their `orders`,
`customer_payment_sources` (the wallet) and `order_subscriptions`. Integrations only (a sales
channel reaches a customer through its market's orders only).""",
    operations={
        **read_operations(
            "customers", one="a customer", many="customers", about="Filter by `email_eq`."
        ),
        "POST /api/customers": Operation(
            summary="Create a customer",
            description="A customer of the token's mode, by email (unique in the mode).",
            requests={
                "customer": Example(
                    summary="A customer",
                    value=write("customers", attributes={"email": "ada@example.com"}),
                )
            },
        ),
        "PATCH /api/customers/{id}": Operation(
            summary="Change a customer",
            description="Changes the email, reference or metadata.",
        ),
        "DELETE /api/customers/{id}": Operation(
            summary="Delete a customer",
            description="Deletes a customer who has no orders.",
            refusals=(Refusal(422, "CUSTOMER_HAS_ORDERS", "the customer has orders"),),
        ),
    },
    triggers=TAG_TRIGGERS,
)
