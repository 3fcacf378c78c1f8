from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="order_factories",
    description="""Commerce Layer's read-only view of what makes orders from orders: here the
order copies, typed `order_factories` (a subscription's `order_factories` lists its runs'
copies). Read-only; integrations only.""",
    operations=read_operations(
        "order_factories",
        one="an order factory",
        many="order factories",
        about="Filter by `status_eq`; each has its `source_order` and `target_order`.",
    ),
)
