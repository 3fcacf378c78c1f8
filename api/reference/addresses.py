from api.reference import Example, Operation, Refusal, Resource, read_operations
from api.reference.documents import write

REFERENCE = Resource(
    type="addresses",
    description="""Addresses, created to be set on an order as `shipping_address` or
`billing_address` (a copy gets fresh copies of them). A sales channel may create addresses and
read those of its market's orders or that it created. An address can be changed while no placed
order uses it and deleted while no order does.""",
    operations={
        **read_operations(
            "addresses",
            one="an address",
            many="addresses",
            about="Filter by `city_eq`, `country_code_eq` or `zip_code_eq`.",
        ),
        "POST /api/addresses": Operation(
            summary="Create an address",
            description="A new address, to set on an order with PATCH `/api/orders/{id}`.",
            requests={
                "address": Example(
                    summary="A shipping address",
                    value=write(
                        "addresses",
                        attributes={
                            "first_name": "Ada",
                            "last_name": "Lovelace",
                            "line_1": "Unter den Linden 1",
                            "city": "Berlin",
                            "zip_code": "10117",
                            "country_code": "DE",
                            "phone": "+49 30 1234567",
                        },
                    ),
                )
            },
        ),
        "PATCH /api/addresses/{id}": Operation(
            summary="Change an address",
            description="Changes an address while no placed order uses it.",
            refusals=(Refusal(423, "ADDRESS_IN_USE", "a placed order uses the address"),),
        ),
        "DELETE /api/addresses/{id}": Operation(
            summary="Delete an address",
            description="Deletes an address no order uses (replace it on its orders first).",
            refusals=(Refusal(423, "ADDRESS_IN_USE", "an order uses the address"),),
        ),
    },
)
