from api.reference import Resource, read_operations

REFERENCE = Resource(
    type="markets",
    description="""Markets: a currency and prices. Every order belongs to one; a sales channel's
token is bound to one of its markets by its scope. Read-only.""",
    operations=read_operations(
        "markets",
        one="a market",
        many="markets",
        about="A sales channel sees its token's market only.",
    ),
)
