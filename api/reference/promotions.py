from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="promotions",
    description="""Percentage or fixed-amount discounts of a market, some needing a coupon.
Read-only; sales channels may list and read their market's.""",
    operations=read_operations(
        "promotions",
        one="a promotion",
        many="promotions",
        about="A sales channel sees its market's only.",
    ),
)
