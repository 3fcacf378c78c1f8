from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="coupons",
    description="""Coupon codes of promotions, with their usage limits and expiry. Read-only;
integrations only.""",
    operations=read_operations(
        "coupons", one="a coupon", many="coupons", about="Filter by `code_eq`."
    ),
)
