from api.reference import Example, Operation, Refusal, Resource
from api.reference.documents import linkage, write
from api.reference.tags import TAG_TRIGGERS

REFERENCE = Resource(
    type="line_items",
    description="""The lines of an order. A SKU line is added by SKU (relationship or
`sku_code`) and quantity, priced at the order's market price; only its quantity changes after.
Lines change only while their order is draft or pending. A sales channel may do all of this
on its market's orders.""",
    operations={
        "GET /api/line_items": Operation(
            summary="List line items",
            description="""Lines of every order of the token's mode; filter by order
(`filter[q][order_id_eq]=...` or `order_number_eq`) or `sku_code_eq`.""",
        ),
        "POST /api/line_items": Operation(
            summary="Add a line to an order",
            description="""Adds `quantity` (default 1) of a SKU to a draft or pending order, at
the market's price today. The order's totals follow.""",
            requests={
                "sku line": Example(
                    summary="Two of a SKU, by code",
                    value=write(
                        "line_items",
                        attributes={"sku_code": "TSHIRT-M", "quantity": 2},
                        relationships={"order": linkage("orders", "p4TGPOwK21")},
                    ),
                )
            },
            refusals=(
                Refusal(
                    422,
                    "VALIDATION_ERROR",
                    "no SKU, a SKU without a price in the market, or the order is placed",
                ),
            ),  # fmt: skip
        ),
        "GET /api/line_items/{id}": Operation(
            summary="Read a line item",
            description="One line, with its unit and total amounts.",
        ),
        "PATCH /api/line_items/{id}": Operation(
            summary="Change a line's quantity",
            description="Sets `quantity` (at least 1); nothing else of a line changes.",
        ),
        "DELETE /api/line_items/{id}": Operation(
            summary="Remove a line",
            description="Removes the line from its draft or pending order.",
            refusals=(Refusal(422, "VALIDATION_ERROR", "the order is no longer editable"),),
        ),
    },
    triggers=TAG_TRIGGERS,
)
