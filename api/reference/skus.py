from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="skus",
    description="""What can be ordered: code, name, stock. Read-only; sales channels may list
and read them.""",
    operations=read_operations(
        "skus",
        one="a SKU",
        many="SKUs",
        about="Filter by `code_eq`, `name_cont` or `stock_quantity_gt`.",
    ),
)
