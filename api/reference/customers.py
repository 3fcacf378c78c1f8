from api.reference import Resource, read_operations
from api.reference.tags import TAG_TRIGGERS

REFERENCE = Resource(
    type="customers",
    description="""The customers orders belong to, by email. Read-only; integrations only (a
sales channel reaches a customer through its market's orders only).""",
    operations=read_operations(
        "customers", one="a customer", many="customers", about="Filter by `email_eq`."
    ),
    triggers=TAG_TRIGGERS,
)
